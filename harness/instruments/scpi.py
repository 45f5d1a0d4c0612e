"""A small declarative SCPI layer: instruments are declared as properties with units, ranges and validators.

In the spirit of pymeasure's ``Instrument.control`` (pymeasure itself is not used: it pulls numpy, pandas
and pint for what is here about a hundred lines). A :class:`Control` validates a value *before* anything is
written, so a rig limit never reaches an instrument; limits are static or read from the driver (the rig's).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, overload

from harness.instruments.errors import LimitError, ScpiError

T = TypeVar("T")

#: Overload reading of SCPI DMMs (Keysight Truevolt manual: overload reads +/-9.9E37).
OVERLOAD = 9.9e37


class Resource(Protocol):
    """The part of a pyvisa message-based resource the drivers use (a fake one in tests)."""

    def write(self, message: str) -> Any: ...

    def read(self) -> str: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Bounds:
    low: float
    high: float
    source: str  # where the bounds come from, for the error message ("instrument range", "rig limit ...")


class Validator(Protocol):
    def __call__(self, instrument: Any, name: str, value: Any, unit: str) -> Any: ...


class InRange:
    """Accept a number in [low, high]; ``bounds`` is fixed or read from the driver (e.g. the rig's limits)."""

    def __init__(self, bounds: Bounds | Callable[[Any], Bounds]) -> None:
        self._bounds = bounds

    def __call__(self, instrument: Any, name: str, value: Any, unit: str) -> float | int:
        bounds = self._bounds(instrument) if callable(self._bounds) else self._bounds
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise LimitError(f"{_who(instrument)}.{name}: expected a number in {unit}, got {value!r}")
        if not bounds.low <= value <= bounds.high:
            raise LimitError(
                f"{_who(instrument)}.{name}: {value:g} {unit} is outside "
                f"{bounds.low:g}..{bounds.high:g} {unit} "
                f"({bounds.source}); nothing was sent"
            )
        return value  # an int stays an int: "INST:NSEL 1", not "1.0"


class OneOf:
    """Accept one of a fixed set of values."""

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = tuple(values)

    def __call__(self, instrument: Any, name: str, value: Any, unit: str) -> Any:
        if value not in self.values:
            allowed = ", ".join(f"{v!r}" for v in self.values)
            raise LimitError(
                f"{_who(instrument)}.{name}: {value!r} is not one of {allowed}; nothing was sent"
            )
        return value


def _who(instrument: Any) -> str:
    return str(getattr(instrument, "name", type(instrument).__name__))


def parse_float(reply: str) -> float:
    """A SCPI <NR3> reply; the overload value becomes +/-inf."""
    value = float(reply.strip().split(",")[0])
    if abs(value) >= OVERLOAD:
        return math.copysign(math.inf, value)
    return value


def parse_int(reply: str) -> int:
    return int(float(reply.strip()))


def parse_bool(reply: str) -> bool:
    text = reply.strip().upper()
    if text in ("1", "ON"):
        return True
    if text in ("0", "OFF"):
        return False
    raise ValueError(f"expected 0/1/ON/OFF, got {reply!r}")


def format_bool(value: bool) -> str:
    return "ON" if value else "OFF"


def format_number(value: float) -> str:
    """Plain decimal SCPI <NRf>, no exponent for bench-sized values (some supplies reject exponents)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


class Control(Generic[T]):
    """A SCPI setting read with ``get_command`` and written with ``set_command`` (``{}`` takes the value).

    The value is validated before it is formatted, so an out-of-range value is never sent.
    """

    def __init__(
        self,
        get_command: str | None,
        set_command: str | None,
        doc: str,
        *,
        unit: str = "",
        validator: Validator | None = None,
        parse: Callable[[str], T] = parse_float,  # type: ignore[assignment]
        fmt: Callable[[Any], str] = format_number,
    ) -> None:
        self.get_command = get_command
        self.set_command = set_command
        self.__doc__ = doc
        self.unit = unit
        self.validator = validator
        self.parse = parse
        self.fmt = fmt
        self.name = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def validate(self, instrument: object, value: Any) -> Any:
        """Check a value against this control's validator without sending anything."""
        if self.validator is None:
            return value
        return self.validator(instrument, self.name, value, self.unit)

    @overload
    def __get__(self, instrument: None, owner: type) -> Control[T]: ...

    @overload
    def __get__(self, instrument: object, owner: type) -> T: ...

    def __get__(self, instrument: object | None, owner: type) -> Control[T] | T:
        if instrument is None:
            return self
        if self.get_command is None:
            raise AttributeError(f"{self.name} is write-only")
        return self.parse(instrument.query(self.get_command))  # type: ignore[attr-defined]

    def __set__(self, instrument: object, value: T) -> None:
        if self.set_command is None:
            raise AttributeError(f"{self.name} is read-only")
        value = self.validate(instrument, value)
        instrument.write(self.set_command.format(self.fmt(value)))  # type: ignore[attr-defined]


class ScpiInstrument:
    """Base of the SCPI drivers: write/query with a per-model delay, identity, reset, error queue.

    Per-model class attributes: :attr:`reset_timeout_s` (how long ``*OPC?`` may take after ``*RST``),
    :attr:`remote_command` / :attr:`local_command` (front-panel lock while the harness drives the model).
    """

    #: Longest error queue drained by :meth:`check_errors` (SCPI-99 queues hold at least 2 entries, most ~20).
    max_errors = 32
    #: Time ``*OPC?`` may take after ``*RST`` (s); models with slow resets raise it (instruments.md 5.5).
    reset_timeout_s = 5.0
    #: Sent after identification to lock the front panel (None: the model needs none).
    remote_command: str | None = None
    #: Sent before closing to hand the front panel back.
    local_command: str | None = None

    def __init__(self, resource: Resource, *, name: str, write_delay_s: float = 0.0) -> None:
        self.resource = resource
        self.name = name
        self.write_delay_s = write_delay_s
        self.idn: str | None = None

    # -- transport ------------------------------------------------------------------------------
    def write(self, command: str) -> None:
        self.resource.write(command)
        if self.write_delay_s:
            time.sleep(self.write_delay_s)  # some supplies drop back-to-back commands (instruments.md 5.4)

    def query(self, command: str) -> str:
        """Write then read the reply at once: a reply left unread makes the next command fail (-410)."""
        self.write(command)
        return self.resource.read().strip()

    def close(self) -> None:
        """Hand the front panel back (models with a remote lock), then close the session."""
        if self.local_command is not None:
            with contextlib.suppress(Exception):  # closing must not fail on a dead link
                self.write(self.local_command)
        self.resource.close()

    @contextlib.contextmanager
    def timeout(self, seconds: float) -> Iterator[None]:
        """Raise the resource's I/O timeout (pyvisa ``timeout`` in ms) for one slow operation."""
        previous = getattr(self.resource, "timeout", None)
        if previous is None or previous >= seconds * 1000:
            yield
            return
        self.resource.timeout = int(seconds * 1000)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            self.resource.timeout = previous  # type: ignore[attr-defined]

    # -- IEEE 488.2 / SCPI common ------------------------------------------------------------------
    def identify(self) -> str:
        """``*IDN?``: manufacturer, model, serial, firmware; kept for the evidence."""
        self.idn = self.query("*IDN?")
        return self.idn

    @property
    def idn_fields(self) -> list[str]:
        return [part.strip() for part in (self.idn or "").split(",")]

    def reset(self) -> None:
        """``*RST`` (a write, never a query: instruments.md 5.2), wait for ``*OPC?``, then ``*CLS``."""
        self.write("*RST")
        with self.timeout(self.reset_timeout_s):
            self.query("*OPC?")
        self.write("*CLS")

    def read_errors(self) -> list[tuple[int, str]]:
        """Drain ``SYST:ERR?`` until ``0,"No error"``."""
        errors: list[tuple[int, str]] = []
        for _ in range(self.max_errors):
            code_text, _, message = self.query("SYST:ERR?").partition(",")
            code = int(code_text)
            if code == 0:
                break
            errors.append((code, message.strip().strip('"')))
        return errors

    def check_errors(self, context: str) -> None:
        errors = self.read_errors()
        if errors:
            raise ScpiError(self.name, errors, context)

    def initialize(self, *, reset: bool = True) -> str:
        """Identify, reset where the model allows it, configure, and check the error queue."""
        idn = self.identify()
        self.take_control()
        if reset:
            self.reset()
        else:
            self.write("*CLS")
        self.configure()
        self.check_errors("connect and configuration")
        return idn

    def take_control(self) -> None:
        """After identification: check model preconditions (override) and lock the front panel (remote)."""
        if self.remote_command is not None:
            self.write(self.remote_command)

    def configure(self) -> None:
        """Model-specific configuration after reset (override)."""

    def safe_state(self) -> None:
        """Outputs off, relays open (override)."""
