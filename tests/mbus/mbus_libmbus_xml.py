"""Read the libmbus corpus (hex frames and ``.norm.xml``) and compare it with our decoding.

libmbus's XML is a cross-check, not ground truth (see the corpus README): every disagreement
found here is either fixed in the codec or listed, with its reason, in ``KNOWN_DISAGREEMENTS``.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from harness.mbus import LongFrame, LongHeader, decode, describe
from harness.mbus.fixed import decode_fixed

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT / "tests" / "data" / "libmbus"  # shipped copy; provenance in its README.md
FRAMES = CORPUS / "frames"
ERROR_FRAMES = CORPUS / "error-frames"

#: libmbus function text -> our Function value
_FUNCTION = {
    "Instantaneous value": "instantaneous",
    "Maximum value": "maximum",
    "Minimum value": "minimum",
    "Value during error state": "error",
}
#: libmbus normalised unit -> our base unit
_UNIT = {
    "Wh": "Wh",
    "m^3": "m3",
    "°C": "degC",
    "W": "W",
    "m^3/h": "m3/h",
    "s": "s",
    "V": "V",
    "K": "K",
    "A": "A",
    "J": "J",
}
#: libmbus medium names -> EN 13757-3 medium codes
_MEDIUM = {
    "Other": 0x00,
    "Oil": 0x01,
    "Electricity": 0x02,
    "Gas": 0x03,
    "Heat: Outlet": 0x04,
    "Heat": 0x04,
    "Steam": 0x05,
    "Warm water (30-90°C)": 0x06,
    "Warm water (30-90Â°C)": 0x06,
    "Water": 0x07,
    "Heat Cost Allocator": 0x08,
    "Compressed Air": 0x09,
    "Cooling load meter: Outlet": 0x0A,
    "Cooling load meter: Inlet": 0x0B,
    "Heat: Inlet": 0x0C,
    "Heat / Cooling load meter": 0x0D,
    "Bus/System": 0x0E,
    "Unknown Medium": 0x0F,
    "Breaker: Electricity": 0x20,
    "Cold water": 0x16,
    "Dual water": 0x17,
    "Pressure": 0x18,
    "A/D Converter": 0x19,
}


def read_hex(path: Path) -> bytes:
    """Bytes of a ``.hex`` file (hex pairs, any whitespace)."""
    return bytes.fromhex(re.sub(r"\s+", "", path.read_text()))


def frame_paths() -> list[Path]:
    return sorted(FRAMES.glob("*.hex"))


def error_frame_paths() -> list[Path]:
    return sorted(ERROR_FRAMES.rglob("*.hex"))


@dataclass
class Mismatch:
    frame: str
    where: str  #: "header.<field>" or "record[<n>].<field>" or "records"
    ours: object
    libmbus: object

    @property
    def key(self) -> tuple[str, str]:
        return (self.frame, self.where)


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


#: libmbus units outside the normalised set, with the factor to our base unit
_OTHER_UNIT = {"l": ("m3", 1e-3), "kWh": ("Wh", 1e3)}


def _compare_fixed(
    name: str, frame: LongFrame, info: ET.Element, xml_records: list[ET.Element]
) -> tuple[list[Mismatch], int]:
    """CI 73 fixed data: header fields and the two counters."""
    fixed = decode_fixed(frame.data)
    out: list[Mismatch] = []
    expect = {
        "id": (fixed.id.lstrip("0"), info.findtext("Id", "").lstrip("0")),
        "medium": (fixed.medium, _MEDIUM.get(info.findtext("Medium", ""), info.findtext("Medium"))),
        "access_number": (fixed.access_number, int(info.findtext("AccessNumber", "-1"))),
        "status": (fixed.status, int(info.findtext("Status", "-1"), 16)),
    }
    for field, (ours, theirs) in expect.items():
        if ours != theirs:
            out.append(Mismatch(name, f"header.{field}", ours, theirs))
    for n, (counter, xr) in enumerate(zip(fixed.counters, xml_records, strict=True)):
        unit = xr.findtext("Unit", "")
        theirs = float(xr.findtext("Value", "nan"))
        base, factor = _OTHER_UNIT.get(unit, (unit, 1.0))
        if counter.unit != base:
            out.append(Mismatch(name, f"record[{n}].unit", counter.unit, unit))
        elif counter.value is None or not math.isclose(counter.value, theirs * factor, rel_tol=1e-9):
            out.append(Mismatch(name, f"record[{n}].value", counter.value, theirs * factor))
    return out, len(xml_records)


def compare_frame(path: Path) -> tuple[list[Mismatch], int]:
    """Compare one frame with its ``.norm.xml``; return (mismatches, number of records compared)."""
    name = path.stem
    frame = decode(read_hex(path))
    root = ET.parse(path.with_suffix(".norm.xml")).getroot()
    out: list[Mismatch] = []
    info = root.find("SlaveInformation")
    assert info is not None
    xml_records = root.findall("DataRecord")
    if isinstance(frame, LongFrame) and frame.ci == 0x73:
        return _compare_fixed(name, frame, info, xml_records)
    if not isinstance(frame, LongFrame) or not isinstance(frame.header, LongHeader):
        out.append(Mismatch(name, "frame", getattr(frame, "ci", None), "unknown structure"))
        return out, 0
    h = frame.header
    expect = {
        "id": (h.id.lstrip("0") or "0", info.findtext("Id", "").lstrip("0") or "0"),
        "manufacturer": (h.manufacturer, info.findtext("Manufacturer")),
        "version": (h.version, int(info.findtext("Version", "-1"))),
        "medium": (h.medium, _MEDIUM.get(info.findtext("Medium", ""), info.findtext("Medium"))),
        "access_number": (h.access_number, int(info.findtext("AccessNumber", "-1"))),
        "status": (h.status, int(info.findtext("Status", "-1"), 16)),
        "signature": (h.signature, int(info.findtext("Signature", "-1"), 16)),
    }
    for field, (ours, theirs) in expect.items():
        if ours != theirs:
            out.append(Mismatch(name, f"header.{field}", ours, theirs))
    # libmbus lists manufacturer data after DIF 0F/1F as one more record
    trailer = frame.manufacturer_data is not None or frame.more_records_follow
    if len(frame.records) + trailer != len(xml_records):
        out.append(Mismatch(name, "records", len(frame.records) + trailer, len(xml_records)))
    big = frame.ci == 0x76
    for n, (rec, xr) in enumerate(zip(frame.records, xml_records, strict=False)):
        view = describe(rec, big_endian=big)
        where = f"record[{n}]"
        func = _FUNCTION.get(xr.findtext("Function", ""), xr.findtext("Function"))
        if func is not None and view.function.value != func:
            out.append(Mismatch(name, f"{where}.function", view.function.value, func))
        for tag, ours in (("StorageNumber", view.storage), ("Tariff", view.tariff), ("Device", view.subunit)):
            text = xr.findtext(tag)
            if text is not None and int(text) != ours:
                out.append(Mismatch(name, f"{where}.{tag.lower()}", ours, int(text)))
        unit = xr.findtext("Unit", "")
        value = (xr.findtext("Value") or "").strip()
        if unit in _UNIT and _UNIT[unit] != view.unit:
            out.append(Mismatch(name, f"{where}.unit", view.unit, unit))
        theirs_num = _num(value)
        if isinstance(view.value, (int, float)) and theirs_num is not None:
            if not math.isclose(float(view.value), theirs_num, rel_tol=1e-6, abs_tol=1e-6):
                out.append(Mismatch(name, f"{where}.value", view.value, theirs_num))
        elif isinstance(view.value, str) or view.value is None:
            theirs_text = value.removesuffix("Z")
            if (view.value or "").strip() != theirs_text and not (
                isinstance(view.raw_value, (int, float))
                and theirs_num is not None
                and math.isclose(float(view.raw_value), theirs_num)
            ):
                out.append(Mismatch(name, f"{where}.value", view.value, value))
        else:
            out.append(Mismatch(name, f"{where}.value", view.value, value))
    return out, min(len(frame.records), len(xml_records))
