"""The RI-GLITCH train's own checks (testcases/test_rate_inputs.py): which pulses a conforming module may
ignore, which read-outs bracket a level taken by mistake, and which inputs the train goes to."""

from __future__ import annotations

from harness.profile import DeviceProfile, load_profile
from testcases.test_rate_inputs import GlitchTrain, RateRead, Switching, _glitch_inputs

DETECTION_S = 5.0


def _train(offs: list[float], reads: list[tuple[float, float]]) -> GlitchTrain:
    """Pulses switched on at 0, 4, 8 s (taking 0.05 s) and off at ``offs`` (taking 0.02 s)."""
    on = [Switching(4.0 * k, 4.0 * k + 0.05) for k in range(len(offs))]
    off = [Switching(t, t + 0.02) for t in offs]
    return GlitchTrain(on, off, [RateRead(s, e, 1, 0) for s, e in reads])


def test_pulse_and_gap_lengths_are_bounded_from_the_switching_commands() -> None:
    train = _train([3.0, 7.0, 11.0], [])
    assert abs(train.longest_pulse_s() - 3.02) < 1e-9  # first command on .. last command off
    assert abs(train.longest_gap_s() - 1.05) < 1e-9
    assert abs(train.high_s() - 3 * 2.95) < 1e-9  # only the time every input was high for certain
    stalled = _train([3.0, 9.1, 13.0], [])  # a read overran the second pulse past the detection time
    assert stalled.longest_pulse_s() >= DETECTION_S


def test_only_reads_from_one_detection_time_after_the_first_edge_to_one_after_the_train_bracket() -> None:
    reads = [(0.9, 2.8), (4.9, 5.04), (5.05, 6.9), (11.1, 16.0), (11.1, 15.9)]
    train = _train([3.0, 7.0, 11.0], reads)
    got = [(r.start, r.end) for r in train.reads_in_bracket(DETECTION_S)]
    # too early (a conforming module's timer has not expired even on a level), too late (a module that
    # took the train would have dropped it again): left out
    assert got == [(5.05, 6.9), (11.1, 15.9)]
    assert _train([3.0, 7.0, 11.0], [(0.9, 2.8), (11.1, 16.5)]).reads_in_bracket(DETECTION_S) == []


def _without_refusal_bit(profile: DeviceProfile) -> DeviceProfile:
    ri = profile.rate_inputs.model_copy(update={"refusal_status_bit": None})
    return profile.model_copy(update={"rate_inputs": ri})


def test_the_train_goes_to_every_input_when_their_detection_together_shows() -> None:
    profile = load_profile()
    # inputs 1+2 select a rate the meter lacks: refused, but the status bit shows the refused change
    assert _glitch_inputs(profile) == [1, 2, 3, 4]
    # without a status bit a refused change is invisible: one input alone, whose rate the meter has
    assert _glitch_inputs(_without_refusal_bit(profile)) == [1]
