"""`--requirement ID`: exact selection by requirement id, honest coverage, a clear error on an unknown id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SUITE = """
import pytest

@pytest.mark.requirement("UI-LED")
def test_led():
    pass

@pytest.mark.requirement("AD-SELECT")
def test_select_led_named():
    pass

@pytest.mark.requirement("AD-DESELECT", "UI-BUTTON")
def test_two_ids():
    pass
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_small=SUITE)
    return pytester.runpytest("-p", "harness.pytest_plugin", "-p", "harness.selection", *args)


def test_only_tests_citing_the_id_run(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--requirement", "UI-LED")
    result.assert_outcomes(passed=1, deselected=2)
    result = _run(pytester, "--requirement", "UI-LED", "--requirement", "UI-BUTTON")
    result.assert_outcomes(passed=2, deselected=1)


def test_without_the_option_everything_runs(pytester: pytest.Pytester) -> None:
    _run(pytester).assert_outcomes(passed=3)


def test_an_unknown_id_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--requirement", "UI-LEDS")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown requirement id(s) UI-LEDS; known ids include UI-BUTTON, UI-LED*"])


def test_deselected_tests_do_not_cover_their_requirements(pytester: pytest.Pytester, tmp_path: Path) -> None:
    run_dir = tmp_path / "20260101-000000-sim"
    _run(pytester, "--requirement", "UI-LED", f"--evidence-dir={run_dir}").assert_outcomes(
        passed=1, deselected=2
    )
    coverage = json.loads((run_dir / "coverage.json").read_text(encoding="utf-8"))
    text = json.dumps(coverage)
    assert "test_select_led_named" not in text and "test_two_ids" not in text
    assert "test_led" in text
