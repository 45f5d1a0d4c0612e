"""The one verdict rule (harness.verdict): every rule with a case that must hold and one that must not.

Each rule of issue 11 ("One verdict rule") is shown twice: on the evidence that earns the verdict and on
evidence one step away that must not earn it, so a rule that always answered the same would fail here.
"""

from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from harness import verdict
from harness.evidence import Measurement, Requirement
from harness.evidence import TestResult as Result  # alias: pytest would try to collect TestResult
from harness.requirements import CatalogueError, RequirementEntry, assumed_paths, requirement_verdicts


def _t(outcome: str, *reqs: str, nodeid: str = "t::a", kind: str | None = None) -> Result:
    return Result(
        nodeid=nodeid, outcome=outcome, duration_s=0.1, requirements=list(reqs or ("R1",)), error_kind=kind
    )


def _m(v: str, *, test: str = "t::a", req: str | None = "R1") -> Measurement:
    return Measurement(
        test=test, name="x", value=1.0, unit="V", verdict=v, requirement=req, timestamp="2026-12-01T00:00:00"
    )


def _r(rid: str = "R1", **kw: object) -> Requirement:
    return Requirement(id=rid, text="text of " + rid, source="product sheet", method="test", **kw)  # type: ignore[arg-type]


def _req(tests: Iterable[Result], ms: Iterable[Measurement] = (), *, sim: bool = True, **kw: object) -> str:
    return verdict.requirement_verdict(_r(**kw), tests, ms, simulated_bench=sim)[0]


# --- test verdicts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("result", "ms", "expected"),
    [
        (_t("passed"), [], "pass"),
        (_t("passed"), [_m("fail")], "fail"),
        (_t("passed"), [_m("inconclusive")], "inconclusive"),
        (_t("failed"), [], "fail"),
        (_t("error"), [], "fail"),  # an error nobody charged to the bench is the module's
        (_t("error", kind="bench"), [], "error"),
        (_t("failed", kind="harness"), [], "error"),
        (_t("skipped"), [], "skipped"),
        (_t("not run"), [], "not run"),
        (_t("interrupted"), [], "interrupted"),
    ],
)
def test_test_verdict_from_outcome_kind_and_measurements(result, ms, expected) -> None:
    assert verdict.test_verdict(result, ms) == expected


# --- requirement classes -----------------------------------------------------------------------------------
def test_any_failed_test_fails_the_requirement_and_a_pass_does_not() -> None:
    assert _req([_t("passed"), _t("failed", nodeid="t::b")]) == "fail"
    assert _req([_t("passed"), _t("passed", nodeid="t::b")]) == "pass"


def test_a_measurement_out_of_limits_fails_the_requirement_even_if_its_test_passed() -> None:
    assert _req([_t("passed")], [_m("fail")]) == "fail"
    assert _req([_t("passed")], [_m("pass")]) == "pass"


def test_fail_beats_a_bench_error_of_another_test() -> None:
    both = [_t("failed"), _t("error", nodeid="t::b", kind="bench")]
    assert _req(both) == "fail"
    assert _req(both[1:]) == "error"


@pytest.mark.parametrize("outcome", ["skipped", "not run", "interrupted"])
def test_an_unfinished_test_leaves_the_requirement_not_verified_beside_a_pass(outcome: str) -> None:
    assert _req([_t("passed"), _t(outcome, nodeid="t::b")]) == "not verified"
    assert _req([_t("passed"), _t("passed", nodeid="t::b")]) == "pass"


def test_an_inconclusive_measurement_is_not_verified_not_pass() -> None:
    v, reason = verdict.requirement_verdict(_r(), [_t("passed")], [_m("inconclusive")], simulated_bench=True)
    assert v == "not verified" and "uncertainty" in reason
    assert _req([_t("passed")], [_m("pass")]) == "pass"


def test_a_bench_error_is_error_not_fail_and_not_pass() -> None:
    v, reason = verdict.requirement_verdict(
        _r(), [_t("passed"), _t("error", nodeid="t::b", kind="bench")], [], simulated_bench=True
    )
    assert v == "error" and "bench" in reason


