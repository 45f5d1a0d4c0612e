"""The bench physics seen by simulated instruments: the contract between the emulator and the sim bench.

The reference emulator implements :class:`BenchPhysics`; the simulated SCPI servers (power supply,
DMM, relay card, AC source) only talk to the emulated module through it. Units are SI and explicit.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class BenchPhysics(Protocol):
    def set_bus_voltage(self, volts: float) -> None:
        """Voltage across the M-Bus slave terminals, signed: negative means reversed polarity, 0 = off."""

    def bus_voltage(self) -> float:
        """The voltage last set, signed."""

    def bus_current_a(self) -> float:
        """Total current drawn from the bus by every slave now (A): unit loads plus any space current."""

    def set_rate_input_vac(self, index: int, vac: float) -> None:
        """AC voltage (V rms) on rate input ``index`` (1..4)."""

    def rate_input_vac(self, index: int) -> float:
        """AC voltage (V rms) on rate input ``index`` (1..4)."""

    def press_button(self) -> None:
        """Press and release the module's push button."""

    def led_on(self) -> bool:
        """State of the green LED (communication with the meter)."""

    def now_s(self) -> float:
        """The emulator's clock in seconds (scaled time when a time scale is set)."""


@runtime_checkable
class MeterMains(Protocol):
    """The E350's own mains feed, switched by the bench (capability ``meter_mains``).

    The meter is mains powered and the module bus powered (product sheet: powered through M-Bus), so a
    meter power failure (OBIS C.7.0) is a mains outage, not an M-Bus supply loss (domain.md section 7).
    """

    def set_meter_mains(self, on: bool) -> None:
        """Mains to the meter on (True) or interrupted (False)."""


@runtime_checkable
class RedLed(Protocol):
    """The module's red LED, seen by an LED sensor (capability ``led``); sibling CMi1020W manual: steady
    while the meter id is missing, flashing after a failed rate change (domain.md section 7)."""

    def red_led_on(self) -> bool:
        """State of the red LED now."""


@runtime_checkable
class ReferenceMeterReadout(Protocol):
    """The meter's own registers, read independently of the module under test (read-only).

    A lab reads the E350's display or optical port (IEC 62056-21) beside the M-Bus read-out; the simulated
    bench exposes its meter model the same way. The suite compares the module's telegram with this
    reference and never with the module's (or the emulator's) account of itself.
    """

    def meter_readout(self) -> dict[str, float | int | str]:
        """Every device-profile register's value in the meter now, by register name, in the register's
        unit (Wh, W, V, A, counts), before any M-Bus scaling."""
