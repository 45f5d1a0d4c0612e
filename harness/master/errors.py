"""Errors of the M-Bus master. Each message says what was sent, what was expected, within what
time, and what to check, so an operator can act on it without reading code."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.master.link import Reply


class MasterError(Exception):
    """Base class of every error the master raises."""


class PortError(MasterError):
    """The serial port (or RFC 2217 / socket endpoint) could not be opened or used."""


class NoReply(MasterError):
    """Nothing came back within the EN 13757-2 reply window (plus latency allowance)."""

    def __init__(self, message: str, *, sent: bytes = b"") -> None:
        super().__init__(message)
        self.sent = sent


class LineError(MasterError):
    """Something came back, but not a valid frame: bad parity, checksum, length or structure.

    ``reply`` holds the bytes received (``reply.data``) so a test can inspect them.
    """

    def __init__(self, message: str, *, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class CollisionError(LineError):
    """More than one slave answered at once (wildcard select, duplicate address): garbled reply."""


class UnexpectedReply(MasterError):
    """A valid frame came back, but not the kind the operation expects (e.g. a long frame instead of E5)."""

    def __init__(self, message: str, *, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply
