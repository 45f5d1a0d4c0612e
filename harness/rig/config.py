"""Rig files: instruments at their VISA addresses, M-Bus port, relay wiring, limits, uncertainty budgets.

A rig file is YAML validated by the pydantic models below. A mistake is reported as
``<file>: <field path>: <problem> (allowed: ...)`` and nothing is touched. In a simulated rig the
instrument resources and the M-Bus URL are placeholders ``sim://<role>`` / ``sim://mbus`` that the simulated
bench replaces with the loopback addresses of the servers it starts.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.datafile import read_yaml_mapping
from harness.instruments.interlock import ELV_LIMIT_VAC
from harness.instruments.registry import DRIVER_REGISTRY, ac_ranges, driver_problem, supply_outputs
from harness.instruments.serial_port import is_local_port

SIM_PREFIX = "sim://"
#: CMi1020 rate inputs (product sheet: "up to four rate inputs").
RATE_INPUTS = (1, 2, 3, 4)


#: VISA backends a rig may select: pyvisa-py (pure Python, default) or the vendor's IVI VISA library.
VISA_BACKENDS = ("@py", "@ivi")
#: Message terminations an instrument may use (instruments.md 1-4: ``\n`` everywhere it is documented).
TERMINATIONS = ("\n", "\r\n", "\r")
#: Bus supply forms: the supply feeds the module, or the M-Bus master makes its own fixed bus voltage.
EXTERNAL_INPUT = "external-input"
MASTER_FIXED = "master-fixed"


class _RigLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text: pydantic then reports a bad one (2027-13-31) with its field."""


_RigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class RigFileError(Exception):
    """A rig file could not be read or failed validation; the message names file, field and allowed values."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentConfig(_Model):
    #: Role in ``instruments`` (set by each subclass; names the drivers allowed for it).
    ROLE: ClassVar[str] = ""
    driver: str = Field(description="driver from harness.instruments.registry (cmi-hil rig check lists them)")
    resource: str = Field(
        description="VISA resource (TCPIP::192.0.2.10::5025::SOCKET); sim://<role> in sim rigs"
    )
    model: str | None = None
    serial: str | None = None
    calibration_due: dt.date | None = None
    certificate: str | None = Field(
        default=None,
        description="id of the calibration certificate that backs calibration_due (e.g. DAkkS D-K-15 0412)",
    )
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    write_delay_s: float = Field(default=0.0, ge=0, le=1)
    reset_on_connect: bool = True
    visa_backend: Literal["@py", "@ivi"] = Field(
        default="@py", description="pyvisa backend: @py (pyvisa-py) or @ivi (the installed vendor VISA)"
    )
    read_termination: Literal["\n", "\r\n", "\r"] = "\n"
    write_termination: Literal["\n", "\r\n", "\r"] = "\n"

    @field_validator("certificate", mode="before")
    @classmethod
    def _certificate_text(cls, value: Any) -> Any:
        """A numeric id (``certificate: 120345``) is kept as written; a blank one is refused."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "empty; give the id printed on the calibration certificate, or remove the field"
            )
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _known_driver_and_model(self) -> InstrumentConfig:
        problem = driver_problem(self.ROLE, self.driver, self.model)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def driver_class(self) -> type:
        return DRIVER_REGISTRY[self.driver].cls


#: supply settling on a real rig whose file declares none (s, wall): the suite's long-standing guess
UNDECLARED_SUPPLY_SETTLE_S = 0.05


