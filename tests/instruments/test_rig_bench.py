"""The simulated bench over real sockets: what the drivers send reaches the physics; limits and the interlock
refuse before anything is sent; the bench is left safe on every exit."""

from __future__ import annotations

import pytest

from harness.instruments import InterlockError, LimitError
from harness.rig import Bench, BenchError, CapabilityMissing, RigConfig, open_bench

from .conftest import FAKE_QUIESCENT_A, FakePhysics


def sent(bench: Bench, role: str) -> list[str]:
    assert bench.sim is not None
    return list(bench.sim.instruments[role].log)


def test_open_bench_resolves_sim_placeholders_and_reports_instruments(bench: Bench) -> None:
    assert set(bench.resources) == {"supply", "dmm", "relays", "ac_source"}
    resources = bench.resources.values()
    assert all(r.startswith("TCPIP::127.0.0.1::") and r.endswith("::SOCKET") for r in resources)
    info = {i.role: i for i in bench.instruments_info()}
    assert info["supply"].idn == "cmi-hil,SIM-PSU60,SIM-PSU-0001,1.0"
    assert info["dmm"].serial == "SIM-DMM-0001"
    assert bench.capabilities == {
        "supply",
        "supply_range",
        "polarity",
        "dmm",
        "current_sampling",
        "ac_source",
        "mains",
        "button",
        "led",
    }
    assert bench.rig_info().simulated


def test_connect_resets_and_checks_the_error_queue(bench: Bench) -> None:
    log = sent(bench, "supply")
    assert log[:4] == ["*IDN?", "*RST", "*OPC?", "*CLS"]
    assert "SYST:ERR?" in log


def test_supply_voltage_and_polarity_reach_the_module(bench: Bench, physics: FakePhysics) -> None:
    bench.power_dut(36.0, "+")
    assert physics.bus_voltage() == 36.0
    bench.power_dut(24.0, "-")
    assert physics.bus_voltage() == -24.0
    bench.power_off()
    assert physics.bus_voltage() == 0.0


def test_polarity_is_never_switched_with_the_output_on(bench: Bench, physics: FakePhysics) -> None:
    bench.power_dut(36.0, "+")
    physics.history.clear()
    bench.power_dut(36.0, "-")
    bus = [value for what, _, value in physics.history if what == "bus"]
    assert bus == [0.0, -36.0]  # off, switch relays with nothing on the bus, then on reversed


def test_dmm_reads_the_bus_current(bench: Bench) -> None:
    assert bench.bus_current_a() == 0.0
    bench.power_dut(30.0)
    reading = bench.bus_current_a()
    assert reading == pytest.approx(FAKE_QUIESCENT_A)
    assert bench.dmm_uncertainty_a(reading) == pytest.approx(1.4e-3 * 0.0005 + 0.1 * 0.00005)


def test_rate_input_level_reaches_the_model(bench: Bench, physics: FakePhysics) -> None:
    bench.set_rate_input(2, 30.0)
    assert physics.vac == {1: 0.0, 2: 30.0, 3: 0.0, 4: 0.0}
    bench.set_rate_input(3, 30.0)
    assert physics.vac[3] == 30.0
    bench.clear_rate_inputs()
    assert set(physics.vac.values()) == {0.0}
    bench.set_rate_input(4, 230.0)
    assert physics.vac == {1: 0.0, 2: 0.0, 3: 0.0, 4: 230.0}


@pytest.mark.parametrize(("volts", "polarity"), [(42.01, "+"), (50.0, "-"), (-5.0, "+")])
def test_supply_limit_refuses_before_sending(
    bench: Bench, physics: FakePhysics, volts: float, polarity: str
) -> None:
    before = len(sent(bench, "supply"))
    with pytest.raises(LimitError, match="limits.max_supply_volts"):
        bench.power_dut(volts, polarity)  # type: ignore[arg-type]
    assert sent(bench, "supply")[before:] == []
    assert physics.bus_voltage() == 0.0


def test_driver_limit_holds_even_when_the_driver_is_used_directly(bench: Bench) -> None:
    assert bench.supply is not None
    before = len(sent(bench, "supply"))
    with pytest.raises(LimitError, match="0.06 A is outside 0..0.05 A"):
        bench.supply.apply(30.0, 0.06)
    assert sent(bench, "supply")[before:] == []


def test_interlock_refuses_mains_on_a_rate_input_not_declared_mains(
    bench: Bench, physics: FakePhysics
) -> None:
    before = {role: len(sent(bench, role)) for role in ("relays", "ac_source")}
    with pytest.raises(InterlockError, match=r"rate input 1 \(channel 101\) is not declared `mains: true`"):
        bench.set_rate_input(1, 230.0)
    assert all(sent(bench, role)[n:] == [] for role, n in before.items())
    assert physics.vac[1] == 0.0


def test_interlock_refuses_raising_the_level_under_a_closed_non_mains_input(bench: Bench) -> None:
    bench.set_rate_input(1, 30.0)
    assert bench.ac_source is not None
    with pytest.raises(InterlockError, match=r"channel\(s\) \[101\] not declared mains are closed"):
        bench.ac_source.set_level(100.0)


