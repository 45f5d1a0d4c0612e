"""One-line summaries of frames for the transcript (names from EN 13757-2/-3)."""

from __future__ import annotations

from harness.mbus import AckFrame, ControlFrame, LongFrame, LongHeader, MBusError, ShortFrame, decode
from harness.mbus.model import (
    BAUD_BY_CI,
    C_FCB,
    C_FCV,
    CI_APPLICATION_RESET,
    CI_DATA_SEND,
    CI_SELECT,
    REQ_UD1,
    REQ_UD2,
    RSP_UD,
    SND_NKE,
    SND_UD,
)

_C_NAMES = {SND_NKE: "SND_NKE", SND_UD: "SND_UD", REQ_UD1: "REQ_UD1", REQ_UD2: "REQ_UD2", RSP_UD: "RSP_UD"}


def c_name(c: int) -> str:
    """Name of a C field, with FCB/FCV shown for requests (EN 13757-2 C field)."""
    base = c & ~C_FCB if c & 0x40 else c & ~0x30
    name = _C_NAMES.get(base, f"C={c:02X}")
    if c & 0x40 and c & C_FCV:
        name += f" FCB={1 if c & C_FCB else 0}"
    return name


def describe_frame(frame: object) -> str:
    """Short text for a decoded frame."""
    if isinstance(frame, AckFrame):
        return "E5 (ack)"
    if isinstance(frame, ShortFrame):
        return f"{c_name(frame.c)} a={frame.a}"
    if isinstance(frame, ControlFrame):
        if frame.ci in BAUD_BY_CI:
            return f"{c_name(frame.c)} a={frame.a} CI={frame.ci:02X} set baud {BAUD_BY_CI[frame.ci]}"
        if frame.ci == CI_APPLICATION_RESET:
            return f"{c_name(frame.c)} a={frame.a} CI=50 application reset"
        return f"{c_name(frame.c)} a={frame.a} CI={frame.ci:02X}"
    if isinstance(frame, LongFrame):
        text = f"{c_name(frame.c)} a={frame.a} CI={frame.ci:02X}"
        if frame.ci == CI_SELECT and frame.select is not None:
            s = frame.select
            text += f" select id={s.id} man={s.manufacturer or '*'}"
            text += (
                f" ver={'*' if s.version is None else s.version} med={'*' if s.medium is None else s.medium}"
            )
        elif frame.ci == CI_DATA_SEND:
            text += f" data send {frame.data.hex(' ').upper()}"
        elif isinstance(frame.header, LongHeader):
            h = frame.header
            text += f" id={h.id} {h.manufacturer} ver={h.version} med={h.medium:02X} acc={h.access_number}"
        if frame.records:
            text += f" {len(frame.records)} records"
        if frame.more_records_follow:
            text += " (more records follow)"
        return text
    return type(frame).__name__


def summarize(data: bytes) -> str:
    """Summary of raw bytes: the decoded frame, or why they do not decode."""
    if not data:
        return "(nothing)"
    try:
        return describe_frame(decode(data))
    except MBusError as exc:
        return f"undecodable: {exc}"
