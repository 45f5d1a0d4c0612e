"""Oracle: what a conforming CMi1020 answers, predicted from the device profile and a meter state.

Fault-free by construction (it never sees the fault catalogue). The suite compares a DUT, real or emulated,
against these predictions and against the rules of EN 13757; see architecture.md 'Oracle, not golden files'.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.emulator.meter import E350Meter, MeterSnapshot
from harness.emulator.telegram import register_record, telegram_records
from harness.mbus.model import DataRecord, LongHeader
from harness.mbus.timing import reply_window
from harness.profile import DeviceProfile, Register, load_profile


class Oracle:
    """Predictions for a conforming module described by ``profile``."""

    def __init__(self, profile: DeviceProfile | Path | None = None) -> None:
        self.profile = profile if isinstance(profile, DeviceProfile) else load_profile(profile)

    def initial_snapshot(self) -> MeterSnapshot:
        """The meter state the profile starts from (register contents at power-up)."""
        p = self.profile
        return E350Meter(
            p.meter, firmware=p.identity.firmware, default_tariff=p.rate_inputs.default_tariff
        ).snapshot()

    def expected_records(self, snapshot: MeterSnapshot) -> list[list[DataRecord]]:
        """Data records of each RSP_UD telegram (index 0 first) for a meter in state ``snapshot``."""
        return telegram_records(self.profile, snapshot)

    def expected_record(self, register: str | Register, value: float | int) -> DataRecord:
        """The record a register holding ``value`` (in the register's unit) must be sent as."""
        reg = register if isinstance(register, Register) else self.profile.register(register)
        return register_record(reg, value)

    def expected_header(self, *, ident: str | None = None, access_number: int = 0) -> LongHeader:
        """Long header identity fields (EN 13757-3 CI 72); access number and status vary per read-out."""
        i = self.profile.identity
        return LongHeader(
            id=ident or i.id,
            manufacturer=i.manufacturer,
            version=i.version,
            medium=i.medium,
            access_number=access_number,
            status=0,
            signature=0,
        )

    def telegram_count(self) -> int:
        return self.profile.telegram_count

    def input_level_high(self, vac: float) -> bool:
        """Comparator level of a rate input at ``vac`` (product sheet: low < 24 VAC, high > 24 VAC)."""
        return vac > self.profile.rate_inputs.threshold_vac

    def expected_tariff(self, rate_input_levels: Sequence[bool | float]) -> int:
        """Active tariff for held input levels: booleans (high/low) or AC voltages (V rms), input 1 first."""
        levels = [
            lvl if isinstance(lvl, bool) else self.input_level_high(float(lvl)) for lvl in rate_input_levels
        ]
        count = self.profile.rate_inputs.count
        if len(levels) != count:
            raise ValueError(f"expected {count} rate input levels (input 1 first), got {len(levels)}")
        return self.profile.rate_inputs.tariff_for(levels)

    def detection_time_s(self) -> float:
        return self.profile.rate_inputs.detection_time_s

    def reply_window_s(self, baud: int) -> tuple[float, float]:
        return reply_window(baud)

    def supports_baud(self, baud: int) -> bool:
        return baud in self.profile.link.bauds

    def max_quiescent_current_a(self) -> float:
        """Product sheet: unit loads x 1.5 mA (EN 13757-2 unit load)."""
        s = self.profile.supply
        return s.unit_loads * s.ua_per_unit_load * 1e-6

    def powered(self, volts: float) -> bool:
        """Whether a conforming module must answer at this signed bus voltage."""
        s = self.profile.supply
        if volts < 0 and not s.polarity_independent:
            return False
        return s.min_volts <= abs(volts) <= s.max_volts
