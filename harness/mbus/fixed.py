"""Fixed data structure (CI 73 / 77), the legacy telegram of EN 1434-3 that EN 13757-3 still lists.

16 bytes: ID (4 BCD), access number, status, medium/unit (2 bytes), counter 1 (4), counter 2 (4).
Status bit 7 says the counters are binary (else BCD), bit 6 that they are historic values. The
medium is split over the top two bits of both unit bytes; each counter has a 6-bit unit code.
:class:`LongFrame` keeps this payload raw in ``data``; :func:`decode_fixed` gives its meaning.
"""

from __future__ import annotations

from typing import NamedTuple

from harness.mbus.model import Diagnostic, MBusError

#: 6-bit unit codes: (quantity, base unit, factor to the base unit); groups of x1, x10, x100
_GROUPS: list[tuple[str, str, float]] = [
    ("energy", "Wh", 1.0),
    ("energy", "Wh", 10**3),
    ("energy", "Wh", 10**6),
    ("energy", "J", 10**3),
    ("energy", "J", 10**6),
    ("energy", "J", 10**9),
    ("power", "W", 1),
    ("power", "W", 10**3),
    ("power", "W", 10**6),
    ("power", "J/h", 10**3),
    ("power", "J/h", 10**6),
    ("power", "J/h", 10**9),
]
FIXED_UNITS: dict[int, tuple[str, str, float]] = {
    0x00: ("time", "h,m,s", 1),
    0x01: ("date", "D,M,Y", 1),
    0x38: ("temperature", "degC", 1e-3),
    0x39: ("hca_units", "", 1),
    0x3F: ("dimensionless", "", 1),
}
for _n, (_q, _u, _f) in enumerate(_GROUPS):
    for _k in range(3):
        FIXED_UNITS[0x02 + 3 * _n + _k] = (_q, _u, _f * 10**_k)
for _n, (_q, _u, _f) in enumerate(
    [
        ("volume", "m3", 1e-6),
        ("volume", "m3", 1e-3),
        ("volume", "m3", 1.0),
        ("volume_flow", "m3/h", 1e-6),
        ("volume_flow", "m3/h", 1e-3),
        ("volume_flow", "m3/h", 1.0),
    ]
):
    for _k in range(3):
        FIXED_UNITS[0x26 + 3 * _n + _k] = (_q, _u, _f * 10**_k)
SAME_BUT_HISTORIC = 0x3E  #: counter 2 has counter 1's unit and holds a historic value


class FixedCounter(NamedTuple):
    quantity: str
    unit: str
    value: float | int | None  #: in the base unit
    raw_value: int | str  #: counter as sent (BCD digits as int, or hex text when not BCD)
    unit_code: int
    historic: bool


class FixedData(NamedTuple):
    id: str
    access_number: int
    status: int
    medium: int
    counters: tuple[FixedCounter, FixedCounter]


def _counter(raw: bytes, binary: bool) -> int | str:
    if binary:
        return int.from_bytes(raw, "little")
    digits = raw[::-1].hex()
    return int(digits) if digits.isdigit() else digits.upper()


def decode_fixed(data: bytes) -> FixedData:
    """Meaning of a CI 73 payload (16 bytes); MBusError when it has another length."""
    if len(data) != 16:
        raise MBusError(
            [
                Diagnostic(
                    "error", "EN13757-3:fixed-data", f"fixed data structure is 16 bytes, got {len(data)}", 0
                )
            ]
        )
    status = data[5]
    binary, historic = bool(status & 0x80), bool(status & 0x40)
    unit1, unit2 = data[6] & 0x3F, data[7] & 0x3F
    medium = (data[7] & 0xC0) >> 4 | (data[6] & 0xC0) >> 6
    counters = []
    for n, code in enumerate((unit1, unit2)):
        is_historic = historic
        meaning = code
        if n == 1 and code == SAME_BUT_HISTORIC:
            meaning, is_historic = unit1, True
        quantity, unit, factor = FIXED_UNITS.get(meaning, ("reserved", "", 1.0))
        raw = _counter(data[8 + 4 * n : 12 + 4 * n], binary)
        value = raw * factor if isinstance(raw, int) and quantity not in ("time", "date") else None
        counters.append(FixedCounter(quantity, unit, value, raw, code, is_historic))
    return FixedData(data[3::-1].hex().upper(), data[4], status, medium, (counters[0], counters[1]))