def test_interlock_refuses_closing_a_non_mains_channel_onto_mains(bench: Bench, physics: FakePhysics) -> None:
    bench.set_rate_input(4, 230.0)
    assert bench.relays is not None
    with pytest.raises(InterlockError, match=r"refusing to close channel\(s\) \[102\]"):
        bench.relays.close_channels([102])
    assert physics.vac[2] == 0.0


def test_extra_low_voltage_is_allowed_on_every_rate_input(bench: Bench, physics: FakePhysics) -> None:
    for index in (1, 2, 3):
        bench.set_rate_input(index, 50.0)
    assert [physics.vac[i] for i in (1, 2, 3)] == [50.0, 50.0, 50.0]


def test_rate_input_limit_and_shared_source(bench: Bench) -> None:
    with pytest.raises(LimitError, match="limits.max_rate_input_vac"):
        bench.set_rate_input(4, 240.0)
    with pytest.raises(LimitError, match="rate input 5 is not wired"):
        bench.set_rate_input(5, 10.0)
    bench.set_rate_input(1, 30.0)
    with pytest.raises(BenchError, match="one AC source"):
        bench.set_rate_input(2, 20.0)


def test_rate_input_level_changes_on_the_connected_inputs_at_once_without_a_gap(
    bench: Bench, physics: FakePhysics
) -> None:
    for index in (1, 3):
        bench.set_rate_input(index, 28.0)
    relays_before, changes_before = len(sent(bench, "relays")), len(physics.history)
    bench.set_rate_input_level(23.0)
    assert physics.vac == {1: 23.0, 2: 0.0, 3: 23.0, 4: 0.0}
    assert physics.history[changes_before:] == [("rate", 1, 23.0), ("rate", 3, 23.0)]  # never 0 V between
    assert sent(bench, "relays")[relays_before:] == []  # the relays stay closed
    bench.set_rate_input(2, 23.0)  # the shared level is the new one now
    with pytest.raises(BenchError, match="one AC source"):
        bench.set_rate_input(4, 28.0)


def test_rate_input_level_change_is_refused_before_anything_is_sent(
    bench: Bench, physics: FakePhysics
) -> None:
    with pytest.raises(BenchError, match="no rate input is connected"):
        bench.set_rate_input_level(23.0)
    bench.set_rate_input(1, 28.0)
    bench.set_rate_input(4, 28.0)  # the mains input beside a non-mains one
    before = {role: len(sent(bench, role)) for role in ("relays", "ac_source")}
    with pytest.raises(InterlockError, match=r"rate input 1 \(channel 101\) is not declared `mains: true`"):
        bench.set_rate_input_level(100.0)
    with pytest.raises(LimitError, match="limits.max_rate_input_vac"):
        bench.set_rate_input_level(240.0)
    with pytest.raises(LimitError, match="0 VAC is no level to change to"):
        bench.set_rate_input_level(0.0)
    assert all(sent(bench, role)[n:] == [] for role, n in before.items())
    assert physics.vac == {1: 28.0, 2: 0.0, 3: 0.0, 4: 28.0}
    bench.set_rate_input(1, 0.0)
    bench.set_rate_input_level(230.0)  # the mains input alone may go to mains
    assert physics.vac == {1: 0.0, 2: 0.0, 3: 0.0, 4: 230.0}
    bench.halted = True
    with pytest.raises(BenchError, match="halted"):
        bench.set_rate_input_level(28.0)
    assert physics.vac[4] == 230.0


def test_button_and_led_go_to_the_physics(bench: Bench, physics: FakePhysics) -> None:
    bench.press_button()
    assert physics.button_presses == 1
    assert bench.led_on() is True


def test_safe_state_after_an_exception(sim_rig: RigConfig, physics: FakePhysics) -> None:
    with pytest.raises(RuntimeError, match="test failed"), open_bench(sim_rig, physics=physics) as bench:
        bench.power_dut(36.0, "-")
        bench.set_rate_input(4, 230.0)
        assert physics.bus_voltage() == -36.0
        raise RuntimeError("test failed")
    assert physics.bus_voltage() == 0.0
    assert set(physics.vac.values()) == {0.0}
    assert bench.closed


def test_safe_state_after_success_and_servers_stopped(sim_rig: RigConfig, physics: FakePhysics) -> None:
    with open_bench(sim_rig, physics=physics) as bench:
        bench.power_dut(30.0)
        bench.set_rate_input(2, 30.0)
        sim = bench.sim
    assert physics.bus_voltage() == 0.0 and set(physics.vac.values()) == {0.0}
    assert sim is not None and sim.servers == {}


def test_missing_capability_is_named(sim_rig: RigConfig, physics: FakePhysics) -> None:
    rig = sim_rig.model_copy(update={"instruments": sim_rig.instruments.model_copy(update={"dmm": None})})
    with open_bench(rig, physics=physics) as bench:
        with pytest.raises(CapabilityMissing, match="no 'dmm' capability"):
            bench.bus_current_a()
        assert "dmm" not in bench.capabilities


def test_real_rig_refuses_simulation_options(tmp_path: object) -> None:
    from harness.rig import load_rig

    from .conftest import REPO

    with pytest.raises(BenchError, match="real bench"):
        open_bench(load_rig(REPO / "rigs" / "lab-example.yaml"), faults=["led_dead"])
