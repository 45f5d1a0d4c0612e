"""EN 13757-3 variable data records: parse/serialise the wire structure, build records, describe them.

Wire layout of one record (EN 13757-3 clause 'Variable data structure'):
DIF [DIFE...] VIF [plain-text unit] [VIFE...] data. Special DIFs: 0F/1F manufacturer data to the
end (1F: more records follow), 2F idle filler, 7F global readout request.
"""

from __future__ import annotations

import datetime as _dt
import struct
from functools import lru_cache
from typing import NamedTuple

from harness.mbus import vif as _vif
from harness.mbus.model import Coding, DataRecord, Diagnostic, Function, MBusError

#: data field length in bytes by DIF coding (None: variable length, LVAR byte decides)
DATA_LENGTH: tuple[int | None, ...] = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, None, 6, 0)
_RESERVED_LVAR = frozenset([*range(0xCA, 0xD0), *range(0xDA, 0xE0), *range(0xFB, 0x100)])
MAX_DIFE = 10  #: EN 13757-3: at most 10 DIFEs per record
MAX_VIFE = 10  #: EN 13757-3: at most 10 VIFEs per record
_FUNCTIONS = (Function.INSTANTANEOUS, Function.MAXIMUM, Function.MINIMUM, Function.ERROR)
_BCD_CODINGS = frozenset({0x9, 0xA, 0xB, 0xC, 0xE})


def lvar_length(lvar: int) -> int:
    """Data length for an LVAR byte (EN 13757-3 table 'Coding of LVAR')."""
    if lvar < 0xC0:
        return lvar  # ASCII text, LVAR characters
    if lvar < 0xE0:
        return lvar & 0x0F  # BCD (C0..C9 positive, D0..D9 negative), LVAR-C0/D0 bytes
    if lvar < 0xF0:
        return lvar - 0xE0  # binary number
    return 4 * (lvar - 0xEC) if lvar <= 0xFA else 0  # binary, 16..56 bytes (F0..FA); FB..FF reserved


def parse_records(
    buf: bytes, i: int, end: int, strict: bool, diags: list[Diagnostic]
) -> tuple[tuple[DataRecord, ...], bytes | None, bool]:
    """Parse records in ``buf[i:end]``; return (records, manufacturer_data, more_records_follow).

    A truncated record stops the parse with an error diagnostic (EN13757-3:premature-end); the
    records before it are kept.
    """
    out: list[DataRecord] = []
    append = out.append
    while i < end:
        start = i
        dif = buf[i]
        i += 1
        coding = dif & 0x0F
        if coding == 0x0F:
            if dif == 0x2F:
                continue  # idle filler
            if dif == 0x0F or dif == 0x1F:
                rest = buf[i:end]
                if dif == 0x1F:
                    return tuple(out), (rest if rest else None), True
                return tuple(out), rest, False
            if dif == 0x7F:
                append(DataRecord(dif=0x7F))  # global readout request
                continue
            diags.append(
                Diagnostic(
                    "error",
                    "EN13757-3:dif",
                    f"DIF {dif:02X} is a reserved special function (expected 0F, 1F, 2F or 7F); "
                    "rest of the telegram not decoded",
                    start,
                )
            )
            return tuple(out), None, False
        dife: tuple[int, ...] = ()
        if dif & 0x80:
            chain, i = _extension_chain(buf, i, end, "DIFE", MAX_DIFE, "EN13757-3:dife-chain", start, diags)
            if chain is None:
                return tuple(out), None, False
            dife = chain
        if i >= end:
            _premature_end(diags, f"record at offset {start}: VIF expected, telegram ended", i)
            return tuple(out), None, False
        vif = buf[i]
        i += 1
        text = None
        if vif & 0x7F == 0x7C:
            if i >= end or i + 1 + buf[i] > end:
                _premature_end(
                    diags, f"record at offset {start}: plain-text unit runs past the end of the telegram", i
                )
                return tuple(out), None, False
            n = buf[i]
            text = buf[i + n : i : -1].decode("latin-1")
            i += 1 + n
        vife: tuple[int, ...] = ()
        if vif & 0x80:
            chain, i = _extension_chain(buf, i, end, "VIFE", MAX_VIFE, "EN13757-3:vife-chain", start, diags)
            if chain is None:
                return tuple(out), None, False
            vife = chain
        size = DATA_LENGTH[coding]
        lvar = None
        if size is None:
            if i >= end:
                _premature_end(diags, f"record at offset {start}: LVAR byte expected, telegram ended", i)
                return tuple(out), None, False
            lvar = buf[i]
            i += 1
            size = lvar_length(lvar)
            if lvar in _RESERVED_LVAR:  # the data length is undefined, so nothing after it can be parsed
                _err(
                    diags,
                    "EN13757-3:lvar",
                    f"record at offset {start}: LVAR {lvar:02X} is reserved (length unknown); "
                    "rest of the telegram not decoded",
                    i - 1,
                )
                return tuple(out), None, False
        if i + size > end:
            _premature_end(diags, f"record at offset {start}: {size} data bytes expected, {end - i} left", i)
            return tuple(out), None, False
        data = buf[i : i + size]
        i += size
        if coding in _BCD_CODINGS and not _bcd_ok(data):
            _dev(
                diags,
                strict,
                "EN13757-3:bcd",
                f"record at offset {start}: BCD data {data[::-1].hex().upper()} has non-decimal digits",
                start,
            )
        info = _vif.vif_info(vif, vife)
        if info.problem is not None:
            _dev(diags, strict, "EN13757-3:vif", f"record at offset {start}: {info.problem}", start)
        if info.kind in _DATE_KINDS and coding not in _DATE_CODINGS and coding not in (0x0, 0x8):
            _dev(
                diags,
                strict,
                "EN13757-3:data-coding",
                f"record at offset {start}: date/time VIF needs coding INT16/24/32/48 (types G/J/F/I), "
                f"got {Coding(coding).name}",
                start,
            )
        append(DataRecord(dif, dife, vif, vife, data, lvar, text))
    return tuple(out), None, False


