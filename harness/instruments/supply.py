"""Generic SCPI DC power supply: the subset common to E36300, DP800, HMP4040 and NGE100 (instruments.md 1).

``INST:NSEL <n>`` selects an output, then ``VOLT``/``CURR``/``VOLT:PROT``/``OUTP`` act on it and
``MEAS:VOLT?``/``MEAS:CURR?`` read it back. The rig's limits (max supply volts, current limit) bound every
setpoint before it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.instruments.scpi import (
    Bounds,
    Control,
    InRange,
    OneOf,
    Resource,
    ScpiInstrument,
    format_bool,
    parse_bool,
    parse_float,
    parse_int,
)


@dataclass(frozen=True)
class SupplyLimits:
    """DUT protection from the rig file (product sheet, electrical characteristics: nominal 21-42 VDC)."""

    max_volts: float
    max_current_a: float
    ovp_margin_volts: float = 1.0


class ScpiPowerSupply(ScpiInstrument):
    selected_output = Control(
        "INST:NSEL?",
        "INST:NSEL {}",
        "output addressed by the following commands",
        parse=parse_int,
        fmt=str,
        validator=InRange(lambda s: Bounds(1, s.channel_count, "outputs of this supply in the rig file")),
    )
    voltage_setpoint_v: Control[float] = Control(
        "VOLT?",
        "VOLT {}",
        "output voltage setpoint of the selected output",
        unit="V",
        validator=InRange(lambda s: Bounds(0.0, s.limits.max_volts, "rig limit limits.max_supply_volts")),
    )
    current_limit_a: Control[float] = Control(
        "CURR?",
        "CURR {}",
        "current limit of the selected output",
        unit="A",
        validator=InRange(lambda s: Bounds(0.0, s.limits.max_current_a, "rig limit limits.current_limit_a")),
    )
    ovp_v: Control[float] = Control(
        "VOLT:PROT?",
        "VOLT:PROT {}",
        "over-voltage protection level of the selected output",
        unit="V",
        validator=InRange(
            lambda s: Bounds(0.0, s.limits.max_volts + s.limits.ovp_margin_volts, "rig limit + OVP margin")
        ),
    )
    output_enabled = Control(
        "OUTP?",
        "OUTP {}",
        "output state of the selected output",
        parse=parse_bool,
        fmt=format_bool,
        validator=OneOf((True, False)),
    )

    def __init__(
        self,
        resource: Resource,
        *,
        name: str = "supply",
        limits: SupplyLimits,
        channel_count: int = 1,
        write_delay_s: float = 0.0,
    ) -> None:
        super().__init__(resource, name=name, write_delay_s=write_delay_s)
        self.limits = limits
        self.channel_count = channel_count
        self._selected: int | None = None

    def select(self, channel: int) -> None:
        """Select an output, sending ``INST:NSEL`` only when it changes."""
        if channel != self._selected:
            self.selected_output = channel
            self._selected = channel

    def reset(self) -> None:
        super().reset()
        self._selected = None  # *RST re-selects the first output

    def configure(self) -> None:
        """Every output off at 0 V with the rig's current limit and OVP just above the rig's max volts."""
        for channel in range(1, self.channel_count + 1):
            self.select(channel)
            self.output_enabled = False
            self.voltage_setpoint_v = 0.0
            self.current_limit_a = self.limits.max_current_a
            self.ovp_v = self.limits.max_volts + self.limits.ovp_margin_volts

    def apply(self, volts: float, current_limit_a: float, *, channel: int = 1) -> None:
        """Set current limit then voltage (limits checked first), then read the error queue."""
        type(self).voltage_setpoint_v.validate(self, volts)
        type(self).current_limit_a.validate(self, current_limit_a)
        self.select(channel)
        self.current_limit_a = current_limit_a
        self.voltage_setpoint_v = volts
        self.check_errors(f"setting output {channel} to {volts:g} V / {current_limit_a:g} A")

    def set_output(self, on: bool, *, channel: int = 1) -> None:
        self.select(channel)
        self.output_enabled = on

    def output_on(self, *, channel: int = 1) -> bool:
        self.select(channel)
        return bool(self.output_enabled)

    def measure_voltage_v(self, *, channel: int = 1) -> float:
        self.select(channel)
        return parse_float(self.query("MEAS:VOLT?"))

    def measure_current_a(self, *, channel: int = 1) -> float:
        self.select(channel)
        return parse_float(self.query("MEAS:CURR?"))

    def safe_state(self) -> None:
        """Every output off, setpoint 0 V."""
        for channel in range(1, self.channel_count + 1):
            self.select(channel)
            self.output_enabled = False
            self.voltage_setpoint_v = 0.0
