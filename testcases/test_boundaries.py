"""Boundaries on both sides for the rate inputs (product sheet: low < 24 VAC, high > 24 VAC, minimum
detection time 5 s): a level just below and just above the threshold on every input, the rising edge
bracketed close to both ends of the detection window on every input, and the falling edge (a removed
level) held to the same detection time as the rising one, on every input.

The active rate is read from the telegram through the device profile's ``active_tariff`` register and
compared with the profile's own mapping of input levels to rates; nothing here asks the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fixtures.checks import StdClock, time_scale, wait_std
from harness.mbus import LongFrame, ShortFrame, encode
from harness.mbus.model import C_FCB, C_FCV, REQ_UD2
from harness.mbus.records import describe
from harness.measure import mandated_wait, measure

#: "just below" / "just above" the threshold (VAC): close enough that a threshold off by more than this
#: reads wrong, far enough for a real comparator's spread (the product sheet gives no hysteresis)
NEAR_THRESHOLD_VAC = 1.0
#: a clearly high level for the falling-edge test (VAC above the threshold)
HIGH_MARGIN_VAC = 4.0
#: the read that must still see the old level ends this long (standard s) before the detection time
EARLY_READ_MARGIN_S = 1.0
#: attempts before a stalled bench is reported (each costs two detection times)
TRIALS = 3
INPUTS = [1, 2, 3, 4]

pytestmark = pytest.mark.needs("ac_source")


def _settle_s(station: Any, profile: Any) -> float:
    return float(profile.rate_inputs.detection_time_s + station.rig.uncertainty.rate_poll_step_s)


@pytest.fixture
def rate_inputs_off(dut: Any, bench: Any, station: Any, profile: Any) -> Iterator[Any]:
    """Every rate input off before and after; held off for the detection time so the next test starts low."""
    bench.clear_rate_inputs()
    try:
        yield bench
    finally:
        bench.clear_rate_inputs()
        wait_std(station, _settle_s(station, profile), mandated="detection")


def _tariff_register(profile: Any) -> Any:
    reg = next((r for r in profile.registers if r.name == "active_tariff"), None)
    if reg is None:
        pytest.skip("the device profile declares no active_tariff register: the active rate cannot be read")
    return reg


def _tariff(master: Any, dut: Any, profile: Any) -> int:
    """The active rate as the module reports it: the record coded as the profile's active_tariff register."""
    reg = _tariff_register(profile)
    for frame in master.read(dut.address):
        for rec in frame.records:
            view = describe(rec)
            same_coding = rec.vif == reg.vif and list(rec.vife) == list(reg.vife)
            if same_coding and (view.tariff, view.subunit, view.storage) == (
                reg.tariff,
                reg.subunit,
                reg.storage,
            ):
                return int(view.value)
    pytest.fail(
        f"no record with VIF {reg.vif:02X} VIFE {bytes(reg.vife).hex(' ')} (the profile's active_tariff, "
        f"OBIS {reg.obis}) in the read-out",
        pytrace=False,
    )


def _expected(profile: Any, high: set[int]) -> int:
    """The rate the device profile maps these detected levels to (input 1 first)."""
    ri = profile.rate_inputs
    return int(ri.tariff_for([i + 1 in high for i in range(ri.count)]))


def _skip_missing(profile: Any, index: int) -> None:
    if index > profile.rate_inputs.count:
        pytest.skip(f"the device profile has {profile.rate_inputs.count} rate inputs")


@pytest.mark.requirement("RI-THRESHOLD-NEAR", "RI-THRESHOLD")
def test_level_just_below_the_threshold_is_low_on_every_input(
    dut: Any, master: Any, rate_inputs_off: Any, station: Any, profile: Any
) -> None:
    ri = profile.rate_inputs
    vac = ri.threshold_vac - NEAR_THRESHOLD_VAC
    for index in range(1, ri.count + 1):  # one AC source: every input at the same level
        rate_inputs_off.set_rate_input(index, vac)
    wait_std(station, _settle_s(station, profile), mandated="detection")
    tariff, expected = _tariff(master, dut, profile), _expected(profile, set())
    assert tariff == expected, (
        f"{vac:g} VAC (just below the {ri.threshold_vac:g} VAC threshold) on every input for "
        f"{ri.detection_time_s:g} s changed the active rate to {tariff}; expected {expected} (all inputs low)"
    )