def _bcd_ok(data: bytes) -> bool:
    digits = data[::-1].hex()
    if digits[:1] == "f":
        digits = digits[1:]  # Type A: F in the most significant digit marks a negative value
    return digits.isdigit() or not digits


_DATE_KINDS = frozenset({"date", "datetime"})


def _extension_chain(
    buf: bytes, i: int, end: int, what: str, limit: int, rule: str, start: int, diags: list[Diagnostic]
) -> tuple[tuple[int, ...] | None, int]:
    """Read a DIFE or VIFE chain (each byte's bit 7 says another follows, EN 13757-3).

    Returns (chain, next offset); chain is None when the telegram ends inside it (error diagnostic added).
    More than ``limit`` extensions is an error the slave itself must refuse (application error 05/06).
    """
    chain: list[int] = []
    while True:
        if i >= end:
            _premature_end(diags, f"record at offset {start}: {what} expected, telegram ended", i)
            return None, i
        b = buf[i]
        i += 1
        chain.append(b)
        if not b & 0x80:
            break
    if len(chain) > limit:
        _err(
            diags, rule, f"record at offset {start}: at most {limit} {what}s allowed, got {len(chain)}", start
        )
    return tuple(chain), i


def _premature_end(diags: list[Diagnostic], message: str, offset: int) -> None:
    """The telegram ends inside a record (EN 13757-3): an error in every mode; parsing stops there."""
    diags.append(Diagnostic("error", "EN13757-3:premature-end", message, offset))


def _err(diags: list[Diagnostic], rule: str, message: str, offset: int) -> None:
    diags.append(Diagnostic("error", rule, message, offset))


def _dev(diags: list[Diagnostic], strict: bool, rule: str, message: str, offset: int) -> None:
    diags.append(Diagnostic("error" if strict else "warning", rule, message, offset))


def _fail(message: str) -> MBusError:
    return MBusError([Diagnostic("error", "codec:encode", message, 0)])


def record_bytes(r: DataRecord) -> bytes:
    """Wire bytes of one record (EN 13757-3 variable data structure)."""
    out = bytearray((r.dif,))
    out += bytes(r.dife)
    if r.vif is None:
        if r.dif & 0x0F != 0x0F:
            raise _fail(f"record with DIF {r.dif:02X} needs a VIF (only special functions carry none)")
        return bytes(out)
    out.append(r.vif)
    if r.vif & 0x7F == 0x7C:
        text = (r.plain_text_vif or "").encode("latin-1")
        out.append(len(text))
        out += text[::-1]
    out += bytes(r.vife)
    if r.dif & 0x0F == 0x0D:
        out.append(r.lvar if r.lvar is not None else len(r.data))
    out += r.data
    return bytes(out)


def encode_records(records: tuple[DataRecord, ...] | list[DataRecord]) -> bytes:
    """Serialise records; checks the structure so that the bytes decode back to the same records."""
    out = bytearray()
    for r in records:
        _check_record(r)
        out += record_bytes(r)
    return bytes(out)


