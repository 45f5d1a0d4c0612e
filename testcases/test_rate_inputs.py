"""Rate inputs (product sheet: up to 4; low < 24 VAC, high > 24 VAC, max 230 VAC, minimum detection time
5 s): a level just above the threshold detected on each input, its detection time measured against the
limit, short pulses ignored, 230 VAC withstood and detected, the active tariff in the telegram following the
device profile's mapping. The level just below the threshold and the edges at a clearly high level are in
test_boundaries."""

from __future__ import annotations

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
from fixtures.rate_inputs import NEAR_THRESHOLD_VAC, BenchRateInputs, rate_lane
from harness.expect import (
    expected_rates,
    expected_tariff,
    levels_of,
    rate_refusal,
    refusal_bit,
    staggered_rounds,
)
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


def _tariff(master: Any, dut: Any, profile: Any) -> int:
    return int(read_register(master, dut.address, profile, "active_tariff"))


def _read_duration(master: Any, dut: Any, profile: Any, station: Any) -> tuple[int, float]:
    """The idle tariff and the duration of one read-out (standard s): the shorter of two, so a stall of
    the bench does not stretch the polling step the detection limits are built from."""
    durations, tariff = [], 0
    for _ in range(2):
        clock = StdClock(station).start()
        tariff = _tariff(master, dut, profile)
        durations.append(clock.elapsed())
    return tariff, min(durations)


@dataclass
class Read:
    """One read-out during a detection trial: when it ended (standard s after the trial started), how
    long it took, and the active tariff it carried."""

    at: float
    duration: float
    tariff: int


@dataclass
class DetectionTrial:
    """One input's bracket in a trial: the read that must not see its level yet, and the first read after
    it that shows a change (times in standard s after the level was applied to this input).

    The trial is valid when the early read ended late enough to mean something but before the detection
    time, and no read up to the one that decides took more than twice a normal read: otherwise the bench
    stalled and the bracket says nothing.
    """

    index: int
    before: int  #: tariff the profile gives before this input is detected (earlier inputs detected)
    after: int  #: tariff the profile gives once it is detected too
    early: int | None
    early_at: float
    tariff: int | None
    seen_at: float | None
    last_read_s: float
    valid: bool


def _judge(
    reads: list[Read],
    applied_at: float,
    before: int,
    after: int,
    index: int,
    detection: float,
    read_s: float,
    deadline: float,
) -> DetectionTrial:
    """The bracket of one input from the trial's reads (see :class:`DetectionTrial`)."""
    rel = [Read(r.at - applied_at, r.duration, r.tariff) for r in reads if r.at - r.duration >= applied_at]
    early_reads = [r for r in rel if r.at < detection]
    if not early_reads:
        return DetectionTrial(index, before, after, None, 0.0, None, None, 0.0, False)
    early = early_reads[-1]
    later = [r for r in rel if r.at > early.at]
    change = next((r for r in later if r.tariff != early.tariff), None)
    bracket = later[: later.index(change) + 1] if change is not None else later
    slowest = max((r.duration for r in bracket), default=0.0)
    seen_at = change.at if change is not None else None
    valid = 0.5 * detection <= early.at < detection and slowest <= 2 * read_s
    if change is None and (not later or later[-1].at < deadline):
        valid = False  # the trial ended before this input's deadline: nothing to judge
    return DetectionTrial(
        index,
        before,
        after,
        early.tariff,
        early.at,
        change.tariff if change else early.tariff,
        seen_at,
        slowest,
        valid,
    )


