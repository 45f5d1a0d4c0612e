"""Power (product sheet: nominal voltage 21-42 VDC polarity independent, 1 unit load = 1.5 mA):
supply sweep in both polarities, quiescent current at every point, brown-out and recovery with the
configuration kept (the meter's power-fail counter, which counts the meter's mains, is in test_data)."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.checks import measured_supply_v, sweep_volts, wait_std
from fixtures.current import power_and_settle
from fixtures.dut import NOMINAL_VOLTS, answers
from fixtures.mbus import wait_started
from harness.expect import max_quiescent_current_a
from harness.measure import measure

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


@pytest.mark.requirement("PS-SUPPLY-RANGE")
@pytest.mark.needs("supply")
@pytest.mark.parametrize("polarity", POLARITIES)
def test_answers_at_every_supply_voltage(
    dut: Any, bench: Any, master: Any, station: Any, suite: Any, profile: Any, polarity: str
) -> None:
    """At each point of the profile's supply range the module answers; each point is recorded with the
    voltage the supply measured on its output, not the setpoint."""
    for setpoint in sweep_volts(profile, suite.supply_step_v):
        power_and_settle(bench, setpoint, polarity)
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
        power_and_settle(bench, setpoint, polarity)
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
@pytest.mark.time_bound(lambda p: 0.5 + p.startup.typical_s)
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
