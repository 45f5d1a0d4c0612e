"""Signals that end a run on a bench: SIGINT (Ctrl-C), SIGTERM (``kill``, a CI job or service stop) and
SIGHUP (the terminal went away). Whatever the signal and whoever it was sent to (the process alone or its
whole process group), the bench is made safe first and the evidence is finished afterwards.

- First signal: every registered safety action runs at once (the bench: supply outputs off, AC source off,
  relays open) and :class:`Terminated` (a ``KeyboardInterrupt``) is raised in the main thread, so every
  ``finally`` and fixture teardown still runs and the run folder is finalized as interrupted.
- Any later signal: the safety actions run again and :class:`EvidenceAborted` is raised: what was still to
  be written (report, manifest, database row) is given up, and the caller says which.
- An instrument exchange in flight (a command on the wire, a query's reply not yet read) is never cut in
  half: the signal is served the moment the exchange ends, so the safety commands never read a stale reply.
  An exchange lasts milliseconds, at most the instrument's VISA timeout.

SIGKILL cannot be caught: the kernel drops the rig lock (:mod:`harness.rig.lock`) and the next
``open_bench`` puts the bench in its safe state before anything else.

Exit status of an interrupted run (shell convention, POSIX ``wait`` status of a signalled process):
130 for SIGINT, ``128 + signum`` otherwise (143 for SIGTERM, 129 for SIGHUP).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

#: the signals that end a run cleanly
SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """A signal ended the run; raised so every ``finally`` and fixture teardown runs."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal_name(signum)
        super().__init__(f"{self.signal_name} received: the bench was made safe, the run stops")


class EvidenceAborted(Terminated):
    """A further signal while the run was being finished: the evidence still to be written is given up."""


@dataclass(frozen=True)
class InterruptRecord:
    """The first signal of the run: which one, when (ISO 8601 UTC), and how many came in all."""

    signum: int
    signal_name: str
    received: str
    count: int


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_status(signum: int) -> int:
    """Exit status of a run ended by ``signum``: 130 for SIGINT, 128 + signum otherwise."""
    return 128 + int(signum)


_state_lock = threading.Lock()
_record: InterruptRecord | None = None
_safety_actions: list[Callable[[], None]] = []
_exchange_depth = 0
_pending: int | None = None
_install_depth = 0
_saved_handlers: dict[int, Any] = {}


def record() -> InterruptRecord | None:
    """The first signal received since the handlers were installed (None: not interrupted)."""
    return _record


def interrupted() -> bool:
    return _record is not None


def add_safety_action(action: Callable[[], None]) -> None:
    """Run ``action`` first thing on every signal (it must be quick and must not raise)."""
    with _state_lock:
        if action not in _safety_actions:
            _safety_actions.append(action)


def remove_safety_action(action: Callable[[], None]) -> None:
    with _state_lock:
        if action in _safety_actions:
            _safety_actions.remove(action)


def make_safe() -> None:
    """Run every safety action now; a failing one is reported and the others still run."""
    for action in list(_safety_actions):
        try:
            action()
        except Exception as exc:  # keep going: the other outputs must still be made safe
            print(f"cmi-hil: SAFETY: {exc}", file=sys.stderr, flush=True)


def _serve(signum: int) -> None:
    make_safe()
    if _record is not None and _record.count > 1:
        raise EvidenceAborted(signum)
    raise Terminated(signum)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _record, _pending
    if _record is None:
        received = datetime.now(UTC).isoformat(timespec="milliseconds")
        _record = InterruptRecord(signum, signal_name(signum), received, 1)
    else:
        _record = InterruptRecord(_record.signum, _record.signal_name, _record.received, _record.count + 1)
    if _exchange_depth > 0:
        _pending = signum  # served when the exchange on the wire ends (leave_exchange)
        return
    _serve(signum)


def enter_exchange() -> None:
    """Start an exchange that spans two calls (a query's write and its read); end it with leave_exchange."""
    global _exchange_depth
    if threading.current_thread() is threading.main_thread():
        _exchange_depth += 1


def leave_exchange() -> None:
    global _exchange_depth, _pending
    if threading.current_thread() is not threading.main_thread():
        return
    _exchange_depth = max(0, _exchange_depth - 1)
    if _exchange_depth == 0 and _pending is not None:
        signum, _pending = _pending, None
        _serve(signum)


def install() -> bool:
    """Handle SIGINT, SIGTERM and SIGHUP as described above (nestable; main thread only).

    Returns False, and installs nothing, outside the main thread. Each successful call is paired with
    :func:`uninstall`; the outermost pair restores the previous handlers and forgets the record.
    """
    global _install_depth
    if threading.current_thread() is not threading.main_thread():
        return False
    with _state_lock:
        if _install_depth == 0:
            for signum in SIGNALS:
                _saved_handlers[signum] = signal.signal(signum, _on_signal)
        _install_depth += 1
    return True


def uninstall() -> None:
    global _install_depth, _record, _pending
    if threading.current_thread() is not threading.main_thread():
        return
    with _state_lock:
        if _install_depth == 0:
            return
        _install_depth -= 1
        if _install_depth:
            return
        for signum, handler in _saved_handlers.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        _saved_handlers.clear()
        _record = None
        _pending = None


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """``with handling():`` the signals end the block safely; handlers restored on leaving."""
    installed = install()
    try:
        yield
    finally:
        if installed:
            uninstall()


class GuardedResource:
    """A VISA resource whose exchanges a signal cannot cut in half (wraps the pyvisa resource of a driver).

    A write is one exchange; a query's write (a program message with ``?``) stays open until its reply
    has been read, so a safety command sent from the signal handler never reads another command's reply.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._awaiting_reply = False

    def write(self, message: str) -> Any:
        enter_exchange()
        try:
            result = self._inner.write(message)
        except BaseException:
            leave_exchange()
            raise
        if "?" in message and not self._awaiting_reply:
            self._awaiting_reply = True
            return result
        leave_exchange()
        return result

    def read(self) -> str:
        try:
            return str(self._inner.read())
        finally:
            if self._awaiting_reply:
                self._awaiting_reply = False
                leave_exchange()

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