def _staggered_trial(
    master: Any,
    dut: Any,
    profile: Any,
    station: Any,
    rate_inputs: BenchRateInputs,
    order: list[int],
    vac: float,
    read_s: float,
    deadline: float,
) -> list[DetectionTrial]:
    """Apply ``vac`` to the inputs of ``order`` one after the other, ``stagger`` apart, polling the active
    tariff while any input is inside its bracket; each input's detection time is judged from its own
    application instant.

    ``stagger`` keeps the inputs' brackets apart. A conforming input is taken high within the rig's poll
    step after the detection time, and a read ends at most two reads after that (its deadline); the next
    input, applied ``stagger`` = deadline - detection time + one read later, cannot be detected before
    that read's telegram is composed, and its own early read (composed at most two reads before its
    detection time) comes after this input was taken high: each input's tariff is read before the next
    one can mask it, and each early read sees the earlier inputs detected.
    """
    ri = profile.rate_inputs
    detection = ri.detection_time_s
    stagger = (deadline - detection) + read_s
    states = expected_rates(profile, [levels_of(ri.count, set(order[:j])) for j in range(len(order) + 1)])
    poll_from = detection - EARLY_READ_MARGIN_S - read_s  # after each application
    clock = StdClock(station).start()
    applied: list[float] = []
    reads: list[Read] = []

    def decided(j: int) -> bool:
        rel = [r for r in reads if r.at - r.duration >= applied[j]]
        early = [r for r in rel if r.at - applied[j] < detection]
        after = [r for r in rel if r.at - applied[j] >= detection]
        changed = bool(early) and any(r.tariff != early[-1].tariff for r in after)
        return changed or clock.elapsed() - applied[j] >= 2 * deadline

    while True:
        now = clock.elapsed()
        next_apply = applied[-1] + stagger if applied else 0.0
        if len(applied) < len(order) and now >= next_apply:
            applied.append(clock.elapsed())
            rate_inputs.set_rate_input(order[len(applied) - 1], vac)
            continue
        open_inputs = [j for j in range(len(applied)) if not decided(j)]
        if len(applied) == len(order) and not open_inputs:
            break
        polling = [j for j in open_inputs if now >= applied[j] + poll_from]
        if not polling:
            targets = [applied[j] + poll_from for j in open_inputs]
            if len(applied) < len(order):
                targets.append(next_apply)
            clock.sleep_until(
                min(targets), what=f"detection time, inputs {order[: len(applied)]} at {vac:g} VAC"
            )
            continue
        t0 = clock.elapsed()
        tariff = _tariff(master, dut, profile)
        t1 = clock.elapsed()
        reads.append(Read(t1, t1 - t0, tariff))
    trials = [
        _judge(reads, applied[j], states[j], states[j + 1], index, detection, read_s, deadline)
        for j, index in enumerate(order)
    ]
    for trial in trials:  # each input's own detection wait, as a trial of one input alone would count it
        seen = trial.seen_at if trial.seen_at is not None else deadline
        mandated_wait("detection", max(0.0, min(seen, deadline) - read_s), lane=rate_lane(trial.index))
    return trials


@pytest.mark.requirement("RI-THRESHOLD-NEAR", "RI-THRESHOLD", "RI-DETECT-TIME", "RI-TARIFF")
@pytest.mark.time_bound(
    lambda p: TRIALS * p.rate_inputs.count * (p.rate_inputs.detection_time_s + EARLY_READ_MARGIN_S)
)
def test_level_above_threshold_is_detected_after_the_detection_time_on_each_input(
    dut: Any, master: Any, rate_inputs: BenchRateInputs, station: Any, profile: Any
) -> None:
    """Each input's detection time is measured from its own application: the inputs are applied one after
    the other a few reads apart (the relay card switches each on its own), so their 5 s waits overlap.

    The level is just above the threshold (:data:`fixtures.rate_inputs.NEAR_THRESHOLD_VAC`): a threshold
    set too high reads the input low, and an input filter that charges more slowly near its threshold
    shows as a longer detection time. test_boundaries times the edges at a clearly high level."""
    ri = profile.rate_inputs
    detection = ri.detection_time_s
    idle, read_s = _read_duration(master, dut, profile, station)
    assert idle == expected_tariff(profile, levels_of(ri.count, set())), (
        f"active tariff {idle} with every input off; the profile's default is "
        f"{expected_tariff(profile, levels_of(ri.count, set()))}"
    )
    high_vac = ri.threshold_vac + NEAR_THRESHOLD_VAC  # just above: the threshold and the slowest edge
    # polling: each read brackets the detection instant; allow two reads beyond the detection time
    deadline = detection + 2 * read_s + station.rig.uncertainty.rate_poll_step_s
    indices = list(range(1, ri.count + 1))
    # overlapping rounds where the tariff rules let each input show; an input no order shows runs alone
    rounds = staggered_rounds(profile, indices)
    done: dict[int, DetectionTrial] = {}
    attempts: dict[int, int] = {}
    for _ in range(TRIALS):
        pending = [r for r in ([i for i in rnd if i not in done] for rnd in rounds) if r]
        if not pending:
            break
        for batch in pending:
            for index in batch:
                attempts[index] = attempts.get(index, 0) + 1
            for trial in _staggered_trial(
                master, dut, profile, station, rate_inputs, batch, high_vac, read_s, deadline
            ):
                if trial.valid:
                    done[trial.index] = trial
                else:
                    last = trial
            rate_inputs.settle_low(per_input=True)  # the bench stalled for an invalid one: it is tried again
    stalled = [i for i in indices if i not in done]
    if stalled:
        pytest.fail(
            f"the bench stalled in each of {TRIALS} trials of input(s) {stalled} (last early read at "
            f"{last.early_at:.2f} s, slowest read {last.last_read_s:.2f} s vs {read_s:.2f} s normally): "
            "detection time not measured",
            pytrace=False,
        )
    # every input has been off for the detection time + poll step: the module must have taken them low
    back = _tariff(master, dut, profile)
    problems = []
    if back != idle:
        problems.append(
            f"with every input off for {rate_inputs.settle_s:g} s after the trials the active tariff is "
            f"{back}, not the idle {idle}: a removed level was not taken low"
        )
    for index in indices:
        trial = done[index]
        measure(
            "rate_detection_time",
            trial.seen_at,
            "s",
            low=detection,
            high=deadline,
            uncertainty=station.rig.uncertainty.rate_poll_step_s,
            requirement="RI-DETECT-TIME",
            conditions={
                "input": index,
                "vac": high_vac,
                "read_s": round(read_s, 3),
                "trials": attempts[index],
            },
            defer=True,
        )
        if trial.early != trial.before:
            problems.append(
                f"input {index}: active tariff {trial.early} {trial.early_at:.2f} s after {high_vac:g} VAC, "
                f"before {detection:g} s; the profile gives {trial.before} until it is detected"
            )
        elif trial.tariff != trial.after:
            problems.append(
                f"{high_vac:g} VAC on input {index}: active tariff {trial.tariff}, the profile expects "
                f"{trial.after}"
            )
    assert not problems, "; ".join(problems)


