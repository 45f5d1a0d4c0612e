"""`cmi-hil mutate --subset`: the fast CI subset is well formed, limits each run to its files, and the
command refuses a subset naming what does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.commands.mutate import SUBSETS, check_subset, limit_to_files, plan
from harness.commands.run import TESTCASES, RunSetupError
from harness.emulator.faults import FAULTS


def test_ci_subset_spans_the_areas_with_a_handful_of_known_faults() -> None:
    subset = check_subset("ci", set(FAULTS))
    assert 8 <= len(subset) <= 20  # a few minutes of CI at time scale 0.05
    assert len({FAULTS[f].area for f in subset}) >= 6
    assert all(files for files in subset.values())


def test_timing_subset_holds_the_faults_decided_by_wall_clock_timing() -> None:
    subset = check_subset("timing", set(FAULTS))
    assert {"reply_early", "reply_late", "reply_pause", "accepts_bad_parity"} <= set(subset)
    assert {FAULTS[f].area for f in subset} >= {"timing", "rate inputs", "physical layer"}


def test_subset_plan_limits_fault_runs_and_gives_clean_runs_the_union() -> None:
    files = {"a_fault": ("test_b.py",), "b_fault": ("test_a.py", "test_b.py")}
    runs = plan(list(files), 1, Path("/tmp/m"), files)
    clean, a, b = runs
    assert clean.files == ("test_a.py", "test_b.py") and not clean.exitfirst
    assert a.files == ("test_b.py",) and a.exitfirst
    assert b.files == ("test_a.py", "test_b.py")
    full = plan(["a_fault"], 1, Path("/tmp/m"))
    assert full[0].files == () and full[1].files == () and not full[1].exitfirst


def test_limit_to_files_replaces_the_testcases_folder() -> None:
    cmd = ["python", "-m", "pytest", str(TESTCASES), "--rig=x"]
    assert limit_to_files(cmd, ()) == cmd
    limited = limit_to_files(cmd, ("test_power.py",))
    assert limited == ["python", "-m", "pytest", str(TESTCASES / "test_power.py"), "--rig=x"]


def test_subset_with_an_unknown_fault_or_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SUBSETS, "broken", {"no_such_fault": ("test_power.py",)})
    with pytest.raises(RunSetupError, match="no_such_fault"):
        check_subset("broken", set(FAULTS))
    monkeypatch.setitem(SUBSETS, "broken", {"bad_checksum": ("test_nothing_here.py",)})
    with pytest.raises(RunSetupError, match="test_nothing_here.py"):
        check_subset("broken", set(FAULTS))
