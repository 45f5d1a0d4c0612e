"""The emulator's bus monitor endpoint read by harness.monitor: bus-side timing decided where a master cannot.

The master talks over RFC 2217 (as through ser2net) with the 50 ms latency allowance of a USB master; the
monitor listens on its own endpoint and judges what the line carried. Timing runs at real time (time scale
1.0), so the monitor's resolution is that of loopback TCP and thread scheduling on a loaded CI host.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import serial

from harness.cli import main
from harness.emulator import Emulator, EndpointError
from harness.master import Master, NoReply
from harness.mbus import encode
from harness.mbus.model import C_FCB, C_FCV, REQ_UD2, SND_NKE, ShortFrame
from harness.mbus.timing import reply_window
from harness.measure import verdict_of
from harness.monitor import BusMonitor, ExchangeTiming

BAUD = 2400
#: rig budget of the simulated monitor at time scale 1.0 (loopback TCP + thread scheduling), from
#: tests/benchmarks/bench_monitor.py on 2 cores at load 3.3: reply delays within +/-2.3 ms of each other's
#: mean, gaps of a clean reply at most 1.8 ms after the arrival envelope
RESOLUTION_S = 0.0025
#: a USB M-Bus master behind ser2net (rigs/lab-example.yaml)
MASTER_ALLOWANCE_S = 0.05
NKE = encode(ShortFrame(SND_NKE, 0))
REQ = encode(ShortFrame(REQ_UD2 | C_FCV, 0))


def _monitor(emu: Emulator, baud: int = BAUD) -> BusMonitor:
    url = emu.endpoints["monitor"].replace("tcp://", "socket://")
    return BusMonitor(url, baud=baud, resolution_s=RESOLUTION_S, time_scale=emu.time_scale)


def _replied(mon: BusMonitor, count: int, timeout_s: float = 3.0) -> list[ExchangeTiming]:
    mon.wait_for_replies(count, timeout_s)
    return [j for j in mon.judged() if j.exchange.reply is not None]


def test_monitor_carries_requests_and_replies_and_never_drives_the_line(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(monitor_port=0)
    assert emu.endpoints["monitor"].startswith("tcp://127.0.0.1:")
    with _monitor(emu) as mon, Master(emu.endpoints["mbus"], BAUD, time_scale=emu.time_scale) as master:
        raw = serial.serial_for_url(emu.endpoints["monitor"].replace("tcp://", "socket://"), timeout=0)
        try:
            raw.write(NKE)  # a monitor only listens: this request never reaches the module
            assert master.transact(NKE).data == b"\xe5"
        finally:
            raw.close()
        (judged,) = _replied(mon, 1)
        assert judged.exchange.request.data == NKE and judged.exchange.reply is not None
        assert judged.exchange.reply.data == b"\xe5"
        assert len(mon.exchanges()) == 1, "the bytes written to the monitor reached the line"


def test_clean_replies_decided_inside_the_window_where_a_50ms_master_path_is_inconclusive(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(monitor_port=0, time_scale=1.0)
    low, high = reply_window(BAUD)
    with (
        _monitor(emu) as mon,
        Master(emu.endpoints["mbus"], BAUD, latency_allowance_s=MASTER_ALLOWANCE_S) as m,
    ):
        path = [m.transact(NKE).latency_s for _ in range(2)]
        for fcb in (False, True):  # the first two telegrams of the read-out; raw exchanges, whatever the
            m.transact(encode(ShortFrame(REQ_UD2 | C_FCV | (C_FCB * fcb), 0)))  # master makes of them
        judged = _replied(mon, 4)
    assert [verdict_of(lat, low, high, MASTER_ALLOWANCE_S) for lat in path] == ["inconclusive"] * 2
    assert len(judged) == 4
    for j in judged:
        assert j.reply_delay is not None and j.reply_delay.verdict == "pass", j.reply_delay
        assert j.reply_delay.uncertainty_s == RESOLUTION_S
    long_reply = judged[-1]
    assert len(long_reply.gaps) == len(long_reply.exchange.reply.data) - 1 > 50  # type: ignore[union-attr]
    assert long_reply.verdict == "pass", long_reply.longest_gap


def test_a_late_reply_is_judged_late_by_the_monitor_while_the_master_gives_up(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(monitor_port=0, time_scale=1.0, faults=["reply_late"])
    with (
        _monitor(emu) as mon,
        Master(emu.endpoints["mbus"], BAUD, latency_allowance_s=MASTER_ALLOWANCE_S) as m,
    ):
        with pytest.raises(NoReply):
            m.transact(NKE)
        (judged,) = _replied(mon, 1)
    delay = judged.reply_delay
    assert delay is not None and delay.verdict == "fail", delay
    assert delay.value_s - delay.uncertainty_s > reply_window(BAUD)[1]


def test_a_pause_inside_a_reply_is_caught_by_the_monitor(make_emulator: Callable[..., Emulator]) -> None:
    """Three character times of idle line inside each reply: shorter than the silence a master takes as the
    end of a frame, so a master may read the telegram as if nothing were wrong; the monitor sees the gap."""
    emu = make_emulator(monitor_port=0, time_scale=1.0)
    emu.bus.set_reply_pause(0, after_char=10, idle_bits=33)
    with (
        _monitor(emu) as mon,
        Master(emu.endpoints["mbus"], BAUD, latency_allowance_s=MASTER_ALLOWANCE_S) as m,
    ):
        m.transact(REQ)
        (judged,) = _replied(mon, 1)
    assert judged.exchange.reply is not None and len(judged.exchange.reply.data) > 11
    gap = judged.longest_gap
    assert gap is not None and gap.name == "reply_gap[10]" and gap.verdict == "fail", gap
    assert sum(g.verdict == "fail" for g in judged.gaps) == 1, "only the seeded pause is beyond the allowance"
    assert judged.reply_delay is not None and judged.reply_delay.verdict == "pass"


def test_a_monitor_set_to_300_baud_judges_the_reply_window_at_300_baud(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(monitor_port=0, monitor_baud=300, time_scale=1.0)
    with Master(emu.endpoints["mbus"], BAUD, latency_allowance_s=MASTER_ALLOWANCE_S) as m:
        m.change_baud(0, 300)  # acknowledged at 2400 Bd: garbage to a 300 Bd sniffer, as on a real bus
        with _monitor(emu, 300) as mon:
            m.transact(NKE)
            (judged,) = _replied(mon, 1)
    low, high = reply_window(300)
    delay = judged.reply_delay
    assert judged.exchange.request.data == NKE and delay is not None
    assert (delay.low_s, delay.high_s) == (low, high) and delay.verdict == "pass", delay


def test_a_taken_monitor_port_is_a_clear_error(
    make_emulator: Callable[..., Emulator], capsys: pytest.CaptureFixture[str]
) -> None:
    taken = int(make_emulator(monitor_port=0).endpoints["monitor"].rsplit(":", 1)[1])
    with pytest.raises(EndpointError, match=rf"bus monitor.*127\.0\.0\.1:{taken}.*choose another port"):
        make_emulator(monitor_port=taken)
    assert main(["emulate", "--monitor", str(taken)]) == 2
    err = capsys.readouterr().err
    assert f"--monitor {taken}" in err and "choose another port" in err and "Traceback" not in err
