"""SI-prefixed numbers for people (report, console, trends, dashboard): ``0.00123 A`` -> ``1.23 mA``. Pure.

One rule for every place that prints a measured number: positional notation, never an exponent
(``99.99`` at two digits is ``100``, ``0.00099999 A`` is ``1 mA``); a whole dimensionless number (a register,
a count) exactly as it is; a yes/no quantity as yes or no. Shared by the evidence report, the results
store's trend findings and the dashboard, which must not import the report.
"""

from __future__ import annotations

import math

#: units that take SI prefixes; others (degC, %, counts) are printed as they are
_PREFIXABLE = {"A", "V", "s", "W", "Wh", "VA", "var", "varh", "VAh", "Hz", "Ohm", "F", "J", "bit/s", "Bd"}
_PREFIXES = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "\u00b5"), (1e-9, "n")]
#: dimensionless quantities (register values, counts): the number alone, exactly when whole
DIMENSIONLESS = {"", "1", "count", "counts"}
#: a yes/no quantity recorded as 1.0 / 0.0
BOOLEAN_UNITS = {"bool", "boolean"}
#: whole numbers are shown exactly (no prefix, no rounding) up to this magnitude
_EXACT_WHOLE_BELOW = 1e12


def plain(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits in positional notation, trailing zeros trimmed
    (``99.99, 2`` -> ``"100"``, never ``"1e+02"``)."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(x)))
    rounded = round(x, decimals)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) != math.floor(math.log10(abs(x))):
        decimals -= 1  # 99.99 rounded up to 100: one digit fewer after the point
    text = f"{round(x, decimals):.{max(decimals, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def is_whole(x: float) -> bool:
    """A finite whole number small enough to print exactly."""
    return math.isfinite(x) and abs(x) < _EXACT_WHOLE_BELOW and float(x).is_integer()


def unit_text(unit: str) -> str:
    """The unit as printed after a number: nothing for a dimensionless quantity."""
    return "" if unit in DIMENSIONLESS else unit


def _join(number: str, unit: str) -> str:
    u = unit_text(unit)
    return f"{number} {u}" if u else number


def yes_no(value: float | bool | None) -> str:
    if value is None:
        return "-"
    return "yes" if bool(value) else "no"


def _prefix_for(magnitude: float) -> tuple[float, str]:
    for factor, prefix in _PREFIXES:
        if magnitude >= factor:
            return factor, prefix
    return _PREFIXES[-1]


def display_prefix(magnitude: float, unit: str) -> tuple[float, str]:
    """Factor and SI prefix the report shows a quantity of this size in (``1.35e-3, "A"`` -> ``(1e-3, "m")``);
    ``(1.0, "")`` for units that take no prefix."""
    if unit not in _PREFIXABLE or magnitude == 0 or not math.isfinite(magnitude):
        return 1.0, ""
    return _prefix_for(abs(magnitude))


def si(value: float | None, unit: str, digits: int = 4) -> str:
    """``0.00123, "A"`` -> ``"1.23 mA"``; ``None`` -> ``"-"``; ``1.0, "bool"`` -> ``"yes"``;
    ``35012345, "1"`` -> ``"35012345"`` (a whole dimensionless number is shown exactly)."""
    if value is None:
        return "-"
    if unit in BOOLEAN_UNITS:
        return yes_no(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return _join(f"{value}", unit)
    if unit in DIMENSIONLESS and is_whole(value):
        return str(int(value))
    if unit not in _PREFIXABLE or value == 0:
        return _join(plain(value, digits), unit)
    factor, prefix = _prefix_for(abs(value))
    text = plain(value / factor, digits)
    if abs(float(text)) >= 1000 and prefix != _PREFIXES[0][1]:  # 999.97 mA rounded to 1000 mA: 1 A
        factor, prefix = _prefix_for(abs(float(text)) * factor)
        text = plain(value / factor, digits)
    return f"{text} {prefix}{unit}"
