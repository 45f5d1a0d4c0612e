"""`cmi-hil run` and `cmi-hil mutate`: end-to-end on the simulated rig for a small subset, user errors,
and the pure parts (verdict per requirement, mandated waits, kill matrix)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.mbus import mandated_waits
from harness.commands.mutate import CLEAN, MutantRun, format_matrix, plan
from harness.evidence import Measurement, TranscriptEntry, read_jsonl, read_run_info
from harness.evidence import TestResult as ResultRecord
from harness.requirements import load_catalogue, requirement_verdicts

REPO = Path(__file__).resolve().parents[2]
FAST = ["--time-scale", "0.05"]


def _cmi_hil(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _only_run_dir(reports: Path) -> Path:
    dirs = [p for p in reports.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def test_run_on_the_sim_rig_leaves_a_complete_run_folder(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = _cmi_hil(
        "run",
        # the rig's 10 ms path uncertainty is 20 ms of standard time at 0.5 (the window still tells it
        # apart); at FAST's 0.05 it is 200 ms and the reply window would be inconclusive
        "--time-scale",
        "0.5",
        "--reports-dir",
        str(reports),
        "--db",
        str(tmp_path / "results.sqlite"),
        "-k",
        "snd_nke_is_acknowledged or reply_starts_inside_the_window and 2400",
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = _only_run_dir(reports)
    assert run_dir.name.endswith("-sim")
    info = read_run_info(run_dir)
    assert info.verdict == "pass" and info.rig.name == "sim" and info.rig.simulated
    assert info.dut.id == "71234567" and info.dut.manufacturer == "ELV"
    assert "testcases" in info.command[0] and not any(str(REPO) in arg for arg in info.command)
    assert {i.role for i in info.rig.instruments} >= {"supply", "dmm"}
    assert all(i.idn for i in info.rig.instruments), "instrument *IDN? missing from the evidence"
    tests = list(read_jsonl(run_dir / "tests.jsonl", ResultRecord))
    assert [t.outcome for t in tests] == ["passed", "passed"]
    latencies = [
        m for m in read_jsonl(run_dir / "measurements.jsonl", Measurement) if m.name == "reply_latency"
    ]
    assert latencies and all(m.conditions["baud"] == 2400 and m.verdict == "pass" for m in latencies)
    assert latencies[0].low == pytest.approx(11 / 2400) and latencies[0].high == pytest.approx(
        330 / 2400 + 0.05
    )
    transcripts = list((run_dir / "transcripts").glob("*.jsonl"))
    assert len(transcripts) == 2
    first = next(read_jsonl(transcripts[0], TranscriptEntry))
    assert first.direction == "tx" and first.data
    assert list((run_dir / "allure-results").glob("*-result.json"))
    assert json.loads((run_dir / "requirements.json").read_text())
    timing = json.loads((run_dir / "timing.json").read_text())
    assert timing["time_scale"] == 0.5 and timing["mandated_total_s"] > 0
    per_test = timing["per_test"]  # each test's own waits, for the overhead table of bench_suite_time.py
    assert set(per_test) == {t.nodeid for t in tests}
    assert sum(w["mandated_s"] for w in per_test.values()) == pytest.approx(timing["mandated_total_s"])
    assert "LL-SND-NKE" in proc.stdout and "PASS" in proc.stdout and "ratio wall/mandated" in proc.stdout


def test_run_fails_when_the_module_breaks_a_requirement(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = _cmi_hil(
        "run",
        *FAST,
        "--fault",
        "snd_nke_no_ack",
        "--reports-dir",
        str(reports),
        "--db",
        str(tmp_path / "results.sqlite"),
        "-k",
        "snd_nke_is_acknowledged",
    )
    assert proc.returncode != 0
    run_dir = _only_run_dir(reports)
    assert read_run_info(run_dir).verdict == "fail"
    assert read_run_info(run_dir).rig.faults == ["snd_nke_no_ack"]
    row = next(line for line in proc.stdout.splitlines() if line.startswith("LL-SND-NKE "))
    assert "FAIL" in row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rig", "rigs/no-such-rig.yaml"], "rig file rigs/no-such-rig.yaml not found"),
        (["--fault", "no_such_fault"], "unknown fault(s) no_such_fault; valid: accepts_"),
    ],
)
def test_user_errors_are_reported_without_traceback(args: list[str], message: str, tmp_path: Path) -> None:
    proc = _cmi_hil("run", "--reports-dir", str(tmp_path), *args, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    if "--fault" in args:  # the valid names are listed, e.g. one of the link-layer faults
        assert "accepts_bad_checksum" in proc.stderr
    assert not list(tmp_path.iterdir()), "no run folder for a run that could not start"


def test_requirement_verdicts_from_results_and_measurements() -> None:
    cat = load_catalogue()

    def result(nodeid: str, outcome: str, *reqs: str) -> ResultRecord:
        return ResultRecord(nodeid=nodeid, outcome=outcome, duration_s=0.1, requirements=list(reqs))  # type: ignore[arg-type]

    def meas(req: str, verdict: str) -> Measurement:
        return Measurement(
            test="t",
            name="x",
            value=1.0,
            unit="s",
            verdict=verdict,
            requirement=req,  # type: ignore[arg-type]
            timestamp="2026-01-01T00:00:00",
        )

    v = requirement_verdicts(
        cat,
        [
            result("a", "passed", "LL-SND-NKE"),
            result("b", "failed", "LL-FCB"),
            result("c", "passed", "LL-FCB"),
            result("d", "skipped", "RI-GLITCH"),
            result("e", "passed", "LL-REPLY-WINDOW"),
            result("f", "passed", "PS-UNIT-LOAD"),
        ],
        [meas("LL-REPLY-WINDOW", "inconclusive"), meas("PS-UNIT-LOAD", "fail")],
    )
    assert v["LL-SND-NKE"].verdict == "pass"
    assert v["LL-FCB"].verdict == "fail" and (v["LL-FCB"].passed, v["LL-FCB"].failed) == (1, 1)
    assert v["RI-GLITCH"].verdict == "not verified" and v["UI-LED"].verdict == "not covered"
    assert v["LL-REPLY-WINDOW"].verdict == "not verified"  # inconclusive evidence verifies nothing
    assert v["PS-UNIT-LOAD"].verdict == "fail"  # a failed measurement fails its requirement
    assert v["EMC-IMMUNITY"].verdict == "external"


def _e(direction: str, data: str, summary: str = "") -> TranscriptEntry:
    return TranscriptEntry(direction=direction, t_us=0, data=data, summary=summary)  # type: ignore[arg-type]


def test_mandated_waits_of_a_transcript() -> None:
    entries = [
        _e("tx", "10 40 00 40 16", "SND_NKE"),
        _e("rx", "E5", "E5"),  # reply: wire + 11 bit times
        _e("tx", "10 40 FF 3F 16", "SND_NKE a=255"),  # no reply: the whole window
        _e("tx", "", "master port switched from 2400 Bd to 300 Bd"),
        _e("tx", "10 40 00 40 16", "SND_NKE"),
        _e("rx", "E5", "E5"),
    ]
    waits = mandated_waits(entries, 2400)
    assert waits["wire"] == pytest.approx((5 + 1 + 5) * 11 / 2400 + (5 + 1) * 11 / 300)
    assert waits["reply_window"] == pytest.approx(11 / 2400 + (330 / 2400 + 0.05) + 11 / 300)


def test_mutate_plan_and_matrix() -> None:
    runs = plan(["bad_checksum", "led_dead"], 2, Path("/tmp/m"))
    assert [r.label for r in runs] == ["clean-1", "clean-2", "bad_checksum", "led_dead"]
    runs[0].tests = runs[1].tests = 70
    runs[1].failing = ["testcases/test_power.py::test_x"]
    runs[2].failing, runs[2].requirements = (
        ["testcases/test_link_layer.py::test_req_ud2"],
        ["LL-FRAME-FORMAT"],
    )
    runs[3].tests = 70
    text = format_matrix(runs)
    assert (
        "bad_checksum" in text
        and "killed" in text
        and "test_link_layer::test_req_ud2 [LL-FRAME-FORMAT]" in text
    )
    assert "led_dead" in text and "SURVIVED" in text
    assert runs[0].passed and not runs[1].passed and runs[0].fault == CLEAN
    assert MutantRun("x", "x", Path("/tmp")).killed is False
