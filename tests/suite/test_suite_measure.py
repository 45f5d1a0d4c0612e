"""measure(): verdicts against limits and uncertainty, recording whatever the outcome, failing on fail."""

from __future__ import annotations

import pytest

from harness.evidence import Measurement
from harness.measure import MeasurementFailed, Recorder, measure, recording, verdict_of


@pytest.mark.parametrize(
    ("value", "low", "high", "u", "expected"),
    [
        (1.0, 0.0, 2.0, 0.0, "pass"),
        (2.0, 0.0, 2.0, 0.0, "pass"),  # limits are inclusive
        (2.1, 0.0, 2.0, 0.0, "fail"),
        (-0.1, 0.0, 2.0, 0.0, "fail"),
        (1.95, 0.0, 2.0, 0.1, "inconclusive"),  # value + u straddles the high limit
        (2.05, 0.0, 2.0, 0.1, "inconclusive"),  # value - u straddles it from above
        (2.2, 0.0, 2.0, 0.1, "fail"),
        (0.05, 0.0, 2.0, 0.1, "inconclusive"),
        (5.0, None, None, 0.0, "pass"),  # open limits
        (5.0, None, 4.0, 0.0, "fail"),
        (None, 0.0, 1.0, 0.0, "fail"),  # nothing measured
        (float("nan"), 0.0, 1.0, 0.0, "fail"),
    ],
)
def test_verdict_of(
    value: float | None, low: float | None, high: float | None, u: float, expected: str
) -> None:
    assert verdict_of(value, low, high, u) == expected


def test_pass_is_recorded_and_returned() -> None:
    seen: list[Measurement] = []
    rec = Recorder(test="t::x", requirements=("PS-UNIT-LOAD",), sink=seen.append)
    with recording(rec):
        m = measure(
            "quiescent_current", 0.00135, "A", high=0.0015, conditions={"supply_v": 21.0, "polarity": "+"}
        )
    assert m.verdict == "pass" and m.requirement == "PS-UNIT-LOAD" and m.test == "t::x"
    assert seen == [m] and rec.measurements == [m]
    assert m.conditions == {"supply_v": 21.0, "polarity": "+"}


def test_fail_verdict_raises_after_recording() -> None:
    seen: list[Measurement] = []
    rec = Recorder(test="t::y", sink=seen.append)
    with recording(rec), pytest.raises(MeasurementFailed) as err:
        measure("quiescent_current", 0.003, "A", high=0.0015, requirement="PS-UNIT-LOAD")
    assert seen and seen[0].verdict == "fail"
    msg = str(err.value)
    assert (
        "quiescent_current = 0.003 A" in msg and "FAIL" in msg and "PS-UNIT-LOAD" in msg and "0.0015" in msg
    )
    assert isinstance(err.value, AssertionError)  # pytest reports it as a test failure


def test_inconclusive_is_recorded_without_failing() -> None:
    rec = Recorder(test="t::z")
    with recording(rec):
        m = measure("reply_latency", 0.186, "s", low=0.0046, high=0.1875, uncertainty=0.01)
    assert m.verdict == "inconclusive" and rec.measurements == [m]


def test_deferred_fail_is_kept_for_the_end_of_the_test() -> None:
    rec = Recorder(test="t::sweep")
    with recording(rec):
        measure("quiescent_current", 0.002, "A", high=0.0015, defer=True)
        measure("quiescent_current", 0.001, "A", high=0.0015, defer=True)
    assert [m.verdict for m in rec.measurements] == ["fail", "pass"]
    assert len(rec.deferred_failures) == 1


def test_measure_outside_a_run_still_judges() -> None:
    with pytest.raises(MeasurementFailed):
        measure("x", 3.0, "V", low=0.0, high=1.0)
    assert measure("x", 0.5, "V", low=0.0, high=1.0).verdict == "pass"


def test_recorders_nest_and_restore() -> None:
    outer, inner = Recorder(test="outer"), Recorder(test="inner")
    with recording(outer):
        with recording(inner):
            measure("a", 1, "V")
        measure("b", 1, "V")
    assert [m.name for m in inner.measurements] == ["a"]
    assert [m.name for m in outer.measurements] == ["b"]
