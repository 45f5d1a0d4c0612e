"""EN 13757-2 link layer (FT1.2 frames) and EN 13757-3 application-layer dispatch by CI.

:func:`decode` raises :class:`MBusError` only when no frame can be recovered (no start byte,
truncated, L fields disagree, bad checksum or stop byte). Every other finding is attached to the
frame as a :class:`Diagnostic`: a ``warning`` in lenient mode, an ``error`` in strict mode, except
findings that are errors in both modes (a truncated record, an application error telegram).
"""

from __future__ import annotations

from typing import NamedTuple

from harness.mbus import records as _records
from harness.mbus.manufacturer import decode_manufacturer, encode_manufacturer, is_flag_letters
from harness.mbus.model import (
    CI_APPLICATION_ERROR,
    CI_RESPONSE_LONG,
    CI_RESPONSE_MODE2,
    CI_RESPONSE_NONE,
    CI_RESPONSE_SHORT,
    CI_SELECT,
    CI_SELECT_MODE2,
    AckFrame,
    ControlFrame,
    Diagnostic,
    Frame,
    LongFrame,
    LongHeader,
    MBusError,
    SecondaryAddress,
    ShortFrame,
    ShortHeader,
)
from harness.mbus.names import ci_name

ACK = 0xE5
START_SHORT = 0x10
START_LONG = 0x68
STOP = 0x16

#: C fields EN 13757-2 defines for wired M-Bus (master requests and slave RSP_UD with ACD/DFC)
KNOWN_C_FIELDS = frozenset({0x40, 0x53, 0x73, 0x5A, 0x7A, 0x5B, 0x7B, 0x08, 0x18, 0x28, 0x38})
#: CI fields of EN 13757-3 this codec understands (others are kept raw with a diagnostic)
KNOWN_CI_FIELDS = frozenset(
    {0x50, 0x51, 0x52, 0x54, 0x56, 0x70, 0x71, 0x72, 0x73, 0x76, 0x78, 0x7A} | set(range(0xB8, 0xC0))
)
#: EN 13757-3 application error codes (CI 70, first data byte)
APPLICATION_ERRORS = {
    0: "unspecified error",
    1: "unimplemented CI-field",
    2: "buffer too long, truncated",
    3: "too many records",
    4: "premature end of record",
    5: "more than 10 DIFEs",
    6: "more than 10 VIFEs",
    7: "reserved",
    8: "application too busy for handling readout request",
    9: "too many readouts",
}
#: CIs only a master sends (EN 13757-3 table of CI fields) and those only a slave sends
_MASTER_CIS = frozenset({0x50, 0x51, 0x52, 0x54, 0x56} | set(range(0xB8, 0xC0)))
_SLAVE_CIS = frozenset({0x70, 0x71, 0x72, 0x73, 0x76, 0x78, 0x7A})
CI_FIXED_DATA = 0x73  #: fixed data structure (EN 1434-3 legacy); kept raw
_VARIABLE_CIS = frozenset({CI_RESPONSE_LONG, CI_RESPONSE_MODE2, CI_RESPONSE_NONE, CI_RESPONSE_SHORT})


def _fail(rule: str, message: str, offset: int) -> MBusError:
    return MBusError([Diagnostic("error", rule, message, offset)])


def frame_length(buf: bytes) -> int | None:
    """Length of the frame starting at ``buf[0]``, None while more bytes are needed (EN 13757-2 FT1.2).

    Raises MBusError when ``buf[0]`` is not a start byte (E5, 10, 68).
    """
    if not buf:
        return None
    first = buf[0]
    if first == ACK:
        return 1
    if first == START_SHORT:
        return 5
    if first == START_LONG:
        return buf[1] + 6 if len(buf) > 1 else None
    raise _fail(
        "EN13757-2:start-byte",
        f"expected a start byte E5, 10 or 68 at offset 0, got {first:02X}; resync on the next start byte",
        0,
    )


def address_class(a: int) -> str:
    """Address class of EN 13757-2: unconfigured, primary, reserved, selected, broadcast_reply, broadcast."""
    if a == 0:
        return "unconfigured"
    if a <= 250:
        return "primary"
    if a <= 252:
        return "reserved"
    return {253: "selected", 254: "broadcast_reply", 255: "broadcast"}[a]


