"""Programmable AC source for rate-input levels (AC6800B style:
``VOLT <rms>``, ``FREQ <hz>``, ``OUTP ON|OFF``).

The level is bounded by the rig's max rate-input voltage (product sheet: rate input max 230 VAC) and
passes the mains interlock before it is sent. The generic driver sends no range command (its form is
model-specific): a lab selects the high range on the front panel, or uses a model driver
(:mod:`harness.instruments.ac_sources`), which selects the range after every reset, output off.
"""

from __future__ import annotations

from harness.instruments.errors import LimitError
from harness.instruments.interlock import MainsInterlock
from harness.instruments.scpi import (
    Bounds,
    Control,
    InRange,
    OneOf,
    Resource,
    ScpiInstrument,
    format_bool,
    format_number,
    parse_bool,
)


class ScpiAcSource(ScpiInstrument):
    """Generic SCPI AC source: VOLT, FREQ, OUTP; no remote range selection (instruments.md 4)."""

    #: Output voltage ranges of the model (V rms, ascending); empty: the range is not selected remotely.
    ranges_vac: tuple[float, ...] = ()
    #: Range command; ``{}`` takes the range as :meth:`range_argument` formats it.
    range_command: str | None = None

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

    def range_for(self, vac: float) -> float | None:
        """The smallest range that covers ``vac`` (None: no remote range selection on this model)."""
        if not self.ranges_vac:
            return None
        for candidate in self.ranges_vac:
            if vac <= candidate:
                return candidate
        raise LimitError(
            f"{self.name}: limits.max_rate_input_vac {vac:g} VAC exceeds the highest range of this model "
            f"({self.ranges_vac[-1]:g} V); lower the rig limit or use another AC source"
        )

    def range_argument(self, range_vac: float) -> str:
        return format_number(range_vac)

    def configure(self) -> None:
        """Output off, then the range covering the rig's max level (``*RST`` may have changed it), 0 V."""
        self.output_enabled = False
        chosen = self.range_for(self.max_vac)
        if chosen is not None and self.range_command is not None:
            self.write(self.range_command.format(self.range_argument(chosen)))
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
