"""Readable numbers for the report: SI prefixes, limits and margins in the quantity's unit, counts as
integers, booleans as yes/no. Pure functions.

A measurement row is shown at one scale (one SI prefix for value, limits, margin and uncertainty) and at
the precision its evidence supports: the finer of its uncertainty and its distance to the limits, so a
register compared within 1 Wh shows every Wh and a current measured to 6 uA shows micro-amperes.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from harness.evidence import Measurement
from harness.si import (
    _PREFIXABLE,
    BOOLEAN_UNITS,
    DIMENSIONLESS,
    display_prefix,
    is_whole,
    plain,
    si,
    unit_text,
    yes_no,
)

__all__ = [
    "BOOLEAN_UNITS",
    "DIMENSIONLESS",
    "display_prefix",
    "limit_origin",
    "margin",
    "margin_percent",
    "si",
    "unit_text",
    "yes_no",
]


def _fixed(x: float, decimals: int) -> str:
    text = f"{x:.{max(decimals, 0)}f}"
    return "0" if text.strip("-0.") == "" and text.startswith("-") else text


def _positive(values: list[float | None]) -> list[float]:
    return [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]


@dataclass(frozen=True)
class Scale:
    """How one measurement row prints its numbers: one prefix, one precision, one unit."""

    unit: str
    factor: float = 1.0
    prefix: str = ""
    #: digits after the point at this scale; None: four significant digits
    decimals: int | None = None
    #: whole numbers in the base unit, exactly (registers, counts)
    exact: bool = False
    boolean: bool = False

    def text(self, x: float | None) -> str:
        """A value, margin or uncertainty at the row's scale."""
        if x is None:
            return "-"
        if self.boolean:
            return yes_no(x)
        if not math.isfinite(x):
            return f"{x} {unit_text(self.unit)}".strip()
        if self.exact and is_whole(x):
            number = str(int(x))
        elif self.decimals is not None:
            number = _fixed(x / self.factor, self.decimals)
        else:
            number = plain(x / self.factor, 4)
        return self._with_unit(number)

    def limit(self, x: float) -> str:
        """A limit at the row's prefix, with its own significant digits (4.583 ms stays 4.583 ms)."""
        if self.boolean:
            return yes_no(x)
        if self.exact and is_whole(x):
            return self._with_unit(str(int(x)))
        return self._with_unit(plain(x / self.factor, 4))

    def _with_unit(self, number: str) -> str:
        unit = unit_text(self.unit)
        return f"{number} {self.prefix}{unit}" if unit else number


def scale_for(samples: list[Measurement]) -> Scale:
    """The scale of a row of samples of one measurement (same unit and limits)."""
    first = samples[0]
    unit = first.unit
    if unit in BOOLEAN_UNITS:
        return Scale(unit, boolean=True)
    values = [m.value for m in samples if m.value is not None]
    limits = [x for x in (first.low, first.high) if x is not None]
    uncertainties = [m.uncertainty for m in samples]
    if all(is_whole(x) for x in values + limits + uncertainties) and (values or limits):
        return Scale(unit, exact=True)
    factor, prefix = 1.0, ""
    if unit in _PREFIXABLE:
        reference = _positive([statistics.median(values)] if values else []) or _positive(list(limits))
        if reference:
            factor, prefix = display_prefix(reference[0], unit)
    steps = _positive([*uncertainties, *(margin(m) for m in samples)])
    if not steps:
        return Scale(unit, factor, prefix)
    decimals = math.ceil(-math.log10(min(steps) / factor) - 1e-9)
    return Scale(unit, factor, prefix, decimals=min(max(decimals, 0), 6))


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
    """Margin as a percentage of the limit it is measured against (of the span for a two-sided limit);
    None for a yes/no quantity or an exact limit (low == high), where a percentage says nothing."""
    mg = margin(m)
    if mg is None or m.unit in BOOLEAN_UNITS:
        return None
    if m.low is not None and m.high is not None:
        scale = abs(m.high - m.low)
    else:
        limit = m.low if m.low is not None else m.high
        scale = abs(limit) if limit else 0.0
    return 100.0 * mg / scale if scale else None


def limits_text(m: Measurement, scale: Scale | None = None) -> str:
    s = scale or scale_for([m])
    if s.boolean:
        if m.low is not None and m.low > 0:
            return "must be yes"
        if m.high is not None and m.high < 1:
            return "must be no"
        return "-"
    if m.low is not None and m.high is not None:
        if m.low == m.high:
            return f"= {s.limit(m.low)} (exact)"
        return f"{s.limit(m.low)} .. {s.limit(m.high)}"
    if m.low is not None:
        return f"\u2265 {s.limit(m.low)}"
    if m.high is not None:
        return f"\u2264 {s.limit(m.high)}"
    return "-"