class SupplyConfig(InstrumentConfig):
    ROLE: ClassVar[str] = "supply"
    driver: str = "scpi-psu"
    outputs: int = Field(default=1, ge=1, le=4, description="outputs the supply has (INST:NSEL 1..outputs)")
    output: int = Field(default=1, ge=1, le=4, description="output wired to the M-Bus (positive polarity)")
    settle_s: float | None = Field(
        default=None,
        ge=0,
        le=5,
        description="wait after a setpoint change before the output is read or the DUT addressed (the "
        "supply's settling / transient recovery time from its manual); unset: 0 on a simulated rig, "
        f"{UNDECLARED_SUPPLY_SETTLE_S:g} s otherwise",
    )

    @model_validator(mode="after")
    def _outputs_exist(self) -> SupplyConfig:
        ratings = supply_outputs(self.driver, self.model)
        if ratings is None:
            return self
        if self.outputs > len(ratings):
            raise ValueError(f"outputs: {self.outputs} but the {self.model} has {len(ratings)} output(s)")
        if ratings[self.output - 1].negative:
            raise ValueError(
                f"output: output {self.output} of the {self.model} is negative-only and "
                "cannot feed the bus; wire a positive output and name it here"
            )
        return self


class DmmConfig(InstrumentConfig):
    ROLE: ClassVar[str] = "dmm"
    driver: str = "scpi-dmm"
    range_a: float = Field(default=0.1, description="fixed DC current range (A)")
    nplc: float = Field(default=1.0, description="integration time (power-line cycles)")
    sampling: bool = Field(
        default=False,
        description="the DMM takes timed current samples (capability current_sampling: space current)",
    )

    @model_validator(mode="after")
    def _range_and_nplc_of_the_model(self) -> DmmConfig:
        cls = DRIVER_REGISTRY[self.driver].cls
        if self.sampling:
            problem = cls.sampling_problem(self.model)  # type: ignore[attr-defined]
            if problem:
                raise ValueError(f"sampling: {problem}; set sampling: false")
        problem = cls.range_problem(self.range_a)  # type: ignore[attr-defined]
        if problem:
            raise ValueError(f"range_a: {problem}")
        problem = cls.nplc_problem(self.nplc)  # type: ignore[attr-defined]
        if problem:
            raise ValueError(f"nplc: {problem}")
        return self


class RelayConfig(InstrumentConfig):
    ROLE: ClassVar[str] = "relays"
    driver: str = "scpi-relay"


class AcSourceConfig(InstrumentConfig):
    ROLE: ClassVar[str] = "ac_source"
    driver: str = "scpi-ac"
    frequency_hz: float = Field(default=50.0, ge=45, le=65)

    @property
    def ranges_vac(self) -> tuple[float, ...]:
        return ac_ranges(self.driver, self.model)


class Instruments(_Model):
    supply: SupplyConfig | None = None
    dmm: DmmConfig | None = None
    relays: RelayConfig | None = None
    ac_source: AcSourceConfig | None = None

    def items(self) -> list[tuple[str, InstrumentConfig]]:
        found = [(role, getattr(self, role)) for role in ("supply", "dmm", "relays", "ac_source")]
        return [(role, cfg) for role, cfg in found if cfg is not None]


