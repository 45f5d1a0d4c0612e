"""Operator steps: a question or an instruction at the terminal, with a timeout, recorded as evidence.

Where a rig has no LED sensor or button actuator, the operator is the instrument (architecture.md, "The
bench, concretely"): "Is the green LED lit now? [y/n]", "Press the push button now, then Enter". The prompt
talks to the controlling terminal (``/dev/tty``) directly, because pytest captures stdin and stdout; a run
without one (CI, a service, ``--nightly``) gets :class:`OperatorUnavailable` and the test is skipped with the
reason, never blocked. An unanswered prompt times out (:class:`OperatorTimeout`), which is a step not done,
not a module failure. Every answer is kept with the operator's name and the times asked and answered.
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

#: default seconds an operator has to answer
DEFAULT_TIMEOUT_S = 60.0
#: environment variable naming another terminal for the prompts (a lab's second console; the self-tests' pty)
TTY_ENV = "CMI_HIL_OPERATOR_TTY"


class OperatorUnavailable(Exception):
    """No operator can be asked (unattended run, no terminal); the message is the skip reason."""


class OperatorTimeout(Exception):
    """The operator did not answer in time."""


@dataclass(frozen=True)
class OperatorAnswer:
    """One operator step as evidence."""

    prompt: str
    operator: str
    answer: bool | None  # yes/no for a question; None for an instruction confirmed with Enter
    text: str  # what was typed
    asked: str  # ISO 8601
    answered: str  # ISO 8601
    response_s: float

    def as_conditions(self) -> dict[str, str | float]:
        """For a measurement's ``conditions``: who observed what, when."""
        return {
            "observed_by": f"operator {self.operator}",
            "prompt": self.prompt,
            "typed": self.text,
            "asked": self.asked,
            "answered": self.answered,
            "response_s": round(self.response_s, 3),
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class OperatorConsole:
    """Prompts on a terminal; create with :func:`open_operator_console`."""

    def __init__(self, tty: IO[str], operator: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.tty = tty
        self.operator = operator
        self.timeout_s = timeout_s

    def _readline(self, deadline: float, limit_s: float) -> str:
        buf = b""
        fd = self.tty.fileno()
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise OperatorTimeout(f"no answer from operator {self.operator} within {limit_s:g} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 256)
                if not chunk:
                    raise OperatorUnavailable("the operator's terminal closed")
                buf += chunk
        return buf.decode("utf-8", "replace").strip()

    def _say(self, text: str) -> None:
        self.tty.write(text)
        self.tty.flush()

    def ask_yes_no(self, question: str, *, timeout_s: float | None = None) -> OperatorAnswer:
        """Ask ``question [y/n]`` until the operator types yes or no; raises on timeout."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        asked, t0 = _now(), time.monotonic()
        self._say(f"\n[operator] {question} [y/n] (within {limit:g} s): ")
        while True:
            text = self._readline(t0 + limit, limit)
            word = text.lower()
            if word in ("y", "yes", "n", "no"):
                return OperatorAnswer(
                    question, self.operator, word.startswith("y"), text, asked, _now(), time.monotonic() - t0
                )
            self._say("[operator] please type y or n: ")

    def instruct(self, instruction: str, *, timeout_s: float | None = None) -> OperatorAnswer:
        """Show ``instruction`` ("... then Enter") and wait for Enter; raises on timeout."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        asked, t0 = _now(), time.monotonic()
        self._say(f"\n[operator] {instruction} (within {limit:g} s) ")
        text = self._readline(t0 + limit, limit)
        return OperatorAnswer(instruction, self.operator, None, text, asked, _now(), time.monotonic() - t0)

    def close(self) -> None:
        self.tty.close()


def open_operator_console(
    operator: str | None, *, nightly: bool, timeout_s: float = DEFAULT_TIMEOUT_S, tty_path: str | None = None
) -> OperatorConsole:
    """The operator's terminal, or :class:`OperatorUnavailable` saying why there is none."""
    if nightly:
        raise OperatorUnavailable("needs an operator step; skipped in a --nightly (unattended) run")
    if not operator:
        raise OperatorUnavailable(
            "needs an operator step; name the operator with --operator NAME to enable it"
        )
    path = tty_path or os.environ.get(TTY_ENV) or "/dev/tty"
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        raise OperatorUnavailable(
            f"needs an operator step, but there is no terminal to ask on ({path}: {exc.strerror}); "
            "run interactively, or give the rig an LED sensor / button actuator"
        ) from None
    tty = os.fdopen(fd, "w", buffering=1, encoding="utf-8")  # read with os.read on its descriptor
    if not tty.isatty():
        tty.close()
        raise OperatorUnavailable(f"needs an operator step, but {path} is not a terminal")
    return OperatorConsole(tty, operator, timeout_s=timeout_s)


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "OperatorAnswer",
    "OperatorConsole",
    "OperatorTimeout",
    "OperatorUnavailable",
    "TTY_ENV",
    "open_operator_console",
]
