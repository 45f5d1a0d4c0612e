"""Boundaries on both sides for the rate inputs (product sheet: low < 24 VAC, high > 24 VAC, minimum
detection time 5 s): a level just below the threshold on every input, reached from off and from a clearly
high level (the level just above it is the one test_rate_inputs times each input's detection at), and every
input's rising edge and falling edge (a removed level) bracketed close to both ends of the detection window.

The edges are walked in rounds (:func:`harness.expect.edge_walks`): within a round each input is raised
while the ones before it stay high, in an order where every step changes the active rate, and then
removed again in the reverse order. Each step starts from a state the module was just read to hold, so no
step waits for the inputs to settle low first: one detection time per edge instead of two or three.

The active rate is read from the telegram through the device profile's ``active_tariff`` register and
compared with the profile's own mapping of input levels to rates; nothing here asks the emulator.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from fixtures.checks import StdClock, read_register, time_scale, wait_std
from fixtures.rate_inputs import NEAR_THRESHOLD_VAC, BenchRateInputs
from harness.expect import edge_walks, expected_rates, levels_of, walk_states
from harness.master import NoReply
from harness.mbus import LongFrame, ShortFrame, encode
from harness.mbus.model import C_FCB, C_FCV, REQ_UD2
from harness.mbus.records import describe
from harness.measure import mandated_wait, measure

#: a clearly high level for the edge tests (VAC above the threshold)
HIGH_MARGIN_VAC = 4.0
#: the read that must still see the old level ends this long (standard s) before the detection time
EARLY_READ_MARGIN_S = 1.0
#: attempts before a stalled bench is reported (each retry costs two detection times)
TRIALS = 3

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
    """The active rate as the module reports it: the record coded as the profile's active_tariff register
    (or status-word field), from the read-out's telegrams up to the one carrying it
    (:func:`fixtures.checks.read_register`)."""
    _tariff_register(profile)  # skips when the profile declares no active rate
    return _as_int(read_register(master, dut.address, profile, "active_tariff"))


def _walk_time_bound(profile: Any) -> float:
    """Mandated waits of the edge walks: one detection time (+ margin) per edge, two edges per input,
    twice over for the settling of a round (fixtures/time_bounds.py multiplies it for retries)."""
    ri = profile.rate_inputs
    return float(2 * 2 * ri.count * (ri.detection_time_s + EARLY_READ_MARGIN_S))


@pytest.mark.requirement("RI-THRESHOLD-NEAR", "RI-THRESHOLD")
def test_level_just_below_the_threshold_is_low_on_every_input(
    dut: Any, master: Any, rate_inputs: BenchRateInputs, station: Any, profile: Any
) -> None:
    ri = profile.rate_inputs
    vac = ri.threshold_vac - NEAR_THRESHOLD_VAC
    for index in range(1, ri.count + 1):  # one AC source: every input at the same level
        rate_inputs.set_rate_input(index, vac)
    wait_std(station, _settle_s(station, profile), mandated="detection")
    tariff, expected = _tariff(master, dut, profile), expected_rates(profile, [levels_of(ri.count, ())])[0]
    assert tariff == expected, (
        f"{vac:g} VAC (just below the {ri.threshold_vac:g} VAC threshold) on every input for "
        f"{ri.detection_time_s:g} s changed the active rate to {tariff}; expected {expected} (all inputs low)"
    )
    rate_inputs.seen_low()  # read low after the detection time: removing a level it never took is no change


def _detection_orders(indices: Sequence[int]) -> Iterator[list[frozenset[int]]]:
    """Every order a module may detect the inputs ``indices`` in, inputs detected at one instant together:
    the set of them detected after each detection instant (each ordered partition of ``indices``)."""
    seen: set[tuple[frozenset[int], ...]] = set()
    for order in itertools.permutations(indices):
        for cuts in itertools.product((False, True), repeat=max(len(order) - 1, 0)):
            states, high = [], set()
            for k, index in enumerate(order):
                high.add(index)
                if k == len(order) - 1 or cuts[k]:
                    states.append(frozenset(high))
            if tuple(states) not in seen:
                seen.add(tuple(states))
                yield states


def _lead_input(profile: Any) -> tuple[int, int] | None:
    """An input to raise ahead of the others, and the active rate the profile then expects with every input
    high whatever order the module detects the others in (a combination selecting a rate the meter lacks is
    refused and the rate before stays: :func:`harness.expect.expected_rates`), such that any non-empty set
    of inputs left high once the level drops, whatever order the others fall in, keeps a rate other than
    the rate with every input low. None when no input does."""
    count = profile.rate_inputs.count
    every = frozenset(range(1, count + 1))
    idle_rate = expected_rates(profile, [levels_of(count, ())])[0]
    for lead in sorted(every):
        up = [levels_of(count, ()), levels_of(count, {lead})]
        finals = {
            expected_rates(profile, up + [levels_of(count, s | {lead}) for s in states])[-1]
            for states in _detection_orders(sorted(every - {lead}))
        }
        if len(finals) != 1 or idle_rate in finals:
            continue
        top = [*up, levels_of(count, every)]  # one of the orders above: every order ends in the same rate
        stuck_sets = (frozenset(c) for k in range(1, count + 1) for c in itertools.combinations(every, k))
        if all(
            expected_rates(profile, top + [levels_of(count, every - s) for s in falls])[-1] != idle_rate
            for stuck in stuck_sets
            for falls in _detection_orders(sorted(every - stuck))
        ):
            return lead, finals.pop()
    return None


@pytest.mark.requirement("RI-THRESHOLD-FROM-ABOVE", "RI-THRESHOLD")
@pytest.mark.time_bound.with_args(lambda p: 2 * (p.rate_inputs.detection_time_s + EARLY_READ_MARGIN_S))
def test_level_lowered_to_just_below_the_threshold_is_low_on_every_input(
    dut: Any, master: Any, rate_inputs: BenchRateInputs, station: Any, profile: Any
) -> None:
    """The threshold approached from above: every input taken high at a clearly high level, then the one AC
    source stepped down to just below the threshold with the inputs connected throughout (a control voltage
    sagging, not a level removed), and the module must take every input low within the detection time.
    A comparator whose hysteresis reaches below that level keeps an input high.

    One telegram shows one rate, the highest-priority input's: the rate with every input high shows that the
    module took the inputs high (each input's own detection at a level just above the threshold is judged in
    test_rate_inputs), and the idle rate after the step down shows that none of them stayed high (for this
    profile any set of inputs left high keeps another rate: :func:`_lead_input`). The lead input is raised
    two polling steps ahead so that the rate with every input high does not depend on the order the module
    detects the others in (a conforming detection lags by at most one step, RI-DETECT-TIME)."""
    ri = profile.rate_inputs
    found = _lead_input(profile)
    if found is None:
        pytest.skip(
            "the device profile's tariff rules give no input whose early rise makes the rate with every "
            "input high independent of the detection order, with any input left high showing in the "
            "telegram: a return to low from above cannot be judged from the active rate"
        )
    lead, all_high = found
    high, low = ri.threshold_vac + HIGH_MARGIN_VAC, ri.threshold_vac - NEAR_THRESHOLD_VAC
    step = station.rig.uncertainty.rate_poll_step_s
    rate_inputs.set_rate_input(lead, high)
    wait_std(station, 2 * step, what=f"input {lead} ahead of the others")
    for index in range(1, ri.count + 1):
        if index != lead:
            rate_inputs.set_rate_input(index, high)  # one AC source: every input at the same level
    wait_std(station, _settle_s(station, profile), mandated="detection", what=f"every input at {high:g} VAC")
    tariff = _tariff(master, dut, profile)
    assert tariff == all_high, (
        f"{high:g} VAC on every input (input {lead} first) for {ri.detection_time_s:g} s gave active rate "
        f"{tariff}; the profile expects {all_high} with every input high: the inputs were not taken high, "
        "so their return to low was not judged"
    )
    rate_inputs.set_level(low)
    wait_std(station, _settle_s(station, profile), mandated="detection", what=f"lowered to {low:g} VAC")
    tariff, idle = _tariff(master, dut, profile), expected_rates(profile, [levels_of(ri.count, ())])[0]
    assert tariff == idle, (
        f"every input stepped down from {high:g} VAC to {low:g} VAC (just below the {ri.threshold_vac:g} VAC "
        f"threshold, connected throughout) and held {ri.detection_time_s:g} s: active rate {tariff}, "
        f"expected {idle} (all inputs low): an input taken high stays high below the threshold"
    )
    rate_inputs.seen_low_at_present_levels()  # read low at the low level: disconnecting it is no change


def _with_others(high: Any) -> str:
    others = sorted(high)
    return f" (input(s) {others} already high)" if others else ""


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


def _judge_edge(
    master: Any,
    dut: Any,
    profile: Any,
    station: Any,
    *,
    change: Callable[[], None],
    undo: Callable[[], None],
    old: int,
    new: int,
    what: str,
) -> tuple[bool, list[str]]:
    """Bracket one level change at both ends of the detection window; the module holds the state of
    rate ``old`` (read so) when it is called. Returns whether it ended in rate ``new`` and the problems.

    Each read brackets the instant the module looked at its input: after its request went out, before the
    first byte of its reply. Not early: a read sent half a polling step (the rig's timing budget) before the
    detection time, answered before it, still shows the ``old`` rate. Not late: the last read still showing
    the ``old`` rate went out no later than the detection time plus one polling step. A trial the bench
    stalled in is undone, held for the detection time so the module is back at ``old``, and tried again.
    """
    detection, step = profile.rate_inputs.detection_time_s, station.rig.uncertainty.rate_poll_step_s
    trials, early, early_at = 0, old, 0.0
    clock = StdClock(station)
    for _ in range(TRIALS):
        trials += 1
        if trials > 1:
            undo()
            wait_std(station, _settle_s(station, profile), mandated="detection", what=f"undoing: {what}")
        clock.start()
        change()
        master.link_reset(dut.address)
        clock.sleep_until(detection - step / 2, mandated="detection", what=f"detection time, {what}")
        early, _, early_at = _tariff_now(master, dut, profile, clock, reset=False)
        if early_at < detection:
            break  # answered before the detection time: the early read means something
    else:
        pytest.fail(
            f"the bench stalled in each of {TRIALS} trials ({what}: early reply {early_at:.2f} s after the "
            f"change, detection time {detection:g} s): detection window not bracketed",
            pytrace=False,
        )
    problems = []
    if early != old:
        problems.append(
            f"{what}: taken by {early_at:.2f} s (first reply byte), before the {detection:g} s detection "
            f"time (active rate {early}, expected still {old})"
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
        defer=True,
    )
    if tariff != new:
        problems.append(f"{what}: active rate {tariff}, the profile maps it to {new}")
    return tariff == new, problems


@pytest.mark.requirement("RI-DETECT-TIME", "RI-TARIFF", "RI-FALLING")
@pytest.mark.time_bound.with_args(_walk_time_bound)
def test_each_level_change_is_taken_neither_early_nor_late(
    dut: Any, master: Any, rate_inputs: BenchRateInputs, station: Any, profile: Any
) -> None:
    """Every input's rising and falling edge, each bracketed at both ends of the detection window
    (:func:`_judge_edge`), walked as :func:`harness.expect.edge_walks` gives them: raised one after the
    other, then removed in the reverse order, every step changing the active rate the profile expects.
    A step that does not end in its expected rate ends its walk (the steps after it would start from an
    unknown state) and the inputs settle low before the next walk."""
    ri = profile.rate_inputs
    vac = ri.threshold_vac + HIGH_MARGIN_VAC
    problems: list[str] = []
    for walk in edge_walks(profile, range(1, ri.count + 1)):
        states = walk_states(walk)
        rates = expected_rates(profile, [levels_of(ri.count, s) for s in states])
        for k, (index, up) in enumerate(walk):
            on = functools.partial(rate_inputs.set_rate_input, index, vac)
            off = functools.partial(rate_inputs.set_rate_input, index, 0.0)
            verb = f"raised to {vac:g} VAC" if up else "removed"
            reached, found = _judge_edge(
                master,
                dut,
                profile,
                station,
                change=on if up else off,
                undo=off if up else on,
                old=rates[k],
                new=rates[k + 1],
                what=f"input {index} {verb}{_with_others(states[k] - {index})}",
            )
            problems += found
            if not reached:
                rest = ", ".join(f"input {i} {'raised' if u else 'removed'}" for i, u in walk[k + 1 :])
                if rest:
                    problems.append(f"not judged after that: {rest}")
                rate_inputs.settle_low()
                break
            if not up:
                rate_inputs.taken_low(index)
    assert not problems, "; ".join(problems)