def _check_record(r: DataRecord) -> None:
    if not 0 <= r.dif <= 0xFF:
        raise _fail(f"DIF must be 0..255, got {r.dif}")
    coding = r.dif & 0x0F
    if coding == 0x0F:
        if r.dif != 0x7F or r.vif is not None or r.dife or r.vife or r.data:
            raise _fail(f"DIF {r.dif:02X}: only 7F is a record; 0F/1F go in manufacturer_data, 2F is filler")
        return
    for k, b in enumerate(r.dife):
        if not 0 <= b <= 0xFF or bool(b & 0x80) != (k < len(r.dife) - 1):
            raise _fail(f"DIFE chain {list(r.dife)} must set bit 7 on every DIFE but the last")
    if bool(r.dif & 0x80) != bool(r.dife):
        raise _fail(f"DIF {r.dif:02X} extension bit must be set exactly when DIFEs follow")
    if r.vif is None or not 0 <= r.vif <= 0xFF:
        raise _fail(f"record with DIF {r.dif:02X} needs a VIF 0..255, got {r.vif!r}")
    for k, b in enumerate(r.vife):
        if not 0 <= b <= 0xFF or bool(b & 0x80) != (k < len(r.vife) - 1):
            raise _fail(f"VIFE chain {list(r.vife)} must set bit 7 on every VIFE but the last")
    if bool(r.vif & 0x80) != bool(r.vife):
        raise _fail(f"VIF {r.vif:02X} extension bit must be set exactly when VIFEs follow")
    if (r.vif & 0x7F == 0x7C) != (r.plain_text_vif is not None):
        raise _fail("plain_text_vif must be given exactly when VIF is 7C/FC")
    if r.plain_text_vif is not None and len(r.plain_text_vif.encode("latin-1", "replace")) > 255:
        raise _fail("plain-text unit longer than 255 characters")
    size = DATA_LENGTH[coding]
    if size is None:
        lvar = r.lvar if r.lvar is not None else len(r.data)
        if not 0 <= lvar <= 0xFF or lvar in _RESERVED_LVAR or lvar_length(lvar) != len(r.data):
            raise _fail(f"LVAR {lvar} does not match {len(r.data)} data bytes")
    elif r.lvar is not None:
        raise _fail("lvar is only valid with coding VARIABLE (DIF xD)")
    elif len(r.data) != size:
        raise _fail(f"coding {Coding(coding).name} needs {size} data bytes, got {len(r.data)}")


# ------------------------------------------------------------------------------------ decoded view


class RecordView(NamedTuple):
    """Decoded view of a :class:`DataRecord` (EN 13757-3): what it measures and its value in the base unit.

    A named tuple because one is built per record on the decode hot path (5x cheaper than a dataclass).
    """

    function: Function
    storage: int
    tariff: int
    subunit: int
    quantity: str
    unit: str
    value: float | int | str | None  #: scaled to ``unit``; ISO 8601 text for dates; None when absent
    raw_value: float | int | str | None  #: the data field's value before scaling
    raw: str  #: hex bytes of the whole record
    vif: int | None
    vife: tuple[int, ...]
    dif: int
    dife: tuple[int, ...]
    coding: Coding = Coding.NONE
    modifiers: tuple[str, ...] = ()  #: combinable VIFE qualifiers, e.g. ``backward_flow``
    manufacturer_vife: tuple[int, ...] = ()  #: VIFEs after FF/7F (e.g. phase number)
    problem: str | None = None  #: reserved code or data that does not fit the VIF

    def as_dict(self) -> dict[str, object]:
        return {
            "function": self.function.value,
            "storage": self.storage,
            "tariff": self.tariff,
            "subunit": self.subunit,
            "quantity": self.quantity,
            "unit": self.unit,
            "value": self.value,
            "raw": self.raw,
            "dif": self.dif,
            "dife": list(self.dife),
            "vif": self.vif,
            "vife": list(self.vife),
            "modifiers": list(self.modifiers),
            "manufacturer_vife": list(self.manufacturer_vife),
        }


def record_position(dif: int, dife: tuple[int, ...]) -> tuple[int, int, int]:
    """(storage, tariff, subunit) from DIF bit 6 and the DIFE chain (EN 13757-3 DIFE)."""
    storage = (dif >> 6) & 1
    tariff = subunit = 0
    shift = 1
    for k, b in enumerate(dife):
        storage |= (b & 0x0F) << shift
        tariff |= ((b >> 4) & 3) << (2 * k)
        subunit |= ((b >> 6) & 1) << k
        shift += 4
    return storage, tariff, subunit


