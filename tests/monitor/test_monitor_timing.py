"""The bus monitor's pure functions: frame splitting, direction, pairing, the arrival envelope and the judges.

Timestamps are built here from the line's own arithmetic (a character every 11 bit times), so every
expected value follows from EN 13757-2 and the codec, and each judge is shown to fail on a wrong input.
"""

from __future__ import annotations

import pytest

from harness.mbus import encode
from harness.mbus.model import REQ_UD2, SND_NKE, ShortFrame
from harness.mbus.timing import char_time_s, inter_char_gap_allowance_s, reply_window
from harness.monitor import (
    Exchange,
    StampedByte,
    judge_exchange,
    line_envelope_ns,
    pair_exchanges,
    split_frames,
)

BAUD = 2400
CHAR_NS = char_time_s(BAUD) * 1e9
ACK = b"\xe5"
REQ = encode(ShortFrame(REQ_UD2 | 0x10, 5))
NKE = encode(ShortFrame(SND_NKE, 5))
#: a small RSP_UD: 68 L L 68 C A CI, 12-byte fixed header, no records, CS 16
_BODY = bytes([0x08, 0x05, 0x72]) + bytes(12)
RSP = bytes([0x68, len(_BODY), len(_BODY), 0x68]) + _BODY + bytes([sum(_BODY) & 0xFF, 0x16])


def on_line(
    data: bytes, start_ns: float, *, pause_after: int | None = None, pause_ns: float = 0.0
) -> list[StampedByte]:
    """Bytes as a monitor with no latency gets them: each at the end of its stop bit."""
    out, t = [], start_ns
    for i, b in enumerate(data):
        t += CHAR_NS
        out.append(StampedByte(b, round(t)))
        if i == pause_after:
            t += pause_ns
    return out


def exchange(
    delay_s: float, *, pause_after: int | None = None, pause_ns: float = 0.0, reply: bytes = RSP
) -> Exchange:
    req = on_line(REQ, 0.0)
    rsp = on_line(reply, req[-1].t_ns + delay_s * 1e9, pause_after=pause_after, pause_ns=pause_ns)
    (ex,) = pair_exchanges(split_frames(req + rsp, baud=BAUD), baud=BAUD)
    return ex


def test_frames_are_cut_by_the_frame_length_rule_and_noise_is_skipped() -> None:
    stream = on_line(b"\x00\xff" + REQ + ACK + NKE + RSP, 0.0)
    frames = list(split_frames(stream, baud=BAUD))
    assert [f.data for f in frames] == [REQ, ACK, NKE, RSP]
    assert [f.from_master for f in frames] == [True, False, True, False]
    assert all(f.decodes for f in frames)
    broken = RSP[:-2] + bytes([(RSP[-2] + 1) & 0xFF, 0x16])
    (bad,) = split_frames(on_line(broken, 0.0), baud=BAUD)
    assert not bad.decodes and not bad.from_master


def test_a_frame_cut_off_for_a_whole_reply_window_is_abandoned() -> None:
    head = on_line(RSP[:6], 0.0)
    later = on_line(REQ, head[-1].t_ns + 1.1 * reply_window(BAUD)[1] * 1e9)
    assert [f.data for f in split_frames(head + later, baud=BAUD)] == [REQ]


def test_each_request_pairs_with_the_slave_frame_after_it() -> None:
    stream = on_line(REQ + RSP + NKE + NKE + ACK + ACK, 0.0)
    pairs = list(pair_exchanges(split_frames(stream, baud=BAUD), baud=BAUD))
    assert [(p.request.data, p.reply.data if p.reply else None) for p in pairs] == [
        (REQ, RSP),
        (NKE, None),
        (NKE, ACK),
    ]


def test_reply_delay_and_gaps_follow_from_the_stop_bit_timestamps() -> None:
    ex = exchange(0.0292)
    assert ex.reply_delay_s == pytest.approx(0.0292, abs=1e-6)
    assert len(ex.reply_gaps_s) == len(RSP) - 1
    assert max(abs(g) for g in ex.reply_gaps_s) < 1e-6
    paused = exchange(0.0292, pause_after=9, pause_ns=7e6)
    assert paused.reply_gaps_s[9] == pytest.approx(0.007, abs=1e-6)
    assert max(abs(g) for i, g in enumerate(paused.reply_gaps_s) if i != 9) < 1e-6


