"""CMi1020 rate (tariff) inputs: threshold, minimum detection time, maximum voltage.

Product sheet: low < 24 VAC, high > 24 VAC, max 230 VAC, minimum detection time 5 s. A level change counts
only once held for the detection time, so shorter pulses are ignored; a voltage above the maximum is a damage
event and the input reads low from then on. Evaluated lazily against the emulated clock.
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
    ) -> None:
        self.index = index
        self.threshold_vac = threshold_vac
        self.max_vac = max_vac
        self.detection_time_s = detection_time_s
        #: detection time of a high-to-low change (default: the same as a low-to-high one)
        self.falling_detection_time_s = falling_detection_time_s
        #: lowest voltage that damages the input (default: anything above max_vac)
        self.damage_at_vac = damage_at_vac
        self.vac = 0.0
        self.raw_high = False
        self.since_s = 0.0
        self.detected = False
        self.damaged = False

    def commit_time_s(self) -> float | None:
        """When the pending level change becomes detected, or None if nothing is pending."""
        if self.raw_high == self.detected:
            return None
        if self.detected and self.falling_detection_time_s is not None:
            return self.since_s + self.falling_detection_time_s
        return self.since_s + self.detection_time_s

    def settle(self, now_s: float) -> bool:
        """Apply a pending change whose detection time has elapsed; True if the detected level changed."""
        t = self.commit_time_s()
        if t is not None and t <= now_s:
            self.detected = self.raw_high
            return True
        return False

    def set_vac(self, vac: float, now_s: float) -> DamageEvent | None:
        if vac < 0:
            raise ValueError(f"rate input {self.index}: AC level must be >= 0 V rms, got {vac}")
        self.settle(now_s)
        self.vac = vac
        event = None
        overvoltage = vac > self.max_vac if self.damage_at_vac is None else vac >= self.damage_at_vac
        if overvoltage and not self.damaged:
            self.damaged = True
            event = DamageEvent(self.index, vac, now_s)
        high = vac > self.threshold_vac and not self.damaged
        if high != self.raw_high:
            self.raw_high = high
            self.since_s = now_s
        return event


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
