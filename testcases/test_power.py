"""Power (product sheet: nominal voltage 21-42 VDC polarity independent, 1 unit load = 1.5 mA):
supply sweep in both polarities, quiescent current at every point, brown-out and recovery with the
configuration kept, power-fail counter."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.checks import read_register, wait_std
from fixtures.dut import NOMINAL_VOLTS, answers, set_local_baud
from fixtures.mbus import wait_started
from harness.expect import max_quiescent_current_a
from harness.measure import measure

#: time the module is left at a voltage before it is addressed (standard seconds, not mandated)
SETTLE_S = 0.05
#: supply below the product sheet's range, where the module may brown out
BROWNOUT_VOLTS = 12.0

POLARITIES = [
    pytest.param("+", id="positive"),
    pytest.param(
        "-",
        id="reversed",
        marks=[pytest.mark.needs("polarity"), pytest.mark.requirement("PS-SUPPLY-POLARITY")],
    ),
]


def sweep_volts(profile: Any, step_v: float) -> list[float]:
    """21 V .. 42 V (the profile's supply range) by ``step_v``, both ends included."""
    lo, hi = profile.supply.min_volts, profile.supply.max_volts
    points, v = [], lo
    while v < hi - 1e-9:
        points.append(round(v, 3))
        v += step_v
    return [*points, hi]


def measured_supply_v(bench: Any, polarity: str) -> float:
    """The supply output's own voltage readback (``MEAS:VOLT?``) on the output feeding the DUT."""
    rig = bench.rig
    output = rig.instruments.supply.output
    if polarity == "-" and rig.wiring.polarity.method == "supply_channel":
        output = rig.wiring.polarity.negative_output
    return float(bench.supply.measure_voltage_v(channel=output))


@pytest.mark.requirement("PS-SUPPLY-RANGE")
@pytest.mark.needs("supply")
@pytest.mark.parametrize("polarity", POLARITIES)
def test_answers_at_every_supply_voltage(
    dut: Any, bench: Any, master: Any, station: Any, suite: Any, profile: Any, polarity: str
) -> None:
    """At each point of the profile's supply range the module answers; each point is recorded with the
    voltage the supply measured on its output, not the setpoint."""
    for setpoint in sweep_volts(profile, suite.supply_step_v):
        bench.power_dut(setpoint, polarity)
        wait_std(station, SETTLE_S, what=f"settling at {polarity}{setpoint:g} V supply")
        measured = measured_supply_v(bench, polarity)
        ok = answers(master, dut.address)
        measure(
            "answers_at_supply",
            1.0 if ok else 0.0,
            "bool",
            low=1.0,
            requirement="PS-SUPPLY-POLARITY" if polarity == "-" else "PS-SUPPLY-RANGE",
            conditions={"supply_v": round(measured, 4), "setpoint_v": setpoint, "polarity": polarity},
            defer=True,
        )


@pytest.mark.requirement("PS-UNIT-LOAD")
@pytest.mark.needs("supply", "dmm")
@pytest.mark.parametrize("polarity", POLARITIES)
def test_quiescent_current_is_one_unit_load(
    dut: Any, bench: Any, master: Any, station: Any, suite: Any, profile: Any, polarity: str
) -> None:
    limit_a = max_quiescent_current_a(profile)  # product sheet 1T: unit loads x 1.5 mA (EN 13757-2)
    for setpoint in sweep_volts(profile, suite.supply_step_v):
        bench.power_dut(setpoint, polarity)
        wait_std(station, SETTLE_S, what=f"settling at {polarity}{setpoint:g} V supply")
        measured = measured_supply_v(bench, polarity)
        current_a = bench.bus_current_a()
        measure(
            "quiescent_current",
            current_a,
            "A",
            high=limit_a,
            requirement="PS-UNIT-LOAD",
            uncertainty=bench.dmm_uncertainty_a(current_a),
            conditions={"supply_v": round(measured, 4), "setpoint_v": setpoint, "polarity": polarity},
            defer=True,
        )


@pytest.mark.requirement("PS-SUPPLY-BROWNOUT")
@pytest.mark.time_bound(0.5 + SETTLE_S)
@pytest.mark.needs("supply")
def test_recovers_from_brownout_with_configuration_kept(
    dut: Any, bench: Any, master: Any, station: Any
) -> None:
    new_address = 17
    master.set_primary_address(dut.address, new_address)
    slow = min(dut.bauds)
    if slow != dut.baud:
        master.change_baud(new_address, slow)
    bench.power_dut(BROWNOUT_VOLTS, "+")
    wait_std(station, 0.5, what=f"brown-out at {BROWNOUT_VOLTS:g} V")
    bench.power_dut(NOMINAL_VOLTS, "+")
    wait_started(station, what=f"start-up at {NOMINAL_VOLTS:g} V")
    assert answers(master, new_address), (
        f"after a brown-out to {BROWNOUT_VOLTS} V the module no longer answers at primary address "
        f"{new_address} at {slow} Bd: configuration lost"
    )


@pytest.mark.requirement("DA-POWER-FAIL")
@pytest.mark.time_bound(0.5 + SETTLE_S)
@pytest.mark.needs("supply", "meter_mains")
def test_power_fail_counter_increments_after_supply_loss(
    dut: Any, bench: Any, master: Any, station: Any, profile: Any
) -> None:
    before = read_register(master, dut.address, profile, "power_fail_count")
    bench.power_off()
    wait_std(station, 0.5, what="bus supply off")
    bench.power_dut(NOMINAL_VOLTS, "+")
    wait_started(station, what=f"start-up at {NOMINAL_VOLTS:g} V")
    set_local_baud(master, dut.baud)
    after = read_register(master, dut.address, profile, "power_fail_count")
    measure("power_fail_count_increment", float(after) - float(before), "count", low=1.0, high=1.0)