def test_a_time_scale_turns_wall_intervals_back_into_line_time() -> None:
    req = [StampedByte(s.value, round(s.t_ns * 0.1)) for s in on_line(REQ, 0.0)]
    rsp = [StampedByte(s.value, round(s.t_ns * 0.1)) for s in on_line(ACK, (req[-1].t_ns / 0.1) + 0.05e9)]
    (ex,) = pair_exchanges(split_frames(req + rsp, baud=BAUD, time_scale=0.1), baud=BAUD, time_scale=0.1)
    assert ex.reply_delay_s == pytest.approx(0.05, abs=1e-5)


def test_the_envelope_removes_a_late_byte_but_keeps_a_real_pause() -> None:
    t = [round((i + 1) * CHAR_NS) for i in range(6)]
    late = list(t)
    late[2] += 3_000_000  # delivered 3 ms late, the next ones on time: bytes 2 and 3 arrived together
    assert line_envelope_ns(tuple(late), CHAR_NS) == pytest.approx(t, abs=1)
    paused = [x + (4_000_000 if i >= 3 else 0) for i, x in enumerate(t)]  # the line idled 4 ms after byte 2
    assert line_envelope_ns(tuple(paused), CHAR_NS) == tuple(paused)


def test_reply_delay_judged_against_the_en13757_window() -> None:
    low, high = reply_window(BAUD)
    assert judge_exchange(exchange(0.0292), resolution_s=0.002).reply_delay.verdict == "pass"  # type: ignore[union-attr]
    late = judge_exchange(exchange(1.3 * high), resolution_s=0.002)
    assert late.reply_delay is not None and late.reply_delay.verdict == "fail" and late.verdict == "fail"
    early = judge_exchange(exchange(2 / BAUD), resolution_s=0.002)
    assert early.reply_delay is not None and early.reply_delay.verdict == "fail"
    edge = judge_exchange(exchange(high), resolution_s=0.002)
    assert edge.reply_delay is not None and edge.reply_delay.verdict == "inconclusive"
    assert edge.reply_delay.low_s == low and edge.reply_delay.high_s == high


def test_gaps_judged_against_the_allowance_with_the_resolution_as_uncertainty() -> None:
    allowance = inter_char_gap_allowance_s(BAUD)
    clean = judge_exchange(exchange(0.0292), resolution_s=0.002)
    assert clean.verdict == "pass" and all(g.verdict == "pass" for g in clean.gaps)
    assert all(g.high_s == allowance and g.assumption for g in clean.gaps)
    pause = judge_exchange(exchange(0.0292, pause_after=10, pause_ns=3 * CHAR_NS), resolution_s=0.002)
    assert pause.verdict == "fail" and pause.longest_gap is not None
    assert pause.longest_gap.name == "reply_gap[10]" and pause.longest_gap.verdict == "fail"
    near = judge_exchange(exchange(0.0292, pause_after=10, pause_ns=allowance * 1e9), resolution_s=0.002)
    assert near.verdict == "inconclusive"


def test_no_reply_has_no_timing_to_judge_and_a_negative_resolution_is_refused() -> None:
    (ex,) = pair_exchanges(split_frames(on_line(NKE, 0.0), baud=BAUD), baud=BAUD)
    judged = judge_exchange(ex, resolution_s=0.002)
    assert ex.reply_delay_s is None and judged.reply_delay is None and judged.verdict == "pass"
    with pytest.raises(ValueError, match="resolution_s must be >= 0"):
        judge_exchange(ex, resolution_s=-1.0)


def test_a_request_end_that_arrived_with_the_reply_leaves_the_delay_undecided() -> None:
    """A monitor that stalled hands over the request's last byte together with the reply: its timestamp is
    late by an unknown amount, so a delay that looks too short is not decided; a real early reply is."""
    req = on_line(REQ, 0.0)
    rsp = on_line(ACK, req[-1].t_ns + 0.0292e9)
    stalled = [*req[:-1], StampedByte(req[-1].value, rsp[0].t_ns), *rsp]
    (ex,) = pair_exchanges(split_frames(stalled, baud=BAUD), baud=BAUD)
    assert ex.request_end_resolved is False
    judged = judge_exchange(ex, resolution_s=0.002)
    assert judged.reply_delay is not None and judged.reply_delay.verdict == "inconclusive"
    early = exchange(2 / BAUD, reply=ACK)
    assert early.request_end_resolved is True
    assert judge_exchange(early, resolution_s=0.002).reply_delay.verdict == "fail"  # type: ignore[union-attr]
