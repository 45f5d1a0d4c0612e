"""Landis+Gyr E350 model: registers of domain.md section 5, energy integrating the load over emulated time.

Energy integrates power into the active tariff's register (import when the phase sum is positive, export when
negative); an open disconnector (breaker) takes the load off. The model is advanced lazily: callers bring it
to an instant with :meth:`E350Meter.advance_to` before reading or changing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.profile import MeterDefaults, Register


@dataclass(frozen=True)
class MeterSnapshot:
    """The E350's registers at one instant, in base units (Wh, varh, W, V, A)."""

    time_s: float
    serial: int
    firmware: int
    energy_import_wh: tuple[float, ...]  #: per tariff 1..n
    energy_export_wh: tuple[float, ...]
    reactive_import_varh: float
    reactive_export_varh: float
    power_w: tuple[float, float, float]
    voltage_v: tuple[float, float, float]
    current_a: tuple[float, float, float]
    power_fail_count: int
    active_tariff: int
    breaker_closed: bool
    error_flags: int = 0
    meter_firmware: str = ""  #: the meter's own firmware text (OBIS 0.2.0), not the module's
    event_counts: tuple[int, ...] = ()  #: OBIS 82.8.1, 82.8.2, ...

    def value(self, reg: Register) -> float | int | str:
        """The value a register reports, in the register's unit (before scale)."""
        src = reg.source
        if src in ("energy_import", "energy_export"):
            values = self.energy_import_wh if src == "energy_import" else self.energy_export_wh
            return sum(values) if reg.tariff == 0 else values[reg.tariff - 1]
        if src == "energy_absolute":  # OBIS 15.8.0: |+A| + |-A|
            return sum(self.energy_import_wh) + sum(self.energy_export_wh)
        if src == "event_counter":
            return self.event_counts[reg.tariff - 1]
        if src in ("power", "voltage", "current"):
            per_phase = {"power": self.power_w, "voltage": self.voltage_v, "current": self.current_a}[src]
            return sum(per_phase) if reg.phase == 0 else per_phase[reg.phase - 1]
        if src == "status_word":
            return self.status_word(reg)
        simple: dict[str, float | int | str] = {
            "serial": self.serial,
            "firmware": self.firmware,
            "meter_firmware": self.meter_firmware,
            "reactive_import": self.reactive_import_varh,
            "reactive_export": self.reactive_export_varh,
            "power_fail_count": self.power_fail_count,
            "active_tariff": self.active_tariff,
            "breaker": int(self.breaker_closed),
            "error_flags": self.error_flags,
        }
        return simple[src]

    def status_word(self, reg: Register) -> int:
        """The status word (E350 C.5.0) with the profile's bit fields filled from the meter's state."""
        fields = {"active_tariff": self.active_tariff, "breaker": int(self.breaker_closed)}
        word = 0
        for f in reg.fields:
            word |= f.encode(fields[f.name])
        return word


class E350Meter:
    """The meter behind the module: registers, active tariff, disconnector, power-fail counter."""

    def __init__(
        self, defaults: MeterDefaults, *, firmware: int, time_s: float = 0.0, default_tariff: int = 1
    ) -> None:
        self.serial = defaults.serial
        self.firmware = firmware
        self.meter_firmware = defaults.firmware
        self.energy_import_wh = [float(v) for v in defaults.energy_import_wh]
        self.energy_export_wh = [float(v) for v in defaults.energy_export_wh]
        self.reactive_import_varh = float(defaults.reactive_import_varh)
        self.reactive_export_varh = float(defaults.reactive_export_varh)
        self.reactive_ratio = defaults.reactive_ratio
        self.voltage_v = list(defaults.voltage_v)
        self.load_w = list(defaults.power_w)
        self.breaker_closed = defaults.breaker_closed
        self.power_fail_count = defaults.power_fail_count
        self.event_counts = list(defaults.event_counts)
        #: the E350's own mains (it is mains powered; the module is powered by the M-Bus)
        self.mains_on = True
        self.active_tariff = default_tariff
        self.error_flags = 0
        self._time_s = time_s

    @property
    def tariff_count(self) -> int:
        return len(self.energy_import_wh)

    def power_w(self) -> list[float]:
        """Instantaneous power per phase: the load while the breaker is closed and mains is on, else 0."""
        return list(self.load_w) if self.breaker_closed and self.mains_on else [0.0, 0.0, 0.0]

    def set_mains(self, on: bool, time_s: float, *, counts: bool = True) -> None:
        """Switch the meter's own mains at ``time_s``; a loss increments the power-fail counter (OBIS
        C.7.0: E350 readouts, domain.md section 7: the mains-powered meter counts its own supply losses).

        ``counts`` False: the loss is not counted (a seeded fault in the module model)."""
        self.advance_to(time_s)
        if on == self.mains_on:
            return
        self.mains_on = on
        if not on and counts:
            self.power_fail_count = (self.power_fail_count + 1) % 10_000  # 4 digits in E350 readouts

    def advance_to(self, time_s: float) -> None:
        """Integrate energy from the last instant to ``time_s`` into the active tariff."""
        dt_h = (time_s - self._time_s) / 3600.0
        if dt_h <= 0:
            return
        self._time_s = time_s
        total_w = sum(self.power_w())
        slot = min(max(self.active_tariff, 1), self.tariff_count) - 1
        if total_w >= 0:
            self.energy_import_wh[slot] += total_w * dt_h
            self.reactive_import_varh += abs(total_w) * self.reactive_ratio * dt_h
        else:
            self.energy_export_wh[slot] += -total_w * dt_h
            self.reactive_export_varh += abs(total_w) * self.reactive_ratio * dt_h

    def set_load_w(self, phase: int, watts: float) -> None:
        """Load on phase 1..3 (negative = export); call advance_to first so past energy keeps the old load."""
        if phase not in (1, 2, 3):
            raise ValueError(f"phase must be 1, 2 or 3, got {phase}")
        self.load_w[phase - 1] = float(watts)

    def snapshot(self) -> MeterSnapshot:
        power = self.power_w()
        current = tuple(abs(p) / v if v else 0.0 for p, v in zip(power, self.voltage_v, strict=True))
        return MeterSnapshot(
            time_s=self._time_s,
            serial=self.serial,
            firmware=self.firmware,
            energy_import_wh=tuple(self.energy_import_wh),
            energy_export_wh=tuple(self.energy_export_wh),
            reactive_import_varh=self.reactive_import_varh,
            reactive_export_varh=self.reactive_export_varh,
            power_w=(power[0], power[1], power[2]),
            voltage_v=(self.voltage_v[0], self.voltage_v[1], self.voltage_v[2]),
            current_a=(current[0], current[1], current[2]),
            power_fail_count=self.power_fail_count,
            active_tariff=self.active_tariff,
            breaker_closed=self.breaker_closed,
            error_flags=self.error_flags,
            meter_firmware=self.meter_firmware,
            event_counts=tuple(self.event_counts),
        )
