"""Readable numbers for the report: SI prefixes, limits and margins. Pure functions."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from harness.evidence import Measurement
from harness.si import si

__all__ = ["margin", "margin_percent", "si"]


def margin(m: Measurement) -> float | None:
    """Distance from the value to the nearest limit, positive inside the limits, negative outside."""
    if m.value is None:
        return None
    sides = []
    if m.low is not None:
        sides.append(m.value - m.low)
    if m.high is not None:
        sides.append(m.high - m.value)
    return min(sides) if sides else None


def margin_percent(m: Measurement) -> float | None:
    """Margin as a percentage of the limit it is measured against (of the span for a two-sided limit)."""
    mg = margin(m)
    if mg is None:
        return None
    if m.low is not None and m.high is not None and m.high != m.low:
        scale = abs(m.high - m.low)
    else:
        limit = m.low if m.low is not None else m.high
        scale = abs(limit) if limit else 0.0
    return 100.0 * mg / scale if scale else None


def limits_text(m: Measurement) -> str:
    if m.low is not None and m.high is not None:
        return f"{si(m.low, m.unit)} .. {si(m.high, m.unit)}"
    if m.low is not None:
        return f">= {si(m.low, m.unit)}"
    if m.high is not None:
        return f"<= {si(m.high, m.unit)}"
    return "-"


def value_text(m: Measurement) -> str:
    text = si(m.value, m.unit)
    if m.value is not None and m.uncertainty:
        text += f" \u00b1 {si(m.uncertainty, m.unit, 2)}"
    return text


def conditions_text(conditions: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in conditions.items())


@dataclass
class MeasurementGroup:
    """Repeated samples of one measurement (same test, name, conditions, limits) shown as one row."""

    samples: list[Measurement]

    @property
    def first(self) -> Measurement:
        return self.samples[0]

    @property
    def worst(self) -> Measurement:
        """The sample that decides the verdict: a fail, else an inconclusive, else the smallest margin."""
        rank = {"fail": 0, "inconclusive": 1, "pass": 2}

        def key(m: Measurement) -> tuple[int, float]:
            mg = margin(m)
            return rank.get(m.verdict, 2), mg if mg is not None else math.inf

        return min(self.samples, key=key)

    @property
    def verdict(self) -> str:
        return self.worst.verdict

    def values(self) -> list[float]:
        return [m.value for m in self.samples if m.value is not None]

    def value_text(self) -> str:
        values = self.values()
        if len(self.samples) == 1 or not values:
            return value_text(self.first)
        unit = self.first.unit
        lo, hi, mid = min(values), max(values), statistics.median(values)
        spread = "all equal" if lo == hi else f"{si(lo, unit)} .. {si(hi, unit)}"
        text = f"median {si(mid, unit)} ({spread})"
        if self.first.uncertainty:
            text += f", \u00b1 {si(self.first.uncertainty, unit, 2)}"
        return text


def group_measurements(measurements: list[Measurement]) -> list[MeasurementGroup]:
    """Consecutive-or-not repeats of the same measurement collapsed into groups, in first-seen order."""
    groups: dict[tuple[object, ...], MeasurementGroup] = {}
    for m in measurements:
        key = (m.test, m.name, m.unit, m.low, m.high, m.requirement, conditions_text(m.conditions))
        groups.setdefault(key, MeasurementGroup([])).samples.append(m)
    return list(groups.values())
