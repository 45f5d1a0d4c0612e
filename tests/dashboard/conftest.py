"""A lab for the dashboard self-tests: a results database filled through the store API with synthetic runs
(pass, fail, incomplete; two rigs; runs with and without a seeded fault), their run folders (one sealed with a
report), and a run in progress, all written with the harness.evidence records as the suite writes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from harness import evidence
from harness.dashboard import create_app
from harness.evidence import Measurement, Requirement, RigInfo, RunInfo, TestResult
from harness.report.manifest import write_manifest
from harness.results import open_db, record_seal, store_run

T0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)  # every run before the one in progress

REQUIREMENTS = [
    Requirement(
        id="PWR-LOAD",
        text="Quiescent bus current at most 1 unit load (1.5 mA)",
        source="product sheet: 1 unit load",
        method="DMM in series",
    ),
    Requirement(
        id="LL-REPLY-WINDOW",
        text="Reply within 11 bit times .. 330 bit times + 50 ms",
        source="EN 13757-2 reply timing",
        method="master-side latency",
    ),
    Requirement(
        id="RI-DETECT",
        text="A rate-input level held 5 s is detected",
        source="product sheet: rate inputs",
        method="timed stimulus",
    ),
]

LOAD_TEST = "testcases/test_power.py::test_quiescent_current[24]"
REPLY_TEST = "testcases/test_link_layer.py::test_reply_window[2400]"
DETECT_TEST = "testcases/test_rate_inputs.py::test_detection_time[1]"
SUITE = [
    LOAD_TEST,
    REPLY_TEST,
    DETECT_TEST,
    "testcases/test_ui.py::test_led",
    "testcases/test_data.py::test_x",
]
#: the test the run in progress is in (it has a measurement, no result yet)
LIVE_CURRENT = DETECT_TEST


@dataclass(frozen=True)
class Lab:
    db_file: Path
    reports: Path
    pass_run: str
    fail_run: str
    incomplete_run: str
    other_rig_run: str
    faulted_run: str
    live_run: str


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _info(
    run_id: str,
    rig: str,
    started: datetime,
    verdict: str | None,
    faults: list[str] | None = None,
    **extra: object,
) -> RunInfo:
    finished = started + timedelta(minutes=5) if verdict is not None else None
    return RunInfo(
        run_id=run_id,
        started=_iso(started),
        finished=_iso(finished) if finished else None,
        duration_s=300.0 if finished else None,
        verdict=verdict,  # type: ignore[arg-type]
        rig=RigInfo(name=rig, file=f"rigs/{rig}.yaml", simulated=True, faults=faults or []),
        harness_version="0.1.0",
        operator="bench operator",
        **extra,  # type: ignore[arg-type]
    )


def _measurements(
    started: datetime, current_a: float, latency_s: float, detect_s: float | None
) -> list[Measurement]:
    ts = _iso(started + timedelta(seconds=30))
    ms = [
        Measurement(
            test=LOAD_TEST,
            name="quiescent_current",
            value=current_a,
            unit="A",
            high=1.5e-3,
            uncertainty=2e-6,
            verdict="pass" if current_a <= 1.5e-3 else "fail",
            requirement="PWR-LOAD",
            timestamp=ts,
            conditions={"supply_v": 24.0, "polarity": "+"},
        ),
        Measurement(
            test=REPLY_TEST,
            name="reply_latency",
            value=latency_s,
            unit="s",
            low=11 / 2400,
            high=330 / 2400 + 0.05,
            uncertainty=1e-3,
            verdict="pass",
            requirement="LL-REPLY-WINDOW",
            timestamp=ts,
            conditions={"baud": 2400},
        ),
    ]
    if detect_s is not None:
        ms.append(
            Measurement(
                test=DETECT_TEST,
                name="rate_detection_time",
                value=detect_s,
                unit="s",
                low=5.0,
                high=8.0,
                uncertainty=0.1,
                verdict="pass",
                requirement="RI-DETECT",
                timestamp=ts,
                conditions={"input": 1},
            )
        )
    return ms


def _tests(outcomes: dict[str, str]) -> list[TestResult]:
    req = {LOAD_TEST: ["PWR-LOAD"], REPLY_TEST: ["LL-REPLY-WINDOW"], DETECT_TEST: ["RI-DETECT"]}
    return [
        TestResult(
            nodeid=n,
            outcome=o,
            duration_s=2.5,
            requirements=req.get(n, []),  # type: ignore[arg-type]
            message="quiescent_current = 1.62 mA, limit <= 1.5 mA" if o == "failed" else None,
        )
        for n, o in outcomes.items()
    ]


def _write_folder(reports: Path, info: RunInfo, tests: list[TestResult], ms: list[Measurement]) -> Path:
    run_dir = reports / info.run_id
    run_dir.mkdir(parents=True)
    evidence.write_run_info(run_dir, info)
    (run_dir / evidence.REQUIREMENTS_FILE).write_text(
        json.dumps([r.model_dump() for r in REQUIREMENTS]), encoding="utf-8"
    )
    for t in tests:
        evidence.append_jsonl(run_dir / evidence.TESTS_FILE, t)
    for m in ms:
        evidence.append_jsonl(run_dir / evidence.MEASUREMENTS_FILE, m)
    return run_dir


def _store(
    engine: object,
    reports: Path,
    info: RunInfo,
    outcomes: dict[str, str],
    ms: list[Measurement],
    verdicts: dict[str, str],
    *,
    seal: bool = False,
) -> None:
    tests = _tests(outcomes)
    run_dir = _write_folder(reports, info, tests, ms)
    by_req = {rid: (v, [t.nodeid for t in tests if rid in t.requirements]) for rid, v in verdicts.items()}
    store_run(engine, info, tests, ms, by_req, run_dir=run_dir)  # type: ignore[arg-type]
    if seal:
        (run_dir / "report.html").write_text(
            f"<html><body><h1>Evidence report {info.run_id}</h1><p>verdict {info.verdict}</p></body></html>",
            encoding="utf-8",
        )
        manifest = write_manifest(run_dir, run_id=info.run_id)
        record_seal(
            engine, info.run_id, manifest_json=manifest.read_text(encoding="utf-8"), reason="end of run"
        )


ALL_PASS = {n: "passed" for n in SUITE}


def build_lab(root: Path) -> Lab:
    reports = root / "reports"
    reports.mkdir(parents=True)
    db_file = reports / "results.sqlite"
    engine = open_db(db_file)
    runs = []
    for i, (rig, verdict, current, faults) in enumerate(
        [
            ("bench-a", "pass", 1.20e-3, None),
            ("bench-a", "pass", 1.22e-3, None),
            ("bench-a", "fail", 1.62e-3, None),
            ("bench-b", "pass", 1.31e-3, None),
            ("bench-a", "incomplete", 1.21e-3, None),
            ("bench-a", "fail", 1.24e-3, ["reply_late"]),
            ("bench-a", "pass", 1.23e-3, None),
        ]
    ):
        started = T0 + timedelta(hours=12 * i)
        run_id = f"{started:%Y%m%d-%H%M%S}-{rig}"
        runs.append(run_id)
        outcomes = dict(ALL_PASS)
        verdicts = {"PWR-LOAD": "pass", "LL-REPLY-WINDOW": "pass", "RI-DETECT": "pass"}
        detect: float | None = 5.4
        if verdict == "fail" and not faults:
            outcomes[LOAD_TEST] = "failed"
            verdicts["PWR-LOAD"] = "fail"
        if faults:
            outcomes[REPLY_TEST] = "failed"
            verdicts["LL-REPLY-WINDOW"] = "fail"
        if verdict == "incomplete":
            outcomes[DETECT_TEST] = "skipped"
            verdicts["RI-DETECT"] = "not run"
            detect = None
        info = _info(run_id, rig, started, verdict, faults)
        ms = _measurements(started, current, 0.030 + 0.001 * i, detect)
        _store(engine, reports, info, outcomes, ms, verdicts, seal=(i == 6))
    engine.dispose()

    # the run in progress on bench-a: three tests done, one measurement of the test now running
    started = datetime.now(UTC) - timedelta(minutes=2)
    live_id = f"{started:%Y%m%d-%H%M%S}-bench-a"
    info = _info(live_id, "bench-a", started, None)
    done = _tests({n: "passed" for n in SUITE[:2]} | {"testcases/test_ui.py::test_led": "passed"})
    ms = _measurements(started, 1.25e-3, 0.0315, 5.6)
    _write_folder(reports, info, done, ms)
    return Lab(db_file, reports, runs[6], runs[2], runs[4], runs[3], runs[5], live_id)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return build_lab(tmp_path_factory.mktemp("lab"))


@pytest.fixture
def client(lab: Lab) -> Iterator[TestClient]:
    with TestClient(create_app(lab.db_file, lab.reports)) as c:
        yield c