def _bcd_value(data: bytes, negative_marker: bool = True) -> int | str:
    digits = data[::-1].hex()
    sign = 1
    if negative_marker and digits[:1] == "f":
        digits, sign = digits[1:], -1  # Type A negative: F in the most significant digit
    if not digits:
        return 0
    if digits.isdigit():
        return sign * int(digits)
    return data[::-1].hex().upper()


def raw_data_value(
    coding: int, data: bytes, lvar: int | None, big_endian: bool = False
) -> float | int | str | None:
    """Value of the data field before scaling (EN 13757-3 data types A, B, H and LVAR)."""
    if big_endian and coding != 0x0D:
        data = data[::-1]
    if 1 <= coding <= 7:
        if coding == 5:
            return float(struct.unpack("<f", data)[0])
        return int.from_bytes(data, "little", signed=True)
    if coding in _BCD_CODINGS:
        return _bcd_value(data)
    if coding == 0x0D and lvar is not None:
        if lvar < 0xC0:
            return data[::-1].decode("latin-1")  # text is sent last character first
        if lvar < 0xD0:
            return _bcd_value(data, negative_marker=False)
        if lvar < 0xE0:
            v = _bcd_value(data, negative_marker=False)
            return -v if isinstance(v, int) else v
        if lvar < 0xF0:
            return int.from_bytes(data, "little", signed=True)
        return data[::-1].hex(" ").upper()  # long binary block (keys, containers): hex, MSB first
    return None


def _year(low: int, high: int, hundred: int = 0) -> int:
    yy = low | high
    return (2000 if hundred == 0 and yy <= 80 else 1900 + 100 * hundred) + yy


def date_text(data: bytes) -> str | None:
    """ISO 8601 text of a date/time field by its length: G (2), J (3), F (4), I (6) (EN 13757-3 annex A)."""
    n = len(data)
    if n == 2:  # type G: date
        if data == b"\xff\xff":
            return None
        day, month = data[0] & 0x1F, data[1] & 0x0F
        if not day or not 1 <= month <= 12:
            return None
        return f"{_year((data[0] & 0xE0) >> 5, (data[1] & 0xF0) >> 1):04d}-{month:02d}-{day:02d}"
    if n == 3:  # type J: time of day
        return f"{data[2] & 0x1F:02d}:{data[1] & 0x3F:02d}:{data[0] & 0x3F:02d}"
    if n == 4:  # type F: date and time (minute resolution), bit 7 of minute = invalid
        if data[0] & 0x80:
            return None
        day, month = data[2] & 0x1F, data[3] & 0x0F
        if not day or not 1 <= month <= 12:
            return None
        year = _year((data[2] & 0xE0) >> 5, (data[3] & 0xF0) >> 1, (data[1] & 0x60) >> 5)
        return f"{year:04d}-{month:02d}-{day:02d}T{data[1] & 0x1F:02d}:{data[0] & 0x3F:02d}:00"
    if n == 6:  # type I: date and time with seconds
        if data[1] & 0x80:
            return None
        day, month = data[3] & 0x1F, data[4] & 0x0F
        if not day or not 1 <= month <= 12:
            return None
        year = _year((data[3] & 0xE0) >> 5, (data[4] & 0xF0) >> 1)
        return (
            f"{year:04d}-{month:02d}-{day:02d}T{data[2] & 0x1F:02d}:{data[1] & 0x3F:02d}:{data[0] & 0x3F:02d}"
        )
    return None


_DATE_CODINGS = frozenset({2, 3, 4, 6})
_CODINGS = tuple(Coding(c) for c in range(16))


@lru_cache(maxsize=4096)
def _layout(
    dif: int, dife: tuple[int, ...], vif: int | None, vife: tuple[int, ...]
) -> tuple[Function, int, int, int, _vif.VifInfo | None, bytes]:
    """Everything a record's DIF/DIFE/VIF/VIFE bytes say, cached: telegrams repeat the same layouts."""
    storage, tariff, subunit = record_position(dif, dife)
    info = None if vif is None else _vif.vif_info(vif, vife)
    head = bytes((dif, *dife)) if vif is None else bytes((dif, *dife, vif, *vife))
    return _FUNCTIONS[(dif >> 4) & 3], storage, tariff, subunit, info, head


