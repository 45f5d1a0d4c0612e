"""The dashboard's parts on their own: the trend figure (limit line, report units), the live-run reader
(progress, current test, a run that went silent) and `cmi-hil serve`'s checks before it binds."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from harness.cli import build_parser
from harness.commands.serve import DEFAULT_HOST, port_problem
from harness.dashboard.live import STALE_AFTER_S, read_live_run, unfinished_runs
from harness.dashboard.plots import display_unit, trend_figure
from harness.results import Series
from harness.results.trend import SeriesPoint
from tests.dashboard.conftest import LIVE_CURRENT, Lab


def _series(
    name: str,
    unit: str,
    values: list[float],
    limits: tuple[float | None, float | None],
    conditions: str = '{"supply_v":24.0}',
) -> Series:
    s = Series(name, conditions, unit)
    for i, v in enumerate(values):
        s.points.append(
            SeriesPoint(f"run{i}", f"2026-11-2{i}T21:00:00+00:00", "bench-a", [v], ["pass"], limits=[limits])
        )
    return s


def _horizontal_lines(fig: object) -> list[float]:
    ax = fig.axes[0]  # type: ignore[attr-defined]
    found = []
    for line in ax.get_lines():
        ys = list(line.get_ydata())
        if len(ys) == 2 and ys[0] == ys[1] and list(line.get_xdata()) == [0, 1]:  # an axhline
            found.append(float(ys[0]))
    return found


def test_a_current_in_amperes_is_plotted_in_milliamperes_with_its_limit_line() -> None:
    fig = trend_figure(
        "quiescent_current", [_series("quiescent_current", "A", [1.2e-3, 1.25e-3], (None, 1.5e-3))]
    )
    assert fig is not None
    ax = fig.axes[0]
    assert ax.get_ylabel() == "quiescent_current (mA)"
    assert _horizontal_lines(fig) == pytest.approx([1.5])
    labels = [h.get_label() for h in ax.get_legend().legend_handles]
    assert labels == ["supply_v=24.0", "upper limit 1.5 mA"]  # one entry per series, one for the limit


def test_limits_that_differ_per_series_are_drawn_per_series() -> None:
    fast = _series("reply_latency", "s", [0.03, 0.031], (0.0046, 0.1875), '{"baud":2400}')
    slow = _series("reply_latency", "s", [0.09, 0.091], (0.0367, 1.15), '{"baud":300}')
    fig = trend_figure("reply_latency", [fast, slow])
    assert fig is not None
    ax = fig.axes[0]
    assert _horizontal_lines(fig) == []  # no single shared limit line
    segments = [seg for coll in ax.collections for seg in getattr(coll, "get_segments", list)()]
    ys = sorted({round(float(seg[0][1]), 4) for seg in segments if len(seg) == 2 and seg[0][1] == seg[1][1]})
    assert {4.6, 36.7, 187.5, 1150.0} <= set(ys)  # every limit of both series, in ms
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "reply_latency (ms, log)"
    labels = [h.get_label() for h in ax.get_legend().legend_handles]
    assert labels[:2] == ["baud=2400", "baud=300"] and len(labels) == 3


def test_no_values_no_figure() -> None:
    assert trend_figure("x", []) is None
    assert trend_figure("x", [Series("x", "{}", "A")]) is None


@pytest.mark.parametrize(
    ("unit", "values", "factor", "shown"),
    [
        ("A", [1.35e-3], 1e3, "mA"),
        ("s", [0.03, 0.2], 1e3, "ms"),
        ("s", [5.4], 1.0, "s"),
        ("Wh", [35_012_345.0], 1e-6, "MWh"),
        ("1", [35_012_345.0], 1.0, "1"),
        ("A", [0.0], 1.0, "A"),
    ],
)
def test_display_unit_follows_the_report(unit: str, values: list[float], factor: float, shown: str) -> None:
    result = display_unit(unit, values)
    assert result.factor == pytest.approx(factor) and result.unit == shown


def test_live_run_reader(lab: Lab) -> None:
    assert unfinished_runs(lab.reports) == [lab.reports / lab.live_run]
    live = read_live_run(lab.reports / lab.live_run, reports_dir=lab.reports)
    assert live is not None
    assert (live.progress.done, live.progress.total, live.progress.total_source) == (3, 5, "previous run")
    assert live.current_test == LIVE_CURRENT
    assert [m.name for m in live.last_measurements][0] == "rate_detection_time"  # newest first
    assert live.elapsed_s is not None and 60 < live.elapsed_s < 3600
    assert not live.stale


def test_a_run_silent_for_long_is_flagged_and_a_half_written_line_is_skipped(
    lab: Lab, tmp_path: Path
) -> None:
    run_dir = lab.reports / lab.live_run
    later = time.time() + STALE_AFTER_S + 60
    live = read_live_run(run_dir, reports_dir=lab.reports, now=later)
    assert live is not None and live.stale
    copy = tmp_path / lab.live_run
    copy.mkdir()
    for name in ("run.json", "tests.jsonl", "measurements.jsonl"):
        (copy / name).write_bytes((run_dir / name).read_bytes())
    with (copy / "tests.jsonl").open("a") as f:
        f.write('{"nodeid": "testcases/test_x.py::test_half", "outc')
    live = read_live_run(copy, reports_dir=tmp_path)
    assert live is not None and live.unreadable_lines == 1 and live.progress.done == 3
    assert live.progress.total is None  # no previous run here and none recorded


def test_serve_binds_to_loopback_by_default() -> None:
    args = build_parser().parse_args(["serve"])
    assert args.host == DEFAULT_HOST == "127.0.0.1"
    assert args.port == 8080


def test_serve_names_a_port_in_use_and_a_bad_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        problem = port_problem("127.0.0.1", port)
    assert problem is not None and f"port {port} on 127.0.0.1 is in use" in problem and "--port" in problem
    assert "out of range" in (port_problem("127.0.0.1", 70000) or "")
    assert "cannot be resolved" in (port_problem("no-such-host.invalid", 8080) or "")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert port_problem("127.0.0.1", port) is None


def test_serve_exits_2_with_one_line_when_the_port_is_taken(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from harness.cli import main

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the dashboard started on a busy port"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port), "--db", "nowhere.sqlite"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is in use" in err


def test_between_measurements_the_next_test_of_the_previous_run_is_expected(lab: Lab, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(lab.reports / lab.pass_run, tmp_path / lab.pass_run)
    live_dir = tmp_path / lab.live_run
    shutil.copytree(lab.reports / lab.live_run, live_dir)
    (live_dir / "measurements.jsonl").unlink()
    live = read_live_run(live_dir, reports_dir=tmp_path)
    assert live is not None and live.current_test is None
    assert live.next_expected == LIVE_CURRENT  # first test of the previous run's order not finished yet
    assert (live.progress.done, live.progress.total) == (3, 5)


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("postgresql+nosuchdriver://x/y", "is not usable"),
        ("sqlite+nosuch:///x", "sqlite3 driver only"),
        ("::not a url::/x://", "is not a SQLAlchemy URL"),
    ],
)
def test_serve_refuses_a_db_url_that_can_never_work(
    db: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert main(["serve", "--port", str(port), "--db", db]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
