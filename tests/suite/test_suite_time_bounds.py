"""Every conformance test is stopped at a bound derived from its mandated waits, and the run names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures import time_bounds
from fixtures.time_bounds import BENCH_OVERHEAD_WALL_S, OVERRUN_FACTOR, TimeBound

REPO = Path(__file__).resolve().parents[2]

SUITE = """
import time
import pytest

@pytest.mark.time_bound(lambda profile: profile.rate_inputs.detection_time_s / 10)
def test_hangs_past_its_waits():
    time.sleep(30)

@pytest.mark.time_bound(0.1)
def test_within_its_waits():
    time.sleep(0.1)
"""


def test_bound_scales_only_the_mandated_part() -> None:
    assert TimeBound(10.0, 1.0).wall_s == BENCH_OVERHEAD_WALL_S + OVERRUN_FACTOR * 10.0
    assert TimeBound(10.0, 0.1).wall_s == pytest.approx(BENCH_OVERHEAD_WALL_S + OVERRUN_FACTOR * 1.0)
    assert "mandated waits" in TimeBound(0.0, 1.0).describe()


def test_a_test_that_overruns_its_bound_fails_and_is_named(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time_bounds, "BENCH_OVERHEAD_WALL_S", 0.5)  # bound: 0.5 + 3 x 0.5 s = 2 s
    pytester.makeconftest('pytest_plugins = ["harness.pytest_plugin", "fixtures.bench"]')
    (pytester.path / "testcases").mkdir()
    (pytester.path / "testcases" / "test_hang.py").write_text(SUITE)
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_inprocess("testcases", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*tests stopped at their time bound*",
            "*test_hang.py::test_hangs_past_its_waits overran its time bound of 2 s = 0 s bench overhead*"
            "0.5 s mandated waits*",
        ]
    )
    assert "test_within_its_waits overran" not in result.stdout.str()