class MasterFixedSupply(_Model):
    """The M-Bus master makes its own bus voltage (most USB masters): the supply cannot vary it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    master_fixed: float = Field(
        alias="master-fixed", gt=0, le=50, description="bus voltage of the master (V)"
    )


#: ``mbus.monitor.url`` placeholder of a simulated rig: the emulator's listen-only bus monitor endpoint
SIM_MONITOR_URL = "sim://monitor"


class BusMonitorConfig(_Model):
    """A bus monitor: a second receiver listening on the M-Bus line (an M-Bus sniffer), issue 14.

    It timestamps the end of each request and every reply byte on one clock, so reply delays and
    inter-character gaps are judged without the master's path latency; ``resolution_s`` (the jitter of
    the sniffer's adapter and host) is the uncertainty of each interval it measures.
    """

    url: str = Field(
        description="pyserial URL of the sniffer: /dev/ttyUSB1, socket://host:port (tcp://host:port is "
        "accepted), rfc2217://host:port; sim://monitor in a simulated rig"
    )
    baud: Literal[300, 2400, 9600] | None = Field(
        default=None, description="the sniffer's fixed UART rate; default: mbus.baud"
    )
    resolution_s: float = Field(
        default=0.0025, gt=0, le=0.1, description="uncertainty of one interval between two monitor stamps"
    )

    @field_validator("url")
    @classmethod
    def _pyserial_url(cls, value: str) -> str:
        if value.startswith("tcp://"):  # the form cmi-hil emulate prints; pyserial spells it socket://
            return "socket://" + value.removeprefix("tcp://")
        if not value.strip():
            raise ValueError("expected a serial URL such as /dev/ttyUSB1 or socket://host:port")
        return value


class MBusPort(_Model):
    url: str = Field(description="pyserial URL: /dev/ttyUSB0, rfc2217://host:port, socket://...; sim://mbus")
    monitor: BusMonitorConfig | None = Field(
        default=None, description="optional bus monitor (sniffer) on the same line: bus-side timing"
    )
    baud: Literal[300, 2400, 9600] = 2400
    bus_supply: Literal["external-input"] | MasterFixedSupply = Field(
        default="external-input",
        description="external-input: the rig's supply feeds the bus; {master-fixed: <volts>}: the master",
    )

    echo: bool = Field(
        default=False,
        description="the level converter echoes the master's own bytes (half-duplex RS-485/M-Bus converters)",
    )
    low_latency: bool = Field(
        default=False,
        description="local FTDI/USB adapter: set ASYNC_LOW_LATENCY (latency timer 1 ms) when the bench opens",
    )

    @model_validator(mode="after")
    def _low_latency_on_a_local_port(self) -> MBusPort:
        if self.low_latency and not is_local_port(self.url):
            raise ValueError(
                f"low_latency: only for a local adapter (/dev/ttyUSB0, COM3), not {self.url!r}; behind "
                "ser2net/RFC 2217 set the adapter's latency timer on the server host, or remove the field"
            )
        return self

    @field_validator("bus_supply", mode="before")
    @classmethod
    def _bus_supply_form(cls, value: Any) -> Any:
        if value == EXTERNAL_INPUT:
            return value
        if isinstance(value, dict) and set(value) == {MASTER_FIXED}:
            return value
        raise ValueError(
            f"expected {EXTERNAL_INPUT!r} or a mapping {{{MASTER_FIXED}: <volts>}}, got {value!r}"
        )

    @property
    def monitor_baud(self) -> int | None:
        """The bus monitor's UART rate (its own, else the line's), or None without a monitor."""
        if self.monitor is None:
            return None
        return self.monitor.baud or self.baud

    @property
    def master_fixed_volts(self) -> float | None:
        """The master's fixed bus voltage, or None when the rig's supply feeds the bus."""
        return self.bus_supply.master_fixed if isinstance(self.bus_supply, MasterFixedSupply) else None


class RateInputWiring(_Model):
    channel: int = Field(ge=1, description="relay channel that connects the AC source to this rate input")
    mains: bool = Field(
        default=False, description="wired and rated for mains: may carry AC above the ELV class"
    )


class PolarityWiring(_Model):
    method: Literal["none", "relay_dpdt", "supply_channel"] = "none"
    relay_channels: tuple[int, int] | None = Field(
        default=None, description="DPDT pair: both closed = reversed"
    )
    negative_output: int | None = Field(default=None, ge=1, le=4, description="supply output wired reversed")
    switch_settle_s: float = Field(
        default=0.05, ge=0, le=5, description="wait after switching with the output off"
    )

    @model_validator(mode="after")
    def _method_needs_its_fields(self) -> PolarityWiring:
        if self.method == "relay_dpdt" and self.relay_channels is None:
            raise ValueError("method relay_dpdt needs relay_channels: [<channel>, <channel>]")
        if self.method == "supply_channel" and self.negative_output is None:
            raise ValueError("method supply_channel needs negative_output: <supply output wired reversed>")
        return self


class MeterMainsWiring(_Model):
    """What switches the E350's own mains, so a test can make the meter count a power failure (C.7.0).

    ``via: relay``: ``channel`` sits in the meter's mains feed on its normally-closed contact, so closing the
    channel interrupts the mains and the safe state (every channel open) leaves the meter powered.
    ``via: ac_source``: the rig's AC source feeds the meter (its output off is the outage).
    """

    via: Literal["relay", "ac_source"]
    channel: int | None = Field(
        default=None, ge=1, description="relay channel that interrupts the meter's mains (via: relay)"
    )

    @model_validator(mode="after")
    def _channel_for_a_relay_only(self) -> MeterMainsWiring:
        if self.via == "relay" and self.channel is None:
            raise ValueError("channel: via relay needs the relay channel that interrupts the meter's mains")
        if self.via == "ac_source" and self.channel is not None:
            raise ValueError("channel: via ac_source takes no relay channel (remove it, or use via: relay)")
        return self


class MeterLoadWiring(_Model):
    """A load on the meter's output that a relay connects, so energy accrues (E350 register 1.8.0)."""

    channel: int = Field(ge=1, description="relay channel connecting the load (open = no load: safe state)")
    load_w: float = Field(gt=0, le=23000, description="power the load draws at nominal mains (W)")


