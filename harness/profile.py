"""Device profile of the DUT: identity, link timing, supply, registers and rate inputs, as validated data.

The CMi1020 product sheet and EN 13757 fix part of the behaviour; the rest (telegram layout, tariff mapping,
manufacturer/version bytes...) is not public, so it lives here, in YAML, each such value flagged
``assumption: true`` so a lab can confirm or correct it on a real unit without touching Python.
Both the reference emulator and the conformance suite read the same profile.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.datafile import read_yaml_mapping
from harness.mbus.model import BAUD_BY_CI, Coding, Function
from harness.mbus.timing import INTER_CHAR_GAP_MAX_BIT_TIMES

SHIPPED_PROFILE = Path(__file__).resolve().parent / "profiles" / "cmi1020-e350.yaml"

#: meter quantities the E350 model can supply, by OBIS code (domain.md section 5)
METER_SOURCES = (
    "serial",
    "firmware",
    "meter_firmware",
    "energy_import",
    "energy_export",
    "reactive_import",
    "reactive_export",
    "power",
    "voltage",
    "current",
    "power_fail_count",
    "active_tariff",
    "breaker",
    "error_flags",
)


class ProfileError(ValueError):
    """A device profile that cannot be used; the message names the file, the field and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Identity(_Strict):
    """Identification of the module as it appears in the long header (EN 13757-3 'long header')."""

    id: str = Field(description="8-digit identification number (BCD)")
    manufacturer: str = Field(description="three-letter FLAG code, ELV for Elvaco")
    version: int = Field(ge=0, le=255)
    medium: int = Field(ge=0, le=255, description="0x02 = electricity")
    primary_address: int = Field(ge=0, le=250, description="primary address as delivered")
    firmware: int = Field(
        ge=0, le=0xFFFF, description="the module's own firmware version (the meter's is meter.firmware)"
    )
    assumption: bool = False

    @field_validator("id")
    @classmethod
    def _id_digits(cls, v: str) -> str:
        if not re.fullmatch(r"\d{8}", v):
            raise ValueError(f"expected 8 decimal digits, got {v!r}")
        return v

    @field_validator("manufacturer")
    @classmethod
    def _flag(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", v):
            raise ValueError(f"expected three capital letters A-Z (e.g. ELV), got {v!r}")
        return v


class Link(_Strict):
    """EN 13757-2 link timing and baud rates of the slave port."""

    bauds: list[int] = Field(description="supported baud rates")
    default_baud: int
    #: reply delay = bit_times / baud + extra_s (EN 13757-2 window: 11 bit times .. 330 bit times + 50 ms)
    reply_delay_bit_times: float = Field(ge=0)
    reply_delay_extra_s: float = Field(ge=0)
    #: what a power cycle does to the configured primary address and baud ("keep" or "default")
    address_after_power_cycle: Literal["keep", "default"] = "keep"
    baud_after_power_cycle: Literal["keep", "default"] = "keep"
    #: longest idle line tolerated between two characters of one frame, in bit times. EN 13757-2 takes its
    #: frames from IEC 60870-5-1 FT1.2, which admits no idle line inside a frame; our notes give no tolerance
    #: for a measured gap, so the default (one character time, a third of the 33-bit inter-frame idle) is an
    #: assumption of this profile section.
    inter_char_gap_max_bit_times: float = Field(default=INTER_CHAR_GAP_MAX_BIT_TIMES, gt=0, le=33)
    assumption: bool = False

    @field_validator("bauds")
    @classmethod
    def _bauds(cls, v: list[int]) -> list[int]:
        allowed = sorted(BAUD_BY_CI.values())
        bad = [b for b in v if b not in allowed]
        if bad or not v:
            raise ValueError(f"expected a non-empty list of M-Bus baud rates from {allowed}, got {v}")
        return v

    @model_validator(mode="after")
    def _default_in_bauds(self) -> Link:
        if self.default_baud not in self.bauds:
            raise ValueError(f"default_baud {self.default_baud} must be one of bauds {self.bauds}")
        return self

    def reply_delay_s(self, baud: int) -> float:
        """Nominal delay from the end of a request to the start bit of the reply, unscaled."""
        return self.reply_delay_bit_times / baud + self.reply_delay_extra_s

    def inter_char_gap_allowance_s(self, baud: int) -> float:
        """Longest idle line tolerated inside a frame at ``baud`` (see ``inter_char_gap_max_bit_times``)."""
        return self.inter_char_gap_max_bit_times / baud


class Startup(_Strict):
    """Startup after bus power-up (EN 13757-2:2018 4.2.2.11 'Startup delay').

    ``max_delay_s`` is the limit: the module answers correctly within it after the bus voltage appears,
    and puts nothing on the bus before. The clause's number is not in our notes, so the shipped value is
    an assumption. ``typical_s`` is how long the module itself needs (what the emulator models, and what
    the suite waits after every power-up before it talks to the module); it must not exceed the limit.
    """

    max_delay_s: float = Field(default=3.0, gt=0)
    typical_s: float = Field(default=0.05, ge=0)
    assumption: bool = True

    @model_validator(mode="after")
    def _typical_within_limit(self) -> Startup:
        if self.typical_s > self.max_delay_s:
            raise ValueError(f"typical_s {self.typical_s} must not exceed max_delay_s {self.max_delay_s}")
        return self


class Supply(_Strict):
    """Bus supply and load (product sheet: 21-42 VDC from M-Bus, polarity independent, 1T = 1.5 mA)."""

    min_volts: float = Field(gt=0)
    max_volts: float = Field(gt=0)
    polarity_independent: bool = True
    unit_loads: int = Field(ge=1, le=10)
    ua_per_unit_load: float = Field(gt=0, description="EN 13757-2: 1 UL = 1.5 mA")
    quiescent_ua: float = Field(gt=0, description="current actually drawn at mark (idle)")
    space_current_ma: float = Field(
        ge=11, le=20, description="EN 13757-2: 11-20 mA added while sending a space"
    )
    assumption: bool = False

    @model_validator(mode="after")
    def _range(self) -> Supply:
        if self.min_volts >= self.max_volts:
            raise ValueError(f"min_volts {self.min_volts} must be below max_volts {self.max_volts}")
        return self


class Register(_Strict):
    """One meter register exposed as a data record (domain.md section 5, EN 13757-3 DIF/DIFE/VIF/VIFE)."""

    name: str
    obis: str
    source: str = Field(description=f"meter quantity, one of {', '.join(METER_SOURCES)}")
    phase: int = Field(default=0, ge=0, le=3, description="0 = total/all phases")
    quantity: str = Field(description="decoded quantity, as harness.mbus.records.describe reports it")
    unit: str = Field(description="base unit of the decoded value (Wh, W, V, A, ...)")
    coding: Coding
    function: Function = Function.INSTANTANEOUS
    vif: int = Field(ge=0, le=0xFF)
    vife: list[int] = Field(default_factory=list)
    plain_text: str | None = Field(default=None, description="unit text for VIF 7C (e.g. varh)")
    storage: int = Field(default=0, ge=0)
    tariff: int = Field(default=0, ge=0)
    subunit: int = Field(default=0, ge=0)
    #: raw data-field value = meter value in ``unit`` x scale (the VIF's decimal exponent, inverted)
    scale: float = Field(gt=0)
    telegram: int = Field(ge=0, description="index of the RSP_UD telegram that carries the record")
    assumption: bool = False

    @field_validator("coding", mode="before")
    @classmethod
    def _coding(cls, v: object) -> object:
        if isinstance(v, str):
            try:
                return Coding[v.upper()]
            except KeyError:
                raise ValueError(f"expected one of {[c.name for c in Coding]}, got {v!r}") from None
        return v

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        if v not in METER_SOURCES:
            raise ValueError(f"expected one of {list(METER_SOURCES)}, got {v!r}")
        return v

    @field_validator("vife")
    @classmethod
    def _vife_bytes(cls, v: list[int]) -> list[int]:
        if any(not 0 <= b <= 0xFF for b in v):
            raise ValueError(f"VIFE bytes must be 0..255, got {v}")
        return v


class TariffRule(_Strict):
    """Rate-input pattern -> active tariff; pattern char i is input i+1: '1' high, '0' low, 'x' any."""

    inputs: str
    tariff: int = Field(ge=1, le=6, description="E350 holds up to 6 rates")

    @field_validator("inputs")
    @classmethod
    def _pattern(cls, v: str) -> str:
        if not re.fullmatch(r"[01xX]+", v):
            raise ValueError(f"expected a pattern of 0/1/x, one per rate input, got {v!r}")
        return v.lower()


class RateInputs(_Strict):
    """Rate (tariff) inputs: product sheet: 'Rate input low/high/max voltage', 'minimum detection time'."""

    count: int = Field(ge=0, le=4)
    threshold_vac: float = Field(gt=0)
    max_vac: float = Field(gt=0)
    detection_time_s: float = Field(gt=0)
    tariff_rules: list[TariffRule] = Field(description="first matching rule wins")
    default_tariff: int = Field(ge=1, le=6)
    assumption: bool = False

    @model_validator(mode="after")
    def _rules_fit(self) -> RateInputs:
        for rule in self.tariff_rules:
            if len(rule.inputs) != self.count:
                raise ValueError(
                    f"tariff rule {rule.inputs!r} must have {self.count} characters (one per input)"
                )
        return self

    def tariff_for(self, levels: list[bool]) -> int:
        """Active tariff selected by the detected input levels (input 1 first)."""
        for rule in self.tariff_rules:
            if all(p == "x" or (p == "1") == lvl for p, lvl in zip(rule.inputs, levels, strict=True)):
                return rule.tariff
        return self.default_tariff


class Ui(_Strict):
    """Green LED (communication with meter) and push button (breaker), product sheet 'User interface'."""

    meter_poll_interval_s: float = Field(gt=0, description="the module reads the meter this often")
    meter_exchange_s: float = Field(gt=0, description="LED on time per exchange with the meter")
    assumption: bool = False


class MeterDefaults(_Strict):
    """Initial state of the E350 model: load per phase and register contents at start."""

    serial: int = Field(ge=0, le=99_999_999)
    #: E350 readouts: OBIS 0.2.0 is ASCII text such as "M23" or "M26" (domain.md section 7)
    firmware: str = Field(default="M23", min_length=1, max_length=16, description="meter firmware text")
    voltage_v: list[float] = Field(min_length=3, max_length=3)
    power_w: list[float] = Field(min_length=3, max_length=3, description="per phase; negative = export")
    energy_import_wh: list[float] = Field(description="per tariff 1..n")
    energy_export_wh: list[float]
    reactive_import_varh: float = 0.0
    reactive_export_varh: float = 0.0
    #: reactive power as a fraction of active power (for integrating reactive energy)
    reactive_ratio: float = 0.2
    breaker_closed: bool = True
    power_fail_count: int = 0


class DeviceProfile(_Strict):
    """The whole profile (shipped: harness/profiles/cmi1020-e350.yaml)."""

    name: str
    identity: Identity
    link: Link
    startup: Startup = Field(default_factory=Startup)
    supply: Supply
    rate_inputs: RateInputs
    ui: Ui
    meter: MeterDefaults
    registers: list[Register]

    @model_validator(mode="after")
    def _consistent(self) -> DeviceProfile:
        telegrams = sorted({r.telegram for r in self.registers})
        if telegrams != list(range(len(telegrams))):
            raise ValueError(f"register telegram indexes must run 0..n without gaps, got {telegrams}")
        names = [r.name for r in self.registers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"register names must be unique, duplicated: {dup}")
        tariffs = len(self.meter.energy_import_wh)
        for r in self.registers:
            if r.source in ("energy_import", "energy_export") and r.tariff > tariffs:
                raise ValueError(f"register {r.name}: tariff {r.tariff} but meter has {tariffs} tariffs")
        return self

    @property
    def telegram_count(self) -> int:
        return max((r.telegram for r in self.registers), default=0) + 1

    def register(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(
            f"no register {name!r} in profile {self.name}; known: {[r.name for r in self.registers]}"
        )


def _format_validation(path: Path, err: ValidationError) -> str:
    lines = [f"invalid device profile {path}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {loc}: {e['msg']}")
    lines.append(
        "fix the field(s) above; the shipped profile harness/profiles/cmi1020-e350.yaml is a valid example"
    )
    return "\n".join(lines)


def load_profile(path: Path | None = None) -> DeviceProfile:
    """Load and validate a device profile (None = the shipped CMi1020/E350 profile).

    Raises :class:`ProfileError` naming the file, each bad field and what it allows.
    """
    path = Path(path) if path is not None else SHIPPED_PROFILE
    data = read_yaml_mapping(
        path, what="device profile", error=ProfileError, hint="give an existing YAML file (--dut-profile)"
    )
    try:
        return DeviceProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_format_validation(path, exc)) from None
