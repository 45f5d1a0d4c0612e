"""Fixtures for the instrument and rig self-tests: a small fake physics, the simulated rig on sockets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.rig import Bench, RigConfig, load_rig, open_bench

REPO = Path(__file__).resolve().parents[2]
SIM_RIG = REPO / "rigs" / "sim.yaml"

#: EN 13757-2: one unit load is at most 1.5 mA; the fake module draws 1.4 mA when powered.
FAKE_QUIESCENT_A = 1.4e-3


class FakePhysics:
    """BenchPhysics of a one-unit-load module that is on between 21 and 42 V, either polarity."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.volts = 0.0
        self.vac = {i: 0.0 for i in range(1, 5)}
        self.history: list[tuple[str, float, float]] = []  # (what, index, value)
        self.button_presses = 0
        self.led = False

    def set_bus_voltage(self, volts: float) -> None:
        with self.lock:
            self.volts = volts
            self.history.append(("bus", 0, volts))

    def bus_voltage(self) -> float:
        return self.volts

    def bus_current_a(self) -> float:
        return FAKE_QUIESCENT_A if 21.0 <= abs(self.volts) <= 42.0 else 0.0

    def set_rate_input_vac(self, index: int, vac: float) -> None:
        with self.lock:
            self.vac[index] = vac
            self.history.append(("rate", index, vac))

    def rate_input_vac(self, index: int) -> float:
        return self.vac[index]

    def press_button(self) -> None:
        self.button_presses += 1
        self.led = not self.led

    def led_on(self) -> bool:
        return self.led

    def now_s(self) -> float:
        return 0.0


@pytest.fixture
def physics() -> FakePhysics:
    return FakePhysics()


@pytest.fixture(scope="session")
def sim_rig() -> RigConfig:
    return load_rig(SIM_RIG)


@pytest.fixture
def bench(sim_rig: RigConfig, physics: FakePhysics) -> Iterator[Bench]:
    with open_bench(sim_rig, physics=physics) as opened:
        yield opened


# --- opt-in self-tests against a real instrument (pytest -m hardware --resource ... --driver ...) ---
HARDWARE_MARKER = "hardware"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hardware", "self-tests against a real instrument (opt-in)")
    group.addoption("--resource", default=None, help="VISA resource, e.g. TCPIP::192.0.2.10::5025::SOCKET")
    group.addoption("--driver", default=None, help="driver from 'cmi-hil rig drivers', e.g. keysight-e36300")
    group.addoption(
        "--visa-backend", default="@py", choices=("@py", "@ivi"), help="pyvisa backend (default @py)"
    )
    group.addoption("--outputs", type=int, default=None, help="supply outputs (default: all of the model)")
    group.addoption(
        "--channels", default="", help="relay channels to read back, e.g. 101,102 (default: none)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{HARDWARE_MARKER}: talks to a real instrument (--resource, --driver); skipped without --resource",
    )
