"""Bench physics of the emulated line: supply, bus current, rate inputs, energy, button, LED, clock."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from harness.emulator import Emulator
from harness.emulator.oracle import Oracle
from harness.physics import BenchPhysics

from .helpers import RawLink, read_register, req_ud2


def test_physics_implements_the_bench_contract(emu: Emulator) -> None:
    assert isinstance(emu.physics, BenchPhysics)


def test_bus_starts_unpowered_unless_asked(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(powered=False)
    assert emu.physics.bus_voltage() == 0.0 and not emu.dut.powered
    assert emu.physics.bus_current_a() == 0.0


def test_quiescent_current_is_one_unit_load_and_sums_over_slaves(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(extra_slaves=4)
    one = Oracle(emu.profile).max_quiescent_current_a()
    total = emu.physics.bus_current_a()
    assert 4 * one < total <= 5 * one
    emu.physics.set_bus_voltage(-30.0)
    assert emu.physics.bus_current_a() == pytest.approx(total)


def test_space_current_flows_while_the_module_sends(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    """The current follows the bits of the reply: mark current on mark bits, 11-20 mA more on space bits."""
    emu = make_emulator(time_scale=1.0)
    link = make_link(emu)
    quiescent = emu.physics.bus_current_a()
    link.port.write(req_ud2(0))
    samples = []
    end = time.monotonic() + 0.5  # request 21 ms + reply delay 29 ms: the 99-byte reply ends at ~0.5 s
    while time.monotonic() < end:
        samples.append(emu.physics.bus_current_a())
        time.sleep(0.0005)
    spaces = [s for s in samples if s > quiescent + 1e-3]
    assert spaces and all(11e-3 <= s - quiescent <= 20e-3 for s in spaces)
    assert any(s == pytest.approx(quiescent) for s in samples[len(samples) // 5 :])  # mark bits inside it
    time.sleep(0.2)
    assert emu.physics.bus_current_a() == pytest.approx(quiescent)


def test_level_held_for_detection_time_selects_tariff_and_glitch_is_ignored(emu: Emulator) -> None:
    oracle = Oracle(emu.profile)
    emu.physics.set_rate_input_vac(2, 230.0)
    emu.physics.advance_s(2.0)
    emu.physics.set_rate_input_vac(2, 0.0)  # a 2 s pulse: shorter than 5 s
    emu.physics.advance_s(10.0)
    assert emu.physics.active_tariff() == oracle.expected_tariff([False] * 4)
    emu.physics.set_rate_input_vac(3, 100.0)
    emu.physics.advance_s(6.0)
    assert emu.physics.active_tariff() == oracle.expected_tariff([0.0, 0.0, 100.0, 0.0])


def test_overvoltage_on_rate_input_is_a_damage_event(emu: Emulator) -> None:
    emu.physics.set_rate_input_vac(1, 230.0)
    assert emu.physics.damage_events() == []
    emu.physics.set_rate_input_vac(4, 260.0)
    events = emu.physics.damage_events()
    assert [(e.index, e.vac) for e in events] == [(4, 260.0)]
    emu.physics.advance_s(6.0)
    assert emu.physics.active_tariff() == Oracle(emu.profile).expected_tariff([True, False, False, False])


def test_energy_integrates_into_the_active_tariff(emu: Emulator, link: RawLink) -> None:
    for phase, watts in ((1, 1000.0), (2, 0.0), (3, 0.0)):
        emu.physics.set_load_w(phase, watts)
    t1 = read_register(emu, link, "energy_import_t1")
    t2 = read_register(emu, link, "energy_import_t2")
    emu.physics.set_rate_input_vac(1, 230.0)
    emu.physics.advance_s(5.0 + 3600.0)
    t1_after = read_register(emu, link, "energy_import_t1")
    t2_after = read_register(emu, link, "energy_import_t2")
    assert 1000.0 <= t2_after - t2 <= 1010.0  # type: ignore[operator]  # 1 kW for 1 h in tariff 2
    assert t1_after - t1 < 10.0  # type: ignore[operator]  # only the 5 s detection time and wall drift


def test_export_load_counts_export_energy(emu: Emulator, link: RawLink) -> None:
    for phase in (1, 2, 3):
        emu.physics.set_load_w(phase, -500.0)
    before = read_register(emu, link, "energy_export_total")
    emu.physics.advance_s(3600.0)
    assert 1500.0 <= read_register(emu, link, "energy_export_total") - before <= 1520.0  # type: ignore[operator]
    assert read_register(emu, link, "power_total") == -1500


def test_button_opens_breaker_and_load_drops(emu: Emulator, link: RawLink) -> None:
    assert read_register(emu, link, "breaker") == 1
    emu.physics.press_button()
    assert read_register(emu, link, "breaker") == 0
    assert read_register(emu, link, "power_total") == 0
    assert read_register(emu, link, "current_l1") == 0


def test_led_is_dark_without_supply_and_lights_with_meter_exchange(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(powered=False)
    assert not emu.physics.led_on()
    emu.physics.set_bus_voltage(36.0)
    assert emu.physics.led_on()  # the module reads the meter at power-up


def test_clock_runs_scaled_and_advances(emu: Emulator) -> None:
    t0 = emu.physics.now_s()
    time.sleep(0.1)
    emu.physics.advance_s(100.0)
    elapsed = emu.physics.now_s() - t0
    assert 100.9 <= elapsed <= 102.5  # 0.1 s wall at time scale 0.1 = 1 s, plus 100 s advanced
