"""Physical-layer timing (EN 13757-2): no pause inside a telegram, startup delay after bus power-up.

Both are observed the way a bench observes them: the master's own read timestamps (every read chunk, the
rig's latency allowance as the uncertainty of an interval) or, where the rig has a bus monitor at the
baud under test, the monitor's byte timestamps (its resolution as the uncertainty); the supply switches
the bus on and the master polls. Limits come from the device profile: the gap tolerance
(``link.inter_char_gap_max_bit_times``) and the startup delay (``startup.max_delay_s``), both assumptions
(EN 13757-2 / FT1.2 admit no pause; the number of EN 13757-2:2018 4.2.2.11 is not in our notes).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from fixtures.checks import wait_std
from fixtures.dut import NOMINAL_VOLTS
from fixtures.reply_timing import measure_master_latency, measure_monitor_latency
from harness.mbus import encode
from harness.mbus.model import C_FCB, C_FCV, REQ_UD2, SND_NKE, LongFrame, ShortFrame
from harness.mbus.timing import reply_window
from harness.measure import measure
from harness.monitor import TimingCheck, frame_gaps_s, judge_exchange, judge_gaps

#: bus supply off before a startup measurement (the module must have lost its supply)
POWER_OFF_S = 0.5
#: longest read-out the gap test accepts (guards against a module that never ends its read-out)
MAX_TELEGRAMS = 16


def _short(c: int, a: int) -> bytes:
    return encode(ShortFrame(c=c, a=a))


def read_out_replies(master: Any, address: int, frame_pause_s: float) -> list[Any]:
    """The whole read-out as the master received it: SND_NKE, then REQ_UD2 with toggling FCB until a
    telegram ends without DIF 1F (EN 13757-2 FCB, EN 13757-3 'more records follow'). Each reply is kept
    with its read chunks; a frame may pause up to ``frame_pause_s`` (wall) and still be read whole."""
    master.link_reset(address)
    replies: list[Any] = []
    fcb = True
    for _ in range(MAX_TELEGRAMS):
        reply = master.transact(
            _short(REQ_UD2 | C_FCV | (C_FCB if fcb else 0), address), frame_pause_s=frame_pause_s
        )
        assert reply.ok and isinstance(reply.frame, LongFrame), (
            f"telegram {len(replies) + 1}: expected one valid RSP_UD, "
            f"got {reply.problem} [{reply.data.hex(' ')}]"
        )
        replies.append(reply)
        if not reply.frame.more_records_follow:
            return replies
        fcb = not fcb
    pytest.fail(f"the read-out still announces more records after {MAX_TELEGRAMS} telegrams (DIF 1F)")


def master_gap_checks(
    reply: Any, baud: int, scale: float, allowance_wall_s: float, limit_s: float
) -> tuple[TimingCheck, ...]:
    """Every inter-character gap of one reply from the master's read chunks, judged. The path's delay
    varies by up to the rig's latency allowance between two stamps: that is the interval's uncertainty
    (wall seconds divided by the bench's time scale, like the intervals)."""
    stamps = tuple(round(t * 1e9) for t in reply.byte_arrivals)
    gaps = frame_gaps_s(stamps, baud=baud, time_scale=scale)
    return judge_gaps(gaps, baud=baud, uncertainty_s=allowance_wall_s / scale, allowance_s=limit_s)


def _record_longest(checks: tuple[TimingCheck, ...], *, baud: int, telegram: int, method: str) -> None:
    """Record the longest gap of a telegram (it decides the telegram: same limit and uncertainty for all)."""
    longest = max(checks, key=lambda c: c.value_s)
    worst = "fail" if any(c.verdict == "fail" for c in checks) else None
    measure(
        "inter_char_gap",
        longest.value_s,
        "s",
        high=longest.high_s,
        uncertainty=longest.uncertainty_s,
        requirement="LL-NO-PAUSE",
        conditions={
            "baud": baud,
            "telegram": telegram,
            "method": method,
            "side": "line",
            "at": longest.name,
            "gaps": len(checks),
            "allowance": "assumption",
            **({"failing_gaps": sum(c.verdict == "fail" for c in checks)} if worst else {}),
        },
        defer=True,
    )


@pytest.mark.requirement("LL-NO-PAUSE")
@pytest.mark.time_bound(lambda p: 2 * (p.telegram_count + 1) * reply_window(min(p.link.bauds))[1])
@pytest.mark.parametrize("baud", [2400, 300])
def test_no_pause_inside_a_telegram(
    dut: Any, master: Any, station: Any, profile: Any, bus_monitor: Any, baud: int
) -> None:
    """Every inter-character gap of every telegram of the read-out, at each baud, against the profile's
    gap tolerance; decided by the bus monitor where the rig has one at this baud, else by the master."""
    if baud not in dut.bauds:
        pytest.skip(f"the device profile does not list {baud} Bd")
    if baud != dut.baud:
        master.change_baud(dut.address, baud)
    scale = station.state.time_scale
    limit_s = profile.link.inter_char_gap_allowance_s(baud)
    monitored = bus_monitor is not None and bus_monitor.baud == baud
    if monitored:
        bus_monitor.clear()
    # a pause is measured, not taken as the end of the frame: listen up to a whole reply window for the rest
    frame_pause_s = reply_window(baud)[1] * scale + station.rig.uncertainty.latency_allowance_s
    replies = read_out_replies(master, dut.address, frame_pause_s)
    assert len(replies) == profile.telegram_count, (
        f"expected {profile.telegram_count} telegram(s) per the device profile, got {len(replies)}"
    )
    if monitored:
        seen = bus_monitor.wait_for_replies(len(replies) + 1, timeout_s=2 * frame_pause_s + 1.0)
        judged = [
            judge_exchange(ex, resolution_s=bus_monitor.resolution_s, gap_allowance_s=limit_s)
            for ex in seen
            if ex.reply is not None and len(ex.reply.data) > 1
        ]
        assert len(judged) == len(replies), (
            f"the bus monitor saw {len(judged)} telegram(s) of the {len(replies)} the master read; "
            "check the monitor's wiring and baud (rig file mbus.monitor)"
        )
        for i, timing in enumerate(judged):
            _record_longest(timing.gaps, baud=baud, telegram=i + 1, method="bus monitor")
        return
    allowance_wall_s = station.rig.uncertainty.latency_allowance_s
    for i, reply in enumerate(replies):
        checks = master_gap_checks(reply, baud, scale, allowance_wall_s, limit_s)
        _record_longest(checks, baud=baud, telegram=i + 1, method="master read chunks")


@pytest.mark.requirement("PL-STARTUP-DELAY")
@pytest.mark.needs("supply")
@pytest.mark.time_bound(
    lambda p: POWER_OFF_S + p.startup.max_delay_s + 3 * reply_window(p.link.default_baud)[1]
)
def test_first_answer_comes_within_the_startup_delay(
    dut: Any, bench: Any, master: Any, station: Any, profile: Any
) -> None:
    """Switch the bus supply on, poll SND_NKE at a fixed interval (one whole reply window each), and bound
    the instant the module became ready between the last silent poll and the first answered one; nothing
    may come from the module before that answer (EN 13757-2:2018 4.2.2.11)."""
    scale = station.state.time_scale
    limit_s = profile.startup.max_delay_s
    allowance_wall_s = station.rig.uncertainty.latency_allowance_s
    bench.power_off()
    wait_std(station, POWER_OFF_S, what="bus supply off before the startup measurement")
    master.link.drain_stray()  # what came before power-up is not the module's startup
    t_on_from = time.monotonic()
    bench.power_dut(NOMINAL_VOLTS, "+")
    t_on_to = time.monotonic()
    disturbance: list[str] = []
    stray_bytes = 0
    last_silent_end: float | None = None
    polls = 0
    nke = _short(SND_NKE, dut.address)
    while True:
        reply = master.transact(nke, expect_reply=False, note="startup poll")
        polls += 1
        if polls == 1:
            first_end = reply.request_end
        at_s = (reply.request_end - t_on_to) / scale
        stray = master.link.last_stray
        if stray:
            stray_bytes += len(stray)
            disturbance.append(f"[{stray.hex(' ')}] before poll {polls} ({at_s:.3f} s after power-up)")
        if reply.data == b"\xe5":
            break
        if reply.data:
            stray_bytes += len(reply.data)
            disturbance.append(
                f"[{reply.data.hex(' ')}] answering poll {polls} ({at_s:.3f} s after power-up)"
            )
        last_silent_end = reply.request_end
        # the module was not ready when this poll reached it: the delay is at least this long
        if (last_silent_end - t_on_to) / scale > limit_s:
            break
    # each poll listens for one whole reply window: a fixed interval, whatever the module does
    poll_interval_s = (reply.request_end - first_end) / scale / (polls - 1) if polls > 1 else 0.0
    earliest = 0.0 if last_silent_end is None else max(0.0, (last_silent_end - t_on_to) / scale)
    answered = reply.data == b"\xe5"
    latest = (reply.request_end + allowance_wall_s - t_on_from) / scale if answered else earliest
    measure(
        "startup_delay",
        (earliest + latest) / 2,
        "s",
        high=limit_s,
        uncertainty=(latest - earliest) / 2,
        requirement="PL-STARTUP-DELAY",
        conditions={
            "supply_v": NOMINAL_VOLTS,
            "poll_interval_s": round(poll_interval_s, 4),
            "polls": polls,
            "answered": answered,
            "limit": "assumption",
        },
        defer=True,
    )
    measure(
        "bytes_before_first_answer",
        float(stray_bytes),
        "count",
        high=0.0,
        requirement="PL-STARTUP-DELAY",
        conditions={"seen": "; ".join(disturbance) or "none"},
        defer=True,
    )
    assert answered, (
        f"no E5 to SND_NKE at primary address {dut.address} within {limit_s:g} s of bus power-up "
        "(EN 13757-2:2018 4.2.2.11 startup delay, limit from the device profile)"
    )


#: read-out + immediate request pairs per baud for the busy-module reply timing
BUSY_SAMPLES = 2


@pytest.mark.requirement("LL-REPLY-WINDOW")
@pytest.mark.time_bound(
    lambda p: 2 * BUSY_SAMPLES * (p.telegram_count + 1) * reply_window(min(p.link.bauds))[1]
)
@pytest.mark.parametrize("baud", [2400, 300])
def test_reply_window_holds_while_the_module_reads_its_meter(
    dut: Any, master: Any, station: Any, profile: Any, bus_monitor: Any, baud: int
) -> None:
    """For each read-out telegram the module exchanges data with the E350 (product sheet: green LED
    'communication with meter'; its duration is the profile's ``ui.meter_exchange_s``). A SND_NKE sent as
    soon as the telegram is in reaches the module while it is busy with the meter; its reply must still
    start inside the EN 13757-2 window, at both ends, at each baud."""
    if baud not in dut.bauds:
        pytest.skip(f"the device profile does not list {baud} Bd")
    if baud != dut.baud:
        master.change_baud(dut.address, baud)
    scale = station.state.time_scale
    monitored = bus_monitor is not None and bus_monitor.baud == baud
    if monitored:
        bus_monitor.clear()
    nke = _short(SND_NKE, dut.address)
    busy: list[tuple[Any, float]] = []
    master.link_reset(dut.address)
    for i in range(BUSY_SAMPLES):
        # the telegram is complete by its L field: send the next request at once, not after a silence
        request = _short(REQ_UD2 | C_FCV | (C_FCB if i % 2 == 0 else 0), dut.address)
        telegram = master.transact(request, end_silence_s=0.0)
        assert telegram.ok and telegram.last_byte_at is not None, f"read-out {i + 1}: {telegram.problem}"
        reply = master.transact(nke)
        since_s = (reply.request_end - telegram.last_byte_at) / scale
        if since_s >= profile.ui.meter_exchange_s:
            pytest.skip(
                f"the bench took {since_s:.3f} s from a telegram to the next request: longer than the "
                f"module's meter exchange ({profile.ui.meter_exchange_s:g} s), so it was not busy"
            )
        busy.append((reply, since_s))
    conditions = {"baud": baud, "busy": "meter exchange after a read-out"}
    if not monitored:
        for reply, since_s in busy:
            assert reply.latency_s is not None
            measure_master_latency(
                reply,
                baud=baud,
                station=station,
                conditions={**conditions, "since_read_out_s": round(since_s, 4)},
                requirement="LL-REPLY-WINDOW",
                defer=True,
            )
        return
    seen = bus_monitor.wait_for_replies(2 * BUSY_SAMPLES + 1, timeout_s=2 * master.reply_timeout_s() + 1.0)
    acks = [ex for ex in seen if ex.reply is not None and ex.request.data == nke]
    decided = [ex for ex in acks[1:] if ex.request_end_resolved]  # the first E5 answers the link reset
    assert decided, "the bus monitor resolved none of the requests sent while the module was busy"
    for ex in decided:
        measure_monitor_latency(
            ex,
            monitor=bus_monitor,
            baud=baud,
            conditions=conditions,
            requirement="LL-REPLY-WINDOW",
            defer=True,
        )
