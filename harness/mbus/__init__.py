"""EN 13757-2/-3 telegram codec. Pure functions, no I/O.

Public API (kept stable): :func:`decode`, :func:`encode`, :func:`frame_length`, the model classes,
:func:`harness.mbus.records.build_record` and :func:`harness.mbus.records.describe`.
"""

from harness.mbus.frames import CField, address_class, c_field, decode, encode, frame_length, has_errors
from harness.mbus.manufacturer import decode_manufacturer, encode_manufacturer
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
from harness.mbus.records import RecordView, build_record, describe

__all__ = [
    "AckFrame",
    "CField",
    "Coding",
    "ControlFrame",
    "DataRecord",
    "Diagnostic",
    "Frame",
    "Function",
    "LongFrame",
    "LongHeader",
    "MBusError",
    "RecordView",
    "SecondaryAddress",
    "ShortFrame",
    "ShortHeader",
    "address_class",
    "build_record",
    "c_field",
    "decode",
    "decode_manufacturer",
    "describe",
    "encode",
    "encode_manufacturer",
    "frame_length",
    "has_errors",
]
