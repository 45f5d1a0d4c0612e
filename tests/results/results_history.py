"""Nightly runs as the suite records them (harness.evidence records), for the results-database tests:
a clean history with bench noise, and nights with a planted drift, a new failure or a slower test."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from harness.evidence import Measurement, RigInfo, RunInfo, TestResult

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
TESTS_PER_RUN = 5
MEASUREMENTS_PER_RUN = 14
REQUIREMENTS_PER_RUN = 3


@dataclass
class Night:
    info: RunInfo
    tests: list[TestResult]
    measurements: list[Measurement]
    verdicts: dict[str, tuple[str, list[str]]]


def night(
    day: int,
    *,
    rig: str = "sim",
    seed: int | None = None,
    current_scale: float = 1.0,
    fail_led: bool = False,
    slow_s: float | None = None,
    skipped: bool = False,
    interrupted: bool = False,
) -> Night:
    """One night's run on ``rig``; ``skipped``: every test skipped (a run that executed nothing)."""
    rnd = random.Random(seed if seed is not None else day)
    started = T0 + timedelta(days=day, minutes=rnd.randrange(30))
    run_id = f"{started:%Y%m%d-%H%M%S}-{rig}"
    stamp = started.isoformat()
    measurements: list[Measurement] = []
    if not skipped:
        for volts in (21, 30, 42):
            for polarity in "+-":
                value = (1.10e-3 + 0.004e-3 * (volts - 21) + rnd.gauss(0, 0.005e-3)) * current_scale
                measurements.append(
                    Measurement(
                        test=f"testcases/test_power.py::test_quiescent_current[{polarity}]",
                        name="quiescent_current",
                        value=value,
                        unit="A",
                        high=1.5e-3,
                        uncertainty=0.01e-3,
                        verdict="pass",
                        requirement="PWR-LOAD",
                        timestamp=stamp,
                        conditions={"supply_v": volts, "polarity": polarity, "read_s": rnd.random()},
                    )
                )
        for baud, typical in ((300, 0.080), (2400, 0.012)):
            for _ in range(4):
                measurements.append(
                    Measurement(
                        test=f"testcases/test_link.py::test_reply_window[{baud}]",
                        name="reply_latency",
                        value=typical + rnd.gauss(0, typical * 0.02),
                        unit="s",
                        low=11 / baud,
                        high=330 / baud + 0.05,
                        uncertainty=0.002,
                        verdict="pass",
                        requirement="LL-REPLY-WINDOW",
                        timestamp=stamp,
                        conditions={"baud": baud},
                    )
                )
    outcome = "skipped" if skipped else "passed"
    tests = [
        TestResult(
            nodeid=f"testcases/test_power.py::test_quiescent_current[{p}]",
            outcome=outcome,  # type: ignore[arg-type]
            duration_s=2.1 + rnd.random() * 0.1,
            requirements=["PWR-LOAD"],
        )
        for p in "+-"
    ] + [
        TestResult(
            nodeid=f"testcases/test_link.py::test_reply_window[{baud}]",
            outcome=outcome,  # type: ignore[arg-type]
            duration_s=(slow_s if slow_s is not None and baud == 300 else 1.4 + rnd.random() * 0.1),
            requirements=["LL-REPLY-WINDOW"],
        )
        for baud in (300, 2400)
    ]
    tests.append(
        TestResult(
            nodeid="testcases/test_ui.py::test_led_shows_meter_communication",
            outcome="skipped" if skipped else ("failed" if fail_led else "passed"),
            duration_s=0.8,
            requirements=["UI-LED"],
        )
    )
    if skipped:
        verdicts = {r: ("not verified", []) for r in ("PWR-LOAD", "LL-REPLY-WINDOW", "UI-LED")}
    else:
        verdicts = {
            "PWR-LOAD": ("pass", [t.nodeid for t in tests[:2]]),
            "LL-REPLY-WINDOW": ("pass", [t.nodeid for t in tests[2:4]]),
            "UI-LED": ("fail" if fail_led else "pass", [tests[4].nodeid]),
        }
    info = RunInfo(
        run_id=run_id,
        started=stamp,
        finished=(started + timedelta(seconds=90)).isoformat(),
        duration_s=90.0,
        verdict="fail" if fail_led else ("incomplete" if skipped or interrupted else "pass"),
        rig=RigInfo(name=rig, file=f"rigs/{rig}.yaml", simulated=True),
        harness_version="0.1.0",
        nightly=True,
    )
    return Night(info, tests, measurements, verdicts)
