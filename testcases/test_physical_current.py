"""The slave's current interface (EN 13757-2:2018 4.2.2), measured with the rig's DMM in series with the bus.

Mark state current (4.2.2.2): at most the unit loads x 1.5 mA at every bus voltage of 21-42 V, both
polarities. Its variation over bus voltage (4.2.2.3) and its short-term variation at one voltage (4.2.2.4)
are judged against the device profile's ``supply.mark_current`` limits, which are assumptions until a lab
confirms them against the standard. Space state current (4.2.2.9): 11-20 mA above the mark current while
the module sends, read from a timed capture of the DMM during a reply to REQ_UD2; while a request to another
address passes and its reply window runs, the module stays at its mark current.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from fixtures.checks import StdClock, measured_supply_v, sweep_volts, time_scale
from fixtures.current import (
    account_capture,
    dmm_range,
    power_and_settle,
    reply_capture_s,
    reply_current_capture,
)
from fixtures.dut import NOMINAL_VOLTS
from harness.current_interface import difference_uncertainty_a, span_a, split_levels
from harness.expect import max_quiescent_current_a
from harness.mbus import ShortFrame, encode
from harness.mbus.model import C_FCB, C_FCV, REQ_UD2
from harness.measure import mandated_wait, measure

#: a capture whose samples spread less than this shows no sending at all (A); far below the 11 mA a space
#: must add, so a too-small space current is measured and judged, never mistaken for silence
MIN_SPACE_STEP_A = 1e-3

POLARITIES = [
    pytest.param("+", id="positive"),
    pytest.param("-", id="reversed", marks=[pytest.mark.needs("polarity")]),
]


def read_mark_current(bench: Any, station: Any, volts: float, polarity: str) -> tuple[float, float, float]:
    """Power the module at ``polarity`` ``volts``, let the supply settle (the rig's time), and read the
    supply's voltage and the bus current: (measured V, current A, its uncertainty A). The module is idle
    (nobody addresses it)."""
    power_and_settle(bench, volts, polarity)
    measured = measured_supply_v(bench, polarity)
    current_a = bench.bus_current_a()
    return measured, current_a, bench.dmm_uncertainty_a(current_a)


def judge_variation(readings: list[tuple[float, float]], limit_a: float, conditions: dict[str, Any]) -> None:
    """The spread of mark currents ``(current, uncertainty)`` against ``limit_a`` (EN 13757-2 4.2.2.3)."""
    low = min(readings)
    high = max(readings)
    measure(
        "mark_current_variation",
        span_a([current for current, _ in readings]),
        "A",
        high=limit_a,
        requirement="PL-MARK-VARIATION",
        uncertainty=difference_uncertainty_a(low[1], high[1]),
        conditions=conditions,
    )


@pytest.mark.requirement("PL-MARK-CURRENT")
@pytest.mark.requirement("PL-MARK-VARIATION")
@pytest.mark.needs("supply", "dmm")
@pytest.mark.parametrize("polarity", POLARITIES)
def test_mark_current_is_flat_over_bus_voltage(
    dut: Any, bench: Any, station: Any, suite: Any, profile: Any, polarity: str
) -> None:
    """Sweep 21-42 V: the mark current at every point is at most one unit load (4.2.2.2), and its spread
    over the sweep is within the profile's variation limit (4.2.2.3)."""
    limit_a = max_quiescent_current_a(profile)
    readings: list[tuple[float, float]] = []
    with dmm_range(bench, limit_a):
        for setpoint in sweep_volts(profile, suite.supply_step_v):
            measured, current_a, u_a = read_mark_current(bench, station, setpoint, polarity)
            readings.append((current_a, u_a))
            measure(
                "mark_current",
                current_a,
                "A",
                high=limit_a,
                requirement="PL-MARK-CURRENT",
                uncertainty=u_a,
                conditions={"supply_v": round(measured, 4), "setpoint_v": setpoint, "polarity": polarity},
                defer=True,
            )
    limits = profile.supply.mark_current
    judge_variation(readings, limits.max_variation_ua * 1e-6, {"polarity": polarity, "points": len(readings)})


@pytest.mark.requirement("PL-MARK-VARIATION")
@pytest.mark.needs("supply", "dmm", "polarity")
def test_mark_current_is_the_same_in_both_polarities(
    dut: Any, bench: Any, station: Any, profile: Any
) -> None:
    """At the ends and the middle of the range, in both polarities: a polarity-independent slave draws the
    same mark current either way round (4.2.2.3 over the whole bus voltage range, product sheet
    'independent of wiring polarity')."""
    supply = profile.supply
    points = (supply.min_volts, NOMINAL_VOLTS, supply.max_volts)
    readings: list[tuple[float, float]] = []
    with dmm_range(bench, max_quiescent_current_a(profile)):
        for polarity in ("+", "-"):
            for volts in points:
                _, current_a, u_a = read_mark_current(bench, station, volts, polarity)
                readings.append((current_a, u_a))
    judge_variation(
        readings,
        supply.mark_current.max_variation_ua * 1e-6,
        {"polarity": "both", "setpoints_v": "/".join(f"{v:g}" for v in points)},
    )


@pytest.mark.requirement("PL-MARK-SHORT-TERM")
@pytest.mark.needs("supply", "dmm")
@pytest.mark.time_bound(lambda p: p.supply.mark_current.short_term_hold_s)
def test_mark_current_is_stable_over_the_hold_period(
    dut: Any, bench: Any, station: Any, profile: Any
) -> None:
    """At the nominal bus voltage, the profile's number of readings spread over its hold period: their peak
    to peak change is within the short-term variation limit (4.2.2.4)."""
    limits = profile.supply.mark_current
    step_s = limits.short_term_hold_s / (limits.short_term_readings - 1)
    readings: list[tuple[float, float]] = []
    with dmm_range(bench, max_quiescent_current_a(profile)):
        measured, current_a, u_a = read_mark_current(bench, station, NOMINAL_VOLTS, "+")
        readings.append((current_a, u_a))
        clock = StdClock(station).start()  # readings k * step after the first: the reads do not stretch it
        for k in range(1, limits.short_term_readings):
            clock.sleep_until(
                k * step_s, what=f"mark current hold, reading {k + 1} of {limits.short_term_readings}"
            )
            current_a = bench.bus_current_a()
            readings.append((current_a, bench.dmm_uncertainty_a(current_a)))
        mandated_wait("hold", limits.short_term_hold_s)  # 4.2.2.4: the hold period, whatever the reads took
    low, high = min(readings), max(readings)
    measure(
        "mark_current_short_term_variation",
        span_a([current for current, _ in readings]),
        "A",
        high=limits.max_short_term_variation_ua * 1e-6,
        uncertainty=difference_uncertainty_a(low[1], high[1]),
        conditions={
            "supply_v": round(measured, 4),
            "hold_s": limits.short_term_hold_s,
            "readings": limits.short_term_readings,
        },
    )


@pytest.mark.requirement("PL-SPACE-CURRENT")
@pytest.mark.needs("supply", "dmm", "current_sampling")
def test_space_current_while_the_module_sends(
    dut: Any, bench: Any, master: Any, station: Any, profile: Any
) -> None:
    """A timed DMM capture across a reply to REQ_UD2 shows two current levels: mark and space. The space
    level exceeds the mark level by 11-20 mA (4.2.2.9), judged with the DMM's uncertainty of both."""
    supply = profile.supply
    power_and_settle(bench, NOMINAL_VOLTS, "+")
    master.link_reset(dut.address)  # the read-out starts at telegram 1 whatever happened before
    largest_a = max_quiescent_current_a(profile) + supply.space_current_max_ma * 1e-3
    capture_s = reply_capture_s(dut.baud)
    with reply_current_capture(bench, largest_a, capture_s, time_scale(station)) as dmm:
        start = len(master.transcript)
        dmm.trigger_sampling()
        master.request_ud2(dut.address, fcb=True)
        samples = dmm.fetch_samples_a()
        account_capture(capture_s, master.transcript[start:], dut.baud)
        levels = split_levels(samples, min_step_a=MIN_SPACE_STEP_A)
        space_above_mark = levels.space_above_mark_a
        u_a = 0.0
        if levels.space_a is not None:
            u_a = difference_uncertainty_a(
                bench.dmm_uncertainty_a(levels.mark_a), bench.dmm_uncertainty_a(levels.space_a)
            )
    measure(
        "space_current_above_mark",
        space_above_mark,
        "A",
        low=supply.space_current_min_ma * 1e-3,
        high=supply.space_current_max_ma * 1e-3,
        uncertainty=u_a,
        conditions={
            "supply_v": NOMINAL_VOLTS,
            "baud": dut.baud,
            "samples": len(samples),
            "space_samples": levels.space_samples,
            "mark_a": round(levels.mark_a, 9),
            "levels": "mark and space" if levels.space_a is not None else "mark only: no space current seen",
        },
    )


def foreign_address(own: int) -> int:
    """A primary address other than the module's (1-250), for a request it must not react to."""
    return own % 250 + 1


@pytest.mark.requirement("PL-SPACE-ONLY-SENDING")
@pytest.mark.needs("supply", "dmm", "current_sampling")
def test_no_space_current_while_another_address_is_asked(
    dut: Any, bench: Any, master: Any, station: Any, profile: Any
) -> None:
    """A timed capture across a REQ_UD2 to another address and its whole reply window: the module is not
    sending, so its current stays within the mark current's short-term variation (4.2.2.9, 4.2.2.4)."""
    power_and_settle(bench, NOMINAL_VOLTS, "+")
    other = foreign_address(dut.address)
    request = encode(ShortFrame(c=REQ_UD2 | C_FCV | C_FCB, a=other))
    capture_s = reply_capture_s(dut.baud)
    mark_a = max_quiescent_current_a(profile)
    with reply_current_capture(bench, mark_a, capture_s, time_scale(station)) as dmm:
        start = len(master.transcript)
        dmm.trigger_sampling()
        master.send_raw(request, expect="silence")
        samples = dmm.fetch_samples_a()
        account_capture(capture_s, master.transcript[start:], dut.baud)
        overloaded = sum(1 for sample in samples if math.isinf(sample))
        finite = [sample for sample in samples if not math.isinf(sample)]
        span = span_a(finite) if finite and not overloaded else None  # an overload is no mark current
        u_a = difference_uncertainty_a(
            bench.dmm_uncertainty_a(max(finite, default=0.0)),
            bench.dmm_uncertainty_a(min(finite, default=0.0)),
        )
        range_a = dmm.range_a
    measure(
        "current_span_while_silent",
        span,
        "A",
        high=profile.supply.mark_current.max_short_term_variation_ua * 1e-6,
        uncertainty=u_a,
        conditions={
            "supply_v": NOMINAL_VOLTS,
            "request_to": other,
            "samples": len(samples),
            "overloaded_samples": overloaded,
            "range_a": range_a,
        },
    )