@pytest.mark.requirement("RI-THRESHOLD-NEAR", "RI-THRESHOLD")
@pytest.mark.parametrize("index", INPUTS)
def test_level_just_above_the_threshold_is_high_on_each_input(
    dut: Any, master: Any, rate_inputs_off: Any, station: Any, profile: Any, index: int
) -> None:
    _skip_missing(profile, index)
    ri = profile.rate_inputs
    vac = ri.threshold_vac + NEAR_THRESHOLD_VAC
    rate_inputs_off.set_rate_input(index, vac)
    wait_std(station, _settle_s(station, profile), mandated="detection")
    tariff, expected = _tariff(master, dut, profile), _expected(profile, {index})
    assert tariff == expected, (
        f"{vac:g} VAC (just above the {ri.threshold_vac:g} VAC threshold) on input {index} for "
        f"{ri.detection_time_s:g} s: active rate {tariff}, the profile maps input {index} high to {expected}"
    )


def _read_s(master: Any, dut: Any, profile: Any, station: Any) -> float:
    """Duration of one read-out (standard s): the shorter of two, so one stall does not widen the bracket."""
    durations = []
    for _ in range(2):
        clock = StdClock(station).start()
        _tariff(master, dut, profile)
        durations.append(clock.elapsed())
    return min(durations)


@pytest.mark.requirement("RI-FALLING", "RI-DETECT-TIME")
@pytest.mark.parametrize("index", INPUTS)
def test_removed_level_is_taken_low_after_the_detection_time(
    dut: Any, master: Any, rate_inputs_off: Any, station: Any, profile: Any, index: int
) -> None:
    _skip_missing(profile, index)
    ri = profile.rate_inputs
    detection, step = ri.detection_time_s, station.rig.uncertainty.rate_poll_step_s
    idle, high = _expected(profile, set()), _expected(profile, {index})
    if idle == high:
        pytest.skip(f"the profile maps input {index} high and all inputs low to the same rate {idle}")
    read_s = _read_s(master, dut, profile, station)
    deadline = detection + 2 * read_s + step
    trials = 0
    for _ in range(TRIALS):
        trials += 1
        rate_inputs_off.set_rate_input(index, ri.threshold_vac + HIGH_MARGIN_VAC)
        wait_std(station, _settle_s(station, profile), mandated="detection")
        before = _tariff(master, dut, profile)
        assert before == high, (
            f"input {index} high for {detection:g} s: active rate {before}, expected {high}"
        )
        clock = StdClock(station).start()
        rate_inputs_off.clear_rate_inputs()
        clock.sleep_until(detection - EARLY_READ_MARGIN_S - read_s, mandated="detection")
        early = _tariff(master, dut, profile)
        early_at = clock.elapsed()
        if early_at < detection:
            break  # a meaningful early read; otherwise the bench stalled: try again
    else:
        pytest.fail(
            f"the bench stalled in each of {TRIALS} trials (early read ended {early_at:.2f} s after the "
            f"level was removed, detection time {detection:g} s): falling edge not measured",
            pytrace=False,
        )
    tariff, seen_at = early, early_at
    while tariff != idle and seen_at < 2 * deadline:
        tariff = _tariff(master, dut, profile)
        seen_at = clock.elapsed()
    mandated_wait("detection", max(0.0, min(seen_at, deadline) - early_at))
    measure(
        "rate_release_time",
        seen_at if tariff == idle else None,
        "s",
        low=detection,
        high=deadline,
        uncertainty=step,
        requirement="RI-FALLING",
        conditions={"input": index, "read_s": round(read_s, 3), "trials": trials},
    )
    assert early == high, (
        f"input {index} was taken low {early_at:.2f} s after its level was removed, before the "
        f"{detection:g} s detection time (active rate {early}, expected still {high})"
    )


