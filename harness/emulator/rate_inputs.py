"""CMi1020 rate (tariff) inputs: threshold, minimum detection time, maximum voltage.

Product sheet: low < 24 VAC, high > 24 VAC, max 230 VAC, minimum detection time 5 s. A level change counts
only once held for the detection time, so shorter pulses are ignored; a voltage above the maximum is a damage
event and the input reads low from then on. Evaluated lazily against the emulated clock.

Two seeded debounce faults live here (harness.emulator.faults): an integrating debounce
(``integrating``: high time counts towards a detection across short lows) and a latched edge
(``latched_edge``: the level sampled at the rising edge is taken when its timer expires). A seeded comparator
fault too: a hysteresis far too wide (``release_vac``: once high, the comparator goes low again only below
that level, not below the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DamageEvent:
    """A rate input saw more than it withstands."""

    index: int
    vac: float
    time_s: float


class RateInput:
    """One input: the raw comparator level and the detected (debounced) level."""

    def __init__(
        self,
        index: int,
        *,
        threshold_vac: float,
        max_vac: float,
        detection_time_s: float,
        damage_at_vac: float | None = None,
        falling_detection_time_s: float | None = None,
        integrating: bool = False,
        latched_edge: bool = False,
        release_vac: float | None = None,
    ) -> None:
        self.index = index
        self.threshold_vac = threshold_vac
        self.max_vac = max_vac
        self.detection_time_s = detection_time_s
        #: detection time of a high-to-low change (default: the same as a low-to-high one)
        self.falling_detection_time_s = falling_detection_time_s
        #: lowest voltage that damages the input (default: anything above max_vac)
        self.damage_at_vac = damage_at_vac
        #: fault: the high-time counter is not cleared when the input goes low, only once it stayed low for
        #: a detection time, so short pulses separated by short lows add up to a detection
        self.integrating = integrating
        #: fault: the rising edge starts the timer, and at its expiry the level seen at the edge (high) is
        #: taken without checking the input again; a fall is then taken a detection time after it happened
        self.latched_edge = latched_edge
        #: fault: a comparator that is high goes low again only below this level (default: the threshold, a
        #: level below 24 VAC reads low whatever it came from)
        self.release_vac = release_vac
        #: high time (s) already counted towards the pending low-to-high change (integrating fault)
        self.high_credit_s = 0.0
        #: when the rising edge whose timer is running happened (latched-edge fault)
        self.latched_rise_s: float | None = None
        self.vac = 0.0
        self.raw_high = False
        self.since_s = 0.0
        self.detected = False
        self.damaged = False

    def commit_time_s(self) -> float | None:
        """When the pending level change becomes detected, or None if nothing is pending."""
        if self.latched_rise_s is not None:
            return self.latched_rise_s + self.detection_time_s
        if self.raw_high == self.detected:
            return None
        if self.detected and self.falling_detection_time_s is not None:
            return self.since_s + self.falling_detection_time_s
        return self.since_s + self.detection_time_s - self.high_credit_s

    def settle(self, now_s: float) -> bool:
        """Apply a pending change whose detection time has elapsed; True if the detected level changed."""
        t = self.commit_time_s()
        if t is None or t > now_s:
            return False
        self.detected = True if self.latched_rise_s is not None else self.raw_high
        self.latched_rise_s = None
        self.high_credit_s = 0.0
        return True

    def set_vac(self, vac: float, now_s: float) -> DamageEvent | None:
        if vac < 0:
            raise ValueError(f"rate input {self.index}: AC level must be >= 0 V rms, got {vac}")
        while self.settle(now_s):
            pass  # a latched rise and the fall after it may both be due
        self.vac = vac
        event = None
        overvoltage = vac > self.max_vac if self.damage_at_vac is None else vac >= self.damage_at_vac
        if overvoltage and not self.damaged:
            self.damaged = True
            event = DamageEvent(self.index, vac, now_s)
        high = vac > self.comparator_limit_vac() and not self.damaged
        if high != self.raw_high:
            self._edge(high, now_s)
        return event

    def comparator_limit_vac(self) -> float:
        """The level the comparator compares with now: the threshold, or while it is high the release level
        of a seeded hysteresis fault."""
        if self.raw_high and self.release_vac is not None:
            return self.release_vac
        return self.threshold_vac

    def _edge(self, high: bool, now_s: float) -> None:
        """The comparator changed to ``high`` at ``now_s`` (no detection was due: :meth:`settle` ran)."""
        if not self.detected:
            if high and self.integrating and now_s - self.since_s >= self.detection_time_s:
                self.high_credit_s = 0.0  # low for a whole detection time: the counter is cleared
            elif not high and self.integrating:
                self.high_credit_s += now_s - self.since_s  # the pulse's high time stays counted
            if high and self.latched_edge and self.latched_rise_s is None:
                self.latched_rise_s = now_s
        self.raw_high = high
        self.since_s = now_s


class RateInputBank:
    """The module's inputs; yields detection instants in order so the meter switches tariff exactly then."""

    def __init__(self, inputs: list[RateInput]) -> None:
        self.inputs = inputs
        self.damage_events: list[DamageEvent] = []

    def input(self, index: int) -> RateInput:
        if not 1 <= index <= len(self.inputs):
            raise ValueError(f"rate input index must be 1..{len(self.inputs)}, got {index}")
        return self.inputs[index - 1]

    def next_commit(self, until_s: float) -> tuple[float, RateInput] | None:
        best: tuple[float, RateInput] | None = None
        for inp in self.inputs:
            t = inp.commit_time_s()
            if t is not None and t <= until_s and (best is None or t < best[0]):
                best = (t, inp)
        return best

    def levels(self) -> list[bool]:
        return [inp.detected for inp in self.inputs]
