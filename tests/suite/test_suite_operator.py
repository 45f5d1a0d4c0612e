"""Operator steps standing in for an LED sensor / button actuator (issue 14), answered through a pty."""

from __future__ import annotations

import os
import pty
import threading
import time
from collections.abc import Iterator

import pytest

from fixtures.operator import instrument_or_operator, operator_presses_button, operator_watches_led
from harness.measure import MeasurementFailed, Recorder, recording
from harness.operator import OperatorConsole, OperatorUnavailable, open_operator_console


@pytest.fixture
def terminal() -> Iterator[tuple[int, OperatorConsole]]:
    """(the operator's side of a pty, the console the harness opened on the other side)."""
    master, slave = pty.openpty()
    console = open_operator_console("A. Tester", nightly=False, timeout_s=5.0, tty_path=os.ttyname(slave))
    try:
        yield master, console
    finally:
        console.close()
        os.close(master)
        os.close(slave)


def _operator(fd: int, *steps: tuple[str, str]) -> threading.Thread:
    """Answer each prompt (text to wait for, reply) in turn, as a person at the bench would."""

    def run() -> None:
        seen = b""
        for prompt, reply in steps:
            deadline = time.monotonic() + 5.0
            while prompt.encode() not in seen and time.monotonic() < deadline:
                seen += os.read(fd, 1024)
            seen = seen.split(prompt.encode(), 1)[-1]
            os.write(fd, reply.encode() + b"\n")

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_the_rigs_own_instrument_is_preferred_and_a_missing_operator_skips_with_the_reason() -> None:
    reason = OperatorUnavailable("needs an operator step; skipped in a --nightly (unattended) run")
    assert instrument_or_operator({"led"}, "led", reason) is None
    with pytest.raises(pytest.skip.Exception, match="no led instrument and no operator.*--nightly"):
        instrument_or_operator({"button"}, "led", reason)


def test_the_operators_led_answers_are_recorded_with_who_answered(
    terminal: tuple[int, OperatorConsole],
) -> None:
    fd, console = terminal
    assert instrument_or_operator(set(), "led", console) is console
    watched: list[bool] = []
    _operator(fd, ("Enter to start", ""), ("light at least once?", "y"), ("not stuck on)?", "y"))
    with recording(Recorder(test="t::led")) as rec:
        operator_watches_led(console, 1.0, lambda: watched.append(True))
    assert watched == [True]
    assert [(m.name, m.verdict) for m in rec.measurements] == [
        ("led_lit_seen_by_operator", "pass"),
        ("led_off_seen_by_operator", "pass"),
    ]
    assert rec.measurements[0].conditions["observed_by"] == "operator A. Tester"


def test_an_led_the_operator_never_saw_lit_fails(terminal: tuple[int, OperatorConsole]) -> None:
    fd, console = terminal
    _operator(fd, ("Enter to start", ""), ("light at least once?", "n"), ("not stuck on)?", "y"))
    with recording(Recorder(test="t::led")) as rec, pytest.raises(MeasurementFailed):
        operator_watches_led(console, 1.0, lambda: None)
    assert rec.measurements[0].verdict == "fail" and rec.measurements[0].conditions["typed"] == "n"


def test_an_unanswered_operator_step_skips_as_not_done(terminal: tuple[int, OperatorConsole]) -> None:
    _fd, console = terminal
    console.timeout_s = 0.2
    with pytest.raises(pytest.skip.Exception, match="operator step not done"):
        operator_presses_button(console, "to toggle the breaker")
