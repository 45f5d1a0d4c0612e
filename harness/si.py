"""SI-prefixed numbers for people (report, console, trends): ``0.00123 A`` -> ``1.23 mA``. Pure.

Shared by the evidence report and the results store's trend findings, which must not import the report.
"""

from __future__ import annotations

import math

#: units that take SI prefixes; others (degC, %, counts) are printed as they are
_PREFIXABLE = {"A", "V", "s", "W", "Wh", "VA", "var", "varh", "VAh", "Hz", "Ohm", "F", "J", "bit/s", "Bd"}
_PREFIXES = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "\u00b5"), (1e-9, "n")]


def _digits(scaled: float, digits: int) -> str:
    """Significant digits without scientific notation for 1 <= |x| < 1000 (``100`` stays ``100``)."""
    whole = len(str(int(abs(scaled)))) if abs(scaled) >= 1 else 1
    return f"{scaled:.{max(digits, whole)}g}"


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
        if magnitude >= factor:
            return f"{_digits(value / factor, digits)} {prefix}{unit}"
    factor, prefix = _PREFIXES[-1]
    return f"{_digits(value / factor, digits)} {prefix}{unit}"