class Wiring(_Model):
    rate_inputs: dict[int, RateInputWiring] = Field(default_factory=dict)
    polarity: PolarityWiring = Field(default_factory=PolarityWiring)
    button_channel: int | None = Field(
        default=None, description="relay channel driving a push-button actuator"
    )
    button_press_s: float = Field(default=0.3, gt=0, le=5)
    relay_settle_s: float = Field(default=0.02, ge=0, le=5, description="contact settle time after ROUT:CLOS")
    meter_mains: MeterMainsWiring | None = Field(
        default=None, description="relay or AC source switching the E350's own mains (capability meter_mains)"
    )
    meter_load: MeterLoadWiring | None = Field(
        default=None, description="relay-switched load on the meter (capability meter_load)"
    )

    @field_validator("rate_inputs")
    @classmethod
    def _rate_input_indices(cls, value: dict[int, RateInputWiring]) -> dict[int, RateInputWiring]:
        bad = [k for k in value if k not in RATE_INPUTS]
        if bad:
            raise ValueError(f"rate input {bad} does not exist (allowed: 1, 2, 3, 4)")
        return value

    @model_validator(mode="after")
    def _channels_used_once(self) -> Wiring:
        used: dict[int, str] = {}
        pairs = [(w.channel, f"rate input {i}") for i, w in self.rate_inputs.items()]
        pairs += [(c, "polarity") for c in (self.polarity.relay_channels or ())]
        if self.button_channel is not None:
            pairs.append((self.button_channel, "button"))
        if self.meter_mains is not None and self.meter_mains.channel is not None:
            pairs.append((self.meter_mains.channel, "meter mains"))
        if self.meter_load is not None:
            pairs.append((self.meter_load.channel, "meter load"))
        for channel, use in pairs:
            if channel in used:
                raise ValueError(f"relay channel {channel} is used for both {used[channel]} and {use}")
            used[channel] = use
        return self

    def _meter_channels(self) -> list[int]:
        mains = self.meter_mains.channel if self.meter_mains else None
        return ([mains] if mains is not None else []) + ([self.meter_load.channel] if self.meter_load else [])

    def relay_channels(self) -> list[int]:
        return sorted(
            [w.channel for w in self.rate_inputs.values()]
            + list(self.polarity.relay_channels or ())
            + ([self.button_channel] if self.button_channel is not None else [])
            + self._meter_channels()
        )