#: the lows between the pulses of a glitch train last this fraction of the minimum detection time
GLITCH_GAP_FRACTION = 0.2
#: pulses in a glitch train: together high for longer than the detection time, none of them that long
GLITCH_PULSES = 3
#: a read during a glitch train is given this many times a normal read's duration before the next switching
READ_SLACK = 1.1


@dataclass(frozen=True)
class RateRead:
    """One read-out during a glitch train: when it began and ended (standard s after the train began), the
    active rate and the long header's refused-rate-change bit (None when the profile declares none)."""

    start: float
    end: float
    rate: int
    refusal: int | None


@dataclass(frozen=True)
class Switching:
    """One switching of the inputs: when the commands were sent and when the last one was done (standard s
    after the train began); the module saw the level change somewhere in between."""

    start: float
    end: float


@dataclass
class GlitchTrain:
    """A train of pulses on some inputs together and the read-outs taken while it ran and just after."""

    on: list[Switching]
    off: list[Switching]
    reads: list[RateRead]

    def longest_pulse_s(self) -> float:
        """Longest an input can have been high in one pulse (first command on to last one off)."""
        return max(off.end - on.start for on, off in zip(self.on, self.off, strict=True))

    def longest_gap_s(self) -> float:
        """Longest an input can have been low between two pulses."""
        return max((on.end - off.start for off, on in zip(self.off, self.on[1:], strict=False)), default=0.0)

    def high_s(self) -> float:
        """High time every input had for certain, summed over the pulses."""
        return sum(off.start - on.end for on, off in zip(self.on, self.off, strict=True))

    def reads_in_bracket(self, detection_s: float) -> list[RateRead]:
        """Read-outs begun one detection time after every input was first high and ended less than one
        detection time after the last pulse ended: a module that took the train as a level at any instant
        from the first then (its fall debounced as the product sheet asks) still shows it in each of them."""
        opens, closes = self.on[0].end + detection_s, self.off[-1].start + detection_s
        return [r for r in self.reads if r.start >= opens and r.end < closes]


def _rate_read(master: Any, dut: Any, profile: Any, clock: StdClock) -> RateRead:
    start = clock.elapsed()
    rate, status = rate_and_status(master, dut.address, profile)
    return RateRead(start, clock.elapsed(), rate, refusal_bit(profile, status))


def _glitch_inputs(profile: Any) -> list[int]:
    """The inputs a glitch train is applied to: every input, as one AC source switched onto them all does,
    when their detection together shows (a rate other than the default, or a refused rate change the
    status bit reports); otherwise the first input whose detection alone shows (profile tariff rules)."""
    ri = profile.rate_inputs
    every = list(range(1, ri.count + 1))

    def shows(indices: list[int]) -> bool:
        rate = expected_tariff(profile, levels_of(ri.count, set(indices)))
        if rate == ri.default_tariff:
            return False
        return rate in profile.meter_rates or ri.refusal_status_bit is not None

    if shows(every):
        return every
    return next(([i] for i in every if shows([i])), every)


