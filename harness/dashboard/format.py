"""How the dashboard prints numbers, durations and names: the report's rules (:mod:`harness.report.units`)
plus the few a web page needs. Pure functions, registered as Jinja2 filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.evidence import Measurement
from harness.report.units import conditions_text, limits_text, si, value_text
from harness.results.trend import conditions_label

#: verdicts and outcomes -> CSS class of their badge
_BADGE = {
    "pass": "pass",
    "passed": "pass",
    "fail": "fail",
    "failed": "fail",
    "error": "fail",
    "inconclusive": "warn",
    "incomplete": "warn",
    "skipped": "muted",
    "not run": "muted",
    "external": "muted",
}


def badge_class(verdict: str | None) -> str:
    return _BADGE.get(verdict or "", "muted")


def verdict_text(verdict: str | None) -> str:
    """What a person reads for a run verdict; a run without one has not finished (or died)."""
    return verdict if verdict else "no verdict"


def duration(seconds: float | None) -> str:
    """``1 min 05 s``, ``12.3 s``, ``-`` for unknown."""
    if seconds is None or seconds != seconds:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def short_test(nodeid: str) -> str:
    """``test_power.py::test_x[21]`` from ``testcases/test_power.py::test_x[21]``."""
    path, sep, rest = nodeid.partition("::")
    return f"{Path(path).name}{sep}{rest}"


def when(iso: str | None) -> str:
    """``2026-12-01 11:19:41`` from an ISO 8601 time (UTC as recorded)."""
    if not iso:
        return "-"
    return iso[:19].replace("T", " ")


def outcome_text(outcomes: dict[str, int]) -> str:
    order = ["passed", "failed", "error", "skipped"]
    keys = sorted(outcomes, key=lambda k: (order.index(k) if k in order else len(order), k))
    return ", ".join(f"{outcomes[k]} {k}" for k in keys) or "no test recorded"


def limit_pair_text(limits: tuple[float | None, float | None], unit: str) -> str:
    """A (low, high) pair as the report prints a measurement's limits."""
    low, high = limits
    return limits_text(
        Measurement.model_construct(low=low, high=high, unit=unit, value=None, uncertainty=0.0)
    )


FILTERS: dict[str, Any] = {
    "si": si,
    "badge": badge_class,
    "verdict_text": verdict_text,
    "duration": duration,
    "short_test": short_test,
    "when": when,
    "outcome_text": outcome_text,
    "value_text": value_text,
    "limits_text": limits_text,
    "conditions_text": conditions_text,
    "series_conditions": lambda key: conditions_label(key) or "-",
    "limit_pair_text": limit_pair_text,
}
