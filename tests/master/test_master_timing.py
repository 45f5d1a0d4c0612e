"""Timing the master records and how the suite judges it: every read chunk of a reply with its arrival
time, a frame with a pause read whole, inter-character gaps judged (and failing on a pause), and a rig
file's bus monitor deciding a reply delay that the master's own latency allowance leaves inconclusive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from harness.emulator import Emulator
from harness.master import Master
from harness.master.link import Reply
from harness.mbus import encode
from harness.mbus.model import C_FCB, C_FCV, REQ_UD2, SND_NKE, ShortFrame
from harness.mbus.timing import char_time_s, inter_char_gap_allowance_s, reply_window
from harness.measure import verdict_of
from harness.monitor import BusMonitor, frame_gaps_s, judge_exchange, judge_gaps
from harness.rig import RigFileError, load_rig, open_bench

REPO = Path(__file__).resolve().parents[2]
NKE = encode(ShortFrame(SND_NKE, 0))
REQ = encode(ShortFrame(REQ_UD2 | C_FCV | C_FCB, 0))


def _stamps_ns(reply: Reply) -> tuple[int, ...]:
    return tuple(round(t * 1e9) for t in reply.byte_arrivals)


def test_byte_arrivals_give_each_byte_its_chunk_time() -> None:
    reply = Reply(request=b"", data=b"\x10\x5b\x00\x5b\x16", chunks=((2, 1.0), (5, 1.5)))
    assert reply.byte_arrivals == (1.0, 1.0, 1.5, 1.5, 1.5)


def test_gap_judge_passes_back_to_back_bytes_and_fails_a_pause() -> None:
    char = char_time_s(2400)
    back_to_back = tuple(round(i * char * 1e9) for i in range(12))
    paused = back_to_back[:6] + tuple(t + round(10 * char * 1e9) for t in back_to_back[6:])
    allowance = inter_char_gap_allowance_s(2400)
    clean = judge_gaps(frame_gaps_s(back_to_back, baud=2400), baud=2400, uncertainty_s=0.001)
    assert {c.verdict for c in clean} == {"pass"} and len(clean) == 11
    checks = judge_gaps(frame_gaps_s(paused, baud=2400), baud=2400, uncertainty_s=0.001)
    assert [c.name for c in checks if c.verdict == "fail"] == ["reply_gap[5]"]
    assert checks[5].value_s == pytest.approx(10 * char) and checks[5].high_s == allowance
    # an uncertainty as large as the pause leaves it undecided, never passed
    assert judge_gaps((10 * char,), baud=2400, uncertainty_s=10 * char)[0].verdict == "inconclusive"


def test_a_late_chunk_followed_by_on_time_bytes_is_no_pause() -> None:
    """Bytes a host delivered together (one chunk) after a stall, then on time again: the later bytes
    prove the stalled ones were on the line back to back."""
    char_ns = round(char_time_s(2400) * 1e9)
    stamps = (0, char_ns, 6 * char_ns, 6 * char_ns, 6 * char_ns, 6 * char_ns, 6 * char_ns, 7 * char_ns)
    assert max(frame_gaps_s(stamps, baud=2400)) == pytest.approx(0.0, abs=1e-9)


def test_master_reads_a_paused_frame_whole_and_its_chunks_show_the_pause(
    make_emulator: Callable[..., Emulator], make_master: Callable[..., Master]
) -> None:
    emu = make_emulator(faults=["reply_pause"], time_scale=1.0)
    master = make_master(emu)
    assert master.transact(NKE).data == b"\xe5"
    # the default end-of-reply silence would cut the frame at the pause; a gap test listens longer
    reply = master.transact(REQ, frame_pause_s=reply_window(2400)[1])
    assert reply.ok, reply.problem
    assert reply.chunks[-1][0] == len(reply.data)
    gaps = frame_gaps_s(_stamps_ns(reply), baud=2400)
    assert gaps[10] == pytest.approx(10 * char_time_s(2400), abs=0.02)
    checks = judge_gaps(gaps, baud=2400, uncertainty_s=0.01)
    assert checks[10].verdict == "fail"


def _monitor_rig(tmp_path: Path, faults: list[str]) -> Path:
    data = yaml.safe_load((REPO / "rigs" / "sim-monitor.yaml").read_text())
    data["emulator"]["faults"] = faults
    path = tmp_path / "sim-monitor.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _master_verdict(reply: Reply, allowance_s: float) -> str:
    """The master's judgement of one reply start: first byte - one character, minus up to the allowance."""
    observed = (reply.latency_s or 0.0) - char_time_s(2400)
    low, high = reply_window(2400)
    return verdict_of(observed - allowance_s / 2, low, high, allowance_s / 2)


