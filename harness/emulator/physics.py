"""Bench physics of the emulated line (implements :class:`harness.physics.BenchPhysics`).

The simulated instruments reach the module only through this object: supply voltage and polarity on the
bus, bus current (unit loads + space current while sending), AC levels on the DUT's rate inputs, the push
button, the green LED and the emulated clock.
"""

from __future__ import annotations

from harness.emulator.bus import Bus
from harness.emulator.clock import ScaledClock
from harness.emulator.module import Cmi1020
from harness.emulator.rate_inputs import DamageEvent


class EmulatorPhysics:
    """Physics API for the simulated bench; rate inputs, button and LED belong to the DUT (first module)."""

    def __init__(self, bus: Bus, dut: Cmi1020, clock: ScaledClock) -> None:
        self._bus = bus
        self._dut = dut
        self._clock = clock
        self._lock = bus.lock

    # --- BenchPhysics ---------------------------------------------------------------------------
    def set_bus_voltage(self, volts: float) -> None:
        """Signed voltage across the slave terminals (negative = reversed polarity, 0 = off)."""
        self._bus.set_bus_voltage(float(volts))

    def bus_voltage(self) -> float:
        return self._bus.volts

    def bus_current_a(self) -> float:
        return self._bus.current_a()

    def set_rate_input_vac(self, index: int, vac: float) -> None:
        with self._lock:
            self._dut.set_rate_input_vac(index, float(vac), self._clock.now_s())

    def rate_input_vac(self, index: int) -> float:
        return self._dut.rate_inputs.input(index).vac

    def press_button(self) -> None:
        with self._lock:
            self._dut.press_button(self._clock.now_s())

    def led_on(self) -> bool:
        return self._dut.led_on(self._clock.now_s())

    def red_led_on(self) -> bool:
        """State of the red LED (implements :class:`harness.physics.RedLed`)."""
        with self._lock:
            return self._dut.red_led_on(self._clock.now_s())

    def now_s(self) -> float:
        return self._clock.now_s()

    # --- extras for tests and the simulated bench ---------------------------------------------------------
    def advance_s(self, seconds: float) -> None:
        """Move the emulated clock forward without waiting (energy, detection times)."""
        self._clock.advance_s(seconds)

    def set_load_w(self, phase: int, watts: float) -> None:
        """Load on E350 phase 1..3 (negative = export)."""
        with self._lock:
            self._dut.sync(self._clock.now_s())
            self._dut.meter.set_load_w(phase, watts)

    def set_meter_mains(self, on: bool) -> None:
        """The E350's own mains (implements :class:`harness.physics.MeterMains`)."""
        with self._lock:
            self._dut.set_meter_mains(bool(on), self._clock.now_s())

    def damage_events(self) -> list[DamageEvent]:
        """Rate inputs driven above what they withstand (product sheet: max 230 VAC)."""
        return list(self._dut.rate_inputs.damage_events)

    def active_tariff(self) -> int:
        with self._lock:
            self._dut.sync(self._clock.now_s())
            return self._dut.meter.active_tariff
