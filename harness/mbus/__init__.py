"""EN 13757-2/-3 telegram codec. Pure functions, no I/O.

Public API (kept stable): :func:`decode`, :func:`encode`, :func:`frame_length`, the model classes.
"""

from harness.mbus.model import (
    AckFrame,
    Coding,
    ControlFrame,
    DataRecord,
    Diagnostic,
    Frame,
    Function,
    LongFrame,
    LongHeader,
    MBusError,
    SecondaryAddress,
    ShortFrame,
    ShortHeader,
)

__all__ = [
    "AckFrame", "Coding", "ControlFrame", "DataRecord", "Diagnostic", "Frame", "Function", "LongFrame",
    "LongHeader", "MBusError", "SecondaryAddress", "ShortFrame", "ShortHeader",
]