def test_simulated_only_requirement_is_its_own_class_on_a_sim_bench_and_not_verified_on_a_real_one() -> None:
    assert _req([_t("passed")], sim=True, simulated_only=True) == "simulated only"
    v, reason = verdict.requirement_verdict(
        _r(simulated_only=True), [_t("passed")], [], simulated_bench=False
    )
    assert v == "not verified" and "only the simulated bench" in reason
    assert _req([_t("passed")], sim=False) == "pass"  # an ordinary requirement passes on a real bench
    assert _req([_t("failed")], sim=True, simulated_only=True) == "fail"  # and a failure stays a failure
    skipped = verdict.requirement_verdict(_r(simulated_only=True), [_t("skipped")], [], simulated_bench=False)
    assert skipped[0] == "not verified" and "only the simulated bench" in skipped[1]


def test_a_requirement_resting_on_an_assumed_profile_value_is_verified_against_an_assumption() -> None:
    v, reason = verdict.requirement_verdict(
        _r(assumes=["link.reply_delay_extra_s"], assumed=["link.reply_delay_extra_s"]),
        [_t("passed")],
        [],
        simulated_bench=False,
    )
    assert v == "against assumption" and "link.reply_delay_extra_s" in reason
    # the same requirement with the value confirmed in the profile in force is a plain pass
    assert _req([_t("passed")], assumes=["link.reply_delay_extra_s"], assumed=[]) == "pass"
    assert _req([_t("failed")], assumes=["x.y"], assumed=["x.y"]) == "fail"


def test_uncited_and_external_requirements() -> None:
    assert _req([]) == "not covered"
    external = Requirement(id="R1", text="EMC", source="EN 61000-6-2", method="external")
    assert verdict.requirement_verdict(external, [], [], simulated_bench=True)[0] == "external"


# --- run verdicts ---------------------------------------------------------------------------------------
def _run(
    tests: list[Result], ms: Iterable[Measurement] = (), *, interrupted: bool = False, **reqkw: object
) -> verdict.RunDecision:
    ms = list(ms)
    classes = {"R1": verdict.requirement_verdict(_r(**reqkw), tests, ms, simulated_bench=True)[0]}
    return verdict.run_verdict(classes, tests, ms, interrupted=interrupted)


def test_any_failure_fails_the_run_and_its_exit_status_is_1() -> None:
    d = _run([_t("passed"), _t("failed", nodeid="t::b")])
    assert (d.verdict, d.exit_status) == ("fail", 1)
    assert _run([_t("passed")]).verdict == "pass"


def test_a_failing_test_that_cites_no_requirement_still_fails_the_run() -> None:
    tests = [_t("passed"), Result(nodeid="t::x", outcome="failed", duration_s=0.1)]
    assert verdict.run_verdict({"R1": "pass"}, tests).verdict == "fail"


def test_a_bench_problem_is_an_error_with_its_cause_never_a_failure() -> None:
    bad = _t("error", kind="bench", nodeid="t::b")
    bad = bad.model_copy(update={"message": "instrument 'dmm' at TCPIP::127.0.0.1::5025 did not answer"})
    d = _run([_t("passed"), bad])
    assert d.verdict == "error" and d.exit_status == 3 and d.exit_status != 1
    assert d.causes == ("bench: instrument 'dmm' at TCPIP::127.0.0.1::5025 did not answer (t::b)",)
    assert _run([_t("passed"), _t("passed", nodeid="t::b")]).verdict == "pass"


def test_a_module_failure_beside_a_bench_error_is_fail_and_keeps_the_cause() -> None:
    d = _run([_t("failed"), _t("error", kind="bench", nodeid="t::b")])
    assert d.verdict == "fail" and d.causes


def test_an_interrupted_run_is_incomplete_never_fail_never_pass() -> None:
    assert _run([_t("passed")], interrupted=True).verdict == "incomplete"
    assert _run([_t("failed")], interrupted=True).verdict == "incomplete"
    assert _run([_t("passed"), _t("interrupted", nodeid="t::b")]).verdict == "incomplete"
    assert _run([_t("passed")], interrupted=False).verdict == "pass"


