"""Boundaries on both sides for the rate inputs (product sheet: low < 24 VAC, high > 24 VAC, minimum
detection time 5 s): a level just below and just above the threshold on every input, the rising edge
bracketed close to both ends of the detection window on every input, and the falling edge (a removed
level) held to the same detection time as the rising one, on every input.

The active rate is read from the telegram through the device profile's ``active_tariff`` register and
compared with the profile's own mapping of input levels to rates; nothing here asks the emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fixtures.checks import StdClock, time_scale, wait_std
from harness.master import NoReply
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


def _as_int(value: float | int | str | None) -> int:
    """The active-rate register's value as the integer it must be (EN 13757-3 integer coding)."""
    if not isinstance(value, int | float):
        pytest.fail(f"the active-rate register holds {value!r}, not a number", pytrace=False)
    return int(value)


def _rate(profile: Any, value: float | int | str | None) -> int:
    """The active rate in the value of the register :func:`_tariff_register` names (its status field)."""
    found = profile.status_field("active_tariff")
    return found[1].decode(_as_int(value)) if found is not None else _as_int(value)


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
    """The register carrying the active rate: a status word's field (E350 C.5.0) or a register of its own."""
    found = profile.status_field("active_tariff")
    if found is not None:
        return found[0]
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
                return _rate(profile, view.value)
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


def _tariff_now(
    master: Any, dut: Any, profile: Any, clock: StdClock, *, reset: bool = True
) -> tuple[int, float, float]:
    """The active rate from the one telegram that carries it, with the instants (standard s on ``clock``)
    its request first went out and the first byte of the valid reply came in: the module read its inputs
    in between. A lost or garbled reply is asked for again with the same FCB (EN 13757-2), which makes the
    module repeat what it read the first time, so the bracket still holds.
    ``reset=False`` when the caller already sent SND_NKE (so the request can be timed close to a limit)."""
    reg = _tariff_register(profile)
    if reset:
        master.link_reset(dut.address)
    fcb = True
    for _ in range(reg.telegram):
        master.request_ud2(dut.address, fcb=fcb)
        fcb = not fcb
    request = encode(ShortFrame(c=REQ_UD2 | C_FCV | (C_FCB if fcb else 0), a=dut.address))
    sent_at, problem = clock.elapsed(), ""
    for _ in range(master.retries + 1):
        try:
            reply = master.transact(request)
        except NoReply as exc:
            problem = str(exc)
            continue
        if not (reply.ok and isinstance(reply.frame, LongFrame)) or reply.first_byte_at is None:
            problem = f"no valid RSP_UD ({reply.problem}) [{reply.data.hex(' ')}]"
            continue
        first_byte_at = (reply.first_byte_at - clock.t0) / time_scale(clock.station)
        for rec in reply.frame.records:
            view = describe(rec)
            if rec.vif == reg.vif and list(rec.vife) == list(reg.vife) and view.tariff == reg.tariff:
                return _rate(profile, view.value), sent_at, first_byte_at
        pytest.fail(f"telegram {reg.telegram + 1} lacks the profile's active_tariff record", pytrace=False)
    pytest.fail(f"REQ_UD2 for telegram {reg.telegram + 1}: {problem}", pytrace=False)


def _settle_low(inputs: Any, station: Any, profile: Any) -> None:
    inputs.clear_rate_inputs()
    wait_std(station, _settle_s(station, profile), mandated="detection")


