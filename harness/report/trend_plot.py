"""The trend plot of one measurement across runs, drawn here for every reader: the dashboard's
``/trends/<name>/plot.png`` and ``cmi-hil trend --plot`` (PNG or SVG).

Values are shown in the unit the report prints them in (mA for a bus current, ms for a reply latency:
:func:`harness.si.display_prefix`, the report's one rule for SI prefixes). One line per series (the
measurement's set-point conditions) with whiskers from the run's smallest to its largest sample, one legend
entry per series; a limit shared by every series is one labelled line, limits that differ per series are
dashed in the series' colour with one legend entry saying so. Runs with a failing sample are ringed.

Rendered on matplotlib's Agg canvas (no display, no pyplot state: safe in the server's threads), with
constrained layout so a legend outside the axes never triggers a layout warning on the console.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from harness.results import Series
from harness.results.trend import conditions_label
from harness.si import display_prefix

_DPI = 100
_FAIL = "#c62828"
_LIMIT = "#c62828"
#: values and limits spanning more than this ratio get a log axis (as the report's reply-latency plot)
_LOG_ABOVE = 30.0
#: units that are not printed ("1" is a plain number in the evidence records)
_DIMENSIONLESS = {"", "1"}
#: x tick labels shown at most (every k-th run labelled beyond that)
_MAX_TICKS = 16


@dataclass(frozen=True)
class DisplayUnit:
    """Values are multiplied by ``factor`` and shown in ``unit`` (e.g. 1e3 and "mA" for amperes)."""

    factor: float
    unit: str


def display_unit(unit: str, magnitudes: Sequence[float]) -> DisplayUnit:
    """The SI-prefixed unit the report would print the largest of ``magnitudes`` in."""
    biggest = max((abs(v) for v in magnitudes if v == v), default=0.0)
    factor, prefix = display_prefix(biggest, unit)
    return DisplayUnit(1.0 / factor, f"{prefix}{unit}")


def _tightest(limits: Sequence[tuple[float | None, float | None]]) -> tuple[float | None, float | None]:
    lows = [lo for lo, _ in limits if lo is not None]
    highs = [hi for _, hi in limits if hi is not None]
    return (max(lows) if lows else None, min(highs) if highs else None)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def trend_png(name: str, series: Sequence[Series], *, title_suffix: str = "") -> bytes | None:
    """PNG of :func:`trend_figure`; None without data."""
    fig = trend_figure(name, series, title_suffix=title_suffix)
    if fig is None:
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def trend_svg(name: str, series: Sequence[Series], *, title_suffix: str = "") -> str | None:
    """SVG of :func:`trend_figure` with its text kept as text (legend, axis labels searchable); None
    without data."""
    fig = trend_figure(name, series, title_suffix=title_suffix)
    if fig is None:
        return None
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cmi-hil"}):
        fig.savefig(buf, format="svg")
    return buf.getvalue()


def trend_figure(name: str, series: Sequence[Series], *, title_suffix: str = "") -> Figure | None:
    """``name`` across runs (median per run, whiskers min..max of its samples); None without data."""
    series = [s for s in series if s.points]
    if not series:
        return None
    runs = sorted({(p.started, p.run_id) for s in series for p in s.points})
    x_of = {run_id: i for i, (_, run_id) in enumerate(runs)}
    unit = series[0].unit
    limits_by_series = {
        id(s): [_tightest(p.limits) for p in s.points] for s in series
    }  # per point: (low, high)
    magnitudes = [v for s in series for p in s.points for v in p.values]  # the values set the prefix,
    shown = display_unit(unit, magnitudes)  # as in the report's tables (a 1.15 s limit, a 30 ms value: ms)
    k = shown.factor

    unit_label = "" if shown.unit in _DIMENSIONLESS else shown.unit  # a plain number: no "5 1"
    distinct = {pair for lims in limits_by_series.values() for pair in lims}
    shared = len(distinct) == 1

    fig = Figure(figsize=(9.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    palette = matplotlib.colormaps["tab10" if len(series) <= 10 else "tab20"]
    colours: list[Any] = [palette(i % palette.N) for i in range(len(series))]
    handles: list[Line2D] = []
    for s, colour in zip(series, colours, strict=True):
        xs = [x_of[p.run_id] for p in s.points]
        med = [p.median * k for p in s.points]
        lo_err = [(p.median - min(p.values)) * k for p in s.points]
        hi_err = [(max(p.values) - p.median) * k for p in s.points]
        label = conditions_label(s.conditions) or s.name
        ax.errorbar(
            xs,
            med,
            yerr=[lo_err, hi_err],
            color=colour,
            marker="o",
            markersize=4,
            linewidth=1.2,
            capsize=2,
            elinewidth=0.8,
        )
        handles.append(Line2D([], [], color=colour, marker="o", markersize=4, linewidth=1.2, label=label))
        bad = [(x, y) for x, y, p in zip(xs, med, s.points, strict=True) if "fail" in p.verdicts]
        if bad:
            ax.scatter(
                [b[0] for b in bad],
                [b[1] for b in bad],
                s=70,
                facecolors="none",
                edgecolors=_FAIL,
                linewidths=1.6,
                zorder=5,
            )
        if not shared:
            for x, pair in zip(xs, limits_by_series[id(s)], strict=True):  # each run's own limits
                ys = [y * k for y in pair if y is not None]
                if ys:
                    ax.hlines(ys, x - 0.42, x + 0.42, colors=[colour], linestyles="--", linewidth=1.1)
    if shared:
        low, high = next(iter(distinct))
        for value, word in ((low, "lower"), (high, "upper")):
            if value is not None:
                ax.axhline(value * k, color=_LIMIT, linestyle="--", linewidth=1.3)
                handles.append(
                    Line2D(
                        [],
                        [],
                        color=_LIMIT,
                        linestyle="--",
                        linewidth=1.3,
                        label=f"{word} limit {_fmt(value * k)} {unit_label}".rstrip(),
                    )
                )
    elif any(v is not None for pair in distinct for v in pair):
        handles.append(
            Line2D(
                [],
                [],
                color="#555555",
                linestyle="--",
                linewidth=1.0,
                label="limits of each run (dashed, colour of the series)",
            )
        )
    if any("fail" in p.verdicts for s in series for p in s.points):
        handles.append(
            Line2D(
                [],
                [],
                color=_FAIL,
                marker="o",
                markerfacecolor="none",
                linestyle="none",
                markersize=8,
                label="run with a failing sample",
            )
        )

    step = max(1, -(-len(runs) // _MAX_TICKS))
    ticks = list(range(0, len(runs), step))
    ax.set_xticks(
        ticks, [runs[i][0][5:16].replace("T", " ") for i in ticks], rotation=45, ha="right", fontsize=7
    )
    ax.set_xlim(-0.5, len(runs) - 0.5)
    ax.set_xlabel("run start (UTC)")
    drawn = [v * k for v in magnitudes] + [v * k for pair in distinct for v in pair if v is not None]
    log = bool(drawn) and min(drawn) > 0 and max(drawn) / min(drawn) > _LOG_ABOVE
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:g}"))  # 100, not 10^2
    ax.set_ylabel(
        f"{name} ({', '.join(filter(None, [unit_label, 'log' if log else '']))})"
        if unit_label or log
        else name
    )
    ax.set_title(f"{name} across {len(runs)} run(s){title_suffix}", fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(
        handles=handles,
        fontsize=7 if len(handles) > 8 else 8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0,
    )
    return fig