def test_nothing_verified_is_incomplete() -> None:
    assert _run([]).verdict == "incomplete" and "no test ran" in _run([]).reason
    assert _run([_t("skipped")]).verdict == "incomplete"
    assert _run([_t("passed")], [_m("inconclusive")]).verdict == "incomplete"
    assert _run([_t("passed")]).verdict == "pass"


def test_a_pass_beside_unverified_requirements_is_partial() -> None:
    tests = [_t("passed", "R1"), _t("skipped", "R2", nodeid="t::b")]
    d = verdict.run_verdict({"R1": "pass", "R2": "not verified"}, tests)
    assert d.verdict == "pass" and d.partial
    assert not verdict.run_verdict({"R1": "pass"}, tests[:1]).partial


@pytest.mark.parametrize("cls", ["against assumption", "simulated only"])
def test_weaker_verifications_count_as_verified_each_in_its_own_count(cls: str) -> None:
    d = verdict.run_verdict({"R1": cls}, [_t("passed")])
    assert d.verdict == "pass" and d.counts[cls] == 1 and d.counts["pass"] == 0


def test_requirement_verdicts_use_the_catalogue_fields() -> None:
    entry = RequirementEntry(
        id="DA-METER-MODEL",
        area="data",
        text="Values equal the meter model",
        source="product sheet: data",
        method="test",
        simulated_only=True,
    )
    tests = [_t("passed", "DA-METER-MODEL")]
    assert requirement_verdicts([entry], tests, [], simulated_bench=True)["DA-METER-MODEL"].verdict == (
        "simulated only"
    )
    assert requirement_verdicts([entry], tests, [], simulated_bench=False)["DA-METER-MODEL"].verdict == (
        "not verified"
    )
    with pytest.raises(ValueError, match="dotted device-profile path"):
        RequirementEntry(
            id="LL-X",
            area="link",
            text="ten chars text",
            source="EN 13757-2",
            method="test",
            assumes=("a b",),
        )


PROFILE = {
    "identity": {"id": 12345678, "assumption": True},
    "link": {"default_baud": 2400, "reply_delay_extra_s": 0.02, "assumption": True},
    "supply": {"unit_loads": 1},
    "registers": [
        {"name": "energy_import_total", "vif": 3},
        {"name": "active_tariff", "vif": 0xFD, "assumption": True},
    ],
}


def test_assumed_paths_follow_sections_and_registers() -> None:
    paths = ["link.reply_delay_extra_s", "supply.unit_loads", "registers.active_tariff", "identity.id"]
    assert assumed_paths(PROFILE, paths) == [
        "link.reply_delay_extra_s",
        "registers.active_tariff",
        "identity.id",
    ]
    assert assumed_paths(PROFILE, ["registers.energy_import_total.vif", "supply"]) == []
    with pytest.raises(CatalogueError, match="no 'nope'"):
        assumed_paths(PROFILE, ["registers.nope"])


# --- telegram values: exact for integers and enumerations, resolution for analog quantities ----------------
@pytest.mark.parametrize(
    ("quantity", "unit", "scale", "value", "before", "after", "agrees"),
    [
        ("digital_input", "", 1, 2, 2, 2, True),  # tariff
        ("digital_input", "", 1, 3, 2, 2, False),  # tariff off by one: never within a tolerance
        ("digital_input", "", 1, 2, 1, 3, False),  # a tariff between two readings is none of them
        ("digital_output", "", 1, 0, 1, 1, False),  # breaker
        ("error_flags", "", 1, 0x0010, 0x0010, 0x0010, True),
        ("error_flags", "", 1, 0x0011, 0x0010, 0x0010, False),
        ("cumulation_counter", "", 1, 5, 5, 6, True),
        ("cumulation_counter", "", 1, 7, 5, 6, False),
        ("cumulation_counter", "", 1, 4, 5, 6, False),
        ("voltage", "V", 10, 230.1, 230.0, 230.0, True),  # one step of 0.1 V
        ("voltage", "V", 10, 230.3, 230.0, 230.0, False),
        ("current", "A", 1000, 5.001, 5.0, 5.0, True),
        ("current", "A", 1000, 5.003, 5.0, 5.0, False),
        ("energy", "Wh", 1, 1001, 1000, 1000, True),
        ("energy", "Wh", 1, 1002.5, 1000, 1001, False),
        ("fabrication_number", "", 1, "12345678", "12345678", "12345678", True),
        ("fabrication_number", "", 1, "12345679", "12345678", "12345678", False),
        ("voltage", "V", 10, None, 230.0, 230.0, False),
    ],
)
def test_registers_exact_or_within_the_declared_resolution(
    quantity, unit, scale, value, before, after, agrees
) -> None:
    assert verdict.register_agrees(quantity, unit, scale, value, before, after) is agrees


