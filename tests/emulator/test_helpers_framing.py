"""The raw test master waits for the rest of a long frame its L field announces, so a held-up thread
cannot cut a reply in two (the probes' false failures on a loaded machine)."""

from __future__ import annotations

from .helpers import frame_incomplete


def test_a_long_frame_is_incomplete_until_its_l_field_is_met() -> None:
    frame = bytes([0x68, 0x03, 0x03, 0x68, 0x53, 0x01, 0x51, 0xA5, 0x16])
    assert frame_incomplete(frame[:2]) and frame_incomplete(frame[:-1])
    assert not frame_incomplete(frame)
    assert not frame_incomplete(b"\xe5") and not frame_incomplete(b"") and not frame_incomplete(b"\x10\x40")
