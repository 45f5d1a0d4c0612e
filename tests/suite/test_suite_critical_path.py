"""Critical path of mandated waits (issue 16): waits on independent lanes of one overlap group count once;
the staggered rate-input trial judges each input from its own application instant."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any

import pytest

import fixtures.checks as checks
from harness.commands.run import timing_lines
from harness.expect import edge_walks, staggered_order, staggered_rounds, walk_states
from harness.measure import Recorder, critical_path_s, mandated_wait, recording
from harness.profile import load_profile
from testcases.test_rate_inputs import Read, _judge


def test_without_lanes_the_critical_path_is_the_sum() -> None:
    assert critical_path_s(12.5, {}) == 12.5


def test_lanes_of_one_group_count_their_longest_lane_only() -> None:
    lanes = {("t", "rate_input:1"): 6.0, ("t", "rate_input:2"): 5.0, ("t", "rate_input:3"): 5.5}
    # 20 s in all, 16.5 s of it on three lanes that overlap: 5.0 + 5.5 are saved
    assert critical_path_s(20.0, lanes) == pytest.approx(9.5)


def test_lanes_of_different_groups_do_not_overlap() -> None:
    lanes = {("a", "rate_input:1"): 6.0, ("b", "rate_input:2"): 5.0}
    assert critical_path_s(11.0, lanes) == pytest.approx(11.0)


def test_one_wait_serving_several_lanes_counts_per_lane_in_the_sum_and_once_on_the_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checks.time, "sleep", lambda s: None)
    monkeypatch.setattr(checks, "waiting", lambda *a: contextlib.nullcontext())
    station = SimpleNamespace(state=SimpleNamespace(time_scale=1.0))
    rec = Recorder(test="t")
    with recording(rec):
        checks.wait_std(station, 5.5, mandated="detection", lanes=["rate_input:1", "rate_input:2"])
        checks.wait_std(station, 1.0, mandated="detection")  # no lane: on the path in full
        mandated_wait("wire", 0.25)
    assert rec.mandated_waits_s == {"detection": 12.0, "wire": 0.25}
    total = sum(rec.mandated_waits_s.values())
    assert critical_path_s(total, rec.lane_waits_s) == pytest.approx(6.75)


def test_the_run_summary_prints_wall_against_the_sum_and_the_critical_path() -> None:
    timing: dict[str, Any] = {
        "wall_s": 120.0,
        "time_scale": 1.0,
        "mandated_waits_s": {"detection": 80.0, "wire": 20.0},
        "mandated_total_s": 100.0,
        "critical_path_s": 75.0,
    }
    first, second = timing_lines(timing, 0.0)
    assert "mandated waits 100.0 s" in first and "ratio wall/mandated 1.200" in first
    assert "critical path of mandated waits 75.0 s" in second and "overlap saved 25.0 s" in second
    assert "ratio wall/critical path 1.600" in second
    del timing["critical_path_s"]  # a run folder of an older release: no critical path line
    assert len(timing_lines(timing, 0.0)) == 1


@pytest.fixture(scope="module")
def profile() -> Any:
    return load_profile()


def test_inputs_are_staggered_lowest_priority_first_so_each_one_shows(profile: Any) -> None:
    # shipped rules: input 4 wins over 3 over 2 over 1, and 1+2 select rate 6, which the 5-rate meter
    # refuses (the rate stays): no order of all four shows each input, two rounds do
    assert staggered_order(profile, [1, 2, 3, 4]) is None
    assert staggered_rounds(profile, [1, 2, 3, 4]) == [[1, 3, 4], [2]]
    assert staggered_order(profile, [3, 1]) == [1, 3]
    assert staggered_order(profile, [1, 3, 4]) == [1, 3, 4]


def test_rounds_without_refused_rates_take_all_inputs_at_once(profile: Any) -> None:
    ri = profile.rate_inputs.model_copy(update={"tariff_rules": profile.rate_inputs.tariff_rules[1:]})
    plain = profile.model_copy(update={"rate_inputs": ri})  # no 1+2 rule: each input alone selects a rate
    assert staggered_rounds(plain, [1, 2, 3, 4]) == [[1, 2, 3, 4]]


def test_no_stagger_when_an_input_never_changes_the_tariff(profile: Any) -> None:
    ri = profile.rate_inputs.model_copy(update={"tariff_rules": [profile.rate_inputs.tariff_rules[-1]]})
    masked = profile.model_copy(update={"rate_inputs": ri})  # only input 1 selects a tariff
    assert staggered_order(masked, [1, 2]) is None
    assert staggered_rounds(masked, [1, 2]) == [[1], [2]]


def test_edges_are_walked_up_a_round_and_back_down_it(profile: Any) -> None:
    # shipped rules: 1, then 3 over 1, then 4 over 3, and back; input 2 alone (1+2 is refused)
    up_and_down = [(1, True), (3, True), (4, True), (4, False), (3, False), (1, False)]
    assert edge_walks(profile, [1, 2, 3, 4]) == [up_and_down, [(2, True), (2, False)]]
    assert walk_states(up_and_down) == [
        frozenset(),
        frozenset({1}),
        frozenset({1, 3}),
        frozenset({1, 3, 4}),
        frozenset({1, 3}),
        frozenset({1}),
        frozenset(),
    ]


def test_an_input_whose_edges_change_no_rate_is_not_walked(profile: Any) -> None:
    ri = profile.rate_inputs.model_copy(update={"tariff_rules": [profile.rate_inputs.tariff_rules[-1]]})
    masked = profile.model_copy(update={"rate_inputs": ri})  # only input 1 selects a tariff
    assert edge_walks(masked, [1, 2]) == [[(1, True), (1, False)]]


def _reads(*points: tuple[float, int], duration: float = 0.3) -> list[Read]:
    return [Read(at, duration, tariff) for at, tariff in points]


def _bracket(reads: list[Read], applied_at: float = 2.0) -> Any:
    return _judge(reads, applied_at, 2, 3, index=2, detection=5.0, read_s=0.3, deadline=6.1)


def test_a_detection_after_the_detection_time_is_bracketed_from_the_inputs_own_application() -> None:
    # input applied at 2.0 s of the trial: reads ending 6.7 (4.7 s after it) and 7.3 (5.3 s) bracket it
    trial = _bracket(_reads((6.1, 2), (6.4, 2), (6.7, 2), (7.0, 2), (7.3, 3), (7.6, 3)))
    assert trial.valid and trial.early == trial.before == 2 and trial.tariff == trial.after == 3
    assert trial.early_at == pytest.approx(4.7) and trial.seen_at == pytest.approx(5.3)


def test_a_level_seen_before_the_detection_time_is_caught_by_the_early_read() -> None:
    trial = _bracket(_reads((6.1, 2), (6.4, 3), (6.7, 3), (7.0, 3), (7.3, 4)))
    assert trial.early == 3 != trial.before  # the test reports this input as detected too early


def test_a_wrong_tariff_after_detection_is_reported_as_such() -> None:
    trial = _bracket(_reads((6.1, 2), (6.4, 2), (6.7, 2), (7.3, 5)))
    assert trial.valid and trial.tariff == 5 != trial.after


def test_a_stalled_read_makes_the_bracket_invalid() -> None:
    reads = _reads((6.1, 2), (6.4, 2), (6.7, 2))
    reads.append(Read(9.0, 2.3, 3))  # one read took 2.3 s against 0.3 s: the bracket says nothing
    assert not _bracket(reads).valid


def test_reads_started_before_the_input_was_applied_do_not_count() -> None:
    # the only reads before the detection time started before the application: no early read, invalid
    reads = [Read(2.1, 0.3, 2), Read(7.3, 0.3, 3)]
    assert not _bracket(reads).valid


def test_a_trial_of_a_level_never_seen_has_no_detection_time() -> None:
    trial = _bracket(_reads((6.4, 2), (6.7, 2), *((2.0 + t, 2) for t in (7.0, 9.0, 11.0, 12.3))))
    assert trial.valid and trial.seen_at is None  # measured as no value: a fail


class _Bench:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def set_rate_input(self, index: int, vac: float) -> None:
        self.calls.append(("set", str(index), str(vac)))

    def clear_rate_inputs(self) -> None:
        self.calls.append(("clear",))


@pytest.fixture
def rate_inputs(monkeypatch: pytest.MonkeyPatch, profile: Any) -> tuple[Any, list[float]]:
    from fixtures.rate_inputs import BenchRateInputs

    waits: list[float] = []
    monkeypatch.setattr(checks, "_sleep_std", lambda station, seconds, what, mandated: waits.append(seconds))
    station = SimpleNamespace(
        state=SimpleNamespace(time_scale=1.0),
        rig=SimpleNamespace(uncertainty=SimpleNamespace(rate_poll_step_s=0.5)),
    )
    return BenchRateInputs(_Bench(), station, profile), waits


def test_inputs_that_had_a_level_are_held_off_for_the_detection_time(rate_inputs: Any) -> None:
    inputs, waits = rate_inputs
    inputs.set_rate_input(2, 28.0)
    inputs.settle_low()
    assert waits == [5.5]  # detection time 5 s + the rig's poll step
    inputs.settle_low()  # settled already: nothing changed since, nothing to wait for
    assert waits == [5.5] and inputs.bench.calls[-1] == ("clear",)


def test_a_low_level_seen_low_needs_no_settling_but_a_high_one_does(rate_inputs: Any) -> None:
    inputs, waits = rate_inputs
    inputs.set_rate_input(1, 20.0)
    inputs.seen_low()  # 20 VAC is below the 24 VAC threshold and was read as low: no level change
    inputs.settle_low()
    assert waits == []
    inputs.set_rate_input(1, 28.0)
    inputs.seen_low()  # a high level was applied: the module must take it low, whatever was read
    inputs.settle_low()
    assert waits == [5.5]


def test_one_settling_wait_for_several_inputs_counts_on_each_lane(rate_inputs: Any) -> None:
    inputs, _ = rate_inputs
    rec = Recorder(test="t")
    with recording(rec):
        for index in (1, 2, 3):
            inputs.set_rate_input(index, 28.0)
        inputs.settle_low(per_input=True)
    assert rec.mandated_waits_s == {"detection": pytest.approx(16.5)}
    assert critical_path_s(16.5, rec.lane_waits_s) == pytest.approx(5.5)