def test_register_resolution_is_zero_for_integers_and_one_step_for_analog() -> None:
    assert verdict.register_resolution("digital_input", "", 1) == 0.0
    assert verdict.register_resolution("voltage", "V", 10) == pytest.approx(0.1)
    assert math.isclose(verdict.register_resolution("power", "W", 0.1), 10.0)
    with pytest.raises(ValueError, match="positive"):
        verdict.register_resolution("voltage", "V", 0)


# --- the plugin classifies what stopped a test, and writes the run verdict ------------------------------
STOPPED_SUITE = """
import pytest
from harness.instruments.errors import InstrumentUnreachable

@pytest.mark.requirement("PS-UNIT-LOAD")
def test_dmm_gone():
    raise InstrumentUnreachable("instrument 'dmm' at TCPIP::127.0.0.1::5025::SOCKET did not answer")

@pytest.mark.requirement("LL-SND-NKE")
def test_harness_bug():
    None.transact()

@pytest.mark.requirement("LL-FCB")
def test_module_fails():
    assert False, "the module answered REQ_UD2 with the same telegram twice"

@pytest.mark.requirement("LL-REPLY-WINDOW")
def test_module_passes():
    pass
"""


#: the inner runs need only the plugin under test (hypothesis' summary alone costs seconds per run)
PLUGIN = ("-p", "harness.pytest_plugin", "-p", "no:hypothesispytest", "-p", "no:cacheprovider")


def _records(run_dir) -> dict[str, Result]:
    from harness.evidence import read_jsonl

    return {t.nodeid.split("::")[-1]: t for t in read_jsonl(run_dir / "tests.jsonl", Result)}


def test_plugin_charges_bench_and_harness_errors_apart_from_module_failures(pytester, tmp_path) -> None:
    from harness.evidence import read_run_info

    pytester.makepyfile(test_stopped=STOPPED_SUITE)
    run_dir = tmp_path / "run"
    pytester.runpytest(*PLUGIN, f"--evidence-dir={run_dir}")
    tests = _records(run_dir)
    assert (tests["test_dmm_gone"].outcome, tests["test_dmm_gone"].error_kind) == ("error", "bench")
    assert (tests["test_harness_bug"].outcome, tests["test_harness_bug"].error_kind) == ("error", "harness")
    assert (tests["test_module_fails"].outcome, tests["test_module_fails"].error_kind) == ("failed", None)
    assert tests["test_module_passes"].error_kind is None
    info = read_run_info(run_dir)
    assert info.verdict == "fail"  # the module's failure wins; the bench error is still named
    assert "instrument 'dmm'" in (info.verdict_reason or "")


def test_plugin_run_without_module_failure_but_with_bench_error_is_error(pytester, tmp_path) -> None:
    from harness.evidence import read_run_info

    pytester.makepyfile(test_stopped=STOPPED_SUITE)
    run_dir = tmp_path / "run"
    pytester.runpytest(*PLUGIN, f"--evidence-dir={run_dir}", "-k", "dmm or passes")
    info = read_run_info(run_dir)
    reason = info.verdict_reason or ""
    assert info.verdict == "error" and "bench: " in reason and "instrument 'dmm'" in reason


