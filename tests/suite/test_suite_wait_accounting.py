"""Which waits the suite counts as mandated (issue 16): only the kinds named with their source in
harness.measure, and a DMM capture counted only beyond the bus waits inside it."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.current import (
    LONGEST_FRAME_BYTES,
    account_capture,
    reply_capture_s,
)
from fixtures.mbus import mandated_waits, record_bus_traffic
from harness.commands.run import timing_lines
from harness.evidence import TranscriptEntry
from harness.measure import MANDATED_WAIT_KINDS, Recorder, mandated_wait, recording
from harness.rig.config import UNDECLARED_SUPPLY_SETTLE_S, RigConfig, load_rig

REPO = Path(__file__).resolve().parents[2]
#: a kind named where a wait is accounted: ``mandated="kind"`` or ``mandated_wait("kind", ...)``
_KIND_USE = re.compile(r"""mandated(?:_wait\(|=)\s*["']([a-z_]+)["']""")


def _entry(direction: str, data: str, summary: str) -> TranscriptEntry:
    return TranscriptEntry(direction=direction, t_us=0, data=data, summary=summary)


def test_an_unknown_kind_is_refused_with_the_known_ones() -> None:
    with recording(Recorder(test="t")), pytest.raises(ValueError, match="not one of .*'detection'"):
        mandated_wait("settling_guess", 0.05)


def test_every_kind_the_suite_accounts_is_named_with_its_source() -> None:
    used = {
        kind
        for folder in ("testcases", "fixtures")
        for path in (REPO / folder).glob("*.py")
        for kind in _KIND_USE.findall(path.read_text(encoding="utf-8"))
    }
    assert used, "the scan found no accounted wait: the pattern no longer matches the suite's calls"
    assert used <= set(MANDATED_WAIT_KINDS), f"kinds without a source: {used - set(MANDATED_WAIT_KINDS)}"
    assert {"hold", "capture", "startup"} <= used


def test_traffic_on_a_line_with_other_slaves_is_kept_and_its_waits_counted() -> None:
    """The search test's master (a line with other slaves) is accounted by the same rule as the DUT's: a
    silent probe costs its whole reply window (330 bit times + 50 ms at 2400 Bd)."""
    kept: list[tuple[str, int, str]] = []
    state = SimpleNamespace(record_transcript=lambda nodeid, e, title: kept.append((nodeid, len(e), title)))
    probe = _entry("tx", "68 0B 0B 68 53 FD 52 FF FF FF FF FF FF FF FF 9E 16", "SND_UD select a=253")
    rec = Recorder(test="t")
    with recording(rec):
        record_bus_traffic(SimpleNamespace(state=state), "t", [probe], 2400, title="crowd")
    assert kept == [("t", 1, "crowd")]
    assert rec.mandated_waits_s["reply_window"] == pytest.approx(330 / 2400 + 0.05)
    assert rec.mandated_waits_s["wire"] == pytest.approx(17 * 11 / 2400)


def test_a_capture_across_a_silent_request_adds_only_the_longest_frame() -> None:
    """Request and whole reply window are the bus's waits; the capture's rest is the longest frame."""
    request = _entry("tx", "10 7B 01 7C 16", "REQ_UD2 FCB=1 a=1")
    rec = Recorder(test="t")
    with recording(rec):
        account_capture(reply_capture_s(2400), [request], 2400)
    assert rec.mandated_waits_s == {"capture": pytest.approx(LONGEST_FRAME_BYTES * 11 / 2400)}


def test_a_capture_across_a_reply_adds_what_the_reply_left_of_it() -> None:
    request = _entry("tx", "10 7B 00 7B 16", "REQ_UD2 FCB=1 a=0")
    reply = _entry("rx", " ".join(["00"] * 100), "RSP_UD a=0")
    capture = reply_capture_s(2400)
    rec = Recorder(test="t")
    with recording(rec):
        account_capture(capture, [request, reply], 2400)
    on_bus = (5 + 100) * 11 / 2400 + 11 / 2400  # request and reply on the wire, minimum reply delay
    assert rec.mandated_waits_s["capture"] == pytest.approx(capture - on_bus)
    empty = Recorder(test="t")
    with recording(empty):
        account_capture(capture, [], 2400)  # nothing on the bus: the capture is all the wait
    assert empty.mandated_waits_s["capture"] == pytest.approx(capture)


def _rig(simulated: bool, settle_s: float | None) -> RigConfig:
    """A rig file as loaded, simulated or real, its supply declaring ``settle_s``."""
    rig = load_rig(REPO / "rigs" / ("sim.yaml" if simulated else "lab-example.yaml"))
    assert rig.instruments.supply is not None
    supply = rig.instruments.supply.model_copy(update={"settle_s": settle_s})
    return rig.model_copy(update={"instruments": rig.instruments.model_copy(update={"supply": supply})})


def test_supply_settling_is_the_rigs_and_never_counted_as_mandated() -> None:
    assert _rig(False, 0.2).supply_settle_s == 0.2  # the supply manual's time, as the rig file declares it
    assert _rig(True, 0.3).supply_settle_s == 0.3
    assert _rig(True, None).supply_settle_s == 0.0  # a simulated supply is at its setpoint at once
    assert _rig(False, None).supply_settle_s == UNDECLARED_SUPPLY_SETTLE_S
    assert "settling" not in " ".join(MANDATED_WAIT_KINDS)


def test_a_rig_file_with_a_negative_supply_settling_time_is_refused() -> None:
    from pydantic import ValidationError

    from harness.rig.config import SupplyConfig

    with pytest.raises(ValidationError, match="settle_s"):
        SupplyConfig(resource="sim://supply", settle_s=-0.1)
    assert SupplyConfig(resource="sim://supply", settle_s=0.1).settle_s == 0.1


def test_the_run_summary_names_the_tests_with_the_most_wall_time_beyond_their_waits() -> None:
    timing: dict[str, object] = {
        "wall_s": 100.0,
        "time_scale": 0.5,
        "mandated_waits_s": {"wire": 40.0},
        "mandated_total_s": 40.0,
        "critical_path_s": 40.0,
        "per_test": {
            "testcases/test_a.py::test_slow_io": {"wall_s": 9.0, "mandated_s": 2.0},  # 8 s beyond
            "testcases/test_b.py::test_waits": {"wall_s": 10.0, "mandated_s": 18.0},  # 1 s beyond
            "testcases/test_c.py::test_quick": {"wall_s": 0.5, "mandated_s": 0.0},
            "testcases/test_d.py::test_mid": {"wall_s": 3.0, "mandated_s": 0.0},
        },
    }
    last = timing_lines(timing, 0.0)[-1]
    assert last.endswith(
        "test_a.py::test_slow_io +8.0 s, test_d.py::test_mid +3.0 s, test_b.py::test_waits +1.0 s"
    )
    del timing["per_test"]  # an older run folder: no such line
    assert "beyond" not in timing_lines(timing, 0.0)[-1]


def test_a_request_after_a_reply_waits_the_line_idle_between_frames() -> None:
    entries = [
        _entry("tx", "10 40 00 40 16", "SND_NKE"),
        _entry("rx", "E5", "E5 (ack)"),
        _entry("tx", "10 5B 00 5B 16", "REQ_UD2"),  # after a 2400 Bd reply: 33 bit times idle
        _entry("tx", "10 40 FE 3E 16", "SND_NKE a=254"),  # after silence: the reply window was idle enough
        _entry("rx", "E5", "E5 (ack)"),
        _entry("tx", "", "master port switched from 2400 Bd to 300 Bd"),
        _entry("tx", "10 40 00 40 16", "SND_NKE"),  # the idle follows the 2400 Bd reply
        _entry("rx", "E5", "E5 (ack)"),  # the last reply: no request follows it here
    ]
    waits = mandated_waits(entries, 2400)
    assert waits["frame_idle"] == pytest.approx(2 * 33 / 2400)  # FT1.2: 33 idle bits, twice
    assert mandated_waits(entries[:2], 2400)["frame_idle"] == 0.0
