"""Programmable AC source for rate-input levels (AC6800B style:
``VOLT <rms>``, ``FREQ <hz>``, ``OUTP ON|OFF``).

The level is bounded by the rig's max rate-input voltage (product sheet: rate input max 230 VAC) and
passes the mains interlock before it is sent. Range selection (``VOLT:RANG``) is model-specific and
unconfirmed, so it is not sent: a lab selects the high range on the front panel or in a per-model subclass.
"""

from __future__ import annotations

from harness.instruments.interlock import MainsInterlock
from harness.instruments.scpi import (
    Bounds,
    Control,
    InRange,
    OneOf,
    Resource,
    ScpiInstrument,
    format_bool,
    parse_bool,
)


class ScpiAcSource(ScpiInstrument):
    voltage_vac: Control[float] = Control(
        "VOLT?",
        "VOLT {}",
        "output voltage, V rms",
        unit="V",
        validator=InRange(lambda s: Bounds(0.0, s.max_vac, "rig limit limits.max_rate_input_vac")),
    )
    frequency_hz: Control[float] = Control(
        "FREQ?",
        "FREQ {}",
        "output frequency",
        unit="Hz",
        validator=InRange(Bounds(45.0, 65.0, "mains frequencies")),
    )
    output_enabled = Control(
        "OUTP?", "OUTP {}", "output state", parse=parse_bool, fmt=format_bool, validator=OneOf((True, False))
    )

    def __init__(
        self,
        resource: Resource,
        *,
        name: str = "ac_source",
        max_vac: float,
        frequency_hz: float = 50.0,
        interlock: MainsInterlock | None = None,
        write_delay_s: float = 0.0,
    ) -> None:
        super().__init__(resource, name=name, write_delay_s=write_delay_s)
        self.max_vac = max_vac
        self.default_frequency_hz = frequency_hz
        self.interlock = interlock

    def configure(self) -> None:
        self.output_enabled = False
        self.set_level(0.0, frequency_hz=self.default_frequency_hz)

    def set_level(self, vac: float, *, frequency_hz: float | None = None) -> None:
        """Set the rms level (rig limit, then interlock, then sent) and optionally the frequency."""
        type(self).voltage_vac.validate(self, vac)
        if self.interlock is not None:
            self.interlock.check_level(vac)
        if frequency_hz is not None:
            self.frequency_hz = frequency_hz
        self.voltage_vac = vac
        if self.interlock is not None:
            self.interlock.note_level(vac)
        self.check_errors(f"setting {vac:g} VAC")

    def set_output(self, on: bool) -> None:
        self.output_enabled = on

    def output_on(self) -> bool:
        return bool(self.output_enabled)

    def safe_state(self) -> None:
        """Output off first, then the level to 0 V."""
        self.output_enabled = False
        self.voltage_vac = 0.0
        if self.interlock is not None:
            self.interlock.note_level(0.0)
