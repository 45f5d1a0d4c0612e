"""Data model of the EN 13757-2/-3 codec: frames, headers, data records, diagnostics.

This module is the contract the rest of the harness builds on (emulator, master, tests):
field names and constructors here are kept stable. Everything is immutable, and equality
compares the wire-level content, so ``decode(encode(frame)) == frame`` holds for every frame
this model can express. Diagnostics never take part in equality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Literal

Severity = Literal["error", "warning"]

# --- EN 13757-2 clause 5 (FT1.2): C field values -------------------------------------------
SND_NKE = 0x40  #: link reset, answered with E5
SND_UD = 0x53  #: send user data (FCB clear); 0x73 with FCB set
REQ_UD1 = 0x5A  #: request class 1 (alarm) data; 0x7A with FCB set
REQ_UD2 = 0x5B  #: request class 2 data; 0x7B with FCB set
RSP_UD = 0x08  #: slave response with user data
C_FCB = 0x20  #: frame count bit (master to slave)
C_FCV = 0x10  #: frame count bit valid (master to slave)
C_ACD = 0x20  #: access demand (slave to master)
C_DFC = 0x10  #: data flow control (slave to master)

# --- EN 13757-2 addresses ---------------------------------------------------------------------
ADDR_UNCONFIGURED = 0
ADDR_SELECTED = 253  #: the slave selected by secondary address
ADDR_BROADCAST_REPLY = 254  #: broadcast, every slave replies (test use, one slave only)
ADDR_BROADCAST_NO_REPLY = 255  #: broadcast, no slave replies

# --- EN 13757-3 CI field values -----------------------------------------------------------------
CI_APPLICATION_RESET = 0x50
CI_DATA_SEND = 0x51
CI_SELECT = 0x52
CI_SELECT_MODE2 = 0x56
CI_APPLICATION_ERROR = 0x70
CI_RESPONSE_LONG = 0x72  #: variable data, long header
CI_RESPONSE_MODE2 = 0x76  #: variable data, long header, mode 2 (big-endian)
CI_RESPONSE_NONE = 0x78  #: variable data, no header
CI_RESPONSE_SHORT = 0x7A  #: variable data, short header
CI_BAUD_300 = 0xB8
CI_BAUD_2400 = 0xBB
CI_BAUD_9600 = 0xBD
#: CI B8..BF select the baud rate (EN 13757-3 table of CI fields)
BAUD_BY_CI: dict[int, int] = {
    0xB8: 300,
    0xB9: 600,
    0xBA: 1200,
    0xBB: 2400,
    0xBC: 4800,
    0xBD: 9600,
    0xBE: 19200,
    0xBF: 38400,
}


@dataclass(frozen=True)
class Diagnostic:
    """A finding about a telegram: data, not an exception.

    ``rule`` is a stable id such as ``EN13757-2:checksum``; ``message`` says what was expected
    and what came; ``offset`` is the byte offset in the input the finding refers to.
    """

    severity: Severity
    rule: str
    message: str
    offset: int

    def as_dict(self) -> dict[str, object]:
        return {"severity": self.severity, "rule": self.rule, "message": self.message, "offset": self.offset}


class MBusError(ValueError):
    """The codec's only exception: input that cannot be decoded (or a model that cannot be encoded).

    Carries the diagnostics that explain why; ``str()`` is the first one's message.
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__(diagnostics[0].message if diagnostics else "undecodable M-Bus data")


class Function(StrEnum):
    """DIF bits 4-5 (EN 13757-3 table 'Function field')."""

    INSTANTANEOUS = "instantaneous"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    ERROR = "error"


class Coding(int, Enum):
    """DIF low nibble: data field coding (EN 13757-3 table 'Data field')."""

    NONE = 0x0
    INT8 = 0x1
    INT16 = 0x2
    INT24 = 0x3
    INT32 = 0x4
    REAL32 = 0x5
    INT48 = 0x6
    INT64 = 0x7
    SELECTION = 0x8  #: selection for readout
    BCD2 = 0x9
    BCD4 = 0xA
    BCD6 = 0xB
    BCD8 = 0xC
    VARIABLE = 0xD
    BCD12 = 0xE
    SPECIAL = 0xF


