"""Rate inputs (product sheet: up to 4; low < 24 VAC, high > 24 VAC, max 230 VAC, minimum detection time
5 s): threshold on each input, detection time measured against the limit, short pulses ignored, 230 VAC
withstood and detected, the active tariff in the telegram following the device profile's mapping."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fixtures.checks import (
    StdClock,
    approach_refused_rate,
    rate_and_status,
    read_register,
    request_refused_rate,
    wait_std,
)
from harness.expect import expected_tariff, level_high, rate_refusal, refusal_bit
from harness.measure import mandated_wait, measure

#: margin around the threshold for "clearly low" / "clearly high" levels (VAC)
THRESHOLD_MARGIN_VAC = 4.0
#: a glitch lasts this fraction of the minimum detection time
GLITCH_FRACTION = 0.6
#: the read that must not yet see a level ends this long (standard s) before the detection time
EARLY_READ_MARGIN_S = 1.0
#: timing trials before a stalled bench is reported (each costs a detection time)
TRIALS = 3

pytestmark = [
    pytest.mark.needs("ac_source"),
    # worst case: every trial applies a level, waits past detection and settles low; plus the teardown settle
    pytest.mark.time_bound(
        lambda p: (2 * TRIALS + 2) * (p.rate_inputs.detection_time_s + EARLY_READ_MARGIN_S)
    ),
]


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
            what="detection time, all inputs settling low",
        )


def _tariff(master: Any, dut: Any, profile: Any) -> int:
    return int(read_register(master, dut.address, profile, "active_tariff"))


def _levels(count: int, high: set[int]) -> list[bool]:
    return [i + 1 in high for i in range(count)]


def _read_duration(master: Any, dut: Any, profile: Any, station: Any) -> tuple[int, float]:
    """The idle tariff and the duration of one read-out (standard s): the shorter of two, so a stall of
    the bench does not stretch the polling step the detection limits are built from."""
    durations, tariff = [], 0
    for _ in range(2):
        clock = StdClock(station).start()
        tariff = _tariff(master, dut, profile)
        durations.append(clock.elapsed())
    return tariff, min(durations)


INPUTS = [1, 2, 3, 4]


@pytest.mark.requirement("RI-THRESHOLD")
def test_levels_below_threshold_are_not_detected(
    dut: Any, master: Any, inputs: Any, station: Any, profile: Any
) -> None:
    ri = profile.rate_inputs
    low_vac = ri.threshold_vac - THRESHOLD_MARGIN_VAC
    for index in range(1, ri.count + 1):  # one AC source: every input at the same low level
        inputs.set_rate_input(index, low_vac)
    wait_std(
        station,
        ri.detection_time_s + station.rig.uncertainty.rate_poll_step_s,
        mandated="detection",
        what=f"detection time, every input at {low_vac:g} VAC (below threshold)",
    )
    tariff = _tariff(master, dut, profile)
    expected = expected_tariff(profile, [level_high(profile, low_vac)] * ri.count)
    assert tariff == expected, (
        f"{low_vac:g} VAC (below the {ri.threshold_vac:g} VAC threshold) on every input for "
        f"{ri.detection_time_s:g} s changed the active tariff to {tariff}; expected {expected}"
    )


@dataclass
class DetectionTrial:
    """One application of a high level: the read that must not see it yet, and the first read that does.

    The trial is valid when the early read ended late enough to mean something but before the detection
    time, and the read that saw the level took no more than twice a normal read: otherwise the bench
    stalled and the bracket says nothing.
    """

    early: int
    early_at: float
    tariff: int
    seen_at: float
    last_read_s: float
    valid: bool


def _detection_trial(
    master: Any,
    dut: Any,
    profile: Any,
    station: Any,
    inputs: Any,
    index: int,
    vac: float,
    idle: int,
    read_s: float,
    deadline: float,
) -> DetectionTrial:
    detection = profile.rate_inputs.detection_time_s
    clock = StdClock(station).start()
    inputs.set_rate_input(index, vac)
    clock.sleep_until(
        detection - EARLY_READ_MARGIN_S - read_s,
        mandated="detection",
        what=f"detection time, input {index} at {vac:g} VAC (read before detection)",
    )
    early = _tariff(master, dut, profile)
    early_at = clock.elapsed()
    tariff, seen_at, last_read_s = early, early_at, 0.0
    while tariff == idle and seen_at < 2 * deadline:
        tariff = _tariff(master, dut, profile)
        last_read_s, seen_at = clock.elapsed() - seen_at, clock.elapsed()
    mandated_wait("detection", max(0.0, min(seen_at, deadline) - early_at))
    valid = 0.5 * detection <= early_at < detection and last_read_s <= 2 * read_s
    return DetectionTrial(early, early_at, tariff, seen_at, last_read_s, valid)


def _settle_low(inputs: Any, station: Any, profile: Any) -> None:
    inputs.clear_rate_inputs()
    wait_std(
        station,
        profile.rate_inputs.detection_time_s + station.rig.uncertainty.rate_poll_step_s,
        mandated="detection",
        what="detection time, all inputs settling low",
    )


@pytest.mark.requirement("RI-THRESHOLD", "RI-DETECT-TIME", "RI-TARIFF")
@pytest.mark.parametrize("index", INPUTS)
def test_level_above_threshold_is_detected_after_the_detection_time(
    dut: Any, master: Any, inputs: Any, station: Any, profile: Any, index: int
) -> None:
    ri = profile.rate_inputs
    if index > ri.count:
        pytest.skip(f"the device profile has {ri.count} rate inputs")
    detection = ri.detection_time_s
    idle, read_s = _read_duration(master, dut, profile, station)
    assert idle == expected_tariff(profile, _levels(ri.count, set()))
    expected = expected_tariff(profile, _levels(ri.count, {index}))
    high_vac = ri.threshold_vac + THRESHOLD_MARGIN_VAC
    # polling: each read brackets the detection instant; allow two reads beyond the detection time
    deadline = detection + 2 * read_s + station.rig.uncertainty.rate_poll_step_s
    trials = 0
    for _ in range(TRIALS):
        trials += 1
        trial = _detection_trial(
            master, dut, profile, station, inputs, index, high_vac, idle, read_s, deadline
        )
        if trial.valid:
            break
        _settle_low(inputs, station, profile)  # the bench stalled: the bracket is meaningless, try again
    else:
        pytest.fail(
            f"the bench stalled in each of {TRIALS} trials (early read at {trial.early_at:.2f} s, "
            f"last read {trial.last_read_s:.2f} s vs {read_s:.2f} s normally): detection time not measured",
            pytrace=False,
        )
    measure(
        "rate_detection_time",
        trial.seen_at if trial.tariff != idle else None,
        "s",
        low=detection,
        high=deadline,
        uncertainty=station.rig.uncertainty.rate_poll_step_s,
        requirement="RI-DETECT-TIME",
        conditions={"input": index, "vac": high_vac, "read_s": round(read_s, 3), "trials": trials},
    )
    assert trial.early == idle, (
        f"input {index} was detected {trial.early_at:.2f} s after {high_vac:g} VAC, before {detection:g} s"
    )
    assert trial.tariff == expected, (
        f"{high_vac:g} VAC on input {index}: active tariff {trial.tariff}, the profile expects {expected}"
    )


@pytest.mark.requirement("RI-GLITCH")
def test_pulse_shorter_than_detection_time_is_ignored(
    dut: Any, master: Any, inputs: Any, station: Any, profile: Any
) -> None:
    ri = profile.rate_inputs
    idle, read_s = _read_duration(master, dut, profile, station)
    pulse_s = GLITCH_FRACTION * ri.detection_time_s
    high_vac = ri.threshold_vac + THRESHOLD_MARGIN_VAC
    for _attempt in range(TRIALS):
        clock = StdClock(station).start()
        for index in range(1, ri.count + 1):
            inputs.set_rate_input(index, high_vac)
        clock.sleep_until(pulse_s - read_s, mandated="detection", what=f"{pulse_s:g} s pulse on every input")
        during = _tariff(master, dut, profile)  # the read's telegram is taken before the pulse ends
        pulse = clock.elapsed()
        _settle_low(inputs, station, profile)
        if pulse < ri.detection_time_s:
            break  # otherwise the bench stalled and the pulse was not short: try again
    else:
        pytest.fail(
            f"the bench stalled in each of {TRIALS} trials: no pulse shorter than "
            f"{ri.detection_time_s:g} s could be applied",
            pytrace=False,
        )
    after = _tariff(master, dut, profile)
    assert during == idle, f"a {pulse:.2f} s pulse was detected while applied (tariff {during}, idle {idle})"
    assert after == idle, f"a {pulse:.2f} s pulse changed the tariff to {after} after it ended (idle {idle})"


@pytest.mark.requirement("RI-MAX-VOLTAGE")
@pytest.mark.needs("mains")
def test_230_vac_is_withstood_and_detected(
    dut: Any, master: Any, inputs: Any, station: Any, profile: Any
) -> None:
    ri = profile.rate_inputs
    mains = [i for i, w in sorted(station.rig.wiring.rate_inputs.items()) if w.mains]
    index = mains[0]
    settle = ri.detection_time_s + station.rig.uncertainty.rate_poll_step_s
    inputs.set_rate_input(index, ri.max_vac)
    wait_std(
        station, settle, mandated="detection", what=f"detection time, input {index} at {ri.max_vac:g} VAC"
    )
    tariff = _tariff(master, dut, profile)
    expected = expected_tariff(profile, _levels(ri.count, {index}))
    assert tariff == expected, f"{ri.max_vac:g} VAC on input {index}: tariff {tariff}, expected {expected}"
    inputs.clear_rate_inputs()
    wait_std(station, settle, mandated="detection", what=f"detection time, input {index} settling low")
    inputs.set_rate_input(index, ri.threshold_vac + THRESHOLD_MARGIN_VAC)  # the input still works afterwards
    wait_std(station, settle, mandated="detection", what=f"detection time, input {index} high again")
    tariff = _tariff(master, dut, profile)
    assert tariff == expected, f"input {index} no longer detects a high level after {ri.max_vac:g} VAC"


@pytest.mark.requirement("RI-RATE-REFUSAL")
def test_a_rate_the_meter_lacks_is_refused_with_a_status_bit(
    dut: Any, master: Any, inputs: Any, station: Any, profile: Any
) -> None:
    """An input combination the profile maps to a rate the meter does not support leaves the rate as it was
    and toggles the profile's status bit in the long header (sibling CMi1020W manual: rates the meter does
    not support are refused, a failed rate change toggles a status bit; domain.md section 7)."""
    refusal = rate_refusal(profile)
    if refusal is None:
        pytest.skip("the device profile maps no rate-input combination to a rate the meter lacks")
    vac = profile.rate_inputs.threshold_vac + THRESHOLD_MARGIN_VAC
    approach_refused_rate(inputs, station, profile, refusal, vac)
    rate, status = rate_and_status(master, dut.address, profile)
    assert rate == refusal.rate_before, (
        f"inputs {refusal.first_inputs} high: rate {rate}, the profile expects {refusal.rate_before}"
    )
    request_refused_rate(inputs, station, profile, refusal, vac)
    after, status_after = rate_and_status(master, dut.address, profile)
    measure(
        "rate_after_refused_change",
        after,
        "rate",
        low=refusal.rate_before,
        high=refusal.rate_before,
        conditions={"inputs": f"{refusal.first_inputs}+{refusal.last_input}", "asked": refusal.refused_rate},
    )
    bit_before, bit_after = refusal_bit(profile, status), refusal_bit(profile, status_after)
    if bit_before is not None:
        assert bit_after != bit_before, (
            f"rate {refusal.refused_rate} refused, but header status bit "
            f"{profile.rate_inputs.refusal_status_bit} stayed {bit_before} "
            f"(status {status:#04x} -> {status_after:#04x})"
        )
