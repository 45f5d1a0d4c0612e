"""The pytest plugin on small suites run with pytester: run folder, coverage both ways, skips, Allure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.evidence import Measurement, read_jsonl, read_run_info
from harness.evidence import TestResult as ResultRecord

SUITE = """
import pytest
from harness.measure import measure

@pytest.mark.requirement("PS-UNIT-LOAD")
def test_current_ok():
    measure("quiescent_current", 0.00135, "A", high=0.0015, conditions={"supply_v": 36.0, "polarity": "+"})

@pytest.mark.requirement("PS-UNIT-LOAD")
def test_current_too_high():
    measure("quiescent_current", 0.0031, "A", high=0.0015, conditions={"supply_v": 42.0, "polarity": "-"})

@pytest.mark.requirement("LL-SND-NKE", "PS-STANDARD")
def test_sweep_defers():
    measure("v", 2.0, "V", high=1.0, defer=True)
    measure("v", 0.5, "V", high=1.0, defer=True)

def test_without_requirement():
    pass

@pytest.mark.requirement("NO-SUCH-REQ")
def test_unknown_id():
    pass
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_small=SUITE)
    return pytester.runpytest("-p", "harness.pytest_plugin", *args)


def test_run_folder_holds_every_record(pytester: pytest.Pytester, tmp_path: Path) -> None:
    run_dir = tmp_path / "20260101-000000-sim"
    result = _run(pytester, f"--evidence-dir={run_dir}")
    result.assert_outcomes(passed=2, failed=2, errors=1)
    info = read_run_info(run_dir)
    assert info.verdict == "fail" and info.run_id == run_dir.name and info.duration_s is not None
    tests = {t.nodeid.split("::")[-1]: t for t in read_jsonl(run_dir / "tests.jsonl", ResultRecord)}
    assert tests["test_current_ok"].outcome == "passed"
    assert tests["test_current_too_high"].outcome == "failed"
    assert "quiescent_current = 0.0031 A" in (tests["test_current_too_high"].message or "")
    assert tests["test_sweep_defers"].outcome == "failed"
    assert tests["test_sweep_defers"].requirements == ["LL-SND-NKE", "PS-STANDARD"]
    assert tests["test_unknown_id"].outcome == "error"
    assert "NO-SUCH-REQ" in (tests["test_unknown_id"].message or "")
    ms = list(read_jsonl(run_dir / "measurements.jsonl", Measurement))
    assert [m.verdict for m in ms] == ["pass", "fail", "fail", "pass"]  # fails recorded, not lost
    assert ms[1].conditions == {"supply_v": 42.0, "polarity": "-"} and ms[1].requirement == "PS-UNIT-LOAD"
    reqs = json.loads((run_dir / "requirements.json").read_text())
    assert any(r["id"] == "RI-DETECT-TIME" and r["method"] == "test" for r in reqs)
    cov = json.loads((run_dir / "coverage.json").read_text())
    assert cov["untraced_tests"] == ["test_small.py::test_without_requirement"]
    assert "UI-LED" in cov["uncovered"]
    assert (run_dir / "timing.json").exists()


def test_coverage_is_printed_both_ways(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = _run(pytester, f"--evidence-dir={tmp_path / 'run'}")
    out = result.stdout.str()
    assert "requirement coverage" in out
    assert "requirements no collected test covers" in out and "UI-BUTTON" in out
    assert "tests citing no requirement (1)" in out and "test_without_requirement" in out
    assert "unknown requirement id(s) NO-SUCH-REQ" in out


def test_plain_runs_are_left_alone(pytester: pytest.Pytester) -> None:
    result = _run(pytester)
    assert "requirement coverage" not in result.stdout.str()
    assert not list(pytester.path.glob("**/run.json"))


def test_all_green_run_has_pass_verdict(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        test_ok="""
import pytest
from harness.measure import measure

@pytest.mark.requirement("LL-REPLY-WINDOW")
def test_latency():
    measure("reply_latency", 0.03, "s", low=0.0046, high=0.1875, conditions={"baud": 2400})
"""
    )
    run_dir = tmp_path / "run"
    pytester.runpytest("-p", "harness.pytest_plugin", f"--evidence-dir={run_dir}").assert_outcomes(passed=1)
    assert read_run_info(run_dir).verdict == "pass"


CAPS_CONFTEST = """
import pytest
pytest_plugins = ["fixtures.bench"]

class FakeState:
    class rig_path:
        name = "fake.yaml"

class FakeStation:
    state = FakeState()
    bench = object()
    capabilities = {"supply", "dmm"}

@pytest.fixture(scope="session")
def station():
    return FakeStation()
"""


def test_capability_markers_skip_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CAPS_CONFTEST)
    pytester.makepyfile(
        test_caps="""
import pytest

@pytest.mark.needs("ac_source", "mains")
@pytest.mark.requirement("RI-MAX-VOLTAGE")
def test_needs_mains():
    pass

@pytest.mark.needs("supply")
@pytest.mark.requirement("PS-SUPPLY-RANGE")
def test_needs_supply():
    pass
"""
    )
    result = pytester.runpytest("-p", "harness.pytest_plugin", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*rig fake.yaml lacks ac_source, mains (needed by this test)*"])


def test_allure_gets_steps_parameters_links_and_environment(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    alluredir = tmp_path / "allure"
    _run(pytester, f"--evidence-dir={tmp_path / 'run'}", f"--alluredir={alluredir}")
    results = [json.loads(p.read_text()) for p in alluredir.glob("*-result.json")]
    by_name = {r["name"]: r for r in results}
    failing = by_name["test_current_too_high"]
    step = failing["steps"][0]
    assert step["name"].startswith("quiescent_current = 0.0031")
    params = {p["name"]: p["value"] for p in step["parameters"]}
    assert params["verdict"] == "fail" and params["high"] == "0.0015" and params["condition polarity"] == "-"
    assert step["status"] == "failed"
    assert {"name": "PS-UNIT-LOAD", "url": "PS-UNIT-LOAD", "type": "tms"} in failing["links"]
    ok = by_name["test_current_ok"]
    assert any(a["name"] == "quiescent_current plot" and a["type"] == "image/png" for a in ok["attachments"])
    env = (alluredir / "environment.properties").read_text()
    assert "harness.version=" in env and "rig=sim" in env


def test_operator_ambient_dut_serial_and_typed_command_reach_run_json(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    run_dir = tmp_path / "20260101-000000-sim"
    _run(
        pytester,
        f"--evidence-dir={run_dir}",
        "--operator=A. Tester",
        "--ambient=23 °C, 45 %RH, door closed",
        "--dut-serial=CMI-0042",
        "--typed-command=cmi-hil run --operator 'A. Tester'",
        "-k",
        "current_ok",
    )
    info = read_run_info(run_dir)
    assert info.operator == "A. Tester" and info.dut.serial == "CMI-0042"
    assert info.ambient == {"temperature": "23 °C", "humidity": "45 %RH", "note 3": "door closed"}
    assert info.typed_command == "cmi-hil run --operator 'A. Tester'"
    bare = tmp_path / "20260101-000001-sim"
    _run(pytester, f"--evidence-dir={bare}", "-k", "current_ok")
    assert read_run_info(bare).operator is None and read_run_info(bare).ambient == {}


def test_run_json_records_how_many_tests_were_selected(pytester: pytest.Pytester, tmp_path: Path) -> None:
    run_dir = tmp_path / "20260101-000000-sim"
    _run(pytester, f"--evidence-dir={run_dir}", "-k", "current")
    assert read_run_info(run_dir).collected == 2