class CField(NamedTuple):
    """Bits of the C field (EN 13757-2 control field): PRM, FCB/FCV (master) or ACD/DFC (slave), function."""

    name: str  #: SND_NKE, SND_UD, REQ_UD1, REQ_UD2, RSP_UD or "unknown"
    from_master: bool  #: PRM bit 0x40
    fcb: bool  #: frame count bit (master frames)
    fcv: bool  #: frame count bit valid (master frames)
    acd: bool  #: access demand (slave frames)
    dfc: bool  #: data flow control (slave frames)
    function: int  #: low nibble


_C_FUNCTIONS = {
    (True, 0x0): "SND_NKE",
    (True, 0x3): "SND_UD",
    (True, 0xA): "REQ_UD1",
    (True, 0xB): "REQ_UD2",
    (False, 0x8): "RSP_UD",
}


def c_field(c: int) -> CField:
    """Split a C field into its EN 13757-2 bits (0x7B -> REQ_UD2 with FCB and FCV set)."""
    master = bool(c & 0x40)
    name = _C_FUNCTIONS.get((master, c & 0x0F), "unknown")
    if master:
        return CField(name, True, bool(c & 0x20), bool(c & 0x10), False, False, c & 0x0F)
    return CField(name, False, False, False, bool(c & 0x20), bool(c & 0x10), c & 0x0F)


def has_errors(frame: Frame) -> bool:
    """True when the frame carries at least one error diagnostic."""
    return any(d.severity == "error" for d in frame.diagnostics)


def decode(data: bytes, *, strict: bool = False) -> Frame:
    """Decode one EN 13757-2 frame (E5, short, control or long) and its EN 13757-3 application layer.

    ``strict`` turns every deviation from the standard into an error diagnostic; lenient mode
    reports the same findings as warnings. Raises only :class:`MBusError`.
    """
    try:
        return _decode(data, strict)
    except MBusError:
        raise
    except Exception as exc:  # a codec bug must still surface as the codec's error, never a traceback
        raise _fail(
            "codec:internal", f"internal decoder error on this input ({type(exc).__name__}: {exc})", 0
        ) from exc


def _deviation(diags: list[Diagnostic], strict: bool, rule: str, message: str, offset: int) -> None:
    diags.append(Diagnostic("error" if strict else "warning", rule, message, offset))


