"""The dashboard's trend plot: drawn by :mod:`harness.report.trend_plot`, the one module that draws every
trend plot (the dashboard's and ``cmi-hil trend --plot``'s), so both show the same units, limits and legend.
"""

from harness.report.trend_plot import DisplayUnit, display_unit, trend_figure, trend_png, trend_svg

__all__ = ["DisplayUnit", "display_unit", "trend_figure", "trend_png", "trend_svg"]
