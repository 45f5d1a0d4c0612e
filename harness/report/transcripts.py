"""Telegram transcripts for the report appendix: each byte string decoded with the harness codec
(:func:`harness.mbus.decode`, lenient) into the EN 13757-2 frame fields and EN 13757-3 records."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.evidence import TranscriptEntry

#: EN 13757-2 C field names (FCB/FCV or ACD/DFC bits folded in)
_C_NAMES = {
    0x40: "SND_NKE",
    0x53: "SND_UD",
    0x73: "SND_UD",
    0x5B: "REQ_UD2",
    0x7B: "REQ_UD2",
    0x5A: "REQ_UD1",
    0x7A: "REQ_UD1",
}


def c_field_name(c: int) -> str:
    if c in _C_NAMES:
        return _C_NAMES[c]
    if c & 0x4F == 0x08:  # slave reply, ACD/DFC bits may be set
        return "RSP_UD"
    return f"C={c:02X}"


@dataclass
class DecodedEntry:
    entry: TranscriptEntry
    frame: str = ""  #: one line: frame kind and link-layer fields
    records: list[str] = field(default_factory=list)  #: one line per data record
    problems: list[str] = field(default_factory=list)  #: codec diagnostics or why it could not decode


def _record_lines(frame: object) -> list[str]:
    try:
        from harness.mbus.records import describe
    except ImportError:
        return []
    lines = []
    for record in getattr(frame, "records", ()):
        try:
            v = describe(record)
        except Exception as exc:  # a record the codec cannot describe still shows as raw bytes
            lines.append(f"{record!r}: {exc}")
            continue
        where = [f"storage {v.storage}"] if v.storage else []
        if v.tariff:
            where.append(f"tariff {v.tariff}")
        if v.subunit:
            where.append(f"subunit {v.subunit}")
        func = (
            ""
            if str(getattr(v.function, "value", v.function)) == "instantaneous"
            else f" ({getattr(v.function, 'value', v.function)})"
        )
        lines.append(
            f"{v.quantity}{func} = {v.value} {v.unit or ''}".rstrip()
            + (f" [{', '.join(where)}]" if where else "")
            + f"  <{v.raw}>"
        )
    return lines


def decode_entry(entry: TranscriptEntry) -> DecodedEntry:
    """Decode one transcript entry; bytes the codec cannot read are shown with the reason."""
    out = DecodedEntry(entry)
    try:
        data = bytes.fromhex(entry.data)
    except ValueError:
        out.problems.append("not hex bytes")
        return out
    if not data:
        out.frame = "(no bytes)"
        return out
    try:
        from harness.mbus import MBusError, decode
    except ImportError:  # codec not installed: the suite's one-line summary stands alone
        return out
    try:
        frame = decode(data)
    except MBusError as exc:
        out.problems.append(f"undecodable: {exc}")
        return out
    except Exception as exc:  # the appendix must render whatever the bytes are
        out.problems.append(f"codec error {exc.__class__.__name__}: {exc}")
        return out
    kind = getattr(frame, "kind", type(frame).__name__)
    if kind == "ack":
        out.frame = "E5 (single character acknowledge)"
    else:
        parts = [f"{kind} frame", c_field_name(frame.c), f"A={frame.a}"]  # type: ignore[union-attr]
        ci = getattr(frame, "ci", None)
        if ci is not None:
            parts.append(f"CI={ci:02X}")
        header = getattr(frame, "header", None)
        if header is not None and hasattr(header, "id"):
            parts.append(
                f"id {header.id} {header.manufacturer} v{header.version} medium {header.medium:02X} "
                f"access {header.access_number} status {header.status:02X}"
            )
        select = getattr(frame, "select", None)
        if select is not None:
            parts.append(
                f"select id {select.id} man {select.manufacturer or '*'} "
                f"ver {'*' if select.version is None else select.version} "
                f"med {'*' if select.medium is None else select.medium}"
            )
        data_bytes = getattr(frame, "data", b"")
        if data_bytes:
            parts.append(f"data {data_bytes.hex(' ').upper()}")
        if getattr(frame, "more_records_follow", False):
            parts.append("more records follow")
        out.frame = ", ".join(parts)
        out.records = _record_lines(frame)
    out.problems.extend(f"{d.severity}: {d.rule}: {d.message}" for d in getattr(frame, "diagnostics", ()))
    return out
