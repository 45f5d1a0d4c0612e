"""Nightly regression: drift beyond the usual spread, newly failing requirements, slower tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from harness import evidence
from harness.cli import main
from harness.evidence import Measurement, RigInfo, RunInfo
from harness.report import finalize_run, load_run, store_run_data
from harness.results import (
    TrendPolicy,
    compare_with_history,
    drifted,
    open_db,
    robust_spread,
    slower,
    store_run,
)

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def _history(make_run, engine: Engine, nights: int = 8, **kwargs: object) -> None:
    for night in range(nights):
        run_dir = make_run(started=T0 + timedelta(days=night), seed=night, **kwargs)
        store_run_data(engine, load_run(run_dir))


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    engine = open_db(url)
    yield url, engine
    engine.dispose()


def test_robust_spread_ignores_an_outlier_in_the_history() -> None:
    spread = robust_spread([10.0, 10.1, 9.9, 10.05, 9.95, 50.0])
    assert spread.median == pytest.approx(10.025)
    assert spread.sigma < 0.2


def test_drift_flags_a_value_beyond_k_sigma_and_not_within() -> None:
    rnd = random.Random(1)
    history = [1.1e-3 + rnd.gauss(0, 5e-6) for _ in range(40)]
    assert drifted(history, 1.1e-3 + 1e-4)[0]
    assert not drifted(history, 1.1e-3 + 1e-5)[0]


def test_a_repeatable_bench_does_not_flag_noise_below_its_uncertainty() -> None:
    history = [0.0120] * 10  # a simulated bench can be exactly repeatable: MAD = 0
    assert not drifted(history, 0.0125, uncertainty=0.002)[0]
    assert drifted(history, 0.0250, uncertainty=0.002)[0]


def test_slower_needs_both_ratio_and_absolute_increase() -> None:
    assert slower([1.4, 1.5, 1.45, 1.42], 6.0)
    assert not slower([1.4, 1.5, 1.45, 1.42], 1.9)  # +0.45 s: within the absolute floor
    assert not slower([0.01, 0.012, 0.011], 0.5)  # 45x but half a second: scheduler noise
    assert not slower([20.0, 21.0, 20.5], 22.0)


def test_clean_history_gives_no_finding(make_run, db) -> None:
    url, engine = db
    _history(make_run, engine)
    tonight = make_run(started=T0 + timedelta(days=9), seed=99)
    store_run_data(engine, load_run(tonight))
    comparison = compare_with_history(engine, tonight.name)
    assert len(comparison.earlier_runs) == 8
    assert comparison.findings == []


def test_planted_current_drift_is_flagged_and_nightly_exits_nonzero(make_run, db, capsys) -> None:
    url, engine = db
    _history(make_run, engine)
    # +8 %: every point still inside the 1.5 mA limit, so only the trend can see it
    tonight = make_run(started=T0 + timedelta(days=9), seed=99, current_scale=1.08)
    assert finalize_run(tonight, db_url=url, nightly=True) == 1
    out = capsys.readouterr().out
    assert out.count("REGRESSION drift: quiescent_current") == 10
    assert "reply_latency" not in out and "new_failure" not in out
    html = (tonight / "report.html").read_text()
    assert "Regressions and evidence problems" in html and "moved" in html


def test_clean_nightly_run_exits_zero(make_run, db, capsys) -> None:
    url, engine = db
    _history(make_run, engine)
    tonight = make_run(started=T0 + timedelta(days=9), seed=99)
    assert finalize_run(tonight, db_url=url, nightly=True) == 0
    assert "Compared with 8 earlier run(s) on rig sim" in capsys.readouterr().out


def test_newly_failing_requirement_and_slower_test_are_flagged(make_run, db) -> None:
    url, engine = db
    _history(make_run, engine)
    tonight = make_run(started=T0 + timedelta(days=9), seed=99, fail_led=True, slow_test_s=6.0)
    store_run_data(engine, load_run(tonight))
    findings = compare_with_history(engine, tonight.name).findings
    assert [(f.kind, f.subject) for f in findings] == [
        ("new_failure", "UI-LED"),
        ("slower", "testcases/test_link.py::test_reply_window[300]"),
    ]
    assert "was pass in" in findings[0].detail


def test_a_known_failure_is_not_new(make_run, db) -> None:
    url, engine = db
    _history(make_run, engine, nights=4, fail_led=True)
    tonight = make_run(started=T0 + timedelta(days=9), seed=99, fail_led=True)
    store_run_data(engine, load_run(tonight))
    assert compare_with_history(engine, tonight.name).findings == []


def test_runs_with_seeded_faults_are_not_a_baseline_for_clean_runs(make_run, db) -> None:
    url, engine = db
    _history(make_run, engine, nights=5, current_scale=1.3, faults=("two_unit_loads",))
    tonight = make_run(started=T0 + timedelta(days=9), seed=99)
    store_run_data(engine, load_run(tonight))
    assert compare_with_history(engine, tonight.name).earlier_runs == []


def test_other_rigs_are_not_compared(make_run, db) -> None:
    url, engine = db
    _history(make_run, engine, nights=5, rig="lab2", current_scale=1.3)
    tonight = make_run(started=T0 + timedelta(days=9), seed=99, rig="sim")
    store_run_data(engine, load_run(tonight))
    assert compare_with_history(engine, tonight.name).earlier_runs == []


def test_trend_command_prints_history_flags_drift_and_plots(make_run, db, tmp_path, capsys) -> None:
    url, engine = db
    _history(make_run, engine, nights=6)
    store_run_data(
        engine, load_run(make_run(started=T0 + timedelta(days=9), seed=99, latency_offset_s=0.030))
    )
    plot = tmp_path / "latency.png"
    status = main(["trend", "--db", url, "--measurement", "reply_latency", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert status == 1
    assert "reply_latency [baud=2400] (s), 7 run(s)" in out
    assert "drift: DRIFT: latest 42" in out  # 12 ms + 30 ms
    assert out.count("\n  20261101-020000-sim") == 2  # the oldest run, once per baud series
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_trend_command_is_quiet_on_a_clean_history(make_run, db, capsys) -> None:
    url, engine = db
    _history(make_run, engine, nights=6)
    assert main(["trend", "--db", url, "--rig", "sim"]) == 0
    out = capsys.readouterr().out
    assert "DRIFT" not in out and " ok" in out and "no regression" in out


def test_trend_command_errors_are_clear(tmp_path, capsys) -> None:
    assert main(["trend", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no results database" in capsys.readouterr().err
    assert main(["trend", "--plot", str(tmp_path / "x.png")]) == 2
    assert "--plot needs --measurement" in capsys.readouterr().err
    assert main(["trend", "--db", "nosuchdialect://x/y"]) == 2
    err = capsys.readouterr().err
    assert "not usable" in err and "Traceback" not in err


def test_policy_threshold_is_respected() -> None:
    history = [1.0, 1.02, 0.98, 1.01, 0.99]
    assert drifted(history, 1.1, policy=TrendPolicy(k=4))[0]
    assert not drifted(history, 1.1, policy=TrendPolicy(k=10))[0]


def _store_measurements(engine: Engine, day: int, measurements: list[Measurement]) -> str:
    started = T0 + timedelta(days=day)
    info = RunInfo(
        run_id=f"{started:%Y%m%d-%H%M%S}-sim",
        started=started.isoformat(),
        rig=RigInfo(name="sim", file="rigs/sim.yaml", simulated=True),
        harness_version="0.1.0",
    )
    # a run that executed no test is no trend baseline: these runs executed one
    executed = evidence.TestResult(nodeid="t::x", outcome="passed", duration_s=1.0)
    store_run(engine, info, [executed], measurements, {})
    return info.run_id


def _m(
    name: str, value: float, *, low: float | None = None, high: float | None = None, **conditions: object
) -> Measurement:
    return Measurement(
        test="t::x",
        name=name,
        value=value,
        unit="s",
        low=low,
        high=high,
        verdict="pass",
        timestamp=T0.isoformat(),
        conditions=conditions,
    )


def test_observed_durations_in_the_conditions_do_not_split_a_series(db) -> None:
    url, engine = db
    rnd = random.Random(3)
    for day in range(6):
        _store_measurements(
            engine,
            day,
            [
                _m(
                    "rate_detection_time",
                    5.9 + rnd.gauss(0, 0.02),
                    low=5.0,
                    high=9.0 + rnd.random(),
                    input=1,
                    read_s=1.8 + rnd.random() / 10,
                )
            ],
        )
    late = _store_measurements(
        engine, 7, [_m("rate_detection_time", 7.2, low=5.0, high=9.4, input=1, read_s=1.93)]
    )
    findings = compare_with_history(engine, late).findings
    assert [(f.kind, f.subject) for f in findings] == [("drift", "rate_detection_time [input=1]")]


def test_a_register_that_follows_the_meter_reading_is_not_drift_but_a_deviation_is(db) -> None:
    url, engine = db
    for day in range(6):
        meter_wh = 1_600_000 + day  # a quiet meter: its reading barely moves for a week
        _store_measurements(
            engine, day, [_m("register_energy", meter_wh + 1, low=meter_wh - 1, high=meter_wh + 2)]
        )
    # then 100 kWh went through the meter; the module reports it exactly: not drift
    tonight = _store_measurements(
        engine, 7, [_m("register_energy", 1_700_001, low=1_699_999, high=1_700_002)]
    )
    assert compare_with_history(engine, tonight).findings == []
    # the module now reads 30 Wh off the meter's reading: drift of the deviation
    shifted = _store_measurements(
        engine, 8, [_m("register_energy", 1_700_030, low=1_699_999, high=1_700_002)]
    )
    (finding,) = compare_with_history(engine, shifted).findings
    assert finding.kind == "drift" and "deviation from the centre of its limits" in finding.detail
