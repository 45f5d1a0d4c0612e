"""Operator prompts answered through a pseudo-terminal, as a person at the bench would."""

from __future__ import annotations

import os
import pty
import threading
import time
from collections.abc import Iterator

import pytest

from harness.operator import (
    OperatorConsole,
    OperatorTimeout,
    OperatorUnavailable,
    open_operator_console,
)


@pytest.fixture
def terminal() -> Iterator[tuple[int, str]]:
    """(the operator's side of a pty, the path the harness opens)."""
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    try:
        yield master, path
    finally:
        os.close(master)
        os.close(slave)


def _read_until(fd: int, text: str, timeout_s: float = 5.0) -> str:
    seen = b""
    deadline = time.monotonic() + timeout_s
    while text.encode() not in seen and time.monotonic() < deadline:
        seen += os.read(fd, 1024)
    return seen.decode("utf-8", "replace")


def _answer_after_prompt(fd: int, prompt: str, *replies: str) -> threading.Thread:
    def operator() -> None:
        for reply in replies:
            _read_until(fd, prompt)
            os.write(fd, reply.encode() + b"\n")

    t = threading.Thread(target=operator, daemon=True)
    t.start()
    return t


def _console(path: str, timeout_s: float = 5.0) -> OperatorConsole:
    return open_operator_console("A. Tester", nightly=False, timeout_s=timeout_s, tty_path=path)


def test_a_yes_no_question_records_who_answered_what(terminal: tuple[int, str]) -> None:
    fd, path = terminal
    console = _console(path)
    _answer_after_prompt(fd, "[y/n]", "y")
    answer = console.ask_yes_no("Is the green LED lit now?")
    assert answer.answer is True and answer.operator == "A. Tester" and answer.text == "y"
    conditions = answer.as_conditions()
    assert (
        conditions["observed_by"] == "operator A. Tester"
        and conditions["prompt"] == "Is the green LED lit now?"
    )
    _answer_after_prompt(fd, "[y/n]", "no")
    assert console.ask_yes_no("Is the green LED lit now?").answer is False
    console.close()


def test_anything_but_yes_or_no_is_asked_again(terminal: tuple[int, str]) -> None:
    fd, path = terminal
    console = _console(path)
    _answer_after_prompt(fd, ": ", "maybe", "n")
    answer = console.ask_yes_no("Is the green LED lit now?")
    assert answer.answer is False and answer.text == "n"
    console.close()


def test_an_instruction_waits_for_enter(terminal: tuple[int, str]) -> None:
    fd, path = terminal
    console = _console(path)
    _answer_after_prompt(fd, "then Enter", "")
    answer = console.instruct("Press the push button now, then Enter")
    assert answer.answer is None and answer.response_s >= 0
    console.close()


def test_no_answer_times_out(terminal: tuple[int, str]) -> None:
    _, path = terminal
    console = _console(path, timeout_s=0.3)
    with pytest.raises(OperatorTimeout, match="no answer from operator A. Tester within 0.3 s"):
        console.ask_yes_no("Is the green LED lit now?")
    console.close()


def test_unattended_runs_skip_with_the_reason(tmp_path: object) -> None:
    with pytest.raises(OperatorUnavailable, match="--nightly"):
        open_operator_console("A. Tester", nightly=True)
    with pytest.raises(OperatorUnavailable, match="--operator NAME"):
        open_operator_console(None, nightly=False)
    with pytest.raises(OperatorUnavailable, match="no terminal to ask on"):
        open_operator_console("A. Tester", nightly=False, tty_path="/nonexistent/tty")
    with pytest.raises(OperatorUnavailable, match="is not a terminal"):
        open_operator_console("A. Tester", nightly=False, tty_path=os.devnull)