def _glitch_train(
    master: Any,
    dut: Any,
    profile: Any,
    station: Any,
    inputs: BenchRateInputs,
    indices: list[int],
    vac: float,
    read_s: float,
) -> GlitchTrain:
    """Apply :data:`GLITCH_PULSES` pulses of ``vac`` to ``indices`` together, each
    :data:`GLITCH_FRACTION` of the detection time long and :data:`GLITCH_GAP_FRACTION` of it apart, reading
    the active rate as late before each switching as the reads that fit allow, and just after the train
    until a read lies in the bracket (:meth:`GlitchTrain.reads_in_bracket`).

    Pulse and gap lengths are stimuli the test chooses, not waits the physics needs: they are not counted
    as mandated waits. A read that overruns its slot delays the next switching; the caller judges the train
    from the switching instants actually recorded."""
    detection = profile.rate_inputs.detection_time_s
    pulse_s, gap_s = GLITCH_FRACTION * detection, GLITCH_GAP_FRACTION * detection
    clock = StdClock(station).start()
    train = GlitchTrain([], [], [])

    slot = READ_SLACK * read_s  # a read that overruns its slot delays the next switching

    def poll_until(t: float, what: str) -> None:
        """Read back to back so that the last read ends just before ``t``: late in a pulse a level taken
        during it (a filter shorter than the pulse, an edge timer that expired) is still there."""
        fits = int((t - clock.elapsed()) // slot)
        if fits > 0:
            clock.sleep_until(t - fits * slot, what=what)
        for _ in range(fits):
            train.reads.append(_rate_read(master, dut, profile, clock))
        clock.sleep_until(t, what=what)

    for k in range(GLITCH_PULSES):
        start = clock.elapsed()
        for index in indices:
            inputs.set_rate_input(index, vac)
        train.on.append(Switching(start, clock.elapsed()))
        poll_until(start + pulse_s, f"{pulse_s:g} s pulse {k + 1} of {GLITCH_PULSES}, inputs {indices}")
        start = clock.elapsed()
        inputs.clear_rate_inputs()
        train.off.append(Switching(start, clock.elapsed()))
        if k + 1 < GLITCH_PULSES:
            poll_until(start + gap_s, f"{gap_s:g} s low between pulses, inputs {indices}")
    closes = train.off[-1].start + detection
    while not train.reads_in_bracket(detection) and clock.elapsed() < closes:
        train.reads.append(_rate_read(master, dut, profile, clock))  # one, unless the bench stalled
    return train


@pytest.mark.requirement("RI-GLITCH")
def test_pulse_shorter_than_detection_time_is_ignored(
    dut: Any, master: Any, rate_inputs: Any, station: Any, profile: Any
) -> None:
    """A train of pulses, each shorter than the detection time and a short low apart, together high for
    longer than it (product sheet "minimum detection time 5 s": a level counts once held 5 s). The rate is
    read late in each pulse and low (as many read-outs as fit), and just after the train if none of those
    began one detection time after the first rising edge: a module that takes the level seen at an edge
    when its timer expires, or whose debounce does not restart on a low so that the pulses' high time adds
    up, shows the level from then until a detection time after the train. Once more after the inputs
    settled low. Every read must show the idle rate and an unchanged refused-rate-change bit (a detection
    of inputs whose rate the meter lacks is refused and shows only there)."""
    ri = profile.rate_inputs
    detection = ri.detection_time_s
    clock = StdClock(station).start()
    idle = _rate_read(master, dut, profile, clock)
    second = _rate_read(master, dut, profile, clock)
    read_s = min(idle.end - idle.start, second.end - second.start)
    high_vac = ri.threshold_vac + THRESHOLD_MARGIN_VAC
    indices = _glitch_inputs(profile)
    shape = (
        f"{GLITCH_PULSES} pulses of {GLITCH_FRACTION * detection:g} s at {high_vac:g} VAC, "
        f"{GLITCH_GAP_FRACTION * detection:g} s apart, on inputs {indices}"
    )

    def taken(train: GlitchTrain) -> list[str]:
        return [
            f"{r.end:.2f} s after the train began: rate {r.rate}, refused-rate bit {r.refusal}"
            for r in train.reads
            if (r.rate, r.refusal) != (idle.rate, idle.refusal)
        ]

    for _attempt in range(TRIALS):
        train = _glitch_train(master, dut, profile, station, rate_inputs, indices, high_vac, read_s)
        rate_inputs.settle_low()
        # no pulse as long as the detection time: a conforming module takes none of them, whatever it shows
        fair = train.longest_pulse_s() < detection
        sharp = (
            train.longest_gap_s() < detection
            and train.high_s() >= detection
            and bool(train.reads_in_bracket(detection))
        )
        if fair and (sharp or taken(train)):
            break  # otherwise the bench stalled and the train was not as designed: try again
    else:
        pytest.fail(
            f"the bench stalled in each of {TRIALS} trials: no train of {shape} could be applied with every "
            f"pulse shorter than {detection:g} s and a read-out from {detection:g} s after its first edge to "
            f"{detection:g} s after its end (last: "
            f"longest pulse {train.longest_pulse_s():.2f} s, longest low {train.longest_gap_s():.2f} s, "
            f"{len(train.reads)} read-outs)",
            pytrace=False,
        )
    after = _rate_read(master, dut, profile, clock)
    problems = taken(train)
    assert not problems, (
        f"{shape} (longest pulse {train.longest_pulse_s():.2f} s, {train.high_s():.2f} s high in all) "
        f"were taken as a level: {'; '.join(problems[:3])}; idle rate {idle.rate}, refused-rate bit "
        f"{idle.refusal}"
    )
    assert (after.rate, after.refusal) == (idle.rate, idle.refusal), (
        f"{shape}: with the inputs low for {rate_inputs.settle_s:g} s afterwards the rate is {after.rate} "
        f"(refused-rate bit {after.refusal}), not the idle {idle.rate} (bit {idle.refusal})"
    )


@pytest.mark.requirement("RI-MAX-VOLTAGE")
@pytest.mark.needs("mains")
def test_230_vac_is_withstood_and_detected(
    dut: Any, master: Any, rate_inputs: Any, station: Any, profile: Any
) -> None:
    ri = profile.rate_inputs
    mains = [i for i, w in sorted(station.rig.wiring.rate_inputs.items()) if w.mains]
    index = mains[0]
    settle = ri.detection_time_s + station.rig.uncertainty.rate_poll_step_s
    rate_inputs.set_rate_input(index, ri.max_vac)
    wait_std(
        station, settle, mandated="detection", what=f"detection time, input {index} at {ri.max_vac:g} VAC"
    )
    tariff = _tariff(master, dut, profile)
    expected = expected_tariff(profile, levels_of(ri.count, {index}))
    assert tariff == expected, f"{ri.max_vac:g} VAC on input {index}: tariff {tariff}, expected {expected}"
    rate_inputs.clear_rate_inputs()
    wait_std(station, settle, mandated="detection", what=f"detection time, input {index} settling low")
    # the input still works afterwards
    rate_inputs.set_rate_input(index, ri.threshold_vac + THRESHOLD_MARGIN_VAC)
    wait_std(station, settle, mandated="detection", what=f"detection time, input {index} high again")
    tariff = _tariff(master, dut, profile)
    assert tariff == expected, f"input {index} no longer detects a high level after {ri.max_vac:g} VAC"


@pytest.mark.requirement("RI-RATE-REFUSAL")
def test_a_rate_the_meter_lacks_is_refused_with_a_status_bit(
    dut: Any, master: Any, rate_inputs: Any, station: Any, profile: Any
) -> None:
    """An input combination the profile maps to a rate the meter does not support leaves the rate as it was
    and toggles the profile's status bit in the long header (sibling CMi1020W manual: rates the meter does
    not support are refused, a failed rate change toggles a status bit; domain.md section 7)."""
    refusal = rate_refusal(profile)
    if refusal is None:
        pytest.skip("the device profile maps no rate-input combination to a rate the meter lacks")
    vac = profile.rate_inputs.threshold_vac + THRESHOLD_MARGIN_VAC
    approach_refused_rate(rate_inputs, station, profile, refusal, vac)
    rate, status = rate_and_status(master, dut.address, profile)
    assert rate == refusal.rate_before, (
        f"inputs {refusal.first_inputs} high: rate {rate}, the profile expects {refusal.rate_before}"
    )
    request_refused_rate(rate_inputs, station, profile, refusal, vac)
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
