"""`cmi-hil decode [--json] [--strict] INPUT...`: decode M-Bus telegrams given as hex files or hex strings.

Exit status: 0 when every input decoded without error diagnostics, 1 otherwise, 2 on usage errors
(an INPUT that is neither a readable file nor a hex string). Every usable input is still reported.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from harness.mbus import (
    Diagnostic,
    Frame,
    LongFrame,
    LongHeader,
    MBusError,
    ShortHeader,
    decode,
    describe,
)
from harness.mbus.fixed import decode_fixed
from harness.mbus.names import c_field_name, ci_name, medium_name
from harness.mbus.records import RecordView

_SEPARATORS = re.compile(r"[\s:,]+")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")


class UsageError(Exception):
    """An INPUT argument that cannot be used at all (exit status 2)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "decode",
        help="decode M-Bus telegrams (EN 13757-2/-3) from hex files or hex strings",
        description="Decode M-Bus telegrams. INPUT is a file of hex bytes (whitespace separated) or a hex "
        "string such as '10 40 01 41 16'. Exit 0: all decoded without errors; 1: some error "
        "diagnostics; 2: usage error.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="hex file or hex string")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per INPUT")
    parser.add_argument("--strict", action="store_true", help="every deviation from EN 13757 is an error")
    parser.set_defaults(func=run)


def parse_hex(text: str, source: str) -> bytes:
    """Bytes from hex pairs separated by whitespace, ':' or ','; MBusError saying what is wrong otherwise."""
    digits = _SEPARATORS.sub("", text)
    if digits.lower().startswith("0x"):
        digits = digits[2:]
    if not digits or _HEX.fullmatch(digits) is None:
        bad = next((ch for ch in digits if ch not in "0123456789abcdefABCDEF"), None)
        why = (
            "it is empty"
            if not digits
            else f"it contains {bad!r}"
            if bad is not None
            else f"it has an odd number of hex digits ({len(digits)})"
        )
        raise MBusError(
            [Diagnostic("error", "input:hex", f"{source}: expected hex byte pairs, but {why}", 0)]
        )
    return bytes.fromhex(digits)