REFUSED_CONFTEST = """
import pytest
from harness.rig.lock import RigBusy

@pytest.fixture(scope="session")
def station():
    try:
        raise RigBusy("rig 'lab-1' is in use by pid 4242: cmi-hil run")
    except RigBusy as exc:
        pytest.exit(f"cannot open the bench of rig lab-1.yaml: {exc}", returncode=4)
"""


def test_plugin_a_refused_bench_is_error_and_the_rest_not_run(pytester, tmp_path) -> None:
    from harness.evidence import read_run_info

    pytester.makeconftest(REFUSED_CONFTEST)
    pytester.makepyfile(
        test_refused="""
import pytest

@pytest.mark.requirement("PS-UNIT-LOAD")
def test_a(station):
    pass

@pytest.mark.requirement("LL-SND-NKE")
def test_b(station):
    pass
"""
    )
    run_dir = tmp_path / "run"
    result = pytester.runpytest(*PLUGIN, f"--evidence-dir={run_dir}")
    assert result.ret == 4
    tests = _records(run_dir)
    assert (tests["test_a"].outcome, tests["test_a"].error_kind) == ("error", "bench")
    assert "in use by pid 4242" in (tests["test_a"].message or "")
    assert tests["test_b"].outcome == "not run"
    info = read_run_info(run_dir)
    assert info.verdict == "error" and "in use by pid 4242" in (info.verdict_reason or "")


STATION_CONFTEST = """
import pytest

class Station:
    reopen_count = 0

    def reopen(self):
        self.reopen_count += 1

@pytest.fixture(scope="session")
def station():
    return Station()
"""


def test_plugin_a_station_reopened_mid_test_is_a_bench_error(pytester, tmp_path) -> None:
    from harness.evidence import read_run_info

    pytester.makeconftest(STATION_CONFTEST)
    pytester.makepyfile(
        test_reopen="""
import pytest

@pytest.mark.requirement("LL-SND-NKE")
def test_steady(station):
    pass

@pytest.mark.requirement("LL-FCB")
def test_replaced(station):
    station.reopen()
"""
    )
    run_dir = tmp_path / "run"
    pytester.runpytest(*PLUGIN, f"--evidence-dir={run_dir}")
    tests = _records(run_dir)
    assert (tests["test_steady"].outcome, tests["test_steady"].error_kind) == ("passed", None)
    assert (tests["test_replaced"].outcome, tests["test_replaced"].error_kind) == ("error", "bench")
    assert "reopened 1 time(s)" in (tests["test_replaced"].message or "")
    assert read_run_info(run_dir).verdict == "error"


def test_plugin_a_keyboard_interrupt_makes_the_run_incomplete(pytester, tmp_path) -> None:
    from harness.evidence import read_run_info

    pytester.makepyfile(
        test_ctrl_c="""
import pytest

@pytest.mark.requirement("LL-FCB")
def test_fails_first():
    assert False

@pytest.mark.requirement("LL-SND-NKE")
def test_stopped():
    raise KeyboardInterrupt

@pytest.mark.requirement("LL-REPLY-WINDOW")
def test_never_started():
    pass
"""
    )
    run_dir = tmp_path / "run"
    pytester.runpytest_subprocess(*PLUGIN, f"--evidence-dir={run_dir}")  # Ctrl-C would stop this session
    tests = _records(run_dir)
    assert tests["test_stopped"].outcome == "interrupted"
    assert tests["test_never_started"].outcome == "not run"
    assert read_run_info(run_dir).verdict == "incomplete"  # never FAIL, despite the failed test


CATALOGUE = """
version: 1
requirements:
  - id: LL-REPLY-DELAY
    area: link
    text: The module replies after the delay the profile declares.
    source: "EN 13757-2 reply timing"
    method: test
    assumes: [link.reply_delay_extra_s]
  - id: DA-METER-VALUES
    area: data
    text: Telegram values equal the meter model's registers.
    source: "CMi1020 product sheet: data"
    method: test
    simulated_only: true
"""


