"""What the console showed during `cmi-hil run`, kept as ``console.log`` in the run folder (evidence).

While :func:`capture_console` is active, everything written to ``sys.stdout``/``sys.stderr`` (the command's
own lines, pytest's terminal report, warnings) still reaches the terminal and is also appended to the log;
the progress plugin (:mod:`harness.console.progress`), which writes to its own handle on the terminal so
pytest's output capture cannot swallow it, hands each line it prints to :func:`mirror`. The log holds the
lines that stay on the screen: the per-test lines, one-line failures, the requirement table and the
verdict; the live status line that rewrites itself is transient on the screen and is not logged.

The log is plain text: ANSI control sequences are removed (rich's ANSI decoder, ``Text.from_ansi``) and a
carriage-return rewrite keeps only what was left standing on the line.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rich.text import Text

CONSOLE_LOG = "console.log"

_active: ConsoleLog | None = None


def plain_text(text: str) -> str:
    """``text`` without ANSI control sequences; per line, only what a carriage return left standing."""
    lines = []
    for line in text.split("\n"):
        if "\r" in line.rstrip("\r"):
            line = line.rstrip("\r").rsplit("\r", 1)[-1]
        lines.append(Text.from_ansi(line).plain if "\x1b" in line else line.rstrip("\r"))
    return "\n".join(lines)


class ConsoleLog:
    """An append-only, thread-safe plain-text log of console lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._partial = ""

    def write(self, text: str) -> None:
        """Append ``text``; an unfinished last line waits for its newline (or :meth:`close`)."""
        with self._lock:
            if self._fh.closed:
                return
            self._partial += text
            done, sep, rest = self._partial.rpartition("\n")
            if sep:
                self._fh.write(plain_text(done) + "\n")
                self._fh.flush()
                self._partial = rest

    def close(self) -> None:
        with self._lock:
            if self._fh.closed:
                return
            if self._partial:
                self._fh.write(plain_text(self._partial) + "\n")
                self._partial = ""
            self._fh.close()


class _Tee:
    """A text stream that writes to ``stream`` and to ``log``; everything else is the stream's own."""

    def __init__(self, stream: IO[str], log: ConsoleLog) -> None:
        self._stream = stream
        self._log = log

    def write(self, text: str) -> int:
        self._log.write(text)
        return self._stream.write(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer...: the terminal's
        return getattr(self._stream, name)


def mirror(text: str) -> None:
    """Log a line a writer printed on the terminal by its own handle (no-op while no capture runs)."""
    log = _active
    if log is not None:
        log.write(text if text.endswith("\n") else text + "\n")


@contextlib.contextmanager
def capture_console(path: Path) -> Iterator[ConsoleLog]:
    """Tee ``sys.stdout``/``sys.stderr`` into ``path``, and take :func:`mirror` lines, until the end."""
    global _active
    log = ConsoleLog(path)
    saved = sys.stdout, sys.stderr, _active
    sys.stdout = _Tee(sys.stdout, log)
    sys.stderr = _Tee(sys.stderr, log)
    _active = log
    try:
        yield log
    finally:
        sys.stdout, sys.stderr, _active = saved
        log.close()


__all__ = ["CONSOLE_LOG", "ConsoleLog", "capture_console", "mirror", "plain_text"]
