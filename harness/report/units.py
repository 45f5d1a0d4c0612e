"""Readable numbers for the report: SI prefixes, limits and margins. Pure functions."""

from __future__ import annotations

import math

from harness.evidence import Measurement

#: units that take SI prefixes; others (degC, %, counts) are printed as they are
_PREFIXABLE = {"A", "V", "s", "W", "Wh", "VA", "var", "varh", "VAh", "Hz", "Ohm", "F", "J", "bit/s", "Bd"}
_PREFIXES = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "\u00b5"), (1e-9, "n")]


def si(value: float | None, unit: str, digits: int = 4) -> str:
    """``0.00123, "A"`` -> ``"1.23 mA"``; ``None`` -> ``"-"``."""
    if value is None:
        return "-"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return f"{value} {unit}".strip()
    if unit not in _PREFIXABLE or value == 0:
        return f"{value:.{digits}g} {unit}".strip()
    magnitude = abs(value)
    for factor, prefix in _PREFIXES:
        if magnitude >= factor * 0.9995:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    factor, prefix = _PREFIXES[-1]
    return f"{value / factor:.{digits}g} {prefix}{unit}"


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