class Limits(_Model):
    """DUT protection. Product sheet: nominal 21-42 VDC; rate input max 230 VAC."""

    max_supply_volts: float = Field(default=42.0, gt=0, le=50)
    current_limit_a: float = Field(default=0.05, gt=0, le=1)
    ovp_margin_volts: float = Field(default=1.0, ge=0.1, le=5)
    max_rate_input_vac: float = Field(default=230.0, ge=0, le=253, description="230 VAC + 10 % at most")
    elv_limit_vac: float = Field(default=ELV_LIMIT_VAC, gt=0, le=ELV_LIMIT_VAC)


class DmmAccuracy(_Model):
    """Accuracy spec as ±(% of reading + % of range), e.g. Truevolt 1-year DC current 100 mA: 0.05 + 0.005."""

    percent_of_reading: float = Field(default=0.05, ge=0)
    percent_of_range: float = Field(default=0.005, ge=0)


class Uncertainty(_Model):
    latency_allowance_s: float = Field(
        default=0.05, ge=0, le=2, description="USB latency timer, RFC 2217/TCP hops, scheduler jitter"
    )
    dmm: DmmAccuracy = Field(default_factory=DmmAccuracy)
    rate_poll_step_s: float = Field(
        default=0.5, gt=0, le=10, description="polling step of rate-input detection"
    )


class EmulatorSettings(_Model):
    profile: Path | None = None
    faults: list[str] = Field(default_factory=list)
    extra_slaves: int = Field(default=0, ge=0, le=250)
    slave_ids: list[str] | None = None
    time_scale: float = Field(default=1.0, gt=0, le=10)
    seed: int = 0


class LabgridPlaceConfig(_Model):
    """A labgrid place reserved for the run (harness.rig.place): held across machines by the coordinator."""

    coordinator: str = Field(pattern=r"^[^\s:]+:\d{1,5}$", description="HOST:PORT of labgrid-coordinator")
    place: str = Field(min_length=1, description="the place's name on the coordinator")
    on_busy: Literal["refuse", "wait"] = "refuse"
    wait_s: float = Field(default=600.0, gt=0, description="with on_busy: wait, how long to wait (s)")


#: ``mbus.url`` value meaning: the M-Bus port is the NetworkSerialPort of the rig's labgrid place
LABGRID_MBUS_URL = "labgrid://place"


