"""RSP_UD telegrams from a meter snapshot, as the device profile lays them out (EN 13757-3 variable data).

Pure functions shared by the module model and the oracle: the records of telegram ``i`` are the profile
registers with ``telegram: i`` in profile order; every telegram but the last ends with DIF 1F (more records
follow). Built with the harness codec (one codec, two directions).
"""

from __future__ import annotations

from harness.emulator.meter import MeterSnapshot
from harness.mbus.model import CI_RESPONSE_LONG, RSP_UD, Coding, DataRecord, LongFrame, LongHeader
from harness.mbus.records import build_record
from harness.profile import DeviceProfile, Register

_BCD = {Coding.BCD2, Coding.BCD4, Coding.BCD6, Coding.BCD8, Coding.BCD12}


def raw_value(reg: Register, value: float | int | str) -> int | float | str:
    """Data-field value for a register: the meter value in the register's unit times the profile scale
    (text, e.g. the meter's firmware, goes as it is: EN 13757-3 LVAR ASCII)."""
    if isinstance(value, str):
        return value
    scaled = value * reg.scale
    if reg.coding == Coding.REAL32:
        return float(scaled)
    raw = int(round(scaled))
    if reg.coding in _BCD:
        raw = max(raw, 0)
    return raw


def register_record(reg: Register, value: float | int | str) -> DataRecord:
    """One data record for a register holding ``value`` (in the register's unit)."""
    return build_record(
        coding=reg.coding,
        vif=reg.vif,
        vife=tuple(reg.vife),
        value=raw_value(reg, value),
        function=reg.function,
        storage=reg.storage,
        tariff=reg.tariff,
        subunit=reg.subunit,
        plain_text=reg.plain_text,
    )


def telegram_records(
    profile: DeviceProfile, snapshot: MeterSnapshot, skip: frozenset[str] = frozenset()
) -> list[list[DataRecord]]:
    """Records per telegram for a meter snapshot (``skip``: register names to leave out)."""
    out: list[list[DataRecord]] = [[] for _ in range(profile.telegram_count)]
    for reg in profile.registers:
        if reg.name in skip:
            continue
        out[reg.telegram].append(register_record(reg, snapshot.value(reg)))
    return out


def rsp_ud(*, address: int, header: LongHeader, records: list[DataRecord], more_follow: bool) -> LongFrame:
    """RSP_UD long frame with CI 72 (long header), EN 13757-3."""
    return LongFrame(
        c=RSP_UD,
        a=address,
        ci=CI_RESPONSE_LONG,
        header=header,
        records=tuple(records),
        more_records_follow=more_follow,
    )


def split_status_records(reg: Register, snapshot: MeterSnapshot) -> list[DataRecord]:
    """Seeded fault ``status_word_split``: each field of a status word as a record of its own (INT8, the
    word's VIF), as the profile did before public E350 readouts showed C.5.0 to be one word."""
    word = int(snapshot.value(reg))
    one = reg.model_copy(update={"coding": Coding.INT8})
    return [register_record(one, (word & f.mask) >> f.lsb) for f in reg.fields]


def plain_text_varh(reg: Register) -> Register:
    """Seeded fault ``reactive_wrong_vif``: reactive energy in plain-text VIF 7C "varh" (1 varh per count)
    instead of the EN 13757-3 FB 02/03 the profile declares."""
    backward = [b for b in reg.vife[1:] if b & 0x7F == 0x3C]
    return reg.model_copy(update={"vif": 0x7C, "vife": backward, "plain_text": "varh", "scale": 1.0})