def describe(record: DataRecord, *, big_endian: bool = False) -> RecordView:
    """Decoded view of one record: function, storage/tariff/subunit, quantity, base unit, scaled value.

    ``big_endian`` is for CI 76 (mode 2) telegrams. Values come from EN 13757-3 (tables of VIF codes,
    data types A/B/F/G/H/I/J); the exponent and time unit of the VIF are applied exactly.
    """
    dif = record.dif
    dife = record.dife
    vif = record.vif
    coding = dif & 0x0F
    vife = record.vife
    if dife.__class__ is not tuple or vife.__class__ is not tuple:  # records built by hand may hold lists
        dife, vife = tuple(dife), tuple(vife)
    function, storage, tariff, subunit, info, head = _layout(dif, dife, vif, vife)
    if record.plain_text_vif is not None:
        raw = record_bytes(record).hex(" ").upper()
    elif record.lvar is None:
        raw = (head + record.data).hex(" ").upper()
    else:
        raw = (head + bytes((record.lvar,)) + record.data).hex(" ").upper()
    if info is None:
        return RecordView(
            function,
            storage,
            tariff,
            subunit,
            "readout_request",
            "",
            None,
            None,
            raw,
            None,
            (),
            dif,
            dife,
            _CODINGS[coding],
        )
    data = record.data
    if big_endian and coding != 0x0D:
        data = data[::-1]
    # inline of raw_data_value() for the common codings
    raw_value: float | int | str | None
    if 1 <= coding <= 7 and coding != 5:
        raw_value = int.from_bytes(data, "little", signed=True)
    elif coding in _BCD_CODINGS:
        raw_value = _bcd_value(data)
    else:
        raw_value = raw_data_value(coding, data, record.lvar)
    value: float | int | str | None
    problem = info.problem
    unit = info.unit if record.plain_text_vif is None else record.plain_text_vif
    kind = info.kind
    if kind == "number":
        if raw_value.__class__ is int or raw_value.__class__ is float:
            value = raw_value * info.mult / info.div
        else:
            value = raw_value
    elif kind == "date" or kind == "datetime":
        if coding in _DATE_CODINGS:
            value = date_text(data)
        else:
            value = None if raw_value is None else str(raw_value)
            problem = problem or f"date/time VIF with data coding {_CODINGS[coding].name}"
    else:
        value = raw_value
    return RecordView(
        function,
        storage,
        tariff,
        subunit,
        info.quantity,
        unit,
        value,
        raw_value,
        raw,
        vif,
        vife,
        dif,
        dife,
        _CODINGS[coding],
        info.modifiers,
        info.manufacturer_vife,
        problem,
    )


# --------------------------------------------------------------------------------------- building

_FUNCTION_BITS = {Function.INSTANTANEOUS: 0, Function.MAXIMUM: 1, Function.MINIMUM: 2, Function.ERROR: 3}
_BCD_DIGITS = {0x9: 2, 0xA: 4, 0xB: 6, 0xC: 8, 0xE: 12}


def _date_bytes(value: _dt.date | _dt.time, size: int) -> bytes:
    """Encode a date/time as type G (2), J (3), F (4) or I (6)."""
    if isinstance(value, _dt.time):
        if size != 3:
            raise _fail("a time of day needs coding INT24 (type J)")
        return bytes((value.second, value.minute, value.hour))
    yy = value.year % 100
    hundred = 0 if 2000 <= value.year <= 2080 or 1981 <= value.year <= 1999 else (value.year - 1900) // 100
    ylo, yhi = (yy & 0x07) << 5, (yy & 0x78) << 1
    if size == 2:
        return bytes((ylo | value.day, yhi | value.month))
    hour = value.hour if isinstance(value, _dt.datetime) else 0
    minute = value.minute if isinstance(value, _dt.datetime) else 0
    second = value.second if isinstance(value, _dt.datetime) else 0
    if size == 4:
        return bytes((minute, hour | (hundred & 3) << 5, ylo | value.day, yhi | value.month))
    if size == 6:
        return bytes((second, minute, hour, ylo | value.day, yhi | value.month, 0))
    raise _fail(f"a date needs coding INT16 (G), INT32 (F) or INT48 (I), got a {size}-byte field")


def _bcd_bytes(value: int, digits: int) -> bytes:
    text = str(abs(value))
    limit = digits - 1 if value < 0 else digits
    if len(text) > limit:
        raise _fail(f"{value} does not fit {digits} BCD digits")
    text = text.rjust(digits, "0")
    if value < 0:
        text = "F" + text[1:]  # Type A negative: F in the most significant digit
    return bytes.fromhex(text)[::-1]


