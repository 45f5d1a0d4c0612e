"""What a current capture shows: the emulated module's current follows the bits it sends, and the split of a
capture into mark and space levels (harness.current_interface) finds the step, too small or too large."""

from __future__ import annotations

import pytest

from harness.current_interface import (
    difference_uncertainty_a,
    fitting_range_a,
    span_a,
    split_levels,
)
from harness.emulator.clock import ScaledClock
from harness.emulator.module import Cmi1020
from harness.emulator.wire import CharFormat, Transmission
from harness.measure import verdict_of
from harness.profile import load_profile

BIT_S = 1 / 2400


def _module(*faults: str) -> Cmi1020:
    clock = ScaledClock(1.0)
    module = Cmi1020(load_profile(), index=0, ident="71234567", clock=clock, faults=frozenset(faults))
    module.set_bus_voltage(36.0, clock.now_s())
    return module


def test_the_module_draws_space_current_exactly_during_the_space_bits_it_sends() -> None:
    module = _module()
    t0 = 1000.0
    module.key_line(Transmission(b"\x00\xff", CharFormat(2400)), t0, 1.0)
    # 0x00 at 8E1: start, 8 data and parity bits are 0 (space), then the stop bit; 0xFF: start bit 0 only
    expected = [0] * 10 + [1] + [0] + [1] * 8 + [0] + [1]
    got = [module.current_a(t0 + (k + 0.5) * BIT_S) for k in range(len(expected))]
    mark, space = 1.35e-3, 1.35e-3 + 15e-3
    assert got == pytest.approx([space if bit == 0 else mark for bit in expected])
    assert module.current_a(t0 - BIT_S) == pytest.approx(mark)  # before and after the burst: mark only
    assert module.current_a(t0 + 30 * BIT_S) == pytest.approx(mark)


def test_an_unpowered_module_draws_nothing() -> None:
    module = _module()
    module.set_bus_voltage(0.0, 0.0)
    assert module.current_a(0.0) == 0.0


def test_the_slope_fault_stays_under_one_unit_load_but_is_not_flat() -> None:
    module = _module("mark_current_slope")
    at = {}
    for volts in (21.0, 42.0):
        module.set_bus_voltage(volts, 0.0)
        at[volts] = module.current_a(0.0)
    assert at[21.0] < at[42.0] <= 1.5e-3
    assert at[42.0] - at[21.0] > 500e-6


@pytest.mark.parametrize(("space_ma", "verdict"), [(15.0, "pass"), (8.0, "fail"), (24.0, "fail")])
def test_a_capture_splits_into_mark_and_space_and_the_step_is_judged(space_ma: float, verdict: str) -> None:
    mark, space = 1.35e-3, 1.35e-3 + space_ma * 1e-3
    edge = (mark + space) / 2  # a sample whose integration straddled a bit edge
    samples = [mark] * 40 + [space, space, edge, space] * 5 + [mark, edge] * 3
    levels = split_levels(samples, min_step_a=1e-3)
    assert levels.mark_a == pytest.approx(mark) and levels.space_a == pytest.approx(space)
    assert levels.space_above_mark_a == pytest.approx(space_ma * 1e-3)
    assert verdict_of(levels.space_above_mark_a, 11e-3, 20e-3, 20e-6) == verdict


def test_a_capture_of_one_level_has_no_space_level() -> None:
    levels = split_levels([1.35e-3, 1.351e-3, 1.349e-3] * 10, min_step_a=1e-3)
    assert levels.space_a is None and levels.space_above_mark_a is None and levels.space_samples == 0
    assert verdict_of(levels.space_above_mark_a, 11e-3, 20e-3) == "fail"  # nothing measured is a fail


def test_a_capture_without_finite_samples_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="at least 2 finite samples, got 1 of 3"):
        split_levels([float("inf"), 1e-3, float("nan")], min_step_a=1e-3)


def test_variation_and_its_uncertainty() -> None:
    assert span_a([1.35e-3, 1.36e-3, 1.34e-3]) == pytest.approx(20e-6)
    assert difference_uncertainty_a(1.2e-6, -1.1e-6) == pytest.approx(2.3e-6)
    with pytest.raises(ValueError, match="no readings"):
        span_a([])


def test_the_mark_current_is_read_on_the_range_that_just_holds_its_limit() -> None:
    truevolt = (100e-6, 1e-3, 10e-3, 100e-3, 1.0, 3.0)
    assert fitting_range_a(truevolt, 1.5e-3) == 10e-3
    assert fitting_range_a(truevolt, 21.5e-3) == 100e-3
    with pytest.raises(ValueError, match="no DC current range of the DMM reads 5 A"):
        fitting_range_a(truevolt, 5.0)
