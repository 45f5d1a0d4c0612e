"""Generic SCPI DC power supply: the subset common to E36300, DP800, HMP4040 and NGE100 (instruments.md 1).

``INST:NSEL <n>`` selects an output, then ``VOLT``/``CURR``/``VOLT:PROT``/``OUTP`` act on it and
``MEAS:VOLT?``/``MEAS:CURR?`` read it back. The rig's limits (max supply volts, current limit) and the
output's own rating (:class:`OutputSpec`, per model in :mod:`harness.instruments.supplies`) bound every
setpoint before it is sent. Per-model differences are class attributes and three small hooks: OVP
(:meth:`ScpiPowerSupply.write_ovp`), output switching (:meth:`ScpiPowerSupply.write_output` /
:meth:`ScpiPowerSupply.read_output`) and the CV/CC readback (:meth:`ScpiPowerSupply.regulation_mode`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from harness.instruments.errors import LimitError
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

RegulationMode = Literal["CV", "CC", "UR", "off"]

#: Bits of ``STAT:QUES:INST:ISUM<n>:COND?`` (E36300 and HMP programming guides; instruments.md 1, CV/CC row).
ISUM_CC_BIT = 0x1
ISUM_CV_BIT = 0x2


@dataclass(frozen=True)
class SupplyLimits:
    """DUT protection from the rig file (product sheet, electrical characteristics: nominal 21-42 VDC)."""

    max_volts: float
    max_current_a: float
    ovp_margin_volts: float = 1.0


@dataclass(frozen=True)
class OutputSpec:
    """Rating of one output (vendor data sheet). ``max_ovp_volts`` None: no programmable OVP on it."""

    max_volts: float
    max_current_a: float
    max_ovp_volts: float | None
    negative: bool = False  # a negative-only output cannot feed the bus's positive terminal


class ScpiPowerSupply(ScpiInstrument):
    """Generic SCPI supply: INST:NSEL, VOLT, CURR, VOLT:PROT, OUTP, MEAS (instruments.md 1, common subset)."""

    #: Sent after the OVP level where the model can switch OVP off (so it is switched on).
    ovp_enable_command: str | None = None

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
        validator=InRange(lambda s: s.voltage_bounds()),
    )
    current_limit_a: Control[float] = Control(
        "CURR?",
        "CURR {}",
        "current limit of the selected output",
        unit="A",
        validator=InRange(lambda s: s.current_bounds()),
    )
    ovp_v: Control[float] = Control(
        "VOLT:PROT?",
        "VOLT:PROT {}",
        "over-voltage protection level of the selected output",
        unit="V",
        validator=InRange(lambda s: s.ovp_bounds()),
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
        outputs: Sequence[OutputSpec] | None = None,
        write_delay_s: float = 0.0,
    ) -> None:
        super().__init__(resource, name=name, write_delay_s=write_delay_s)
        self.limits = limits
        self.channel_count = channel_count
        if outputs is not None and len(outputs) < channel_count:
            raise LimitError(
                f"{name}: the rig file uses {channel_count} output(s) but this model has {len(outputs)}"
            )
        #: Ratings of the outputs; None (generic driver): only the rig's limits apply.
        self.outputs = tuple(outputs) if outputs is not None else None
        self._selected: int | None = None

    # -- ratings -----------------------------------------------------------------------------------
    def output_spec(self, channel: int) -> OutputSpec:
        """Rating of ``channel``; the generic driver assumes an output that can do what the rig allows."""
        if self.outputs is None:
            limits = self.limits
            return OutputSpec(
                limits.max_volts, limits.max_current_a, limits.max_volts + limits.ovp_margin_volts
            )
        return self.outputs[channel - 1]

    def max_volts(self, channel: int) -> float:
        """Highest setpoint on ``channel``: the smaller of the rig limit and the output's rating."""
        return min(self.limits.max_volts, self.output_spec(channel).max_volts)

    def voltage_bounds(self) -> Bounds:
        channel = self._selected or 1
        spec = self.output_spec(channel)
        if spec.max_volts < self.limits.max_volts:
            return Bounds(0.0, spec.max_volts, f"rating of output {channel}")
        return Bounds(0.0, self.limits.max_volts, "rig limit limits.max_supply_volts")

    def current_bounds(self) -> Bounds:
        channel = self._selected or 1
        spec = self.output_spec(channel)
        if spec.max_current_a < self.limits.max_current_a:
            return Bounds(0.0, spec.max_current_a, f"rating of output {channel}")
        return Bounds(0.0, self.limits.max_current_a, "rig limit limits.current_limit_a")

    def ovp_bounds(self) -> Bounds:
        channel = self._selected or 1
        spec = self.output_spec(channel)
        rig_high = self.limits.max_volts + self.limits.ovp_margin_volts
        if spec.max_ovp_volts is not None and spec.max_ovp_volts < rig_high:
            return Bounds(0.0, spec.max_ovp_volts, f"OVP range of output {channel}")
        return Bounds(0.0, rig_high, "rig limit + OVP margin")

    def ovp_level_v(self, channel: int) -> float | None:
        """OVP level of ``channel``: rig max + margin, capped at the output's OVP range; None: no OVP."""
        spec = self.output_spec(channel)
        if spec.max_ovp_volts is None:
            return None
        return min(self.limits.max_volts + self.limits.ovp_margin_volts, spec.max_ovp_volts)

    # -- per-model hooks ----------------------------------------------------------------------------
    def write_ovp(self, volts: float) -> None:
        """OVP level of the selected output, then switch OVP on where the model can switch it off."""
        self.ovp_v = volts
        if self.ovp_enable_command is not None:
            self.write(self.ovp_enable_command)

    def write_output(self, on: bool) -> None:
        """Switch the selected output."""
        self.output_enabled = on

    def read_output(self) -> bool:
        """State of the selected output."""
        return bool(self.output_enabled)

    def regulation_mode(self, *, channel: int = 1) -> RegulationMode:
        """CV, CC or unregulated (UR) from ``STAT:QUES:INST:ISUM<n>:COND?``; ``off`` with the output off."""
        self.select(channel)
        if not self.read_output():
            return "off"
        bits = parse_int(self.query(f"STAT:QUES:INST:ISUM{channel}:COND?"))
        if bits & ISUM_CC_BIT and not bits & ISUM_CV_BIT:
            return "CC"
        if bits & ISUM_CV_BIT and not bits & ISUM_CC_BIT:
            return "CV"
        return "UR"

    # -- operations ----------------------------------------------------------------------------------
    def select(self, channel: int) -> None:
        """Select an output, sending ``INST:NSEL`` only when it changes."""
        if channel != self._selected:
            self.selected_output = channel
            self._selected = channel

    def reset(self) -> None:
        super().reset()
        self._selected = None  # *RST re-selects the first output

    def configure(self) -> None:
        """Every output off at 0 V with the rig's current limit (capped at the rating) and OVP armed."""
        for channel in range(1, self.channel_count + 1):
            self.select(channel)
            self.write_output(False)
            self.voltage_setpoint_v = 0.0
            self.current_limit_a = min(self.limits.max_current_a, self.output_spec(channel).max_current_a)
            level = self.ovp_level_v(channel)
            if level is not None:
                self.write_ovp(level)

    def apply(self, volts: float, current_limit_a: float, *, channel: int = 1) -> None:
        """Set current limit then voltage (limits checked first), then read the error queue."""
        previous = self._selected
        self._selected = channel  # bounds are those of the output about to be selected
        try:
            type(self).voltage_setpoint_v.validate(self, volts)
            type(self).current_limit_a.validate(self, current_limit_a)
        finally:
            self._selected = previous
        self.select(channel)
        self.current_limit_a = current_limit_a
        self.voltage_setpoint_v = volts
        self.check_errors(f"setting output {channel} to {volts:g} V / {current_limit_a:g} A")

    def set_output(self, on: bool, *, channel: int = 1) -> None:
        self.select(channel)
        self.write_output(on)

    def output_on(self, *, channel: int = 1) -> bool:
        self.select(channel)
        return self.read_output()

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
            self.write_output(False)
            self.voltage_setpoint_v = 0.0
