"""Manufacturer code (FLAG id) packing, EN 13757-3 clause 'Manufacturer identification'.

Three letters A-Z are packed five bits each: ``((c1-64)*32 + (c2-64))*32 + (c3-64)``, so
``ELV`` is 0x1596. The 15-bit packing is kept exact for every 5-bit group (``@`` and ``[\\]^_``
included) so any 15-bit value round-trips; a value with bit 15 set cannot be spelled with letters
and is written ``#XXXX`` (hex).
"""

from __future__ import annotations

from harness.mbus.model import Diagnostic, MBusError


def decode_manufacturer(value: int) -> str:
    """Return the three-letter code for a 16-bit manufacturer field (``0x1596`` -> ``"ELV"``)."""
    if not 0 <= value <= 0xFFFF:
        raise MBusError(
            [
                Diagnostic(
                    "error", "EN13757-3:manufacturer", f"manufacturer field must be 0..0xFFFF, got {value}", 0
                )
            ]
        )
    if value > 0x7FFF:
        return f"#{value:04X}"
    return chr(64 + (value >> 10)) + chr(64 + ((value >> 5) & 0x1F)) + chr(64 + (value & 0x1F))


def encode_manufacturer(code: str) -> int:
    """Return the 16-bit field for a code (``"ELV"`` -> ``0x1596``); ``#XXXX`` passes hex through."""
    if len(code) == 5 and code[0] == "#":
        try:
            return int(code[1:], 16)
        except ValueError:
            pass
    if len(code) != 3 or any(not 64 <= ord(ch) <= 95 for ch in code):
        raise MBusError(
            [
                Diagnostic(
                    "error",
                    "EN13757-3:manufacturer",
                    f"manufacturer code must be three letters A-Z (e.g. 'ELV'), got {code!r}",
                    0,
                )
            ]
        )
    return ((ord(code[0]) - 64) << 10) | ((ord(code[1]) - 64) << 5) | (ord(code[2]) - 64)


def is_flag_letters(code: str) -> bool:
    """True when the code is three capital letters A-Z (a valid FLAG id), not a raw/odd value."""
    return len(code) == 3 and all("A" <= ch <= "Z" for ch in code)
