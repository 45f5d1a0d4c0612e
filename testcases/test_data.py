"""Application data (product sheet: "all OBIS fields from meter"; EN 13757-3 long header and records):
identity header, every register of the device profile with its coding, values equal to the meter's,
energy following the meter."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.checks import StdClock, read_register, register_values, wait_std
from fixtures.dut import NOMINAL_VOLTS, set_local_baud
from fixtures.mbus import wait_started
from harness.expect import (
    expected_identity,
    expected_records,
    header_status_problems,
    rate_sum_problem,
    rate_sums,
    readings_by_register,
    telegram_problems,
    value_problem,
)
from harness.mbus.model import CI_RESPONSE_LONG, LongHeader
from harness.mbus.records import describe
from harness.measure import measure

#: standard seconds between two reads of the energy register (the E350 integrates over it)
LIVE_INTERVAL_S = 10.0
#: standard seconds an outage lasts (bus supply or meter mains): long enough for either to be lost
OUTAGE_S = 0.5


@pytest.mark.requirement("DA-HEADER")
def test_identity_header(dut: Any, master: Any, profile: Any) -> None:
    """Every telegram: CI 72 and a long header with the profile's identity, and a status byte with every bit
    EN 13757-3 defines clear (no error, not busy, power not low on a bus at nominal voltage)."""
    ident = expected_identity(profile)
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
        status = header_status_problems(profile, h.status)
        assert not status, f"telegram {i}: status byte {h.status:#04x}: " + "; ".join(status)


@pytest.mark.requirement("DA-REGISTERS")
def test_every_profile_register_with_its_coding(dut: Any, master: Any, profile: Any) -> None:
    """Each telegram carries exactly the profile's registers, each with the DIF/DIFE/VIF/VIFE bytes
    harness.expect derives from its declared coding, storage, tariff, subunit and VIF (EN 13757-3)."""
    frames = master.read(dut.address)
    expected = expected_records(profile)
    problems = []
    for index in range(max(profile.telegram_count, len(frames))):
        want = [e for e in expected if e.telegram == index]
        got = list(frames[index].records) if index < len(frames) else []
        problems += [f"telegram {index}: {p}" for p in telegram_problems(want, got)]
        for rec in got:
            view = describe(rec)
            if view.problem is not None:
                problems.append(f"telegram {index}: [{view.raw}] {view.problem}")
    assert not problems, "records differ from the device profile: " + "; ".join(problems)


@pytest.mark.requirement("DA-VALUES")
@pytest.mark.needs("meter_model")
def test_values_equal_the_meter(dut: Any, master: Any, profile: Any, reference_meter: Any) -> None:
    """Each value equals the meter's own reading (read just before and just after the M-Bus read-out):
    integer and enumerated registers exactly, analog ones within their declared resolution."""
    before = reference_meter.meter_readout()
    frames = master.read(dut.address)
    after = reference_meter.meter_readout()
    expected = expected_records(profile)
    values = register_values(frames, profile)
    bad = []
    for exp in expected:
        if exp.register not in values:
            bad.append(f"{exp.register}: not in the read-out")
            continue
        reference = readings_by_register([before, after], exp.register)
        got = values[exp.register]
        numbers = [r for r in reference if isinstance(r, int | float)]
        if exp.numeric and isinstance(got, int | float) and numbers:
            measure(
                f"register_{exp.register}",
                got,
                exp.unit or "1",
                low=min(numbers) - exp.resolution,
                high=max(numbers) + exp.resolution,
                defer=True,
                conditions={"register": exp.register},
            )
        problem = value_problem(exp, got, reference)
        if problem is not None:
            bad.append(problem)
    assert not bad, "values differ from the meter: " + "; ".join(bad)


@pytest.mark.requirement("DA-RATE-SUM")
def test_energy_rates_add_up_to_their_total(dut: Any, master: Any, profile: Any) -> None:
    """E350 energy registers: the total (x.8.0) counts every rate (x.8.1..x.8.n). Within one read-out no
    rate sum exceeds its total, and where the profile exposes every rate of the meter they add up to it,
    within one count per register plus what the energy may grow while the module copies the registers
    from the meter (power in the same read-out x the profile's meter exchange time). Decided on any
    bench, without a reference meter: it catches a register sent ten times too large with the right VIF.
    """
    values = register_values(master.read(dut.address), profile)
    power_w = values.get("power_total")
    growth_wh = (
        abs(float(power_w)) * profile.ui.meter_exchange_s / 3600.0
        if isinstance(power_w, int | float)
        else 0.0
    )
    problems = []
    for group in rate_sums(profile):
        names = [group.total.register, *(r.register for r in group.rates)]
        if not all(isinstance(values.get(n), int | float) for n in names):
            problems.append(f"{group.total.register}: not every register of the group is in the read-out")
            continue
        tol = group.tolerance(growth_wh)
        measure(
            f"rate_sum_minus_{group.total.register}",
            sum(float(values[n]) for n in names[1:]) - float(values[names[0]]),
            group.total.unit,
            low=-tol if group.complete else None,
            high=tol,
            defer=True,
            conditions={
                "rates": len(group.rates),
                "complete": group.complete,
                "growth_wh": round(growth_wh, 3),
            },
        )
        problem = rate_sum_problem(group, values, growth_wh)
        if problem is not None:
            problems.append(problem)
    assert not problems, "energy rates disagree with their totals: " + "; ".join(problems)


@pytest.mark.requirement("DA-LIVE")
@pytest.mark.needs("meter_load")
@pytest.mark.time_bound(LIVE_INTERVAL_S)
def test_energy_follows_the_meter(dut: Any, master: Any, profile: Any, station: Any) -> None:
    clock = StdClock(station).start()
    first = register_values(master.read(dut.address), profile)["energy_import_total"]
    t_first = clock.elapsed()
    wait_std(station, LIVE_INTERVAL_S, what="the meter integrating energy between two reads")
    second = register_values(master.read(dut.address), profile)["energy_import_total"]
    interval = clock.elapsed() - t_first
    measure(
        "energy_import_growth",
        float(second) - float(first),
        "Wh",
        low=1.0,
        conditions={"interval_s": round(interval, 3)},
    )


def _power_fail_count(master: Any, dut: Any, profile: Any) -> int:
    value = read_register(master, dut.address, profile, "power_fail_count")
    assert isinstance(value, int), f"power_fail_count={value!r}: the counter (C.7.0) is not an integer"
    return value


@pytest.mark.requirement("DA-POWER-FAIL")
@pytest.mark.time_bound(lambda p: OUTAGE_S + p.startup.typical_s)
@pytest.mark.needs("supply")
def test_power_fail_counter_ignores_a_bus_supply_loss(
    dut: Any, bench: Any, master: Any, station: Any, profile: Any
) -> None:
    """The E350 is mains powered and counts its own supply losses in C.7.0; the module is bus powered, so
    switching the M-Bus off and on again is no meter power failure (E350 readouts, domain.md section 7)."""
    before = _power_fail_count(master, dut, profile)
    bench.power_off()
    wait_std(station, OUTAGE_S, what="bus supply off")
    bench.power_dut(NOMINAL_VOLTS, "+")
    wait_started(station, profile, what=f"start-up at {NOMINAL_VOLTS:g} V")
    set_local_baud(master, dut.baud)
    after = _power_fail_count(master, dut, profile)
    measure("power_fail_count_after_bus_loss", float(after - before), "count", low=0.0, high=0.0)


@pytest.mark.requirement("DA-POWER-FAIL")
@pytest.mark.time_bound(lambda p: OUTAGE_S + p.ui.meter_poll_interval_s)
@pytest.mark.needs("meter_mains")
def test_power_fail_counter_counts_a_meter_mains_loss(
    dut: Any, bench: Any, master: Any, station: Any, profile: Any
) -> None:
    """One interruption of the meter's own mains increments C.7.0 by exactly one (E350 readouts: the
    counter of the mains-powered meter); read after one meter poll interval, when the module has
    refreshed its copy of the meter's registers (device profile ``ui.meter_poll_interval_s``)."""
    before = _power_fail_count(master, dut, profile)
    bench.set_meter_mains(False)
    try:
        wait_std(station, OUTAGE_S, what="meter mains interrupted")
    finally:
        bench.set_meter_mains(True)
    wait_std(
        station,
        profile.ui.meter_poll_interval_s,
        mandated="meter_poll",
        what="the module reading the restarted meter",
    )
    after = _power_fail_count(master, dut, profile)
    measure("power_fail_count_after_mains_loss", float(after - before), "count", low=1.0, high=1.0)
