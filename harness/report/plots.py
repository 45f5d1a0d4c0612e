"""Plots of the well-known measurements (names in :mod:`harness.evidence`), rendered with matplotlib's
Agg canvas to PNG bytes (no display, no pyplot global state, safe in threads).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.evidence import Measurement
from harness.mbus.timing import reply_window

#: product sheet: 1 unit load = 1.5 mA; supply 21-42 VDC
UNIT_LOAD_A = 1.5e-3
SUPPLY_RANGE_V = (21.0, 42.0)
#: product sheet: minimum detection time of a rate input
RATE_DETECTION_S = 5.0

#: the two polarities often give the same current: a small filled marker on a solid line over a large
#: hollow one on a dashed line keeps both visible where they coincide
POLARITY_STYLES: dict[str, dict[str, object]] = {
    "+": {"marker": "o", "color": "#1565c0", "linestyle": "-", "markersize": 4},
    "-": {"marker": "s", "color": "#6a1b9a", "linestyle": "--", "markersize": 9, "fillstyle": "none"},
}
_COLOR = {"pass": "#2e7d32", "fail": "#c62828", "inconclusive": "#ef6c00"}
_DPI = 110


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def _named(measurements: Iterable[Measurement], name: str) -> list[Measurement]:
    return [m for m in measurements if m.name == name and m.value is not None]


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def quiescent_current_plot(measurements: Sequence[Measurement]) -> bytes | None:
    """Bus current against supply voltage, one series per polarity, with the 1 UL limit."""
    points = _named(measurements, "quiescent_current")
    series: dict[str, list[tuple[float, float, str]]] = {}
    for m in points:
        volts = _float(m.conditions.get("supply_v"))
        if volts is None or m.value is None:
            continue
        polarity = str(m.conditions.get("polarity", "-" if volts < 0 else "+"))
        series.setdefault(polarity, []).append((abs(volts), m.value * 1e3, m.verdict))
    if not series:
        return None
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for polarity, pts in sorted(series.items(), key=lambda kv: kv[0] != "-"):  # hollow drawn first
        pts.sort()
        style = POLARITY_STYLES.get(
            polarity, {"marker": "^", "color": "#455a64", "linestyle": ":", "markersize": 5}
        )
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            linewidth=1,
            label=f"polarity {polarity}",
            **style,  # type: ignore[arg-type]
        )
        bad = [p for p in pts if p[2] != "pass"]
        if bad:
            ax.scatter(
                [p[0] for p in bad],
                [p[1] for p in bad],
                s=60,
                facecolors="none",
                edgecolors=[_COLOR[p[2]] for p in bad],
                linewidths=1.5,
                zorder=5,
            )
    highs = [m.high for m in points if m.high is not None]
    limit_ma = (min(highs) if highs else UNIT_LOAD_A) * 1e3
    ax.axhline(
        limit_ma,
        color=_COLOR["fail"],
        linestyle="--",
        linewidth=1.2,
        label=f"limit {limit_ma:g} mA (1 unit load)",
    )
    ax.axvspan(*SUPPLY_RANGE_V, color="#e8f5e9", zorder=0, label="supply range 21-42 V")
    top = max(max(p[1] for pts in series.values() for p in pts), limit_ma)
    ax.set_ylim(0, top * 1.25)
    ax.set_xlabel("supply voltage |V| (V)")
    ax.set_ylabel("bus current (mA)")
    ax.set_title("Quiescent bus current vs supply voltage")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def _by_baud(measurements: Iterable[Measurement], name: str) -> dict[int, list[Measurement]]:
    by_baud: dict[int, list[Measurement]] = {}
    for m in _named(measurements, name):
        baud = _float(m.conditions.get("baud"))
        if baud:
            by_baud.setdefault(int(baud), []).append(m)
    return by_baud


def reply_latency_plot(measurements: Sequence[Measurement]) -> bytes | None:
    """Measured reply latencies per baud rate inside the EN 13757-2 reply window (log time axis).

    ``reply_latency`` is the module's reply time on the line; where the run also recorded
    ``reply_latency_path`` (what the master saw, including USB/TCP hops), it is drawn beside it.
    """
    by_baud = _by_baud(measurements, "reply_latency")
    path_by_baud = _by_baud(measurements, "reply_latency_path")
    if not by_baud:
        return None
    bauds = sorted(by_baud)
    fig = Figure(figsize=(3.2 * len(bauds) + 0.8, 3.6), layout="constrained")
    axes = fig.subplots(1, len(bauds), squeeze=False)[0]
    for ax, baud in zip(axes, bauds, strict=True):
        lo, hi = reply_window(baud)
        ms = by_baud[baud]
        ax.axhspan(lo * 1e3, hi * 1e3, color="#e8f5e9", zorder=0)
        ax.axhline(lo * 1e3, color=_COLOR["fail"], linestyle="--", linewidth=1)
        ax.axhline(hi * 1e3, color=_COLOR["fail"], linestyle="--", linewidth=1)
        ax.text(
            0.02,
            lo * 1e3,
            f" min {lo * 1e3:.3g} ms",
            va="bottom",
            fontsize=7,
            transform=ax.get_yaxis_transform(),
        )
        ax.text(
            0.02,
            hi * 1e3,
            f" max {hi * 1e3:.4g} ms",
            va="top",
            fontsize=7,
            transform=ax.get_yaxis_transform(),
        )
        ms = [m for m in ms if m.value is not None]
        xs = list(range(1, len(ms) + 1))
        raw = [m.value * 1e3 for m in ms if m.value is not None]
        positive = [v for v in raw if v > 0] + [lo * 1e3]
        floor = min(positive) / 2  # a log axis has no zero: a value at or below 0 ms sits on its floor
        ys = [max(v, floor) for v in raw]
        ax.scatter(xs, ys, s=18, c=[_COLOR[m.verdict] for m in ms], zorder=3, label="module (line)")
        clipped = sum(v <= 0 for v in raw)
        if clipped:
            ax.text(
                0.98,
                0.02,
                f"{clipped} value(s) \u2264 0 ms drawn on the axis floor",
                ha="right",
                va="bottom",
                fontsize=6,
                transform=ax.transAxes,
            )
        path = [m.value * 1e3 for m in path_by_baud.get(baud, []) if m.value is not None and m.value > 0]
        if path:
            ax.scatter(
                [x + 0.3 for x in range(1, len(path) + 1)],  # beside its module reply, not on top of it
                path,
                s=22,
                facecolors="none",
                edgecolors="#455a64",
                linewidths=0.8,
                zorder=2,
                label="seen by master",
            )
            ax.legend(fontsize=6, loc="upper right", framealpha=0.6)
        values = ys + path + [lo * 1e3, hi * 1e3]
        ax.set_yscale("log")
        ax.set_ylim(min(values) / 2, max(values) * 2)  # every value is > 0 here
        ax.set_xlim(0, max(len(ms), len(path)) + 1)
        ax.set_title(f"{baud} Bd ({len(ms)} replies)", fontsize=10)
        ax.set_xlabel("reply #")
        ax.grid(True, alpha=0.3, which="both")
    axes[0].set_ylabel("reply latency (ms, log)")
    fig.suptitle("Reply latency vs EN 13757-2 window (11 bit times .. 330 bit times + 50 ms)", fontsize=10)
    return _png(fig)


def rate_detection_plot(measurements: Sequence[Measurement]) -> bytes | None:
    """Time from a rate-input level change to its detection, per input, against the 5 s minimum.

    Each bar carries its own acceptance window (a test's upper limit depends on its read-out time) and
    the measurement's uncertainty (the polling step) as an error bar.
    """
    points = [m for m in measurements if m.name == "rate_detection_time"]
    if not points:
        return None
    labels = []
    for m in points:
        vac = m.conditions.get("vac")
        labels.append(
            f"input {m.conditions.get('input', '?')}"
            + (f" at {vac:g} VAC" if isinstance(vac, int | float) else "")
        )
    fig = Figure(figsize=(8.0, 1.8 + 0.42 * len(points)), layout="constrained")
    ax = fig.add_subplot()
    ys = list(range(len(points)))[::-1]
    values = [m.value or 0.0 for m in points]
    ax.barh(
        ys,
        values,
        color=[_COLOR[m.verdict] for m in points],
        height=0.55,
        xerr=[m.uncertainty for m in points],
        error_kw={"elinewidth": 1, "capsize": 3},
    )
    for y, m, v in zip(ys, points, values, strict=True):
        ax.text(
            v + m.uncertainty,
            y,
            f"  {v:.2f} s" if m.value is not None else "  not detected",
            va="center",
            fontsize=8,
        )
        if m.low is not None and m.high is not None:
            ax.plot(
                [m.low, m.high], [y + 0.36, y + 0.36], color="#1565c0", linewidth=2.5, solid_capstyle="butt"
            )
    ax.plot([], [], color="#1565c0", linewidth=2.5, label="acceptance window of the test")
    ax.axvline(
        RATE_DETECTION_S,
        color="black",
        linestyle="--",
        linewidth=1.2,
        label=f"{RATE_DETECTION_S:g} s minimum detection time (product sheet)",
    )
    highs = [m.high for m in points if m.high is not None]
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_ylim(-0.7, len(points) - 0.2)
    ax.set_xlim(0, max(values + highs + [RATE_DETECTION_S]) * 1.25)
    ax.set_xlabel("time from level change to detection (s)")
    ax.set_title("Rate-input detection timeline")
    fig.legend(fontsize=7, loc="outside lower center", ncol=2)
    ax.grid(True, axis="x", alpha=0.3)
    return _png(fig)



@dataclass(frozen=True)
class ReportFigure:
    """One report figure: which measurement it shows, title, caption, PNG (None without data)."""

    measurement: str
    title: str
    caption: str
    png: bytes | None


def report_figures(measurements: Sequence[Measurement]) -> list[ReportFigure]:
    """The report's three figures, rendered once for the HTML, the PDF and the Allure attachments."""
    return [
        ReportFigure(
            "quiescent_current",
            "Quiescent bus current vs supply voltage (both polarities)",
            "Product sheet: 21-42 VDC, polarity independent, 1 unit load = 1.5 mA.",
            quiescent_current_plot(measurements),
        ),
        ReportFigure(
            "reply_latency",
            "Reply latency against the reply window per baud rate",
            "EN 13757-2: a slave answers no earlier than 11 bit times and no later than 330 bit times "
            "+ 50 ms after the end of the request.",
            reply_latency_plot(measurements),
        ),
        ReportFigure(
            "rate_detection_time",
            "Rate-input detection timeline",
            "Product sheet: minimum detection time 5 s; a level held at least 5 s is detected. Each "
            "test's acceptance window (blue) runs from that 5 s minimum to 5 s + 2 \u00d7 the read-out "
            "time of the active tariff + the rig's polling step: the change is seen at the latest by the "
            "second read-out after it.",
            rate_detection_plot(measurements),
        ),
    ]