def test_plugin_records_the_assumptions_of_the_profile_in_force(pytester, tmp_path) -> None:
    import json

    from harness.profile import SHIPPED_PROFILE

    cat = tmp_path / "catalogue.yaml"
    cat.write_text(CATALOGUE)
    pytester.makepyfile(
        test_a="""
import pytest

@pytest.mark.requirement("LL-REPLY-DELAY", "DA-METER-VALUES")
def test_delay():
    pass
"""
    )
    shipped, confirmed = tmp_path / "shipped", tmp_path / "confirmed"
    pytester.runpytest(*PLUGIN, f"--evidence-dir={shipped}", f"--requirements={cat}")
    reqs = {r["id"]: r for r in json.loads((shipped / "requirements.json").read_text())}
    assert reqs["LL-REPLY-DELAY"]["assumed"] == ["link.reply_delay_extra_s"]
    assert reqs["DA-METER-VALUES"]["simulated_only"] is True
    # a lab that confirmed its link timing drops the marker: the requirement is then a plain pass
    profile = tmp_path / "profile.yaml"
    text = SHIPPED_PROFILE.read_text()
    link = text.index("\nlink:")
    marker = text.index("  assumption: true", link)
    profile.write_text(text[:marker] + "  assumption: false" + text[marker + len("  assumption: true") :])
    pytester.runpytest(
        *PLUGIN,
        f"--evidence-dir={confirmed}",
        f"--requirements={cat}",
        f"--dut-profile={profile}",
    )
    reqs = {r["id"]: r for r in json.loads((confirmed / "requirements.json").read_text())}
    assert reqs["LL-REPLY-DELAY"]["assumed"] == []


# --- ERROR cases end to end: the conformance suite in a subprocess, on a real rig file nothing answers ----
REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closed_rig(tmp_path: Path) -> Path:
    """The example real bench with every instrument and the M-Bus port moved to closed loopback ports."""
    port = _closed_port()
    text = (REPO / "rigs" / "lab-example.yaml").read_text()
    text = re.sub(r"TCPIP::192\.0\.2\.\d+::\d+::SOCKET", f"TCPIP::127.0.0.1::{port}::SOCKET", text)
    text = text.replace("rfc2217://192.0.2.20:4001", f"rfc2217://127.0.0.1:{port}")
    text = text.replace("name: lab-example", "name: verdict-closed")
    rig = tmp_path / "closed.yaml"
    rig.write_text(text)
    return rig


def _suite(rig: Path, run_dir: Path, lock_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CMI_HIL_LOCK_DIR": str(lock_dir)}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "testcases/test_power.py",
        f"--rig={rig}",
        f"--evidence-dir={run_dir}",
    ]
    cmd += ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q", "-k", "quiescent_current"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def _assert_bench_error(proc: subprocess.CompletedProcess[str], run_dir: Path, cause: str) -> None:
    from harness.evidence import read_run_info

    info = read_run_info(run_dir)
    assert info.verdict == "error", proc.stdout[-2000:]
    assert cause in (info.verdict_reason or "")
    assert not info.rig.simulated
    tests = list(_records(run_dir).values())
    stopped = [t for t in tests if t.outcome == "error"]
    assert len(stopped) == 1 and stopped[0].error_kind == "bench" and cause in (stopped[0].message or "")
    assert all(t.outcome == "not run" for t in tests if t is not stopped[0])
    assert proc.returncode not in (0, 1), "a bench error must not exit like a pass or a module failure"
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_real_rig_whose_instruments_do_not_answer_is_an_error_not_a_failure(closed_rig, tmp_path) -> None:
    run_dir = tmp_path / "run"
    proc = _suite(closed_rig, run_dir, tmp_path / "locks")
    _assert_bench_error(proc, run_dir, "did not answer: [Errno 111] Connection refused")


def test_a_rig_held_by_another_run_is_refused_as_an_error(closed_rig, tmp_path) -> None:
    lock_dir = tmp_path / "locks"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from harness.rig.lock import RigLock; "
            f"RigLock('verdict-closed', directory=Path({str(lock_dir)!r})).acquire(); "
            "print('held', flush=True); time.sleep(120)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        run_dir = tmp_path / "run"
        proc = _suite(closed_rig, run_dir, lock_dir)
        _assert_bench_error(proc, run_dir, f"is in use by pid {holder.pid}")
    finally:
        holder.kill()
        holder.wait(timeout=10)


