"""The one trend plot (harness.report.trend_plot) behind the dashboard and `cmi-hil trend --plot`: rendered
to SVG and read back as text a reviewer would read it (axis unit, limit line, one legend entry per series),
with no warning on the console."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from harness.cli import main
from harness.dashboard import plots as dashboard_plots
from harness.report import trend_plot
from harness.results import Series, open_db
from harness.results.trend import SeriesPoint

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
#: product sheet: 1 unit load = 1.5 mA
UNIT_LOAD_A = 1.5e-3


def _series(
    conditions: str, unit: str, values: list[float], limits: tuple[float | None, float | None]
) -> Series:
    s = Series("quiescent_current", conditions, unit)
    for i, v in enumerate(values):
        verdict = "fail" if limits[1] is not None and v > limits[1] else "pass"
        s.points.append(
            SeriesPoint(
                f"run{i}", f"2026-11-2{i}T02:00:00+00:00", "sim", [v, v * 1.01], [verdict], limits=[limits]
            )
        )
    return s


def svg_texts(svg: str) -> list[str]:
    """The text a reader sees in an SVG rendered with ``svg.fonttype: none`` (one string per element)."""
    return [unescape(t).strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.DOTALL)]


def legend_entries(svg: str) -> list[str]:
    """Legend texts: matplotlib groups the legend in ``<g id="legend_1">``."""
    start = svg.find('<g id="legend_1">')
    assert start != -1, "no legend in the SVG"
    depth, pos = 0, start
    for tag in re.finditer(r"<(/?)g\b[^>]*?(/?)>", svg[start:]):
        if tag.group(2):
            continue
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            pos = start + tag.end()
            break
    return svg_texts(svg[start:pos])


def _render(series: list[Series]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a matplotlib warning (layout, glyph, font) fails the test
        svg = trend_plot.trend_svg("quiescent_current", series)
    assert svg is not None
    return svg


def test_a_current_trend_reads_in_milliamperes_with_one_limit_line_and_one_entry_per_series() -> None:
    plus = _series('{"supply_v":21.0,"polarity":"+"}', "A", [1.31e-3, 1.33e-3, 1.6e-3], (None, UNIT_LOAD_A))
    minus = _series('{"supply_v":21.0,"polarity":"-"}', "A", [1.32e-3, 1.34e-3, 1.35e-3], (None, UNIT_LOAD_A))
    svg = _render([plus, minus])
    texts = svg_texts(svg)
    assert "quiescent_current (mA)" in texts  # the report's unit, not A
    assert not any(t.endswith("(A)") or t.endswith(" A") for t in texts)
    entries = legend_entries(svg)
    assert entries == [
        "supply_v=21.0, polarity=+",
        "supply_v=21.0, polarity=-",
        "upper limit 1.5 mA",
        "run with a failing sample",
    ]
    assert all(n == 1 for n in Counter(entries).values())


def test_a_plain_number_trend_has_no_unit_one_and_per_series_limits_get_one_entry() -> None:
    a = _series('{"baud":2400}', "1", [3.0, 4.0], (None, 5.0))
    b = _series('{"baud":300}', "1", [3.0, 4.0], (None, 6.0))
    svg = _render([a, b])
    texts = svg_texts(svg)
    assert "quiescent_current" in texts and not any(t.endswith(" 1") or "(1)" in t for t in texts)
    assert legend_entries(svg) == [
        "baud=2400",
        "baud=300",
        "limits of each run (dashed, colour of the series)",
    ]


def test_the_legend_check_sees_a_duplicated_entry() -> None:
    """The check above is not vacuous: a figure that labels a series twice shows two equal entries."""
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [1, 2], label="supply_v=21.0")
    ax.plot([0, 1], [1, 2.1], label="supply_v=21.0")
    ax.legend()
    import io

    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg")
    entries = legend_entries(buf.getvalue())
    assert Counter(entries)["supply_v=21.0"] == 2


def test_the_dashboard_draws_with_the_same_module() -> None:
    assert dashboard_plots.trend_figure is trend_plot.trend_figure
    assert dashboard_plots.trend_png is trend_plot.trend_png


def test_cmi_hil_trend_writes_the_same_svg(
    make_run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.report import load_run, store_run_data

    url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    engine = open_db(url)
    try:
        for night in range(2):
            store_run_data(engine, load_run(make_run(started=T0 + timedelta(days=night), seed=night)))
    finally:
        engine.dispose()
    out = tmp_path / "plots" / "quiescent.svg"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        main(["trend", "--db", url, "--measurement", "quiescent_current", "--plot", str(out)])
    assert f"plot: {out}" in capsys.readouterr().out
    svg = out.read_text()
    assert "quiescent_current (mA)" in svg_texts(svg)
    entries = legend_entries(svg)
    assert entries and all(n == 1 for n in Counter(entries).values())
    assert any(e.startswith("upper limit") and e.endswith("mA") for e in entries)
