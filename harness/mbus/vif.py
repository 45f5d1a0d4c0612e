"""VIF/VIFE tables of EN 13757-3 (primary table, FB and FD extension tables, combinable VIFEs).

Every entry maps a code to (quantity, base unit, scale, kind). The scale is an exact ratio
``mult/div`` that brings the raw data value to the base unit (exponent and time unit applied), so
``value = raw * mult / div``. Tables are dicts built once at import; :func:`vif_info` is cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: kind of value a VIF carries: a number, a calendar date (type G), date+time (F/I), time (J), text, raw
Kind = str
_TIME_UNITS = ((1, "s"), (60, "s"), (3600, "s"), (86400, "s"))  # nn: seconds, minutes, hours, days
_LONG_TIME_UNITS = (
    (3600, 1, "s"),
    (86400, 1, "s"),
    (1, 1, "month"),
    (1, 1, "year"),
)  # pp: hours, days, months, years


@dataclass(frozen=True)
class VifEntry:
    quantity: str
    unit: str
    mult: int = 1
    div: int = 1
    kind: Kind = "number"
    reserved: bool = False


def _pow10(exp: int) -> tuple[int, int]:
    return (10**exp, 1) if exp >= 0 else (1, 10**-exp)


def _e(quantity: str, unit: str, exp: int, factor: int = 1, kind: Kind = "number") -> VifEntry:
    m, d = _pow10(exp)
    return VifEntry(quantity, unit, m * factor, d, kind)


def _reserved(code: int, table: str) -> VifEntry:
    return VifEntry(f"reserved_{table}{code:02X}", "", kind="raw", reserved=True)


def _build_primary() -> dict[int, VifEntry]:
    """EN 13757-3 table 'Primary VIF-codes' (bit 7, the extension bit, masked off)."""
    t: dict[int, VifEntry] = {}
    for n in range(8):
        t[0x00 + n] = _e("energy", "Wh", n - 3)
        t[0x08 + n] = _e("energy", "J", n)
        t[0x10 + n] = _e("volume", "m3", n - 6)
        t[0x18 + n] = _e("mass", "kg", n - 3)
        t[0x28 + n] = _e("power", "W", n - 3)
        t[0x30 + n] = _e("power", "J/h", n)
        t[0x38 + n] = _e("volume_flow", "m3/h", n - 6)
        t[0x40 + n] = _e("volume_flow", "m3/h", n - 7, 60)  # m3/min to m3/h
        t[0x48 + n] = _e("volume_flow", "m3/h", n - 9, 3600)  # m3/s to m3/h
        t[0x50 + n] = _e("mass_flow", "kg/h", n - 3)
    for nn in range(4):
        secs = _TIME_UNITS[nn][0]
        t[0x20 + nn] = VifEntry("on_time", "s", secs)
        t[0x24 + nn] = VifEntry("operating_time", "s", secs)
        t[0x58 + nn] = _e("flow_temperature", "degC", nn - 3)
        t[0x5C + nn] = _e("return_temperature", "degC", nn - 3)
        t[0x60 + nn] = _e("temperature_difference", "K", nn - 3)
        t[0x64 + nn] = _e("external_temperature", "degC", nn - 3)
        t[0x68 + nn] = _e("pressure", "bar", nn - 3)
        t[0x70 + nn] = VifEntry("averaging_duration", "s", secs)
        t[0x74 + nn] = VifEntry("actuality_duration", "s", secs)
    t[0x6C] = VifEntry("date", "", kind="date")
    t[0x6D] = VifEntry("datetime", "", kind="datetime")
    t[0x6E] = VifEntry("hca_units", "")
    t[0x6F] = _reserved(0x6F, "")
    t[0x78] = VifEntry("fabrication_number", "", kind="id")
    t[0x79] = VifEntry("identification", "", kind="id")
    t[0x7A] = VifEntry("bus_address", "", kind="id")
    t[0x7C] = VifEntry("plain_text", "")
    t[0x7E] = VifEntry("any", "", kind="raw")
    t[0x7F] = VifEntry("manufacturer_specific", "", kind="raw")
    return t


def _build_fb() -> dict[int, VifEntry]:
    """EN 13757-3 table 'Main VIFE-code extension table' (VIF FB)."""
    t: dict[int, VifEntry] = {}
    for n in range(2):
        t[0x00 + n] = _e("energy", "Wh", n - 1 + 6)  # 10^(n-1) MWh
        t[0x02 + n] = _e("reactive_energy", "varh", n - 1 + 3)  # 10^(n-1) kvarh
        t[0x08 + n] = _e("energy", "J", n - 1 + 9)  # 10^(n-1) GJ
        t[0x10 + n] = _e("volume", "m3", n + 2)
        t[0x18 + n] = _e("mass", "kg", n + 2 + 3)  # 10^(n+2) t
        t[0x28 + n] = _e("power", "W", n - 1 + 6)  # 10^(n-1) MW
        t[0x30 + n] = _e("power", "J/h", n - 1 + 9)  # 10^(n-1) GJ/h
    t[0x21] = _e("volume", "ft3", -1)
    t[0x22] = _e("volume", "US_gal", -1)
    t[0x23] = _e("volume", "US_gal", 0)
    t[0x24] = _e("volume_flow", "US_gal/min", -3)
    t[0x25] = _e("volume_flow", "US_gal/min", 0)
    t[0x26] = _e("volume_flow", "US_gal/h", 0)
    for nn in range(4):
        t[0x58 + nn] = _e("flow_temperature", "degF", nn - 3)
        t[0x5C + nn] = _e("return_temperature", "degF", nn - 3)
        t[0x60 + nn] = _e("temperature_difference", "degF", nn - 3)
        t[0x64 + nn] = _e("external_temperature", "degF", nn - 3)
        t[0x70 + nn] = _e("temperature_limit", "degF", nn - 3)
        t[0x74 + nn] = _e("temperature_limit", "degC", nn - 3)
    for nnn in range(8):
        t[0x78 + nnn] = _e("cumulative_max_power", "W", nnn - 3)
    return t


def _build_fd() -> dict[int, VifEntry]:
    """EN 13757-3 table 'Main VIFE-code extension table' (VIF FD)."""
    t: dict[int, VifEntry] = {}
    for nn in range(4):
        t[0x00 + nn] = _e("credit", "currency", nn - 3)
        t[0x04 + nn] = _e("debit", "currency", nn - 3)
        secs = _TIME_UNITS[nn][0]
        t[0x24 + nn] = VifEntry("storage_interval", "s", secs)
        t[0x2C + nn] = VifEntry("duration_since_readout", "s", secs)
        t[0x34 + nn] = VifEntry("tariff_period", "s", secs)
        m, d, unit = _LONG_TIME_UNITS[nn]
        t[0x68 + nn] = VifEntry("duration_since_cumulation", unit, m, d)
        t[0x6C + nn] = VifEntry("battery_operating_time", unit, m, d)
    for nn in range(1, 4):
        t[0x30 + nn] = VifEntry("tariff_duration", "s", _TIME_UNITS[nn][0])
    t[0x30] = VifEntry("tariff_start", "", kind="datetime")
    names = {
        0x08: "access_number",
        0x09: "medium",
        0x0A: "manufacturer",
        0x0B: "parameter_set_id",
        0x0C: "model_version",
        0x0D: "hardware_version",
        0x0E: "firmware_version",
        0x0F: "software_version",
        0x10: "customer_location",
        0x11: "customer",
        0x12: "access_code_user",
        0x13: "access_code_operator",
        0x14: "access_code_system_operator",
        0x15: "access_code_developer",
        0x16: "password",
        0x17: "error_flags",
        0x18: "error_mask",
        0x1A: "digital_output",
        0x1B: "digital_input",
        0x1E: "retry",
        0x20: "first_storage_number",
        0x21: "last_storage_number",
        0x22: "storage_block_size",
        0x3A: "dimensionless",
        0x60: "reset_counter",
        0x61: "cumulation_counter",
        0x62: "control_signal",
        0x63: "day_of_week",
        0x64: "week_number",
        0x66: "parameter_activation_state",
        0x67: "special_supplier_information",
        0x72: "daylight_saving",
        0x73: "listening_window",
        0x75: "meter_stop_count",
        0x76: "manufacturer_protocol_container",
    }
    for code, name in names.items():
        t[code] = VifEntry(name, "", kind="id")
    t[0x1C] = VifEntry("baud_rate", "Bd")
    t[0x1D] = VifEntry("response_delay", "bit_times")
    t[0x28] = VifEntry("storage_interval", "month")
    t[0x29] = VifEntry("storage_interval", "year")
    t[0x38] = VifEntry("tariff_period", "month")
    t[0x39] = VifEntry("tariff_period", "year")
    t[0x65] = VifEntry("day_change_time", "", kind="datetime")
    t[0x70] = VifEntry("battery_change", "", kind="datetime")
    t[0x71] = VifEntry("rf_level", "dBm")
    t[0x74] = VifEntry("remaining_battery_life", "s", 86400)
    for n in range(16):
        t[0x40 + n] = _e("voltage", "V", n - 9)
        t[0x50 + n] = _e("current", "A", n - 12)
    return t


PRIMARY: dict[int, VifEntry] = _build_primary()
FB_TABLE: dict[int, VifEntry] = _build_fb()
FD_TABLE: dict[int, VifEntry] = _build_fd()

#: combinable (orthogonal) VIFE codes of EN 13757-3 that only qualify the value
COMBINABLE: dict[int, str] = {
    0x12: "average",
    0x13: "inverse_compact_profile",
    0x14: "relative_deviation",
    0x1D: "standard_conform_data",
    0x1E: "compact_profile_with_registers",
    0x1F: "compact_profile",
    0x27: "per_measurement",
    0x28: "per_input_pulse_0",
    0x29: "per_input_pulse_1",
    0x2A: "per_output_pulse_0",
    0x2B: "per_output_pulse_1",
    0x2C: "per_litre",
    0x2D: "per_m3",
    0x2E: "per_kg",
    0x2F: "per_K",
    0x30: "per_kWh",
    0x31: "per_GJ",
    0x32: "per_kW",
    0x33: "per_K_l",
    0x34: "per_V",
    0x35: "per_A",
    0x36: "times_s",
    0x37: "times_s_per_V",
    0x38: "times_s_per_A",
    0x3A: "uncorrected",
    0x3B: "forward_flow",
    0x3C: "backward_flow",
    0x3E: "base_conditions",
    0x3F: "obis_declaration",
    0x7E: "future_value",
}
#: EN 13757-3:2018 combinable VIFE extension table (after VIFE FC), the rows an electricity meter needs
COMBINABLE_FC = {
    0x10: "accumulation_abs_both",  # E001 0000: accumulation of abs value, positive and negative contribution
}
_PER_TIME = {0x20: "/s", 0x21: "/min", 0x22: "/h", 0x23: "/d", 0x24: "/week", 0x25: "/month", 0x26: "/year"}
_RECORD_ERRORS = {
    0x00: "none",
    0x01: "too_many_difes",
    0x02: "storage_not_implemented",
    0x03: "unit_not_implemented",
    0x04: "tariff_not_implemented",
    0x05: "function_not_implemented",
    0x06: "data_class_not_implemented",
    0x07: "data_size_not_implemented",
    0x0B: "too_many_vifes",
    0x0C: "illegal_vif_group",
    0x0D: "illegal_vif_exponent",
    0x0E: "vif_dif_mismatch",
    0x0F: "unimplemented_action",
    0x15: "no_data_available",
    0x16: "data_overflow",
    0x17: "data_underflow",
    0x18: "data_error",
    0x1C: "premature_end_of_record",
}


@dataclass(frozen=True)
class VifInfo:
    """What a VIF and its VIFE chain say: quantity, base unit, scale to it, kind and qualifiers."""

    quantity: str
    unit: str
    mult: int
    div: int
    kind: Kind
    modifiers: tuple[str, ...] = ()
    manufacturer_vife: tuple[int, ...] = ()
    problem: str | None = None  #: reserved/unknown code found (a deviation for strict mode)


@lru_cache(maxsize=4096)
def vif_info(vif: int, vife: tuple[int, ...]) -> VifInfo:
    """Interpret VIF + VIFE chain (EN 13757-3 clauses on VIF, VIFE and the FB/FD extension tables)."""
    code = vif & 0x7F
    rest = vife
    problem = None
    if code == 0x7B or code == 0x7D:
        if not rest:
            return VifInfo(
                "unknown",
                "",
                1,
                1,
                "raw",
                (),
                (),
                f"VIF {vif:02X} announces an extension table but no VIFE follows",
            )
        table, label = (FB_TABLE, "FB") if code == 0x7B else (FD_TABLE, "FD")
        sub = rest[0] & 0x7F
        entry = table.get(sub) or _reserved(sub, label)
        if entry.reserved:
            problem = f"VIFE {sub:02X} is reserved in the {label} extension table"
        rest = rest[1:]
    else:
        entry = PRIMARY[code]
        if entry.reserved:
            problem = f"VIF {code:02X} is reserved in the primary table"
    quantity, unit, mult, div, kind = entry.quantity, entry.unit, entry.mult, entry.div, entry.kind
    modifiers: list[str] = []
    if code == 0x7F:
        return VifInfo(quantity, unit, mult, div, kind, (), tuple(b & 0x7F for b in rest), problem)
    extended = False  # the previous VIFE was FC: this one is from the combinable extension table
    for k, b in enumerate(rest):
        e = b & 0x7F
        if extended:
            extended = False
            if e in COMBINABLE_FC:
                modifiers.append(COMBINABLE_FC[e])
            else:
                problem = problem or f"VIFE FC {e:02X} is reserved in the combinable extension table"
                modifiers.append(f"reserved_vife_fc_{e:02X}")
            continue
        if e == 0x7C:  # E111 1100: the next VIFE is from the combinable VIFE extension table (FC)
            extended = True
            continue
        if e == 0x7F:  # next VIFEs and data are manufacturer specific
            return VifInfo(
                quantity,
                unit,
                mult,
                div,
                kind,
                tuple(modifiers),
                tuple(x & 0x7F for x in rest[k + 1 :]),
                problem,
            )
        if 0x70 <= e <= 0x77:
            m, d = _pow10((e & 7) - 6)
            mult, div = mult * m, div * d
        elif e == 0x7D:
            mult *= 1000
        elif 0x78 <= e <= 0x7B:
            modifiers.append(f"additive_correction_e{(e & 3) - 3}")
        elif e in COMBINABLE:
            modifiers.append(COMBINABLE[e])
        elif e in _PER_TIME:
            unit = f"{unit}{_PER_TIME[e]}" if unit else _PER_TIME[e][1:]
            modifiers.append("per_time")
        elif e <= 0x1F and e in _RECORD_ERRORS:
            modifiers.append(f"record_error_{_RECORD_ERRORS[e]}")
        elif e == 0x39:
            modifiers.append("start_date_of")
            kind = "datetime"
            unit = ""
        elif 0x40 <= e <= 0x4F:
            upper = "upper" if e & 0x08 else "lower"
            low = e & 0x07
            if low == 0:
                modifiers.append(f"{upper}_limit")
            elif low == 1:
                modifiers.append(f"{upper}_limit_exceed_count")
                unit, mult, div, kind = "", 1, 1, "number"
            elif low in (2, 3, 6, 7):
                modifiers.append(f"{upper}_limit_exceed_time")
                unit, kind = "", "datetime"
            else:
                problem = problem or f"VIFE {e:02X} is reserved"
                modifiers.append(f"reserved_vife_{e:02X}")
        elif 0x50 <= e <= 0x67:
            modifiers.append("limit_exceed_duration" if e < 0x60 else "first_last_duration")
            unit, mult, div, kind = "s", _TIME_UNITS[e & 3][0], 1, "number"
        elif e in (0x6A, 0x6B, 0x6E, 0x6F):
            modifiers.append("first_last_time")
            unit, kind = "", "datetime"
        else:
            problem = problem or f"VIFE {e:02X} is reserved in the combinable VIFE table"
            modifiers.append(f"reserved_vife_{e:02X}")
    return VifInfo(quantity, unit, mult, div, kind, tuple(modifiers), (), problem)