@dataclass(frozen=True)
class LongHeader:
    """Fixed header after CI 72/76 (EN 13757-3 'long header').

    ``id`` is the 8-digit identification number as printed (BCD, may hold ``F`` wildcards only
    in select telegrams), ``manufacturer`` the three-letter FLAG code (``ELV`` for Elvaco).
    """

    id: str
    manufacturer: str
    version: int
    medium: int
    access_number: int = 0
    status: int = 0
    signature: int = 0


@dataclass(frozen=True)
class ShortHeader:
    """Header after CI 7A (EN 13757-3 'short header')."""

    access_number: int = 0
    status: int = 0
    signature: int = 0


@dataclass(frozen=True)
class SecondaryAddress:
    """Secondary address used by select (CI 52), EN 13757-3 clause on secondary addressing.

    ``id`` is 8 characters, each a decimal digit or ``F`` (wildcard nibble); ``manufacturer`` is a
    three-letter code or ``None`` for the ``FF FF`` wildcard; ``version``/``medium`` are ``None`` for ``FF``.
    """

    id: str
    manufacturer: str | None = None
    version: int | None = None
    medium: int | None = None


@dataclass(frozen=True)
class DataRecord:
    """One variable data record (EN 13757-3 clause 'Variable data structure').

    Stored as on the wire (DIF, DIFEs, VIF, VIFEs, data field); the decoded view (function,
    storage, tariff, subunit, quantity, unit, value scaled to the base unit) is computed from
    these bytes by :mod:`harness.mbus.records`. Build one from a value with
    :func:`harness.mbus.records.build_record`.
    """

    dif: int
    dife: tuple[int, ...] = ()
    vif: int | None = None  #: None only for special-function DIFs (0F, 1F, 2F) which carry no VIF
    vife: tuple[int, ...] = ()  #: includes the table byte after VIF FB/FD, and any further VIFEs
    data: bytes = b""  #: data field as on the wire (for variable length: without the LVAR byte)
    lvar: int | None = None  #: LVAR byte for DIF coding D (variable length)
    plain_text_vif: str | None = None  #: unit text of VIF 7C/FC, as read (already un-reversed)


@dataclass(frozen=True)
class AckFrame:
    """Single character E5 (EN 13757-2)."""

    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False)

    kind = "ack"


@dataclass(frozen=True)
class ShortFrame:
    """``10 C A CS 16`` (EN 13757-2)."""

    c: int
    a: int
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False)

    kind = "short"


@dataclass(frozen=True)
class ControlFrame:
    """``68 03 03 68 C A CI CS 16`` (EN 13757-2)."""

    c: int
    a: int
    ci: int
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False)

    kind = "control"


@dataclass(frozen=True)
class LongFrame:
    """``68 L L 68 C A CI data CS 16`` (EN 13757-2), with the application layer of EN 13757-3.

    For variable-data CIs (72, 76, 78, 7A) the application data is held structured in ``header``,
    ``records``, ``manufacturer_data`` and ``more_records_follow`` (DIF 1F), and ``data`` is empty.
    For select (52/56) ``select`` holds the secondary address. For every other CI (51 data send,
    50 reset, 70 application error, B8-BF with data...) ``data`` holds the raw application bytes.
    """

    c: int
    a: int
    ci: int
    header: LongHeader | ShortHeader | None = None
    records: tuple[DataRecord, ...] = ()
    manufacturer_data: bytes | None = None  #: bytes after DIF 0F/1F (None when absent)
    more_records_follow: bool = False  #: DIF 1F: more records follow in the next telegram
    select: SecondaryAddress | None = None
    data: bytes = b""
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False)

    kind = "long"


Frame = AckFrame | ShortFrame | ControlFrame | LongFrame
