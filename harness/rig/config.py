"""Rig files: instruments at their VISA addresses, M-Bus port, relay wiring, limits, uncertainty budgets.

A rig file is YAML validated by the pydantic models below. A mistake is reported as
``<file>: <field path>: <problem> (allowed: ...)`` and nothing is touched. In a simulated rig the
instrument resources and the M-Bus URL are placeholders ``sim://<role>`` / ``sim://mbus`` that the simulated
bench replaces with the loopback addresses of the servers it starts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

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
from harness.instruments.dmm import DC_CURRENT_RANGES_A, NPLC_VALUES
from harness.instruments.interlock import ELV_LIMIT_VAC

SIM_PREFIX = "sim://"
#: CMi1020 rate inputs (product sheet: "up to four rate inputs").
RATE_INPUTS = (1, 2, 3, 4)


def _one_of(value: float, allowed: tuple[float, ...]) -> float:
    if value not in allowed:
        raise ValueError(f"{value:g} is not supported (allowed: {', '.join(f'{a:g}' for a in allowed)})")
    return value


class RigFileError(Exception):
    """A rig file could not be read or failed validation; the message names file, field and allowed values."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentConfig(_Model):
    driver: str
    resource: str = Field(
        description="VISA resource (TCPIP::192.0.2.10::5025::SOCKET); sim://<role> in sim rigs"
    )
    model: str | None = None
    serial: str | None = None
    calibration_due: dt.date | None = None
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    write_delay_s: float = Field(default=0.0, ge=0, le=1)
    reset_on_connect: bool = True


class SupplyConfig(InstrumentConfig):
    driver: Literal["scpi-psu"] = "scpi-psu"
    outputs: int = Field(default=1, ge=1, le=4, description="outputs the supply has (INST:NSEL 1..outputs)")
    output: int = Field(default=1, ge=1, le=4, description="output wired to the M-Bus (positive polarity)")


class DmmConfig(InstrumentConfig):
    driver: Literal["scpi-dmm"] = "scpi-dmm"
    range_a: float = Field(default=0.1, description="fixed DC current range (A)")
    nplc: float = Field(default=1.0, description="integration time (power-line cycles)")

    @field_validator("range_a")
    @classmethod
    def _known_range(cls, value: float) -> float:
        return _one_of(value, DC_CURRENT_RANGES_A)

    @field_validator("nplc")
    @classmethod
    def _known_nplc(cls, value: float) -> float:
        return _one_of(value, NPLC_VALUES)


class RelayConfig(InstrumentConfig):
    driver: Literal["scpi-relay"] = "scpi-relay"


class AcSourceConfig(InstrumentConfig):
    driver: Literal["scpi-ac"] = "scpi-ac"
    frequency_hz: float = Field(default=50.0, ge=45, le=65)


class Instruments(_Model):
    supply: SupplyConfig | None = None
    dmm: DmmConfig | None = None
    relays: RelayConfig | None = None
    ac_source: AcSourceConfig | None = None

    def items(self) -> list[tuple[str, InstrumentConfig]]:
        found = [(role, getattr(self, role)) for role in ("supply", "dmm", "relays", "ac_source")]
        return [(role, cfg) for role, cfg in found if cfg is not None]


class MBusPort(_Model):
    url: str = Field(description="pyserial URL: /dev/ttyUSB0, rfc2217://host:port, socket://...; sim://mbus")
    baud: Literal[300, 2400, 9600] = 2400


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


class Wiring(_Model):
    rate_inputs: dict[int, RateInputWiring] = Field(default_factory=dict)
    polarity: PolarityWiring = Field(default_factory=PolarityWiring)
    button_channel: int | None = Field(
        default=None, description="relay channel driving a push-button actuator"
    )
    button_press_s: float = Field(default=0.3, gt=0, le=5)
    relay_settle_s: float = Field(default=0.02, ge=0, le=5, description="contact settle time after ROUT:CLOS")

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
        for channel, use in pairs:
            if channel in used:
                raise ValueError(f"relay channel {channel} is used for both {used[channel]} and {use}")
            used[channel] = use
        return self

    def relay_channels(self) -> list[int]:
        return sorted(
            [w.channel for w in self.rate_inputs.values()]
            + list(self.polarity.relay_channels or ())
            + ([self.button_channel] if self.button_channel is not None else [])
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
    _source: Path | None = PrivateAttr(None)

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
        needs_relays = self.wiring.relay_channels()
        if needs_relays and self.instruments.relays is None:
            raise ValueError(f"wiring uses relay channels {needs_relays} but instruments.relays is missing")
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


def format_validation_error(path: str, error: ValidationError) -> str:
    lines = [f"{path}: invalid rig file ({error.error_count()} problem(s)):"]
    for item in error.errors():
        loc = tuple(item["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
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
    data = read_yaml_mapping(path, what="rig file", error=RigFileError, hint="check the --rig path")
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


def calibration_problems(rig: RigConfig, *, today: dt.date | None = None) -> list[str]:
    """Expired or missing calibration of a real rig's instruments (simulated instruments need none)."""
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
    return problems