def encode_value(coding: Coding, value: object) -> tuple[bytes, int | None]:
    """Data field (and LVAR) for ``value`` written with ``coding``; inverse of :func:`raw_data_value`."""
    c = int(coding)
    size = DATA_LENGTH[c]
    if c in (0x0, 0x8):
        if value is not None:
            raise _fail(f"coding {Coding(c).name} carries no data; value must be None")
        return b"", None
    if isinstance(value, (_dt.date, _dt.time)):
        assert size is not None
        if c not in _DATE_CODINGS:
            raise _fail(f"dates are written with INT16/INT24/INT32/INT48 codings, not {Coding(c).name}")
        return _date_bytes(value, size), None
    if c == 0x5:
        if not isinstance(value, (int, float)):
            raise _fail(f"REAL32 needs a number, got {value!r}")
        return struct.pack("<f", float(value)), None
    if c == 0xD:
        if isinstance(value, str):
            text = value.encode("latin-1")
            if len(text) > 0xBF:
                raise _fail("variable-length text holds at most 191 characters")
            return text[::-1], len(text)
        if isinstance(value, int) and not isinstance(value, bool):
            n = max(1, (value.bit_length() + 8) // 8)
            if n > 15:
                raise _fail(f"{value} is too large for a variable-length binary field")
            return value.to_bytes(n, "little", signed=True), 0xE0 + n
        raise _fail(f"variable-length coding needs str or int, got {value!r}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(f"coding {Coding(c).name} needs an int, got {value!r}")
    assert size is not None
    if c in _BCD_DIGITS:
        return _bcd_bytes(value, _BCD_DIGITS[c]), None
    try:
        return value.to_bytes(size, "little", signed=True), None
    except OverflowError:
        raise _fail(f"{value} does not fit coding {Coding(c).name} ({size} bytes, signed)") from None


def difes_for(storage: int, tariff: int, subunit: int) -> tuple[int, tuple[int, ...]]:
    """(DIF bit 6 value, DIFE chain) placing storage, tariff and subunit (EN 13757-3 DIFE)."""
    if storage < 0 or tariff < 0 or subunit < 0:
        raise _fail("storage, tariff and subunit must be >= 0")
    low = storage & 1
    storage >>= 1
    chain: list[int] = []
    while storage or tariff or subunit:
        chain.append((storage & 0x0F) | (tariff & 3) << 4 | (subunit & 1) << 6)
        storage, tariff, subunit = storage >> 4, tariff >> 2, subunit >> 1
    if len(chain) > MAX_DIFE:
        raise _fail(f"storage/tariff/subunit need {len(chain)} DIFEs; EN 13757-3 allows {MAX_DIFE}")
    return low, tuple(b | 0x80 for b in chain[:-1]) + tuple(chain[-1:])


def build_record(
    *,
    coding: Coding,
    vif: int,
    value: object,
    vife: tuple[int, ...] | list[int] = (),
    function: Function = Function.INSTANTANEOUS,
    storage: int = 0,
    tariff: int = 0,
    subunit: int = 0,
    plain_text: str | None = None,
) -> DataRecord:
    """Build a record from a value in the unit the VIF's raw data encodes (inverse of ``raw_value``).

    Extension bits of VIF and VIFEs are set here; pass the codes (``vif=0xFD, vife=(0x48,)``).
    """
    coding = Coding(coding)
    if coding == Coding.SPECIAL:
        raise _fail("special functions (DIF xF) are not records; use LongFrame.manufacturer_data")
    low, dife = difes_for(storage, tariff, subunit)
    dif = int(coding) | _FUNCTION_BITS[Function(function)] << 4 | low << 6 | (0x80 if dife else 0)
    codes = [b & 0x7F for b in vife]
    chain = tuple(b | 0x80 for b in codes[:-1]) + tuple(codes[-1:])
    vif_byte = (vif & 0x7F) | (0x80 if chain else 0)
    if (vif_byte & 0x7F == 0x7C) != (plain_text is not None):
        raise _fail("plain_text is required with VIF 7C/FC and only then")
    data, lvar = encode_value(coding, value)
    record = DataRecord(
        dif=dif, dife=dife, vif=vif_byte, vife=chain, data=data, lvar=lvar, plain_text_vif=plain_text
    )
    _check_record(record)
    return record