def _judge_edge(
    master: Any,
    dut: Any,
    profile: Any,
    station: Any,
    *,
    prepare: Callable[[], None],
    change: Callable[[], None],
    old: int,
    new: int,
    what: str,
) -> None:
    """Bracket one level change at both ends of the detection window.

    Each read brackets the instant the module looked at its input: after its request went out, before the
    first byte of its reply. Not early: a read sent half a polling step (the rig's timing budget) before the
    detection time, answered before it, still shows the ``old`` rate. Not late: the last read still showing
    the ``old`` rate went out no later than the detection time plus one polling step.
    """
    detection, step = profile.rate_inputs.detection_time_s, station.rig.uncertainty.rate_poll_step_s
    trials, early, early_at = 0, old, 0.0
    clock = StdClock(station)
    for _ in range(TRIALS):
        trials += 1
        prepare()
        clock.start()
        change()
        master.link_reset(dut.address)
        clock.sleep_until(detection - step / 2, mandated="detection")
        early, _, early_at = _tariff_now(master, dut, profile, clock, reset=False)
        if early_at < detection:
            break  # answered before the detection time: the early read means something
    else:
        pytest.fail(
            f"the bench stalled in each of {TRIALS} trials ({what}: early reply {early_at:.2f} s after the "
            f"change, detection time {detection:g} s): detection window not bracketed",
            pytrace=False,
        )
    assert early == old, (
        f"{what}: taken by {early_at:.2f} s (first reply byte), before the {detection:g} s detection time "
        f"(active rate {early}, expected still {old})"
    )
    tariff, last_old_sent, seen_at = early, 0.0, early_at
    while tariff == old and seen_at < 2 * (detection + step):
        tariff, sent_at, seen_at = _tariff_now(master, dut, profile, clock)
        if tariff == old:
            last_old_sent = sent_at
    mandated_wait("detection", max(0.0, min(seen_at, detection) - early_at))
    measure(
        "rate_change_not_yet_taken_at",
        last_old_sent if tariff == new else None,
        "s",
        high=detection + step,
        uncertainty=station.rig.uncertainty.latency_allowance_s / time_scale(station),
        requirement="RI-DETECT-TIME",
        conditions={"change": what, "seen_by_s": round(seen_at, 3), "trials": trials},
    )
    assert tariff == new, f"{what}: active rate {tariff}, the profile maps it to {new}"


def _distinct_rates(profile: Any, index: int) -> tuple[int, int]:
    _skip_missing(profile, index)
    idle, high = _expected(profile, set()), _expected(profile, {index})
    if idle == high:
        pytest.skip(f"the profile maps input {index} high and all inputs low to the same rate {idle}")
    return idle, high


@pytest.mark.requirement("RI-DETECT-TIME", "RI-TARIFF")
@pytest.mark.parametrize("index", INPUTS)
def test_rising_level_is_taken_neither_early_nor_late(
    dut: Any, master: Any, rate_inputs_off: Any, station: Any, profile: Any, index: int
) -> None:
    idle, high = _distinct_rates(profile, index)
    vac = profile.rate_inputs.threshold_vac + HIGH_MARGIN_VAC
    _judge_edge(
        master,
        dut,
        profile,
        station,
        prepare=lambda: _settle_low(rate_inputs_off, station, profile),
        change=lambda: rate_inputs_off.set_rate_input(index, vac),
        old=idle,
        new=high,
        what=f"input {index} raised to {vac:g} VAC",
    )


@pytest.mark.requirement("RI-FALLING", "RI-DETECT-TIME")
@pytest.mark.parametrize("index", INPUTS)
def test_removed_level_is_taken_low_neither_early_nor_late(
    dut: Any, master: Any, rate_inputs_off: Any, station: Any, profile: Any, index: int
) -> None:
    idle, high = _distinct_rates(profile, index)
    vac = profile.rate_inputs.threshold_vac + HIGH_MARGIN_VAC

    def raise_and_check() -> None:
        rate_inputs_off.set_rate_input(index, vac)
        wait_std(station, _settle_s(station, profile), mandated="detection")
        before = _tariff(master, dut, profile)
        assert before == high, (
            f"input {index} high for the detection time: active rate {before}, expected {high}"
        )

    _judge_edge(
        master,
        dut,
        profile,
        station,
        prepare=raise_and_check,
        change=rate_inputs_off.clear_rate_inputs,
        old=high,
        new=idle,
        what=f"input {index} removed",
    )