def _tariff_now(
    master: Any, dut: Any, profile: Any, clock: StdClock, *, reset: bool = True
) -> tuple[int, float, float]:
    """The active rate from the one telegram that carries it, with the instants (standard s on ``clock``)
    its request went out and the first byte of its reply came in: the module read its inputs in between.
    ``reset=False`` when the caller already sent SND_NKE (so the request can be timed close to a limit)."""
    reg = _tariff_register(profile)
    if reset:
        master.link_reset(dut.address)
    fcb = True
    for _ in range(reg.telegram):
        master.request_ud2(dut.address, fcb=fcb)
        fcb = not fcb
    sent_at = clock.elapsed()
    reply = master.transact(encode(ShortFrame(c=REQ_UD2 | C_FCV | (C_FCB if fcb else 0), a=dut.address)))
    assert reply.ok and isinstance(reply.frame, LongFrame), (
        f"REQ_UD2 for telegram {reg.telegram + 1}: no valid RSP_UD ({reply.problem}) [{reply.data.hex(' ')}]"
    )
    assert reply.first_byte_at is not None
    first_byte_at = (reply.first_byte_at - clock.t0) / time_scale(clock.station)
    for rec in reply.frame.records:
        view = describe(rec)
        if rec.vif == reg.vif and list(rec.vife) == list(reg.vife) and view.tariff == reg.tariff:
            return int(view.value), sent_at, first_byte_at
    pytest.fail(f"telegram {reg.telegram + 1} lacks the profile's active_tariff record", pytrace=False)


@pytest.mark.requirement("RI-DETECT-TIME", "RI-TARIFF")
@pytest.mark.parametrize("index", INPUTS)
def test_rising_level_is_taken_neither_early_nor_late(
    dut: Any, master: Any, rate_inputs_off: Any, station: Any, profile: Any, index: int
) -> None:
    """Each read brackets the instant the module looked at its input: after its request went out, before
    the first byte of its reply. Not early: a read sent half a polling step (the rig's timing budget)
    before the detection time, answered before it, still shows the old rate. Not late: the last read
    still showing the old rate went out no later than the detection time plus one polling step."""
    _skip_missing(profile, index)
    ri = profile.rate_inputs
    detection, step = ri.detection_time_s, station.rig.uncertainty.rate_poll_step_s
    idle, high = _expected(profile, set()), _expected(profile, {index})
    if idle == high:
        pytest.skip(f"the profile maps input {index} high and all inputs low to the same rate {idle}")
    trials = 0
    for _ in range(TRIALS):
        trials += 1
        clock = StdClock(station).start()
        rate_inputs_off.set_rate_input(index, ri.threshold_vac + HIGH_MARGIN_VAC)
        master.link_reset(dut.address)
        clock.sleep_until(detection - step / 2, mandated="detection")
        early, _, early_done = _tariff_now(master, dut, profile, clock, reset=False)
        if early_done < detection:
            break  # the reply came in before the detection time: the early read means something
        _settle_low(rate_inputs_off, station, profile)  # the bench stalled: try again
    else:
        pytest.fail(
            f"the bench stalled in each of {TRIALS} trials (early reply at {early_done:.2f} s after the "
            f"level was applied, detection time {detection:g} s): detection window not bracketed",
            pytrace=False,
        )
    assert early == idle, (
        f"input {index} was taken high by {early_done:.2f} s (reply's first byte), before the "
        f"{detection:g} s detection time (active rate {early}, expected still {idle})"
    )
    tariff, last_idle_sent, seen_at = early, 0.0, early_done
    while tariff == idle and seen_at < 2 * (detection + step):
        tariff, sent_at, seen_at = _tariff_now(master, dut, profile, clock)
        if tariff == idle:
            last_idle_sent = sent_at
    mandated_wait("detection", max(0.0, min(seen_at, detection) - early_done))
    measure(
        "rate_still_low_at",
        last_idle_sent if tariff == high else None,
        "s",
        high=detection + step,
        uncertainty=station.rig.uncertainty.latency_allowance_s / (station.state.time_scale or 1.0),
        requirement="RI-DETECT-TIME",
        conditions={"input": index, "seen_by_s": round(seen_at, 3), "trials": trials},
    )
    assert tariff == high, f"input {index} high: active rate {tariff}, the profile maps it to {high}"


def _settle_low(inputs: Any, station: Any, profile: Any) -> None:
    inputs.clear_rate_inputs()
    wait_std(station, _settle_s(station, profile), mandated="detection")
