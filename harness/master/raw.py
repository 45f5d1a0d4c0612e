"""Requests a conforming master never sends, built on purpose to judge how a slave treats them.

A conformance test must be able to send what :class:`harness.master.Master`'s operations refuse: a set
primary address to the reserved addresses 251-255 (EN 13757-2 addresses), a long frame whose L fields
disagree or do not match its length, a wrong checksum, a wrong stop byte (EN 13757-2 FT1.2 frame
rules). Each builder returns a :class:`RawRequest`: the bytes and the reason they are deliberately
wrong, which :meth:`harness.master.Master.send_raw` writes into the transcript beside the bytes.

Pure functions, no I/O; the well-formed parts come from the codec (:func:`harness.mbus.encode`).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.mbus import LongFrame, encode
from harness.mbus.model import CI_DATA_SEND, SND_UD

#: EN 13757-2 FT1.2 start and stop characters of a long frame
LONG_START = 0x68
STOP = 0x16
#: primary addresses a slave may be given (EN 13757-2: 0 unconfigured, 1-250 primary)
PRIMARY_RANGE = range(0, 251)


@dataclass(frozen=True)
class RawRequest:
    """Bytes to put on the bus as they are, and why they break the rules (empty: well formed).

    ``rule`` names what is broken (e.g. ``"EN 13757-2 FT1.2 checksum"``); the transcript shows it.
    """

    data: bytes
    why: str = ""
    rule: str = ""

    @property
    def malformed(self) -> bool:
        return bool(self.why)

    def note(self) -> str:
        """Transcript note: deliberately malformed, what and which rule; or a deliberate raw request."""
        if not self.malformed:
            return "raw request (sent as built)"
        rule = f"; breaks {self.rule}" if self.rule else ""
        return f"deliberately malformed: {self.why}{rule}"


def set_primary_address(address: int, new_address: int) -> RawRequest:
    """SND_UD CI 51 ``01 7A nn`` with any ``nn`` 0-255 (EN 13757-3 bus address record).

    Unlike :meth:`Master.set_primary_address`, a reserved target (251-255) is built: it is how a test
    checks that the slave refuses it. The frame itself is well formed; the request is out of range.
    """
    if not 0 <= address <= 255 or not 0 <= new_address <= 255:
        raise ValueError(
            f"addresses are one byte (0..255), got address {address} and new address {new_address}"
        )
    data = encode(LongFrame(c=SND_UD, a=address, ci=CI_DATA_SEND, data=bytes([0x01, 0x7A, new_address])))
    if new_address in PRIMARY_RANGE:
        return RawRequest(data)
    return RawRequest(
        data,
        why=f"set primary address to reserved address {new_address} (only 0-250 may be assigned)",
        rule="EN 13757-2 addresses (251-252 reserved, 253 selected, 254/255 broadcast)",
    )


def _long(data: bytes) -> bytearray:
    buf = bytearray(data)
    if len(buf) < 9 or buf[0] != LONG_START or buf[3] != LONG_START:
        raise ValueError(
            f"expected an encoded long or control frame (68 L L 68 ... CS 16), got [{data.hex(' ').upper()}]"
        )
    return buf


def with_bad_checksum(data: bytes, *, delta: int = 1) -> RawRequest:
    """The frame with its checksum byte off by ``delta`` (short, control or long frame)."""
    if delta % 256 == 0:
        raise ValueError("delta must change the checksum (not a multiple of 256)")
    buf = bytearray(data)
    if len(buf) < 5 or buf[-1] != STOP:
        raise ValueError(f"expected an encoded frame ending CS 16, got [{data.hex(' ').upper()}]")
    buf[-2] = (buf[-2] + delta) & 0xFF
    return RawRequest(
        bytes(buf), why=f"checksum {buf[-2]:02X} instead of {data[-2]:02X}", rule="EN 13757-2 FT1.2 checksum"
    )


def with_bad_stop(data: bytes, stop: int = 0x17) -> RawRequest:
    """The frame with another last byte than the stop character 16."""
    if stop == STOP:
        raise ValueError("the replacement stop byte must differ from 16")
    buf = bytearray(data)
    if len(buf) < 5 or buf[-1] != STOP:
        raise ValueError(f"expected an encoded frame ending 16, got [{data.hex(' ').upper()}]")
    buf[-1] = stop & 0xFF
    return RawRequest(
        bytes(buf), why=f"stop byte {stop:02X} instead of 16", rule="EN 13757-2 FT1.2 stop byte"
    )


def with_length_fields(data: bytes, first: int, second: int | None = None) -> RawRequest:
    """A long/control frame with its L fields set to ``first`` and ``second`` (default: both ``first``).

    The checksum stays the correct one over C..data, so only the length rule is broken: two L fields that
    disagree, or an L that does not count the bytes from C to the last data byte.
    """
    buf = _long(data)
    true_l = buf[1]
    second = first if second is None else second
    if (first, second) == (true_l, true_l):
        raise ValueError(f"L fields {first}/{second} equal the frame's own length {true_l}: nothing broken")
    buf[1], buf[2] = first & 0xFF, second & 0xFF
    why = (
        f"L fields disagree ({first:02X} / {second:02X})"
        if first != second
        else f"L field {first:02X} but {true_l} bytes from C to the last data byte"
    )
    return RawRequest(bytes(buf), why=why, rule="EN 13757-2 FT1.2 long frame L field")