class RigConfig(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    simulated: bool = False
    exclusive: bool | None = Field(default=None, description="take the rig lock; default: yes on real rigs")
    instruments: Instruments = Field(default_factory=Instruments)
    mbus: MBusPort
    wiring: Wiring = Field(default_factory=Wiring)
    limits: Limits = Field(default_factory=Limits)
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)
    emulator: EmulatorSettings | None = None
    labgrid: LabgridPlaceConfig | None = None
    _source: Path | None = PrivateAttr(None)

    @property
    def supply_settle_s(self) -> float:
        """Wall seconds to let the supply settle after a setpoint change before the output is read or the
        DUT addressed: ``instruments.supply.settle_s`` (the supply manual's settling / transient recovery
        time), else 0 on a simulated rig (its supply is at the setpoint when the command returns), else
        :data:`UNDECLARED_SUPPLY_SETTLE_S`. Not a mandated wait (harness.measure): the bench's own."""
        supply = self.instruments.supply
        if supply is not None and supply.settle_s is not None:
            return supply.settle_s
        return 0.0 if self.simulated else UNDECLARED_SUPPLY_SETTLE_S

    @model_validator(mode="after")
    def _consistent(self) -> RigConfig:
        if self.simulated and self.emulator is None:
            object.__setattr__(self, "emulator", EmulatorSettings())
        if not self.simulated and self.emulator is not None:
            raise ValueError("emulator settings are only for simulated rigs (set simulated: true or remove)")
        for role, cfg in self.instruments.items():
            is_sim = cfg.resource.startswith(SIM_PREFIX)
            if is_sim != self.simulated:
                want = (
                    f"{SIM_PREFIX}{role}" if self.simulated else "a VISA resource (TCPIP::<ip>::5025::SOCKET)"
                )
                raise ValueError(f"instruments.{role}.resource {cfg.resource!r}: expected {want}")
        if self.mbus.url.startswith(SIM_PREFIX) != self.simulated:
            want = "sim://mbus" if self.simulated else "a serial URL (/dev/ttyUSB0, rfc2217://host:port)"
            raise ValueError(f"mbus.url {self.mbus.url!r}: expected {want}")
        monitor = self.mbus.monitor
        if monitor is not None and monitor.url.startswith(SIM_PREFIX) != self.simulated:
            want = SIM_MONITOR_URL if self.simulated else "a serial URL (/dev/ttyUSB1, socket://host:port)"
            raise ValueError(f"mbus.monitor.url {monitor.url!r}: expected {want}")
        if monitor is not None and self.simulated and monitor.url != SIM_MONITOR_URL:
            raise ValueError(
                f"mbus.monitor.url {monitor.url!r}: a simulated rig's monitor is {SIM_MONITOR_URL}"
            )
        if self.mbus.url == LABGRID_MBUS_URL and self.labgrid is None:
            raise ValueError(f"mbus.url {LABGRID_MBUS_URL!r} needs a labgrid: block naming the place")
        needs_relays = self.wiring.relay_channels()
        if needs_relays and self.instruments.relays is None:
            raise ValueError(f"wiring uses relay channels {needs_relays} but instruments.relays is missing")
        relays = self.instruments.relays
        if relays is not None:
            for channel in needs_relays:
                problem = relays.driver_class.channel_problem(channel)  # type: ignore[attr-defined]
                if problem:
                    raise ValueError(f"wiring: relay {problem} (driver {relays.driver})")
        mains = self.wiring.meter_mains
        if mains is not None and mains.via == "ac_source" and self.instruments.ac_source is None:
            raise ValueError("wiring.meter_mains is via ac_source but instruments.ac_source is missing")
        supply = self.instruments.supply
        negative = self.wiring.polarity.negative_output
        if supply is not None:
            highest = max(supply.output, negative or 1)
            if highest > supply.outputs:
                raise ValueError(
                    f"supply output {highest} is wired but the supply has {supply.outputs} output(s)"
                )
        return self

    @property
    def source(self) -> Path | None:
        """The file this rig was loaded from."""
        return self._source

    @property
    def is_exclusive(self) -> bool:
        return self.exclusive if self.exclusive is not None else not self.simulated

    @property
    def mains_channels(self) -> list[int]:
        return sorted(w.channel for w in self.wiring.rate_inputs.values() if w.mains)

    @property
    def rate_input_channels(self) -> dict[int, int]:
        return {index: w.channel for index, w in sorted(self.wiring.rate_inputs.items())}

    def describe_source(self) -> str:
        return str(self._source) if self._source else f"rig {self.name!r}"


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model class found by walking ``loc`` (for "allowed fields" in extra-field errors)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


#: What a field of this pydantic error type accepts, for the "(allowed: ...)" part of the message.
_ALLOWED_BY_TYPE = {
    "date_from_datetime_parsing": "a date YYYY-MM-DD, e.g. 2027-03-31",
    "date_parsing": "a date YYYY-MM-DD, e.g. 2027-03-31",
    "date_type": "a date YYYY-MM-DD, e.g. 2027-03-31",
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
}
_SUBFIELD = re.compile(r"^([a-z_][a-z0-9_]*): (.*)$", re.DOTALL)


def _split_subfield(loc: tuple[int | str, ...], message: str) -> tuple[tuple[int | str, ...], str]:
    """A model validator's ``"<field>: <problem>"`` is reported at ``loc + field`` when that field exists."""
    match = _SUBFIELD.match(message)
    parent = _model_at(RigConfig, loc)
    if match and parent is not None and match.group(1) in parent.model_fields:
        return (*loc, match.group(1)), match.group(2)
    return loc, message


