"""Instrument interfaces: drivers with these members are interchangeable (two vendors, sim or lab)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Instrument(Protocol):
    name: str
    idn: str | None

    def initialize(self, *, reset: bool = True) -> str: ...

    def check_errors(self, context: str) -> None: ...

    def safe_state(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class PowerSupply(Instrument, Protocol):
    channel_count: int

    def apply(self, volts: float, current_limit_a: float, *, channel: int = 1) -> None: ...

    def set_output(self, on: bool, *, channel: int = 1) -> None: ...

    def output_on(self, *, channel: int = 1) -> bool: ...

    def measure_voltage_v(self, *, channel: int = 1) -> float: ...

    def measure_current_a(self, *, channel: int = 1) -> float: ...


@runtime_checkable
class Multimeter(Instrument, Protocol):
    def configure_dc_current(self, range_a: float, nplc: float) -> None: ...

    def read_current_a(self) -> float: ...


@runtime_checkable
class SwitchCard(Instrument, Protocol):
    channels: tuple[int, ...]

    def close_channels(self, channels: Iterable[int]) -> None: ...

    def open_channels(self, channels: Iterable[int]) -> None: ...

    def closed_channels(self, channels: Iterable[int]) -> dict[int, bool]: ...


@runtime_checkable
class AcSource(Instrument, Protocol):
    def set_level(self, vac: float, *, frequency_hz: float | None = None) -> None: ...

    def set_output(self, on: bool) -> None: ...

    def output_on(self) -> bool: ...
