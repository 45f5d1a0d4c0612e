"""The slave's current interface as a bench measures it (EN 13757-2:2018 4.2.2): pure rules, no I/O.

A slave signals to the master by its current: in the mark state (idle, logical 1) it draws a constant mark
current of at most its unit loads x 1.5 mA (4.2.2.2), flat over bus voltage (4.2.2.3) and over time
(4.2.2.4); each space (logical 0) it sends adds the space current, 11-20 mA (4.2.2.9). These functions turn
DMM readings into the quantities those clauses judge; the limits come from the device profile
(:class:`harness.profile.Supply`) and the uncertainties from the rig's DMM budget.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def span_a(readings_a: Sequence[float]) -> float:
    """Largest minus smallest reading (A): the variation over a sweep or peak to peak over a hold."""
    if not readings_a:
        raise ValueError("no readings: a variation needs at least one reading")
    return max(readings_a) - min(readings_a)


def difference_uncertainty_a(u_first_a: float, u_second_a: float) -> float:
    """Uncertainty of the difference of two readings (A): the two budgets added (worst case, no coverage
    factor), as the decision rule of the report states for every value +/- U."""
    return abs(u_first_a) + abs(u_second_a)


def fitting_range_a(ranges_a: Sequence[float], largest_a: float) -> float:
    """The smallest DMM range that reads ``largest_a`` without entering over-range (range >= value).

    The mark current is read on the range that just holds its limit (10 mA for 1.5 mA on the usual
    range sets), where the range part of the DMM's accuracy is ten times smaller than on 100 mA.
    """
    fitting = sorted(r for r in ranges_a if r >= largest_a)
    if not fitting:
        listed = ", ".join(f"{r:g}" for r in ranges_a)
        raise ValueError(f"no DC current range of the DMM reads {largest_a:g} A (ranges: {listed})")
    return fitting[0]


@dataclass(frozen=True)
class CurrentLevels:
    """Mark and space levels found in a capture of bus current samples (A)."""

    mark_a: float
    space_a: float | None  #: None when the capture holds one level only (nothing was sent)
    mark_samples: int
    space_samples: int

    @property
    def space_above_mark_a(self) -> float | None:
        """The space current as EN 13757-2:2018 4.2.2.9 defines it: space level minus mark level."""
        return None if self.space_a is None else self.space_a - self.mark_a


def split_levels(samples_a: Sequence[float], *, min_step_a: float) -> CurrentLevels:
    """Split a capture into its two current levels: a two-means split of the samples, each level the
    median of its group (robust against samples whose integration straddled a bit edge).

    ``min_step_a``: a capture whose samples spread less than this is one level (mark only): the step
    a sending slave makes is then not there at all. It must be far below the smallest space current
    the judge looks for, so that a too-small space current is measured, not mistaken for silence.
    """
    finite = [s for s in samples_a if s == s and abs(s) != float("inf")]
    if len(finite) < 2:
        raise ValueError(f"a capture needs at least 2 finite samples, got {len(finite)} of {len(samples_a)}")
    low, high = min(finite), max(finite)
    if high - low < min_step_a:
        return CurrentLevels(statistics.median(finite), None, len(finite), 0)
    threshold = (low + high) / 2
    for _ in range(50):  # Lloyd's iteration in one dimension converges in a few steps
        lower = [s for s in finite if s <= threshold]
        upper = [s for s in finite if s > threshold]
        new = (statistics.fmean(lower) + statistics.fmean(upper)) / 2
        if new == threshold:
            break
        threshold = new
    lower = [s for s in finite if s <= threshold]
    upper = [s for s in finite if s > threshold]
    return CurrentLevels(statistics.median(lower), statistics.median(upper), len(lower), len(upper))