def _decode(data: bytes, strict: bool) -> Frame:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _fail("codec:input", f"expected bytes, got {type(data).__name__}", 0)
    buf = bytes(data)
    n = len(buf)
    if n == 0:
        raise _fail("EN13757-2:length", "expected an M-Bus frame, got no bytes", 0)
    diags: list[Diagnostic] = []
    first = buf[0]
    if first == ACK:
        total = 1
        frame_end = 1
    elif first == START_SHORT:
        total = 5
        if n < 5:
            raise _fail("EN13757-2:length", f"short frame needs 5 bytes, got {n}", n)
        frame_end = 5
    elif first == START_LONG:
        if n < 4:
            raise _fail(
                "EN13757-2:length", f"long/control frame header needs 4 bytes (68 L L 68), got {n}", n
            )
        length = buf[1]
        if buf[2] != length:
            raise _fail(
                "EN13757-2:length", f"both L fields must be equal, got {length:02X} and {buf[2]:02X}", 2
            )
        if buf[3] != START_LONG:
            raise _fail(
                "EN13757-2:start-byte", f"expected second start byte 68 at offset 3, got {buf[3]:02X}", 3
            )
        if length < 3:
            raise _fail("EN13757-2:length", f"L field must be at least 3 (C, A, CI), got {length}", 1)
        total = length + 6
        if n < total:
            raise _fail(
                "EN13757-2:length",
                f"L field {length} announces a {total}-byte frame, got only {n} bytes (truncated)",
                n,
            )
        frame_end = total
    else:
        raise _fail(
            "EN13757-2:start-byte", f"expected a start byte E5, 10 or 68 at offset 0, got {first:02X}", 0
        )

    if first != ACK:
        body_start = 1 if first == START_SHORT else 4
        cs_at = frame_end - 2
        checksum = sum(buf[body_start:cs_at]) & 0xFF
        if buf[cs_at] != checksum:
            raise _fail(
                "EN13757-2:checksum",
                f"checksum expected {checksum:02X} (sum of C..last data byte mod 256), got {buf[cs_at]:02X}",
                cs_at,
            )
        if buf[frame_end - 1] != STOP:
            raise _fail(
                "EN13757-2:stop-byte",
                f"expected stop byte 16 at offset {frame_end - 1}, got {buf[frame_end - 1]:02X}",
                frame_end - 1,
            )
    if n > total:
        _deviation(
            diags,
            strict,
            "EN13757-2:trailing-bytes",
            f"expected {total} bytes for this frame, got {n}; {n - total} bytes after the frame ignored",
            total,
        )

    if first == ACK:
        return AckFrame(diagnostics=tuple(diags))
    c = buf[1] if first == START_SHORT else buf[4]
    a = buf[2] if first == START_SHORT else buf[5]
    c_at = 1 if first == START_SHORT else 4
    if c not in KNOWN_C_FIELDS:
        _deviation(
            diags,
            strict,
            "EN13757-2:c-field",
            f"C field {c:02X} is not one EN 13757-2 defines for wired M-Bus "
            "(40, 53/73, 5A/7A, 5B/7B, 08/18/28/38)",
            c_at,
        )
    if 251 <= a <= 252:
        _deviation(
            diags, strict, "EN13757-2:address", f"address {a} is reserved (use 0-250, 253-255)", c_at + 1
        )
    if first == START_SHORT:
        if c & 0x40 == 0:
            _deviation(
                diags,
                strict,
                "EN13757-2:c-field",
                f"short frame carries slave C field {c:02X}; expected a master request",
                1,
            )
        return ShortFrame(c=c, a=a, diagnostics=tuple(diags))
    ci = buf[6]
    master = c & 0x40  # PRM bit: frame sent by the master
    if (ci in _MASTER_CIS and not master) or (ci in _SLAVE_CIS and master):
        _deviation(
            diags,
            strict,
            "EN13757-3:ci-direction",
            f"CI {ci:02X} ({ci_name(ci)}) is sent by the {'master' if ci in _MASTER_CIS else 'slave'}, "
            f"but C field {c:02X} marks a {'master' if master else 'slave'} frame",
            6,
        )
    if frame_end == 9:
        if ci == CI_APPLICATION_ERROR:
            diags.append(
                Diagnostic(
                    "error",
                    "EN13757-3:application-error",
                    "slave reports an application error (CI 70 without error code: unspecified)",
                    6,
                )
            )
        elif ci in _VARIABLE_CIS or ci in (CI_SELECT, CI_SELECT_MODE2, CI_FIXED_DATA):
            _deviation(
                diags,
                strict,
                "EN13757-2:frame-type",
                f"CI {ci:02X} ({ci_name(ci)}) needs application data; got a control frame without any",
                6,
            )
        return ControlFrame(c=c, a=a, ci=ci, diagnostics=tuple(diags))
    return _decode_long(buf, c, a, ci, frame_end - 2, strict, diags)


def _decode_long(
    buf: bytes, c: int, a: int, ci: int, end: int, strict: bool, diags: list[Diagnostic]
) -> LongFrame:
    start = 7
    if ci in _VARIABLE_CIS:
        header: LongHeader | ShortHeader | None = None
        big = ci == CI_RESPONSE_MODE2
        if ci in (CI_RESPONSE_LONG, CI_RESPONSE_MODE2):
            if end - start < 12:
                diags.append(
                    Diagnostic(
                        "error",
                        "EN13757-3:header",
                        f"CI {ci:02X} needs a 12-byte long header, got {end - start} bytes",
                        start,
                    )
                )
                return LongFrame(c=c, a=a, ci=ci, data=buf[start:end], diagnostics=tuple(diags))
            header = _long_header(buf, start, big, strict, diags)
            start += 12
        elif ci == CI_RESPONSE_SHORT:
            if end - start < 4:
                diags.append(
                    Diagnostic(
                        "error",
                        "EN13757-3:header",
                        f"CI 7A needs a 4-byte short header, got {end - start} bytes",
                        start,
                    )
                )
                return LongFrame(c=c, a=a, ci=ci, data=buf[start:end], diagnostics=tuple(diags))
            header = ShortHeader(buf[start], buf[start + 1], buf[start + 2] | buf[start + 3] << 8)
            start += 4
        recs, mdata, more = _records.parse_records(buf, start, end, strict, diags)
        return LongFrame(
            c=c,
            a=a,
            ci=ci,
            header=header,
            records=recs,
            manufacturer_data=mdata,
            more_records_follow=more,
            diagnostics=tuple(diags),
        )
    if ci in (CI_SELECT, CI_SELECT_MODE2):
        if end - start != 8:
            diags.append(
                Diagnostic(
                    "error",
                    "EN13757-3:select",
                    f"select (CI {ci:02X}) needs 8 bytes (ID, manufacturer, version, medium), "
                    f"got {end - start}",
                    start,
                )
            )
            return LongFrame(c=c, a=a, ci=ci, data=buf[start:end], diagnostics=tuple(diags))
        return LongFrame(
            c=c,
            a=a,
            ci=ci,
            select=_secondary(buf, start, ci == CI_SELECT_MODE2, strict, diags),
            diagnostics=tuple(diags),
        )
    if ci == CI_APPLICATION_ERROR:
        code = buf[start]
        text = APPLICATION_ERRORS.get(code, "reserved/unknown code")
        diags.append(
            Diagnostic(
                "error",
                "EN13757-3:application-error",
                f"slave reports application error {code:02X} ({text})",
                start,
            )
        )
    elif ci == CI_FIXED_DATA and end - start != 16:
        diags.append(
            Diagnostic(
                "error",
                "EN13757-3:fixed-data",
                f"fixed data structure (CI 73) is 16 bytes (ID, access number, status, medium/unit, "
                f"two counters), got {end - start}",
                start,
            )
        )
    elif ci not in KNOWN_CI_FIELDS:
        _deviation(
            diags,
            strict,
            "EN13757-3:ci",
            f"CI {ci:02X} is not handled by this codec; application data kept raw",
            6,
        )
    return LongFrame(c=c, a=a, ci=ci, data=buf[start:end], diagnostics=tuple(diags))


