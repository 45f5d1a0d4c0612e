"""The plan of the RI-THRESHOLD-FROM-ABOVE test (testcases/test_boundaries.py): the orders a module may detect
inputs in, and the input raised ahead of the others so that one telegram shows every input high and any input
left high after the step down."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from fixtures import checks
from fixtures.rate_inputs import BenchRateInputs
from harness.profile import DeviceProfile, TariffRule, load_profile
from testcases.test_boundaries import _detection_orders, _lead_input


def _with_rules(profile: DeviceProfile, *rules: tuple[str, int]) -> DeviceProfile:
    ri = profile.rate_inputs.model_copy(
        update={"tariff_rules": [TariffRule(inputs=p, tariff=t) for p, t in rules]}
    )
    return profile.model_copy(update={"rate_inputs": ri})


def test_detection_orders_are_every_ordered_partition_of_the_inputs() -> None:
    assert list(_detection_orders([])) == [[]]
    assert sorted(map(tuple, _detection_orders([1, 2])), key=len) == [
        (frozenset({1, 2}),),
        (frozenset({1}), frozenset({1, 2})),
        (frozenset({2}), frozenset({1, 2})),
    ]
    three = [tuple(s) for s in _detection_orders([1, 2, 3])]
    assert len(three) == len(set(three)) == 13  # ordered partitions of three inputs (Fubini number)
    assert all(s[-1] == frozenset({1, 2, 3}) for s in three)


def test_the_lead_is_the_input_whose_rate_no_later_detection_changes() -> None:
    # inputs 1+2 select rate 6, which the 5-rate meter refuses: raised first, inputs 1, 2 or 3 leave the rate
    # with every input high to the order of the others; input 4 (rate 5) masks them all
    assert _lead_input(load_profile()) == (4, 5)


def test_no_lead_when_the_inputs_high_or_one_left_high_would_not_show() -> None:
    profile = load_profile()
    # only input 1 selects a rate: input 2 stuck high after the step down reads as idle
    assert _lead_input(_with_rules(profile, ("1xxx", 2))) is None
    # input 4 masks the others and selects the idle rate: every input high reads as idle
    assert _lead_input(_with_rules(profile, ("xxx1", 1), ("xx1x", 4), ("x1xx", 3), ("1xxx", 2))) is None
    # every input shows, whatever else is high: a lead is found again
    assert _lead_input(_with_rules(profile, ("xxx1", 5), ("xx1x", 4), ("x1xx", 3), ("1xxx", 2))) == (1, 5)


class _Bench:
    """The rate-input calls a bench receives."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def set_rate_input(self, index: int, vac: float) -> None:
        self.calls.append(("set", str(index), f"{vac:g}"))

    def set_rate_input_level(self, vac: float) -> None:
        self.calls.append(("level", f"{vac:g}"))

    def clear_rate_inputs(self) -> None:
        self.calls.append(("clear",))


@pytest.fixture
def inputs(monkeypatch: pytest.MonkeyPatch) -> tuple[BenchRateInputs, list[float]]:
    waits: list[float] = []
    monkeypatch.setattr(checks, "_sleep_std", lambda station, seconds, what, mandated: waits.append(seconds))
    station: Any = SimpleNamespace(
        state=SimpleNamespace(time_scale=1.0),
        rig=SimpleNamespace(uncertainty=SimpleNamespace(rate_poll_step_s=0.5)),
    )
    return BenchRateInputs(_Bench(), station, load_profile()), waits


def test_inputs_stepped_down_and_seen_low_at_that_level_need_no_settling(
    inputs: tuple[BenchRateInputs, list[float]],
) -> None:
    rate_inputs, waits = inputs
    for index in (1, 2):
        rate_inputs.set_rate_input(index, 28.0)
    rate_inputs.set_level(23.0)
    assert rate_inputs.now_vac == {1: 23.0, 2: 23.0}
    rate_inputs.seen_low_at_present_levels()  # held low at 23 VAC: disconnecting it changes nothing
    rate_inputs.settle_low()
    assert waits == []
    assert rate_inputs.bench.calls == [("set", "1", "28"), ("set", "2", "28"), ("level", "23"), ("clear",)]


def test_a_level_still_high_or_an_input_removed_after_a_high_one_still_settles(
    inputs: tuple[BenchRateInputs, list[float]],
) -> None:
    rate_inputs, waits = inputs
    rate_inputs.set_rate_input(1, 23.0)
    rate_inputs.set_level(28.0)
    rate_inputs.seen_low_at_present_levels()  # 28 VAC is on now: whatever was read, it must settle
    rate_inputs.settle_low()
    assert waits == [5.5]
    rate_inputs.set_rate_input(1, 28.0)
    rate_inputs.set_rate_input(2, 28.0)
    rate_inputs.set_rate_input(1, 0.0)  # removed while high: the module has to take it low first
    rate_inputs.set_level(23.0)
    rate_inputs.seen_low_at_present_levels()
    rate_inputs.settle_low()
    assert waits == [5.5, 5.5]
