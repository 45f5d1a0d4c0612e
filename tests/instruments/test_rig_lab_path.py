"""A real (non-simulated) rig file pointed at SCPI servers: the lab code path end to end, plus the wiring
variants the sim rig does not use (polarity by a second supply output, button by a relay channel)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.instruments.sim import SimBench, SimWiring
from harness.rig import CapabilityMissing, load_rig, open_bench
from harness.rig.check import check_rig

from .conftest import FakePhysics

FUTURE = (dt.date.today() + dt.timedelta(days=365)).isoformat()


@pytest.fixture
def servers(physics: FakePhysics) -> Iterator[SimBench]:
    wiring = SimWiring(
        rate_input_channels={1: 101, 2: 102},
        polarity_method="supply_channel",
        positive_output=1,
        negative_output=2,
        serials={"supply": "LAB-PSU-7", "relays": "LAB-REL-7", "ac_source": "LAB-AC-7"},
        roles=("supply", "relays", "ac_source"),
    )
    with SimBench(physics, wiring) as sim:
        yield sim


@pytest.fixture
def lab_rig_file(servers: SimBench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CMI_HIL_LOCK_DIR", str(tmp_path / "locks"))
    instrument = {"calibration_due": FUTURE, "timeout_s": 2.0}
    data = {
        "name": "lab7",
        "instruments": {
            "supply": {
                **instrument,
                "resource": servers.resources["supply"],
                "serial": "LAB-PSU-7",
                "outputs": 2,
            },
            "relays": {**instrument, "resource": servers.resources["relays"], "serial": "LAB-REL-7"},
            "ac_source": {**instrument, "resource": servers.resources["ac_source"], "serial": "LAB-AC-7"},
        },
        "mbus": {"url": "loop://", "baud": 2400},
        "wiring": {
            "rate_inputs": {1: {"channel": 101}, 2: {"channel": 102, "mains": True}},
            "polarity": {"method": "supply_channel", "negative_output": 2},
            "button_channel": 107,
            "button_press_s": 0.01,
        },
    }
    path = tmp_path / "lab7.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_lab_rig_opens_locks_and_drives_instruments_at_tcpip_addresses(
    lab_rig_file: Path, servers: SimBench, physics: FakePhysics
) -> None:
    with open_bench(load_rig(lab_rig_file)) as bench:
        assert bench.emulator is None and bench.mbus_url == "loop://"
        assert bench.capabilities == {"supply", "supply_range", "polarity", "ac_source", "mains", "button"}
        bench.power_dut(30.0, "+")
        assert physics.bus_voltage() == 30.0
        bench.power_dut(30.0, "-")
        assert physics.bus_voltage() == -30.0
        outputs = servers.supply.outputs
        assert not outputs[0].on and outputs[1].on  # reversed by the second output alone
        bench.set_rate_input(2, 230.0)
        assert physics.vac[2] == 230.0
        with pytest.raises(CapabilityMissing, match="'led'"):
            bench.led_on()
    assert physics.bus_voltage() == 0.0 and physics.vac[2] == 0.0


def test_button_on_a_lab_rig_pulses_its_relay_channel(lab_rig_file: Path, servers: SimBench) -> None:
    with open_bench(load_rig(lab_rig_file)) as bench:
        start = len(servers.relays.log)
        bench.press_button()
        # press_button returns only once the card has executed the release (its error queue was read)
        assert servers.relays.log[start:] == [
            "ROUT:CLOS (@107)",
            "SYST:ERR?",
            "ROUT:OPEN (@107)",
            "SYST:ERR?",
        ]


def test_rig_check_flags_a_serial_that_does_not_match_the_instrument(lab_rig_file: Path) -> None:
    text = lab_rig_file.read_text().replace("LAB-AC-7", "LAB-AC-8")
    lab_rig_file.write_text(text)
    report = check_rig(load_rig(lab_rig_file))
    assert not report.ok
    row = next(r for r in report.rows if r.role == "ac_source")
    assert row.problems == [
        "rig file says serial LAB-AC-8 but the instrument reports LAB-AC-7: another instrument is at this "
        "address, or update instruments.ac_source.serial (and its calibration date)"
    ]
    assert all(not r.problems for r in report.rows if r.role != "ac_source")