def _bcd_id(raw: bytes, offset: int, strict: bool, diags: list[Diagnostic], wildcard: bool) -> str:
    text = raw.hex().upper()
    ok = text.isdigit() if not wildcard else all(ch.isdigit() or ch == "F" for ch in text)
    if not ok:
        _deviation(
            diags, strict, "EN13757-3:bcd", f"identification number must be 8 BCD digits, got {text}", offset
        )
    return text


def _long_header(buf: bytes, at: int, big: bool, strict: bool, diags: list[Diagnostic]) -> LongHeader:
    """Long header (EN 13757-3): ID, manufacturer, version, medium, access number, status, signature."""
    if big:
        ident = _bcd_id(buf[at : at + 4], at, strict, diags, False)
        man = buf[at + 4] << 8 | buf[at + 5]
        sig = buf[at + 10] << 8 | buf[at + 11]
    else:
        ident = _bcd_id(buf[at + 3 : at - 1 : -1], at, strict, diags, False)
        man = buf[at + 4] | buf[at + 5] << 8
        sig = buf[at + 10] | buf[at + 11] << 8
    code = decode_manufacturer(man)
    if not is_flag_letters(code):
        _deviation(
            diags,
            strict,
            "EN13757-3:manufacturer",
            f"manufacturer field {man:04X} does not spell three letters A-Z (got {code!r})",
            at + 4,
        )
    return LongHeader(ident, code, buf[at + 6], buf[at + 7], buf[at + 8], buf[at + 9], sig)


def _secondary(buf: bytes, at: int, big: bool, strict: bool, diags: list[Diagnostic]) -> SecondaryAddress:
    """Secondary address of select (EN 13757-3 secondary addressing): F nibbles / FF bytes are wildcards."""
    raw_id = buf[at : at + 4] if big else buf[at + 3 : at - 1 : -1]
    ident = _bcd_id(raw_id, at, strict, diags, True)
    man = (buf[at + 4] << 8 | buf[at + 5]) if big else (buf[at + 4] | buf[at + 5] << 8)
    manufacturer = None if man == 0xFFFF else decode_manufacturer(man)
    version = None if buf[at + 6] == 0xFF else buf[at + 6]
    medium = None if buf[at + 7] == 0xFF else buf[at + 7]
    return SecondaryAddress(ident, manufacturer, version, medium)


# ---------------------------------------------------------------------------------------------- encode


def _enc_fail(message: str) -> MBusError:
    return MBusError([Diagnostic("error", "codec:encode", message, 0)])


def _byte(name: str, value: int) -> int:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise _enc_fail(f"{name} must be an int 0..255, got {value!r}")
    return value


def _id_bytes(ident: str, wildcard: bool) -> bytes:
    ok = len(ident) == 8 and all(ch in "0123456789ABCDEFabcdef" for ch in ident)
    if not ok:
        raise _enc_fail(
            f"identification number must be 8 digits{' or F wildcards' if wildcard else ''}, got {ident!r}"
        )
    return bytes.fromhex(ident)


