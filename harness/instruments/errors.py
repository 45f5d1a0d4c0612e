"""Errors raised by the instrument layer. Each message says what was expected, what came and what to do."""

from __future__ import annotations


class InstrumentError(Exception):
    """Base class of every instrument-layer error."""


class LimitError(InstrumentError, ValueError):
    """A value is outside the instrument's range or the rig's limit; nothing was sent."""


class InterlockError(InstrumentError):
    """The mains interlock refused a command: AC above the ELV class on a channel not declared mains."""


class ScpiError(InstrumentError):
    """The instrument's error queue (``SYST:ERR?``) held errors after a command sequence."""

    def __init__(self, instrument: str, errors: list[tuple[int, str]], context: str) -> None:
        self.instrument = instrument
        self.errors = errors
        listed = "; ".join(f"{code},{message!r}" for code, message in errors)
        super().__init__(
            f"{instrument}: error queue after {context}: {listed}; "
            "check the command set of this model against the driver (harness/instruments)"
        )


class InstrumentUnreachable(InstrumentError):
    """An instrument did not answer at its VISA address."""
