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
    "energy_absolute",
    "reactive_import",
    "reactive_export",
    "power",
    "voltage",
    "current",
    "power_fail_count",
    "active_tariff",
    "breaker",
    "error_flags",
    "event_counter",
    "status_word",
)
#: meter quantities a status word register (source ``status_word``) may carry as bit fields
STATUS_FIELD_SOURCES = ("active_tariff", "breaker")


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


class MarkCurrentLimits(_Strict):
    """How flat the mark (idle) current must be: EN 13757-2:2018 4.2.2.3 and 4.2.2.4.

    The standard's numbers are not in the project's notes: the shipped values are assumptions, each with
    its ``source``, for a lab to confirm against the standard and correct here.
    """

    max_variation_ua: float = Field(
        gt=0,
        description="EN 13757-2:2018 4.2.2.3: largest difference between the mark currents at any two bus "
        "voltages of the slave's range, either polarity (uA)",
    )
    max_short_term_variation_ua: float = Field(
        gt=0,
        description="EN 13757-2:2018 4.2.2.4: largest peak-to-peak change of the mark current at one bus "
        "voltage during a hold period (uA)",
    )
    short_term_hold_s: float = Field(gt=0, le=600, description="hold period of 4.2.2.4 (s)")
    short_term_readings: int = Field(ge=2, le=1000, description="DMM readings taken over the hold period")
    source: str = ""
    assumption: bool = False


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
    #: EN 13757-2:2018 4.2.2.9: the space state current is 11-20 mA above the mark state current
    space_current_min_ma: float = Field(default=11.0, gt=0, description="EN 13757-2:2018 4.2.2.9 (mA)")
    space_current_max_ma: float = Field(default=20.0, gt=0, description="EN 13757-2:2018 4.2.2.9 (mA)")
    mark_current: MarkCurrentLimits
    assumption: bool = False

    @model_validator(mode="after")
    def _range(self) -> Supply:
        if self.min_volts >= self.max_volts:
            raise ValueError(f"min_volts {self.min_volts} must be below max_volts {self.max_volts}")
        if self.space_current_min_ma >= self.space_current_max_ma:
            raise ValueError(
                f"space_current_min_ma {self.space_current_min_ma} must be below space_current_max_ma "
                f"{self.space_current_max_ma}"
            )
        return self


class StatusField(_Strict):
    """One bit field of a status word (E350 C.5.0 is one 4-hex-digit word, domain.md section 7):
    field value = ((word >> lsb) & (2**width - 1)) + offset."""

    name: str = Field(description=f"the meter quantity it carries, one of {', '.join(STATUS_FIELD_SOURCES)}")
    lsb: int = Field(ge=0, le=63, description="lowest bit of the field in the word")
    width: int = Field(default=1, ge=1, le=16, description="bits")
    offset: int = Field(default=0, description="field value = bits + offset (e.g. rate 1 sent as 0)")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in STATUS_FIELD_SOURCES:
            raise ValueError(f"expected one of {list(STATUS_FIELD_SOURCES)}, got {v!r}")
        return v

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    def decode(self, word: int) -> int:
        """The field's value in a received status word."""
        return ((word & self.mask) >> self.lsb) + self.offset

    def encode(self, value: int) -> int:
        """The word bits for ``value``; a value the field cannot hold is a ValueError."""
        bits = value - self.offset
        if not 0 <= bits < 1 << self.width:
            raise ValueError(
                f"status field {self.name}: {value} does not fit {self.width} bit(s) + {self.offset}"
            )
        return bits << self.lsb


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
    #: bit fields of a status word (source ``status_word`` only)
    fields: list[StatusField] = Field(default_factory=list)
    assumption: bool = False

    @model_validator(mode="after")
    def _status_fields(self) -> Register:
        if (self.source == "status_word") != bool(self.fields):
            raise ValueError(f"register {self.name}: a status_word register, and only it, needs bit fields")
        taken = 0
        for f in self.fields:
            if taken & f.mask:
                raise ValueError(f"register {self.name}: status field {f.name} overlaps another field")
            taken |= f.mask
        return self

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
    #: bit of the long header's status byte the module toggles on a refused rate change (EN 13757-3: bits
    #: 5-7 manufacturer specific; sibling CMi1020W manual); None: the module has no such bit
    refusal_status_bit: int | None = Field(default=None, ge=0, le=7)
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
    #: red LED after a failed rate change (sibling CMi1020W manual): flashing this long, at this period
    red_flash_s: float = Field(default=10.0, gt=0)
    red_flash_period_s: float = Field(default=1.0, gt=0)
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
    power_fail_count: int = Field(default=0, ge=0, le=9999, description="OBIS C.7.0, 4 digits")
    #: E350 readouts list 82.8.1, 82.8.2 (domain.md section 7): counters (assumption), index = OBIS E - 1
    event_counts: list[int] = Field(default_factory=lambda: [0, 0], max_length=9)


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
        fields = [f.name for r in self.registers for f in r.fields]
        clash = sorted({n for n in fields if fields.count(n) > 1 or n in names})
        if clash:
            raise ValueError(f"status field names must be unique and differ from register names: {clash}")
        tariffs = len(self.meter.energy_import_wh)
        for r in self.registers:
            if r.source in ("energy_import", "energy_export") and r.tariff > tariffs:
                raise ValueError(f"register {r.name}: tariff {r.tariff} but meter has {tariffs} tariffs")
            counters = len(self.meter.event_counts)
            if r.source == "event_counter" and not 1 <= r.tariff <= counters:
                raise ValueError(
                    f"register {r.name}: event counter {r.tariff} (OBIS E group, DIFE tariff) must be "
                    f"1..{counters} (meter.event_counts)"
                )
        return self

    @property
    def meter_rates(self) -> range:
        """The rates the meter supports: one per ``meter.energy_import_wh`` value (E350: up to 6)."""
        return range(1, len(self.meter.energy_import_wh) + 1)

    @property
    def telegram_count(self) -> int:
        return max((r.telegram for r in self.registers), default=0) + 1

    def status_field(self, name: str) -> tuple[Register, StatusField] | None:
        """The status word register carrying field ``name`` and the field, or None."""
        for r in self.registers:
            for f in r.fields:
                if f.name == name:
                    return r, f
        return None

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
