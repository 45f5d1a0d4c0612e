"""Waits of the suite announced on the console (issue 15): what the caller says, for the wall time slept."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import fixtures.checks as checks


def _station(scale: float) -> Any:
    return SimpleNamespace(state=SimpleNamespace(time_scale=scale))


@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    seen: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def waiting(description: str, seconds: float) -> Iterator[None]:
        seen.append((description, seconds))
        yield

    monkeypatch.setattr(checks, "waiting", waiting)
    monkeypatch.setattr(checks.time, "sleep", lambda s: None)
    return seen


def test_a_wait_is_announced_with_the_callers_description(announced: list[tuple[str, float]]) -> None:
    checks.wait_std(_station(1.0), 5.0, what="detection time, input 3")
    assert announced == [("detection time, input 3", 5.0)]


def test_a_scaled_wait_announces_its_wall_time_and_its_standard_time(
    announced: list[tuple[str, float]],
) -> None:
    checks.wait_std(_station(0.1), 5.0, mandated="detection", what="detection time, input 3")
    ((text, wall),) = announced
    assert wall == pytest.approx(0.5)
    assert text == "detection time, input 3 (5 s standard time, x0.1)"


def test_sleep_until_announces_only_the_remaining_time(announced: list[tuple[str, float]]) -> None:
    clock = checks.StdClock(_station(1.0))
    clock.t0 = checks.time.monotonic() - 2.0  # started two seconds ago
    clock.sleep_until(5.0, what="pulse")
    ((text, wall),) = announced
    assert text == "pulse" and 2.9 < wall <= 3.0
    announced.clear()
    clock.sleep_until(1.0, what="already past")
    assert announced == []  # nothing to wait for: nothing announced


def test_an_unnamed_wait_says_which_mandated_wait_it_is(announced: list[tuple[str, float]]) -> None:
    checks.wait_std(_station(1.0), 1.0, mandated="detection")
    checks.wait_std(_station(1.0), 1.0)
    assert [t for t, _ in announced] == ["detection wait", "settling"]