def value_text(m: Measurement, scale: Scale | None = None) -> str:
    s = scale or scale_for([m])
    text = s.text(m.value)
    if m.value is not None and m.uncertainty and not s.boolean:
        text += f" \u00b1 {s.text(m.uncertainty)}"
    return text


def _condition_value(value: object) -> str:
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float):
        return plain(value, 6)
    return str(value)


#: suffixes of condition names that carry the unit (``supply_v`` -> "supply 21 V")
_CONDITION_UNITS = {"_v": "V", "_vac": "VAC", "_s": "s", "_a": "A", "_ms": "ms", "_hz": "Hz"}
_CONDITION_NAMES = {"vac": "VAC", "baud": "Bd"}


def _condition(key: str, value: object) -> str:
    text = _condition_value(value)
    if key in _CONDITION_NAMES and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{text} {_CONDITION_NAMES[key]}"
    for suffix, unit in _CONDITION_UNITS.items():
        if key.endswith(suffix) and isinstance(value, int | float) and not isinstance(value, bool):
            return f"{key[: -len(suffix)].replace('_', ' ')} {text} {unit}"
    return f"{key.replace('_', ' ')} {text}"


def conditions_text(conditions: dict[str, object]) -> str:
    """``{"supply_v": 21.0, "polarity": "+"}`` -> ``"supply 21 V, polarity +"``."""
    return ", ".join(_condition(k, v) for k, v in conditions.items())


def limit_origin(m: Measurement) -> str | None:
    """Where a derived limit comes from, for the limits the suite computes rather than reads off a sheet.

    * ``rate_detection_time``: product sheet, minimum detection time 5 s; the upper limit adds two
      read-outs of the active tariff (the reading that brackets the change and the one that sees it)
      and the rig's polling step.
    * ``reply_latency``: EN 13757-2, 11 bit times .. 330 bit times + 50 ms at the baud rate.
    * ``quiescent_current``: product sheet, 1 unit load = 1.5 mA.
    """
    c = m.conditions
    if m.name == "rate_detection_time" and m.low is not None and m.high is not None:
        read_s = c.get("read_s")
        if isinstance(read_s, int | float) and abs(m.low + 2 * read_s + m.uncertainty - m.high) < 1e-3:
            return (
                f"{plain(m.low, 4)} s minimum detection time (product sheet) .. {plain(m.low, 4)} s "
                f"+ 2 \u00d7 {plain(float(read_s), 3)} s read-out + {plain(m.uncertainty, 3)} s "
                "polling step"
            )
        return f"{plain(m.low, 4)} s minimum detection time (product sheet); upper limit set by the test"
    if m.name == "reply_latency" and isinstance(c.get("baud"), int | float):
        return f"11 bit times .. 330 bit times + 50 ms at {c['baud']} Bd (EN 13757-2)"
    if m.name == "quiescent_current" and m.high is not None:
        return "1 unit load = 1.5 mA (product sheet)"
    return None


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

    @property
    def scale(self) -> Scale:
        return scale_for(self.samples)

    def values(self) -> list[float]:
        return [m.value for m in self.samples if m.value is not None]

    def value_text(self) -> str:
        values = self.values()
        s = self.scale
        if len(self.samples) == 1 or not values:
            return value_text(self.first, s)
        lo, hi, mid = min(values), max(values), statistics.median(values)
        spread = "all equal" if lo == hi else f"{s.text(lo)} .. {s.text(hi)}"
        text = f"median {s.text(mid)} ({spread})"
        if self.first.uncertainty and not s.boolean:
            text += f", \u00b1 {s.text(self.first.uncertainty)}"
        return text

    def limits_text(self) -> str:
        return limits_text(self.first, self.scale)

    def margin_text(self) -> str:
        return "-" if self.scale.boolean else self.scale.text(margin(self.worst))


def group_measurements(measurements: list[Measurement]) -> list[MeasurementGroup]:
    """Consecutive-or-not repeats of the same measurement collapsed into groups, in first-seen order."""
    groups: dict[tuple[object, ...], MeasurementGroup] = {}
    for m in measurements:
        key = (m.test, m.name, m.unit, m.low, m.high, m.requirement, conditions_text(m.conditions))
        groups.setdefault(key, MeasurementGroup([])).samples.append(m)
    return list(groups.values())
