"""Rate inputs (product sheet: up to 4; low < 24 VAC, high > 24 VAC, max 230 VAC, minimum detection time
5 s): threshold on each input, detection time measured against the limit, short pulses ignored, 230 VAC
withstood and detected, the active tariff in the telegram following the oracle's mapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fixtures.checks import StdClock, expected_tariff, read_registers, wait_std
from harness.measure import measure

#: margin around the threshold for "clearly low" / "clearly high" levels (VAC)
THRESHOLD_MARGIN_VAC = 4.0
#: a glitch lasts this fraction of the minimum detection time
GLITCH_FRACTION = 0.6
#: the read that must not yet see a level ends this long (standard s) before the detection time
EARLY_READ_MARGIN_S = 1.0

pytestmark = pytest.mark.needs("ac_source")


@pytest.fixture
def inputs(dut: Any, bench: Any, station: Any, profile: Any) -> Iterator[Any]:
    """Rate inputs off at the start; afterwards off again and held off for the detection time, so the
    module's detected levels are low for the next test (they change only after the detection time too)."""
    bench.clear_rate_inputs()
    try:
        yield bench
    finally:
        bench.clear_rate_inputs()
        wait_std(
            station,
            profile.rate_inputs.detection_time_s + station.rig.uncertainty.rate_poll_step_s,
            mandated="detection",
        )


def _tariff(master: Any, dut: Any, profile: Any) -> int:
    return int(read_registers(master, dut.address, profile)["active_tariff"])


def _levels(count: int, high: set[int]) -> list[bool]:
    return [i + 1 in high for i in range(count)]


def _read_duration(master: Any, dut: Any, profile: Any, station: Any) -> tuple[int, float]:
    clock = StdClock(station).start()
    tariff = _tariff(master, dut, profile)
    return tariff, clock.elapsed()


INPUTS = [1, 2, 3, 4]


@pytest.mark.requirement("RI-THRESHOLD")
def test_levels_below_threshold_are_not_detected(
    dut: Any, master: Any, inputs: Any, station: Any, profile: Any, oracle: Any
) -> None:
    ri = profile.rate_inputs
    low_vac = ri.threshold_vac - THRESHOLD_MARGIN_VAC
    for index in range(1, ri.count + 1):  # one AC source: every input at the same low level
        inputs.set_rate_input(index, low_vac)
    wait_std(station, ri.detection_time_s + station.rig.uncertainty.rate_poll_step_s, mandated="detection")
    tariff = _tariff(master, dut, profile)
    expected = expected_tariff(oracle, profile, _levels(ri.count, set()))
    assert tariff == expected, (
        f"{low_vac:g} VAC (below the {ri.threshold_vac:g} VAC threshold) on every input for "
        f"{ri.detection_time_s:g} s changed the active tariff to {tariff}; expected {expected}"
    )