def read_input(arg: str) -> tuple[str, bytes]:
    """(source, bytes) for one INPUT; UsageError if neither a file nor hex; MBusError for a bad hex file."""
    path = Path(arg)
    if path.is_file():
        try:
            text = path.read_text(encoding="ascii", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read {arg}: {exc.strerror}") from None
        return arg, parse_hex(text, arg)
    try:
        return "<hex>", parse_hex(arg, "hex string")
    except MBusError:
        raise UsageError(
            f"INPUT {arg!r} is neither an existing file nor a hex string; "
            "give a .hex file or bytes like '10 40 01 41 16'"
        ) from None


def _number(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Infinity
    return value


def record_json(view: RecordView) -> dict[str, Any]:
    return {
        "function": view.function.value,
        "storage": view.storage,
        "tariff": view.tariff,
        "subunit": view.subunit,
        "quantity": view.quantity,
        "unit": view.unit,
        "value": _number(view.value),
        "raw_value": _number(view.raw_value),
        "raw": view.raw,
        "dif": view.dif,
        "dife": list(view.dife),
        "vif": view.vif,
        "vife": list(view.vife),
        "modifiers": list(view.modifiers),
        "manufacturer_vife": list(view.manufacturer_vife),
    }


def frame_json(frame: Frame) -> dict[str, Any]:
    """JSON object of a decoded frame (shape documented in the decode issue)."""
    out: dict[str, Any] = {
        "kind": frame.kind,
        "c": getattr(frame, "c", None),
        "a": getattr(frame, "a", None),
        "ci": getattr(frame, "ci", None),
        "header": None,
        "records": [],
        "manufacturer_data": None,
    }
    if not isinstance(frame, LongFrame):
        return out
    h = frame.header
    if isinstance(h, LongHeader):
        out["header"] = {
            "id": h.id,
            "manufacturer": h.manufacturer,
            "version": h.version,
            "medium": h.medium,
            "access_number": h.access_number,
            "status": h.status,
            "signature": h.signature,
        }
    elif isinstance(h, ShortHeader):
        out["header"] = {"access_number": h.access_number, "status": h.status, "signature": h.signature}
    big = frame.ci == 0x76
    out["records"] = [record_json(describe(r, big_endian=big)) for r in frame.records]
    out["manufacturer_data"] = (
        frame.manufacturer_data.hex(" ").upper() if frame.manufacturer_data is not None else None
    )
    out["more_records_follow"] = frame.more_records_follow
    if frame.select is not None:
        s = frame.select
        out["select"] = {"id": s.id, "manufacturer": s.manufacturer, "version": s.version, "medium": s.medium}
    out["data"] = frame.data.hex(" ").upper() if frame.data else None
    if frame.ci == 0x73 and len(frame.data) == 16:
        fixed = decode_fixed(frame.data)
        out["fixed"] = {
            "id": fixed.id,
            "access_number": fixed.access_number,
            "status": fixed.status,
            "medium": fixed.medium,
            "counters": [
                {
                    "quantity": c.quantity,
                    "unit": c.unit,
                    "value": c.value,
                    "raw_value": c.raw_value,
                    "historic": c.historic,
                }
                for c in fixed.counters
            ],
        }
    return out


def decode_input(source: str, data: bytes, strict: bool) -> tuple[Frame | None, list[Diagnostic]]:
    try:
        frame = decode(data, strict=strict)
    except MBusError as exc:
        return None, list(exc.diagnostics)
    return frame, list(frame.diagnostics)


def _fmt_value(value: object) -> str:
    if isinstance(value, float):
        return format(value, ".12g")
    return "-" if value is None else str(value)


def frame_text(source: str, frame: Frame | None, diags: list[Diagnostic]) -> str:
    """Readable table: header line(s), then one line per record."""
    errors = sum(d.severity == "error" for d in diags)
    warnings = len(diags) - errors
    lines = [f"== {source}: {'ok' if not errors else 'ERROR'} ({errors} errors, {warnings} warnings)"]
    if frame is not None:
        if frame.kind == "ack":
            lines.append("single character E5 (acknowledge)")
        else:
            c, a = getattr(frame, "c"), getattr(frame, "a")  # noqa: B009 - ack has neither
            line = f"{frame.kind} frame  C={c:02X} ({c_field_name(c)})  A={a}"
            if isinstance(frame, (LongFrame,)) or frame.kind == "control":
                ci = getattr(frame, "ci")  # noqa: B009
                line += f"  CI={ci:02X} ({ci_name(ci)})"
            lines.append(line)
        if isinstance(frame, LongFrame):
            lines.extend(_long_text(frame))
    for d in diags:
        lines.append(f"  {d.severity:<7} {d.rule} @{d.offset}: {d.message}")
    return "\n".join(lines)


def _long_text(frame: LongFrame) -> list[str]:
    lines: list[str] = []
    h = frame.header
    if isinstance(h, LongHeader):
        lines.append(
            f"id {h.id}  manufacturer {h.manufacturer}  version {h.version}  medium {h.medium:02X} "
            f"({medium_name(h.medium)})  access {h.access_number}  status {h.status:02X}  "
            f"signature {h.signature:04X}"
        )
    elif isinstance(h, ShortHeader):
        lines.append(f"access {h.access_number}  status {h.status:02X}  signature {h.signature:04X}")
    if frame.select is not None:
        s = frame.select
        lines.append(
            f"select id {s.id}  manufacturer {s.manufacturer or '*'}  "
            f"version {'*' if s.version is None else s.version}  "
            f"medium {'*' if s.medium is None else f'{s.medium:02X}'}"
        )
    if frame.records:
        lines.append(
            f"  {'#':>3}  {'function':<13} {'st':>3} {'ta':>3} {'su':>3}  "
            f"{'quantity':<28} {'value':>20}  unit"
        )
        big = frame.ci == 0x76
        for n, rec in enumerate(frame.records):
            v = describe(rec, big_endian=big)
            quantity = v.quantity + (f" [{', '.join(v.modifiers)}]" if v.modifiers else "")
            lines.append(
                f"  {n:>3}  {v.function.value:<13} {v.storage:>3} {v.tariff:>3} {v.subunit:>3}  "
                f"{quantity:<28} {_fmt_value(v.value):>20}  {v.unit}"
            )
    if frame.manufacturer_data is not None or frame.more_records_follow:
        data = frame.manufacturer_data.hex(" ").upper() if frame.manufacturer_data else "(none)"
        more = "  (more records follow)" if frame.more_records_follow else ""
        lines.append(f"manufacturer data: {data}{more}")
    if frame.data:
        lines.append(f"application data: {frame.data.hex(' ').upper()}")
    if frame.ci == 0x73 and len(frame.data) == 16:
        fixed = decode_fixed(frame.data)
        lines.append(
            f"fixed data: id {fixed.id}  access {fixed.access_number}  status {fixed.status:02X}  "
            f"medium {fixed.medium:02X} ({medium_name(fixed.medium)})"
        )
        for n, c in enumerate(fixed.counters, 1):
            lines.append(
                f"  counter {n}: {c.quantity} {_fmt_value(c.value)} {c.unit}"
                f"{'  (historic)' if c.historic else ''}"
            )
    return lines


def run(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    texts: list[str] = []
    status = 0
    usage = False
    for arg in args.inputs:
        try:
            source, data = read_input(arg)
        except UsageError as exc:
            print(f"cmi-hil decode: {exc}", file=sys.stderr)
            usage = True
            continue
        except MBusError as exc:  # a readable file whose content is not hex
            frame, diags = None, list(exc.diagnostics)
            source = arg
        else:
            frame, diags = decode_input(source, data, args.strict)
        ok = not any(d.severity == "error" for d in diags)
        if not ok:
            status = 1
        if args.json:
            results.append(
                {
                    "source": source,
                    "ok": ok,
                    "frame": frame_json(frame) if frame is not None else None,
                    "diagnostics": [d.as_dict() for d in diags],
                }
            )
        else:
            texts.append(frame_text(source, frame, diags))
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    elif texts:
        print("\n\n".join(texts))
    return 2 if usage else status