def _encode_app(frame: LongFrame) -> bytes:
    ci = frame.ci
    if ci in _VARIABLE_CIS:
        if frame.data:
            raise _enc_fail(f"CI {ci:02X} carries header and records; 'data' must be empty")
        big = ci == CI_RESPONSE_MODE2
        out = bytearray()
        h = frame.header
        if ci in (CI_RESPONSE_LONG, CI_RESPONSE_MODE2):
            if not isinstance(h, LongHeader):
                raise _enc_fail(f"CI {ci:02X} needs a LongHeader, got {type(h).__name__}")
            ident = _id_bytes(h.id, False)
            man = encode_manufacturer(h.manufacturer)
            sig = h.signature
            if not 0 <= sig <= 0xFFFF:
                raise _enc_fail(f"signature must be 0..0xFFFF, got {sig}")
            if big:
                out += ident + man.to_bytes(2, "big")
            else:
                out += ident[::-1] + man.to_bytes(2, "little")
            out += bytes(
                (
                    _byte("version", h.version),
                    _byte("medium", h.medium),
                    _byte("access_number", h.access_number),
                    _byte("status", h.status),
                )
            )
            out += sig.to_bytes(2, "big" if big else "little")
        elif ci == CI_RESPONSE_SHORT:
            if not isinstance(h, ShortHeader):
                raise _enc_fail(f"CI 7A needs a ShortHeader, got {type(h).__name__}")
            if not 0 <= h.signature <= 0xFFFF:
                raise _enc_fail(f"signature must be 0..0xFFFF, got {h.signature}")
            out += bytes((_byte("access_number", h.access_number), _byte("status", h.status)))
            out += h.signature.to_bytes(2, "little")
        elif h is not None:
            raise _enc_fail("CI 78 carries no header; header must be None")
        out += _records.encode_records(frame.records)
        if frame.more_records_follow:
            out.append(0x1F)
            out += frame.manufacturer_data or b""
        elif frame.manufacturer_data is not None:
            out.append(0x0F)
            out += frame.manufacturer_data
        return bytes(out)
    if (
        frame.header is not None
        or frame.records
        or frame.manufacturer_data is not None
        or frame.more_records_follow
    ):
        raise _enc_fail(
            f"CI {ci:02X} carries no variable data; use 'data' (header/records only for CI 72/76/78/7A)"
        )
    if ci in (CI_SELECT, CI_SELECT_MODE2) and frame.select is not None:
        if frame.data:
            raise _enc_fail("select carries its address in 'select'; 'data' must be empty")
        s = frame.select
        big = ci == CI_SELECT_MODE2
        ident = _id_bytes(s.id, True)
        man = 0xFFFF if s.manufacturer is None else encode_manufacturer(s.manufacturer)
        out = bytearray(ident if big else ident[::-1])
        out += man.to_bytes(2, "big" if big else "little")
        out.append(0xFF if s.version is None else _byte("version", s.version))
        out.append(0xFF if s.medium is None else _byte("medium", s.medium))
        return bytes(out)
    if frame.select is not None:
        raise _enc_fail(f"'select' is only valid with CI 52/56, got CI {ci:02X}")
    return bytes(frame.data)


def encode(frame: Frame) -> bytes:
    """Encode a frame of the model to wire bytes (EN 13757-2 framing, EN 13757-3 application layer)."""
    if isinstance(frame, AckFrame):
        return b"\xe5"
    if isinstance(frame, ShortFrame):
        c, a = _byte("C field", frame.c), _byte("A field", frame.a)
        return bytes((START_SHORT, c, a, (c + a) & 0xFF, STOP))
    if isinstance(frame, ControlFrame):
        body = bytes((_byte("C field", frame.c), _byte("A field", frame.a), _byte("CI field", frame.ci)))
        return bytes((START_LONG, 3, 3, START_LONG)) + body + bytes((sum(body) & 0xFF, STOP))
    if isinstance(frame, LongFrame):
        app = _encode_app(frame)
        if not app:
            raise _enc_fail(
                "a long frame needs at least one application byte; use ControlFrame for C, A, CI only"
            )
        body = (
            bytes((_byte("C field", frame.c), _byte("A field", frame.a), _byte("CI field", frame.ci))) + app
        )
        if len(body) > 255:
            raise _enc_fail(f"long frame user data is {len(body) - 3} bytes; EN 13757-2 allows at most 252")
        n = len(body)
        return bytes((START_LONG, n, n, START_LONG)) + body + bytes((sum(body) & 0xFF, STOP))
    raise _enc_fail(f"expected AckFrame, ShortFrame, ControlFrame or LongFrame, got {type(frame).__name__}")
