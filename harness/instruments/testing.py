"""Byte-exact driver tests without an instrument: a fake resource expecting (written, reply) pairs in order.

Example::

    with expected_protocol(ScpiDmm, [("CONF:CURR:DC 0.01", None), ("READ?", "+1.5E-03")]) as dmm:
        dmm.write("CONF:CURR:DC 0.01")
        assert dmm.read_current_a() == 1.5e-3
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

Pair = tuple[str | None, str | None]
D = TypeVar("D")


class ProtocolMismatch(AssertionError):
    pass


class ExpectedProtocolResource:
    """Each ``write`` must equal the next expected message; each ``read`` returns the reply paired with it."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        self.pairs = list(pairs)
        self.position = 0
        self.pending: list[str] = []
        self.written: list[str] = []
        self.closed = False
        #: pyvisa I/O timeout (ms); :attr:`timeouts` records it at each write (slow-reset waits are testable)
        self.timeout = 2000
        self.timeouts: list[int] = []

    def write(self, message: str) -> int:
        self.written.append(message)
        self.timeouts.append(self.timeout)
        if self.position >= len(self.pairs):
            raise ProtocolMismatch(
                f"unexpected write {message!r} after the last expected pair; written: {self.written}"
            )
        expected, reply = self.pairs[self.position]
        if expected is None:
            raise ProtocolMismatch(f"expected a read (reply {reply!r}), got write {message!r}")
        if message != expected:
            raise ProtocolMismatch(f"pair {self.position}: expected write {expected!r}, got {message!r}")
        self.position += 1
        if reply is not None:
            self.pending.append(reply)
        return len(message)

    def read(self) -> str:
        if self.pending:
            return self.pending.pop(0)
        if self.position < len(self.pairs) and self.pairs[self.position][0] is None:
            reply = self.pairs[self.position][1]
            self.position += 1
            return reply or ""
        raise ProtocolMismatch(f"read with no reply pending; written so far: {self.written}")

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        if self.position != len(self.pairs) or self.pending:
            missing = self.pairs[self.position :]
            raise ProtocolMismatch(
                f"not all expected pairs were used: missing {missing}, unread {self.pending}"
            )


@contextmanager
def expected_protocol(driver: type[D], pairs: Sequence[Pair], **kwargs: Any) -> Iterator[D]:
    """Build ``driver(resource, **kwargs)`` on a fake resource; on exit every pair must have been used."""
    resource = ExpectedProtocolResource(pairs)
    yield driver(resource, **kwargs)  # type: ignore[call-arg]
    resource.assert_done()


def timeout_at(instrument: Any, command: str) -> int:
    """The I/O timeout (ms) the driver had set when it wrote ``command`` (first occurrence)."""
    resource: ExpectedProtocolResource = instrument.resource
    return resource.timeouts[resource.written.index(command)]
