"""The ``--progress`` console: one line per test, one line per failure, waits announced, ETA from history."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, cast

import pytest

from harness.console.progress import (
    ProgressReporter,
    estimate_remaining,
    failed_measurement_line,
    format_duration,
    history_durations,
    latest_run_of_rig,
)
from harness.evidence import Measurement

SUITE = """
import pytest
from harness.console.progress import waiting
from harness.measure import measure

@pytest.mark.requirement("PS-UNIT-LOAD")
def test_current_ok():
    measure("quiescent_current", 0.00135, "A", high=0.0015)

@pytest.mark.requirement("PS-UNIT-LOAD")
def test_current_too_high():
    measure("quiescent_current", 0.0031, "A", high=0.0015, uncertainty=0.0001)

@pytest.mark.requirement("RI-DETECT-TIME")
def test_waits():
    with waiting("detection time, input 3", 5.0):
        pass

@pytest.mark.requirement("UI-LED")
def test_skipped():
    pytest.skip("needs an LED sensor")
"""


def _run(pytester: pytest.Pytester, run_dir: Path, *args: str) -> list[str]:
    pytester.makepyfile(test_small=SUITE)
    result = pytester.runpytest_subprocess(
        "-p",
        "harness.pytest_plugin",
        "-p",
        "harness.console.progress",
        f"--evidence-dir={run_dir}",
        "--progress=plain",
        "-qq",
        "--tb=no",
        "-rN",
        "-o",
        "console_output_style=classic",
        *args,
    )
    return [line.rstrip() for line in result.outlines]


def test_plain_progress_names_requirement_test_and_outcome(pytester: pytest.Pytester, tmp_path: Path) -> None:
    lines = _run(pytester, tmp_path / "run")
    finished = [line for line in lines if line.startswith("[")]
    assert len(finished) == 4, lines
    assert (
        finished[0].startswith("[1/4]") and "PASS  PS-UNIT-LOAD test_small.py::test_current_ok" in finished[0]
    )
    assert "FAIL  PS-UNIT-LOAD test_small.py::test_current_too_high" in finished[1]
    assert "SKIP  UI-LED test_small.py::test_skipped" in finished[3]
    assert not any(set(line) <= set(".FsE") and line for line in lines), "pytest's dots are still printed"


def test_a_failure_is_one_line_with_the_measurement_and_the_log(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    lines = _run(pytester, run_dir)
    i = next(i for i, line in enumerate(lines) if "test_current_too_high" in line)
    detail = lines[i + 1].strip()
    assert detail == "quiescent_current = 0.0031 ± 0.0001 A, limit <= 0.0015 A; details failures.log"
    assert not any("Traceback" in line or "def test_current_too_high" in line for line in lines)
    log = (run_dir / "failures.log").read_text(encoding="utf-8")
    assert "test_current_too_high (call)" in log and 'measure("quiescent_current", 0.0031' in log
    assert "_pytest" not in log, "the log starts at the test's own frame"
    assert "test_current_ok" not in log


def test_long_waits_are_announced(pytester: pytest.Pytester, tmp_path: Path) -> None:
    lines = _run(pytester, tmp_path / "run")
    assert "test_small.py::test_waits: waiting 5.0 s detection time, input 3" in [s.strip() for s in lines]


def test_eta_uses_the_previous_run_then_the_mean_so_far(tmp_path: Path) -> None:
    assert estimate_remaining(["a", "b"], {"a": 10.0, "b": 20.0}, []) == 30.0
    assert estimate_remaining(["a", "c"], {"a": 10.0}, [4.0, 6.0]) == 15.0
    assert estimate_remaining(["c"], {}, []) != estimate_remaining(["c"], {}, [])  # NaN: unknown
    assert format_duration(float("nan")) == "--:--"
    assert format_duration(125.4) == "2:05" and format_duration(3725) == "1:02:05"
    old = tmp_path / "20260101-000000-sim"
    new = tmp_path / "20260102-000000-sim"
    other = tmp_path / "20260103-000000-lab"
    for d, dur in ((old, 1.0), (new, 2.0), (other, 3.0)):
        d.mkdir()
        record = {"nodeid": "t::a", "outcome": "passed", "duration_s": dur, "requirements": []}
        (d / "tests.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert latest_run_of_rig(tmp_path, "sim") == new
    assert latest_run_of_rig(tmp_path, "sim", exclude=new) == old
    assert history_durations(new) == {"t::a": 2.0}
    assert history_durations(tmp_path / "missing") == {}


def test_status_line_shows_position_wait_and_eta() -> None:
    reporter = ProgressReporter(cast(Any, None), cast(Any, None), live=False, history={"t::b": 30.0})
    reporter.items = ["t::a", "t::b"]
    reporter.line.requirements = ("LL-REPLY-WINDOW",)
    reporter.line.total = 2
    reporter.line.n = 1
    reporter.line.nodeid = "t::a"
    reporter.line.wait = "waiting 5.0 s detection time, input 3"
    reporter.line.wait_until = time.monotonic() + 4.0
    text = reporter.status_text()
    assert text.startswith("[1/2] LL-REPLY-WINDOW t::a | elapsed 0:00")
    assert "waiting 5.0 s detection time, input 3 (4.0 s left)" in text or "(3.9 s left)" in text
    assert "ETA 1:00" in text  # the running test has no history: the mean of the previous run's tests


def test_failed_measurement_line_ignores_passing_measurements() -> None:
    ok = Measurement(name="v", value=1.0, unit="V", high=2.0, verdict="pass", test="t", timestamp="x")
    bad = ok.model_copy(update={"value": 3.0, "verdict": "fail"})
    assert failed_measurement_line([ok]) is None
    assert failed_measurement_line([ok, bad]) == "v = 3 ± 0 V, limit <= 2 V"