@pytest.mark.parametrize(("faults", "decided"), [([], "pass"), (["reply_early"], "fail")])
def test_a_rig_with_a_bus_monitor_decides_what_the_master_leaves_inconclusive(
    tmp_path: Path, faults: list[str], decided: str
) -> None:
    """rigs/sim-monitor.yaml: a 50 ms master path (a USB master behind ser2net) and the emulator's monitor
    endpoint declared as ``mbus.monitor``: the monitor passes a clean reply that the master's own
    timestamps leave inconclusive, and fails one that starts too early (2 bit times)."""
    rig = load_rig(_monitor_rig(tmp_path, faults))
    assert rig.mbus.monitor is not None
    allowance = rig.uncertainty.latency_allowance_s
    with open_bench(rig) as bench:
        assert bench.monitor_url is not None and bench.monitor_url.startswith("socket://127.0.0.1:")
        bench.power_dut(36.0)
        with (
            BusMonitor(bench.monitor_url, baud=2400, resolution_s=rig.mbus.monitor.resolution_s) as monitor,
            Master(bench.mbus_url, 2400, latency_allowance_s=allowance) as master,
        ):
            replies = []
            for _ in range(20):  # the module's startup time passes while it stays silent
                reply = master.transact(NKE, expect_reply=False)
                if reply.data == b"\xe5":
                    replies.append(reply)
                    break
            replies += [master.transact(NKE) for _ in range(3)]
            seen = [ex for ex in monitor.wait_for_replies(4, 3.0) if ex.reply is not None]
    master_verdicts = {_master_verdict(r, allowance) for r in replies}
    # a clean reply (29 ms) lies within the 50 ms allowance of the 4.6 ms minimum: the master cannot say
    assert master_verdicts == {"inconclusive"} if decided == "pass" else "pass" not in master_verdicts
    monitor_verdicts = {
        judge_exchange(ex, resolution_s=rig.mbus.monitor.resolution_s).reply_delay.verdict  # type: ignore[union-attr]
        for ex in seen
        if ex.request_end_resolved
    }
    if decided == "pass":
        assert monitor_verdicts == {"pass"}
    else:  # a monitor's jitter may leave one undecided, but it fails the early reply and passes none
        assert "fail" in monitor_verdicts and "pass" not in monitor_verdicts


def test_rig_monitor_field_accepts_the_emulate_form_and_refuses_a_wrong_place(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "rigs" / "lab-example.yaml").read_text())
    data["mbus"]["monitor"] = {"url": "tcp://192.0.2.20:4001"}
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(data))
    rig = load_rig(path)
    assert rig.mbus.monitor is not None and rig.mbus.monitor.url == "socket://192.0.2.20:4001"
    assert rig.mbus.monitor_baud == rig.mbus.baud
    data["mbus"]["monitor"] = {"url": "sim://monitor"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RigFileError, match="mbus.monitor.url"):
        load_rig(path)
    sim = yaml.safe_load((REPO / "rigs" / "sim-monitor.yaml").read_text())
    sim["mbus"]["monitor"]["url"] = "/dev/ttyUSB1"
    path.write_text(yaml.safe_dump(sim))
    with pytest.raises(RigFileError, match="sim://monitor"):
        load_rig(path)
