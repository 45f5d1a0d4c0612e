"""The measurement API of the conformance suite.

``measure(name, value, unit, low=..., high=..., requirement=...)`` records a value with its limits and
verdict whatever the outcome (OpenHTF style: a measurement is data first), shows it in Allure as a
step with parameters, hands it to the run's evidence sink (``measurements.jsonl``, flushed as taken),
and then fails the test when the verdict is ``fail``.

Verdicts follow the architecture's uncertainty rule: the value +/- its uncertainty is compared with
the limits; entirely inside is ``pass``, entirely outside is ``fail``, straddling a limit is
``inconclusive`` (recorded, reported, does not fail the test).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.evidence import Measurement, Verdict

try:  # allure-pytest is a runtime dependency; the API still works (no steps) without it
    from allure_commons._allure import StepContext
except ImportError:  # pragma: no cover - allure is installed with the harness
    StepContext = None  # type: ignore[assignment,misc]


class MeasurementFailed(AssertionError):
    """A measurement's verdict is ``fail``: the message names the value, the limits and the requirement."""

    def __init__(self, measurement: Measurement) -> None:
        self.measurement = measurement
        super().__init__(describe(measurement))


def verdict_of(
    value: float | None, low: float | None, high: float | None, uncertainty: float = 0.0
) -> Verdict:
    """Verdict of ``value`` +/- ``uncertainty`` against the closed interval [low, high]. Pure.

    No value (nothing could be measured) is a fail; a limit of ``None`` is open on that side.
    """
    if value is None or math.isnan(value):
        return "fail"
    u = abs(uncertainty)
    if (low is not None and value + u < low) or (high is not None and value - u > high):
        return "fail"
    if (low is not None and value - u < low) or (high is not None and value + u > high):
        return "inconclusive"
    return "pass"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def describe(m: Measurement) -> str:
    """One line for logs and failure messages: value, limits, verdict, requirement."""
    limits = f"[{_fmt(m.low)}, {_fmt(m.high)}] {m.unit}"
    unc = f" +/- {m.uncertainty:.3g}" if m.uncertainty else ""
    cond = (" at " + ", ".join(f"{k}={v}" for k, v in m.conditions.items())) if m.conditions else ""
    req = f" ({m.requirement})" if m.requirement else ""
    return f"{m.name} = {_fmt(m.value)}{unc} {m.unit}{cond}: {m.verdict.upper()}, limits {limits}{req}"


@dataclass
class Recorder:
    """Collects the measurements (and mandated waits) of one test; the plugin installs one per test.

    ``sink`` receives each measurement as it is taken (the evidence writer appends and flushes it).
    """

    test: str
    requirements: tuple[str, ...] = ()
    sink: Callable[[Measurement], None] | None = None
    measurements: list[Measurement] = field(default_factory=list)
    deferred_failures: list[Measurement] = field(default_factory=list)
    mandated_waits_s: dict[str, float] = field(default_factory=dict)
    #: the part of ``mandated_waits_s`` spent on independent lanes, by (overlap group, lane)
    lane_waits_s: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, m: Measurement) -> None:
        self.measurements.append(m)
        if self.sink is not None:
            self.sink(m)

    def add_wait(self, kind: str, seconds: float, lane: str | None = None, group: str | None = None) -> None:
        self.mandated_waits_s[kind] = self.mandated_waits_s.get(kind, 0.0) + seconds
        if lane is not None:
            key = (group or self.test, lane)
            self.lane_waits_s[key] = self.lane_waits_s.get(key, 0.0) + seconds


_stack: list[Recorder] = []


def current_recorder() -> Recorder | None:
    """The recorder of the running test, or None outside a suite run."""
    return _stack[-1] if _stack else None


@contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Make ``recorder`` the target of :func:`measure` for the duration (nests; restores the previous one)."""
    _stack.append(recorder)
    try:
        yield recorder
    finally:
        _stack.remove(recorder)


def measure(
    name: str,
    value: float | None,
    unit: str,
    *,
    low: float | None = None,
    high: float | None = None,
    requirement: str | None = None,
    uncertainty: float = 0.0,
    conditions: Mapping[str, Any] | None = None,
    defer: bool = False,
) -> Measurement:
    """Record a measurement and judge it; raise :class:`MeasurementFailed` when its verdict is ``fail``.

    ``requirement`` defaults to the test's single cited requirement when it cites exactly one.
    With ``defer=True`` a fail is recorded and the test fails when it ends (so a sweep records every point).
    """
    rec = current_recorder()
    if requirement is None and rec is not None and len(rec.requirements) == 1:
        requirement = rec.requirements[0]
    m = Measurement(
        test=rec.test if rec else "",
        name=name,
        value=None if value is None else float(value),
        unit=unit,
        low=low,
        high=high,
        uncertainty=abs(uncertainty),
        verdict=verdict_of(value, low, high, uncertainty),
        requirement=requirement,
        timestamp=datetime.now(UTC).isoformat(timespec="microseconds"),
        conditions=dict(conditions or {}),
    )
    if rec is not None:
        rec.add(m)
    failed = m.verdict == "fail"
    if failed and defer and rec is not None:
        rec.deferred_failures.append(m)
        failed = False
    _allure_step(m, fail=failed)
    return m


def _allure_step(m: Measurement, *, fail: bool) -> None:
    """Show the measurement as an Allure step with its parameters; the step fails with the measurement."""
    if StepContext is None:
        if fail:
            raise MeasurementFailed(m)
        return
    params = {
        "value": _fmt(m.value),
        "unit": m.unit,
        "low": _fmt(m.low),
        "high": _fmt(m.high),
        "uncertainty": f"{m.uncertainty:.3g}",
        "verdict": m.verdict,
        "requirement": m.requirement or "-",
        **{f"condition {k}": str(v) for k, v in m.conditions.items()},
    }
    with StepContext(describe(m), params):
        if fail:
            raise MeasurementFailed(m)


#: The kinds of mandated wait the suite counts, each with what forces it. Only waits the physics, the
#: standard, the product sheet or an instrument's own manual force are counted: harness overhead (instrument
#: I/O, timeouts' allowances, settling guesses of the test) never is.
MANDATED_WAIT_KINDS: dict[str, str] = {
    "wire": "EN 13757-2 (FT1.2 8E1): 11 bit times of every character on the bus",
    "reply_window": "EN 13757-2: the minimum reply delay (11 bit times) before a reply, the whole reply "
    "window (330 bit times + 50 ms) after a request that gets none",
    "frame_idle": "IEC 60870-5-1 FT1.2 (the frames of EN 13757-2): at least 33 idle bits on the line "
    "between a reply and the next request",
    "detection": "product sheet 'minimum detection time 5 s' of the rate inputs (+ the rig's poll step)",
    "hold": "EN 13757-2:2018 4.2.2.4: the mark current is watched over the hold period "
    "(device profile supply.mark_current.short_term_hold_s)",
    "capture": "EN 13757-2 4.2.2.9 + the DMM's timed capture: it must span the longest reply frame "
    "(261 bytes) after the request, whatever the reply is; counted beyond the bus waits inside it",
    "startup": "EN 13757-2:2018 4.2.2.11 startup delay: the module's own startup time after bus power-up "
    "(device profile startup.typical_s) before it can answer",
    "meter_poll": "the module refreshes its copy of the meter's registers once per poll interval (device "
    "profile ui.meter_poll_interval_s): what it shows of the meter changes only after one interval",
    "led_observation": "the red LED's flash period (sibling CMi1020W manual, device profile "
    "ui.red_flash_period_s): steady and flashing differ only over a window of whole flash periods",
}


def mandated_wait(kind: str, seconds: float, *, lane: str | None = None, group: str | None = None) -> None:
    """Account a wait the standard or product sheet forces (in standard, unscaled seconds).

    ``kind`` is one of :data:`MANDATED_WAIT_KINDS` (e.g. ``detection``: rate-input 5 s; ``reply_window``:
    no-reply timeouts, minimum reply delays; ``wire``: character time of bytes on the bus); an unknown kind
    is a programming error (ValueError). The run reports wall time against their sum.

    ``lane`` names the independent resource the wait occupies (e.g. ``rate_input:3``: the relay card
    switches each input on its own); waits on different lanes of one overlap ``group`` (default: the
    test) may run at the same time, so the run's critical path counts only the group's longest lane
    (:func:`critical_path_s`). A wait without a lane (the bus, the supply) is on the critical path in full.
    """
    if kind not in MANDATED_WAIT_KINDS:
        raise ValueError(
            f"mandated wait kind {kind!r} is not one of {sorted(MANDATED_WAIT_KINDS)}: add it with its "
            "source to harness.measure.MANDATED_WAIT_KINDS, or do not count the wait (harness overhead)"
        )
    rec = current_recorder()
    if rec is not None:
        rec.add_wait(kind, seconds, lane, group)


def critical_path_s(total_s: float, lane_waits_s: Mapping[tuple[str, str], float]) -> float:
    """Mandated waits counted once where they may overlap: ``total_s`` (every mandated wait) less, per
    overlap group, what its lanes other than the longest one add. Pure; standard seconds."""
    groups: dict[str, list[float]] = {}
    for (group, _lane), seconds in lane_waits_s.items():
        groups.setdefault(group, []).append(seconds)
    overlapped = sum(sum(lanes) - max(lanes) for lanes in groups.values())
    return total_s - overlapped