@pytest.mark.requirement("RI-THRESHOLD", "RI-DETECT-TIME", "RI-TARIFF")
@pytest.mark.parametrize("index", INPUTS)
def test_level_above_threshold_is_detected_after_the_detection_time(
    dut: Any, master: Any, inputs: Any, station: Any, profile: Any, oracle: Any, index: int
) -> None:
    ri = profile.rate_inputs
    if index > ri.count:
        pytest.skip(f"the device profile has {ri.count} rate inputs")
    detection = ri.detection_time_s
    idle, read_s = _read_duration(master, dut, profile, station)
    expected = expected_tariff(oracle, profile, _levels(ri.count, {index}))
    assert idle == expected_tariff(oracle, profile, _levels(ri.count, set()))
    high_vac = ri.threshold_vac + THRESHOLD_MARGIN_VAC
    clock = StdClock(station).start()
    inputs.set_rate_input(index, high_vac)
    clock.sleep_until(detection - EARLY_READ_MARGIN_S - read_s, mandated="detection")
    early = _tariff(master, dut, profile)
    early_at = clock.elapsed()
    # polling: each read brackets the detection instant; allow two reads beyond the detection time
    deadline = detection + 2 * read_s + station.rig.uncertainty.rate_poll_step_s
    tariff, seen_at = early, early_at
    while tariff == idle and seen_at < 2 * deadline:
        tariff = _tariff(master, dut, profile)
        seen_at = clock.elapsed()
    mandated_detection = min(seen_at, deadline) - early_at
    if mandated_detection > 0:
        from harness.measure import mandated_wait

        mandated_wait("detection", mandated_detection)
    measure(
        "rate_detection_time",
        seen_at if tariff != idle else None,
        "s",
        low=detection,
        high=deadline,
        uncertainty=station.rig.uncertainty.rate_poll_step_s,
        requirement="RI-DETECT-TIME",
        conditions={"input": index, "vac": high_vac, "read_s": round(read_s, 3)},
    )
    assert early == idle, (
        f"input {index} was detected {early_at:.2f} s after {high_vac:g} VAC, before {detection:g} s"
    )
    assert tariff == expected, (
        f"{high_vac:g} VAC on input {index}: active tariff {tariff}, the oracle expects {expected}"
    )


@pytest.mark.requirement("RI-GLITCH")
def test_pulse_shorter_than_detection_time_is_ignored(
    dut: Any, master: Any, inputs: Any, station: Any, profile: Any, oracle: Any
) -> None:
    ri = profile.rate_inputs
    idle, read_s = _read_duration(master, dut, profile, station)
    pulse_s = GLITCH_FRACTION * ri.detection_time_s
    high_vac = ri.threshold_vac + THRESHOLD_MARGIN_VAC
    clock = StdClock(station).start()
    for index in range(1, ri.count + 1):
        inputs.set_rate_input(index, high_vac)
    clock.sleep_until(pulse_s - read_s, mandated="detection")
    during = _tariff(master, dut, profile)  # the read's telegram is taken before the pulse ends
    inputs.clear_rate_inputs()
    pulse = clock.elapsed()
    wait_std(station, ri.detection_time_s + station.rig.uncertainty.rate_poll_step_s, mandated="detection")
    after = _tariff(master, dut, profile)
    assert pulse < ri.detection_time_s, f"the pulse lasted {pulse:.2f} s: too long to test glitch rejection"
    assert during == idle, f"a {pulse_s:g} s pulse was detected while applied (tariff {during}, idle {idle})"
    assert after == idle, f"a {pulse:.2f} s pulse changed the tariff to {after} after it ended (idle {idle})"


@pytest.mark.requirement("RI-MAX-VOLTAGE")
@pytest.mark.needs("mains")
def test_230_vac_is_withstood_and_detected(
    dut: Any, master: Any, inputs: Any, station: Any, profile: Any, oracle: Any
) -> None:
    ri = profile.rate_inputs
    mains = [i for i, w in sorted(station.rig.wiring.rate_inputs.items()) if w.mains]
    index = mains[0]
    settle = ri.detection_time_s + station.rig.uncertainty.rate_poll_step_s
    inputs.set_rate_input(index, ri.max_vac)
    wait_std(station, settle, mandated="detection")
    tariff = _tariff(master, dut, profile)
    expected = expected_tariff(oracle, profile, _levels(ri.count, {index}))
    assert tariff == expected, f"{ri.max_vac:g} VAC on input {index}: tariff {tariff}, expected {expected}"
    inputs.clear_rate_inputs()
    wait_std(station, settle, mandated="detection")
    inputs.set_rate_input(index, ri.threshold_vac + THRESHOLD_MARGIN_VAC)  # the input still works afterwards
    wait_std(station, settle, mandated="detection")
    tariff = _tariff(master, dut, profile)
    assert tariff == expected, f"input {index} no longer detects a high level after {ri.max_vac:g} VAC"