def format_validation_error(path: str, error: ValidationError) -> str:
    lines = [f"{path}: invalid rig file ({error.error_count()} problem(s)):"]
    for item in error.errors():
        loc = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "value_error":
            loc, message = _split_subfield(loc, message)
        field = ".".join(str(p) for p in loc) or "(top level)"
        if item["type"] in _ALLOWED_BY_TYPE:
            message += f" (got {item.get('input')!r}; allowed: {_ALLOWED_BY_TYPE[item['type']]})"
        elif item["type"] == "extra_forbidden":
            parent = _model_at(RigConfig, loc[:-1])
            if parent is not None:
                message += f" (allowed: {', '.join(parent.model_fields)})"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif "input" in item and item["type"] not in ("value_error",):
            message += f" (got {item['input']!r})"
        lines.append(f"  {field}: {message}")
    return "\n".join(lines)


def load_rig(path: str | Path) -> RigConfig:
    """Read and validate a rig file; relative emulator profile paths are taken from the rig file's folder."""
    path = Path(path)
    data = read_yaml_mapping(
        path, what="rig file", error=RigFileError, hint="check the --rig path", loader=_RigLoader
    )
    emulator = data.get("emulator")
    if isinstance(emulator, dict) and emulator.get("profile"):
        profile = Path(str(emulator["profile"]))
        if not profile.is_absolute():
            emulator["profile"] = str((path.parent / profile).resolve())
    try:
        rig = RigConfig.model_validate(data)
    except ValidationError as exc:
        raise RigFileError(format_validation_error(str(path), exc)) from None
    rig._source = path
    return rig


def supply_range_problem(rig: RigConfig) -> str | None:
    """Why this rig cannot vary the voltage at the module up to its limit, or None if it can.

    With ``bus_supply: {master-fixed: V}`` the master makes the bus voltage, so whatever the supply is set
    to the module sees V: the supply range (product sheet: nominal 21-42 VDC) is not verified, never passed.
    A supply output rated below ``limits.max_supply_volts`` cannot reach the top of the range either.
    """
    fixed = rig.mbus.master_fixed_volts
    if fixed is not None:
        return (
            f"mbus.bus_supply is master-fixed at {fixed:g} V: the M-Bus master makes the bus voltage, so the "
            "supply cannot vary what the module sees"
        )
    supply = rig.instruments.supply
    if supply is None:
        return "no instruments.supply in the rig file"
    ratings = supply_outputs(supply.driver, supply.model)
    if ratings is not None:
        rated = ratings[supply.output - 1].max_volts
        if rated < rig.limits.max_supply_volts:
            return (
                f"output {supply.output} of the {supply.model} is rated {rated:g} V, below "
                f"limits.max_supply_volts {rig.limits.max_supply_volts:g} V"
            )
    return None


def calibration_problems(rig: RigConfig, *, today: dt.date | None = None) -> list[str]:
    """Expired or missing calibration of a real rig's instruments (simulated instruments need none).

    A calibration date is only evidence with the certificate that states it (ISO/IEC 17025 7.8.4, the
    calibration certificate; ILAC P10 traceability): an instrument without a ``certificate`` id is flagged.
    """
    if rig.simulated:
        return []
    today = today or dt.date.today()
    problems = []
    for role, cfg in rig.instruments.items():
        if cfg.calibration_due is None:
            problems.append(f"{role}: no calibration_due date in {rig.describe_source()}")
        elif cfg.calibration_due < today:
            problems.append(
                f"{role}: calibration expired on {cfg.calibration_due.isoformat()} "
                f"(serial {cfg.serial or '?'}); "
                "recalibrate, or run without strict certification mode"
            )
        if cfg.certificate is None:
            problems.append(
                f"{role}: no calibration certificate id (instruments.{role}.certificate) in "
                f"{rig.describe_source()}; copy it from the instrument's calibration certificate"
            )
    return problems