def _exit_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException:
            pytest.exit("cannot open the bench", returncode=4)
    except BaseException as exc:  # pytest.exit's Exception is a BaseException
        return exc
    raise AssertionError("pytest.exit did not raise")


def _errors() -> list[tuple[BaseException, str | None]]:
    import serial

    from harness.instruments.errors import InstrumentUnreachable, LimitError
    from harness.master.errors import NoReply, PortError
    from harness.mbus.model import MBusError
    from harness.rig.bench import BenchError
    from harness.rig.lock import RigBusy

    return [
        (InstrumentUnreachable("dmm did not answer"), "bench"),
        (LimitError("42.5 V above the rig limit"), "bench"),
        (RigBusy("rig in use"), "bench"),
        (BenchError("cleanup failed"), "bench"),
        (PortError("port closed"), "bench"),
        (serial.SerialException("device reports readiness to read but returned no data"), "bench"),
        (ConnectionResetError(104, "Connection reset by peer"), "bench"),
        (_exit_from(RigBusy("rig in use")), "bench"),
        (TypeError("unsupported operand"), "harness"),
        (AttributeError("'NoneType' object has no attribute 'records'"), "harness"),
        (AssertionError("tariff 3, expected 2"), None),
        (NoReply("no reply from primary address 5"), None),
        (MBusError([]), None),  # an undecodable telegram is the module's
        (KeyError("energy_import_total"), None),
    ]


def test_error_kind_charges_bench_and_harness_problems_and_leaves_the_rest_to_the_module() -> None:
    from harness.pytest_plugin import error_kind

    for exc, kind in _errors():
        assert error_kind(exc) == kind, f"{type(exc).__name__}: {exc}"


def _run_folder(tmp_path: Path, results: list[Result]) -> Path:
    from harness import evidence

    run_dir = tmp_path / "20261201-000000-lab"
    run_dir.mkdir()
    info = evidence.RunInfo(
        run_id=run_dir.name,
        started="2026-12-01T00:00:00+00:00",
        rig=evidence.RigInfo(name="lab", file="rigs/lab.yaml", simulated=False),
        harness_version="0.1.0",
    )
    evidence.write_run_info(run_dir, info)
    for r in results:
        evidence.append_jsonl(run_dir / evidence.TESTS_FILE, r)
    reqs = [_r("PS-UNIT-LOAD"), _r("LL-SND-NKE", simulated_only=True)]
    (run_dir / evidence.REQUIREMENTS_FILE).write_text("[" + ",".join(r.model_dump_json() for r in reqs) + "]")
    return run_dir


def test_console_summary_says_error_with_the_cause_and_exits_apart_from_a_failure(tmp_path, capsys) -> None:
    from harness.commands.run import print_summary

    stopped = _t("error", "PS-UNIT-LOAD", kind="bench").model_copy(
        update={"message": "rig 'lab' is in use by pid 4242"}
    )
    status = print_summary(_run_folder(tmp_path, [stopped]), 1.0)
    out = capsys.readouterr().out
    assert status == 3 and "run verdict: ERROR" in out and "bench: rig 'lab' is in use by pid 4242" in out
    assert "PS-UNIT-LOAD  ERROR (BENCH)" in out


def test_console_summary_of_a_module_failure_on_a_real_bench(tmp_path, capsys) -> None:
    from harness.commands.run import print_summary

    results = [_t("failed", "PS-UNIT-LOAD"), _t("passed", "LL-SND-NKE", nodeid="t::b")]
    status = print_summary(_run_folder(tmp_path, results), 1.0)
    out = capsys.readouterr().out
    assert status == 1 and "run verdict: FAIL" in out and "bench:" not in out
    assert "LL-SND-NKE    NOT VERIFIED" in out  # simulated-only, and this bench is real
