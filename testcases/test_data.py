"""Application data (product sheet: "all OBIS fields from meter"; EN 13757-3 long header and records):
identity header, every register of the device profile with its coding, values equal to the meter's,
energy following the meter."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fixtures.checks import (
    StdClock,
    expected_telegrams,
    meter_snapshot,
    record_key,
    register_values,
    registers_by_key,
    wait_std,
)
from harness.mbus.model import CI_RESPONSE_LONG, LongHeader
from harness.mbus.records import describe
from harness.measure import measure

#: standard seconds between two reads of the energy register (the E350 integrates over it)
LIVE_INTERVAL_S = 10.0


@pytest.mark.requirement("DA-HEADER")
def test_identity_header(dut: Any, master: Any, profile: Any, oracle: Any) -> None:
    ident = oracle.expected_header(ident=None if profile.identity.assumption else profile.identity.id)
    for i, frame in enumerate(master.read(dut.address)):
        assert frame.ci == CI_RESPONSE_LONG, f"telegram {i}: CI {frame.ci:02X}, expected 72 (long header)"
        h = frame.header
        assert isinstance(h, LongHeader)
        assert len(h.id) == 8 and h.id.isdigit(), f"telegram {i}: id {h.id!r} is not 8 BCD digits"
        if not profile.identity.assumption:
            assert h.id == ident.id, f"telegram {i}: id {h.id}, profile says {ident.id}"
        assert h.id == dut.header.id, f"telegram {i}: id {h.id} differs from the first read ({dut.header.id})"
        assert h.manufacturer == ident.manufacturer, (
            f"telegram {i}: manufacturer {h.manufacturer}, expected {ident.manufacturer}"
        )
        assert h.version == ident.version, (
            f"telegram {i}: version {h.version:#04x}, expected {ident.version:#04x}"
        )
        assert h.medium == ident.medium, f"telegram {i}: medium {h.medium:#04x}, expected {ident.medium:#04x}"


@pytest.mark.requirement("DA-REGISTERS")
def test_every_profile_register_with_its_coding(dut: Any, master: Any, profile: Any) -> None:
    frames = master.read(dut.address)
    keys = registers_by_key(profile)
    for index in range(profile.telegram_count):
        expected = Counter(record_key(r) for r in _profile_records(profile, index))
        got = Counter(record_key(r) for r in frames[index].records) if index < len(frames) else Counter()
        missing = [keys[k].name for k in expected - got]
        extra = [f"DIF {k[0]:02X} VIF {k[2]}" for k in got - expected]
        assert not missing, f"telegram {index} lacks register(s) {missing} of the device profile"
        assert not extra, f"telegram {index} carries record(s) the device profile does not list: {extra}"
    for frame in frames:
        for rec in frame.records:
            reg = keys[record_key(rec)]
            view = describe(rec)
            assert view.problem is None, f"{reg.name}: {view.problem}"
            assert (
                view.tariff == reg.tariff and view.storage == reg.storage and view.subunit == reg.subunit
            ), (
                f"{reg.name}: position {view.tariff}/{view.storage}/{view.subunit}, profile: "
                f"{reg.tariff}/{reg.storage}/{reg.subunit}"
            )


def _profile_records(profile: Any, telegram: int) -> list[Any]:
    from harness.emulator.telegram import register_record

    return [register_record(reg, 0) for reg in profile.registers if reg.telegram == telegram]


@pytest.mark.requirement("DA-VALUES")
@pytest.mark.needs("meter_model")
def test_values_equal_the_meter(dut: Any, master: Any, profile: Any, oracle: Any, emulator: Any) -> None:
    """Each value lies between the oracle's prediction for the meter just before and just after the read."""
    before = meter_snapshot(emulator)
    frames = master.read(dut.address)
    after = meter_snapshot(emulator)
    keys = registers_by_key(profile)
    lo_t = expected_telegrams(oracle, profile, before)
    hi_t = expected_telegrams(oracle, profile, after)
    bad = []
    for index, frame in enumerate(frames):
        lo = {record_key(r): describe(r).value for r in lo_t[index]}
        hi = {record_key(r): describe(r).value for r in hi_t[index]}
        for rec in frame.records:
            key = record_key(rec)
            reg = keys[key]
            value = describe(rec).value
            if not isinstance(value, int | float):
                if value != lo.get(key) and value != hi.get(key):
                    bad.append(f"{reg.name}={value!r}, meter {lo.get(key)!r}")
                continue
            resolution = 1.0 / reg.scale if reg.scale else 0.0
            low = min(lo[key], hi[key]) - resolution
            high = max(lo[key], hi[key]) + resolution
            m = measure(
                f"register_{reg.name}",
                value,
                reg.unit or "1",
                low=low,
                high=high,
                defer=True,
                conditions={"obis": reg.obis},
            )
            if m.verdict == "fail":
                bad.append(f"{reg.name}={value} (meter {lo[key]}..{hi[key]})")
    assert not bad, "values differ from the meter: " + "; ".join(bad)


@pytest.mark.requirement("DA-LIVE")
def test_energy_follows_the_meter(dut: Any, master: Any, profile: Any, station: Any) -> None:
    clock = StdClock(station).start()
    first = register_values(master.read(dut.address), profile)["energy_import_total"]
    t_first = clock.elapsed()
    wait_std(station, LIVE_INTERVAL_S)
    second = register_values(master.read(dut.address), profile)["energy_import_total"]
    interval = clock.elapsed() - t_first
    measure(
        "energy_import_growth",
        float(second) - float(first),
        "Wh",
        low=1.0,
        conditions={"interval_s": round(interval, 3)},
    )
