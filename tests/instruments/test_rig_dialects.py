"""The simulated bench in each model's dialect, driven by the real per-model drivers (rigs/sim-<model>.yaml).

The simulated instruments answer only their model's documented commands (-113 otherwise), so a driver that
spoke another model's dialect would fail here as on the real instrument.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.instruments import InstrumentError, LimitError, ScpiError, ScpiPowerSupply, SupplyLimits
from harness.instruments.dmms import KeithleyDMM6500
from harness.instruments.registry import supply_outputs
from harness.instruments.sim import ScpiServer
from harness.instruments.sim.dialects import SimDMM6500, SimDP800, SimHMP
from harness.instruments.visa import open_resource
from harness.rig import RigFileError, load_rig, open_bench

from .conftest import REPO

RIGS = REPO / "rigs"
#: rigs/sim-echo.yaml is no dialect rig: the default drivers behind an echoing adapter (test_rig_echo.py)
DIALECT_RIGS = sorted(p.name for p in RIGS.glob("sim-*.yaml") if p.name != "sim-echo.yaml")


def test_there_are_dialect_rigs_for_every_supply_family() -> None:
    drivers = {load_rig(RIGS / name).instruments.supply.driver for name in DIALECT_RIGS}  # type: ignore[union-attr]
    assert {"keysight-e36300", "rigol-dp800", "rs-hmp", "rs-nge100", "scpi-psu"} <= drivers


@pytest.mark.parametrize("name", DIALECT_RIGS)
def test_bench_powers_measures_and_switches_through_each_dialect(name: str) -> None:
    rig = load_rig(RIGS / name)
    assert rig.instruments.supply is not None
    with open_bench(rig) as bench:
        assert bench.sim is not None and bench.supply is not None and bench.dmm is not None
        output = rig.instruments.supply.output
        volts = min(21.0, bench.supply.max_volts(output))
        bench.power_dut(volts, "+")
        assert bench.sim.bus_volts() == pytest.approx(volts)  # the dialect really switched the output on
        assert bench.supply.output_on(channel=output) is True
        assert bench.supply.regulation_mode(channel=output) == "CV"
        assert bench.bus_current_a() >= 0.0
        bench.set_rate_input(4, 230.0)  # the mains input: the AC source must be on its high range
        assert bench.sim.rate_input_vac(4) == 230.0
        bench.clear_rate_inputs()
        bench.power_off()
        assert bench.sim.bus_volts() == 0.0
    assert bench.sim.bus_volts() == 0.0


def test_a_supply_output_rated_below_the_rig_limit_refuses_before_sending() -> None:
    with open_bench(load_rig(RIGS / "sim-hmp4040.yaml")) as bench:
        assert "supply_range" not in bench.capabilities
        with pytest.raises(LimitError, match="36 V is outside 0..32.05 V \\(rating of output 1\\)"):
            bench.power_dut(36.0, "+")
        assert bench.sim is not None and bench.sim.bus_volts() == 0.0


def test_ovp_is_set_per_output_and_switched_on_where_the_model_can_switch_it() -> None:
    with open_bench(load_rig(RIGS / "sim-dp821a.yaml")) as bench:
        assert bench.sim is not None
        outputs = bench.sim.supply.outputs
        assert [o.ovp_volts for o in outputs] == [43.0, 8.8]  # the 8 V channel gets its own range, not 43 V
        assert all(o.ovp_enabled for o in outputs)  # off after *RST on a DP800: the driver switched it on


@pytest.fixture
def server_of() -> Iterator[list[ScpiServer]]:
    servers: list[ScpiServer] = []
    yield servers
    for server in servers:
        server.stop()


def _serve(servers: list[ScpiServer], instrument: object) -> str:
    server = ScpiServer(instrument)  # type: ignore[arg-type]
    servers.append(server)
    return server.resource


def test_generic_dialect_on_a_rigol_is_rejected_by_its_error_queue(server_of: list[ScpiServer]) -> None:
    rigol = SimDP800("cmi-hil,SIM-DP821A,S1,1.0", supply_outputs("rigol-dp800", "DP821A") or ())
    psu = ScpiPowerSupply(open_resource(_serve(server_of, rigol)), limits=SupplyLimits(42.0, 0.05))
    with pytest.raises(ScpiError, match="-113,'Undefined header'"):
        psu.initialize()  # VOLT:PROT is not the DP800's OVP command
    psu.close()


def test_hmp_channel_does_not_drive_without_the_master_output(server_of: list[ScpiServer]) -> None:
    hmp = SimHMP("cmi-hil,SIM-HMP4040,S1,1.0", supply_outputs("rs-hmp", "HMP4040") or ())
    psu = ScpiPowerSupply(open_resource(_serve(server_of, hmp)), limits=SupplyLimits(30.0, 0.05))
    psu.write("OUTP:SEL ON")
    psu.query("*OPC?")  # the server has executed everything before it
    assert not hmp.driving(0)
    psu.write("OUTP:GEN ON")
    psu.query("*OPC?")
    assert hmp.driving(0)
    psu.close()


def test_dmm6500_left_in_tsp_is_refused_with_what_to_do(server_of: list[ScpiServer]) -> None:
    tsp = SimDMM6500("KEITHLEY INSTRUMENTS,MODEL DMM6500,04493036,1.7.3c", language="TSP")
    dmm = KeithleyDMM6500(open_resource(_serve(server_of, tsp)))
    with pytest.raises(InstrumentError, match="answers \\*LANG\\? with 'TSP'"):
        dmm.initialize()
    assert not any(line.startswith("SENS") for line in tsp.log)  # nothing was configured
    dmm.close()


def _edited_rig(tmp_path: Path, name: str, edit: dict[str, object]) -> Path:
    data = yaml.safe_load((RIGS / name).read_text())
    for dotted, value in edit.items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[int(key) if key.isdigit() else key]
        node[last] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        (
            "sim-dp821a.yaml",
            {"wiring.rate_inputs.1": {"channel": 101}},
            "wiring: relay channel 101 does not exist on this mainframe (slot 1-8 and a three-digit channel",
        ),
        (
            "sim-34401a.yaml",
            {"wiring.rate_inputs.1": {"channel": 1001}},
            "channel 1001 does not exist on this mainframe (slot 1-3 and a two-digit channel",
        ),
        (
            "sim-e36312a.yaml",
            {"instruments.supply.model": "Keysight E36311A", "instruments.supply.output": 3},
            "instruments.supply.output: output 3 of the Keysight E36311A is negative-only",
        ),
        (
            "sim-nge103b.yaml",
            {"instruments.supply.model": "NGE102B", "instruments.supply.outputs": 3},
            "has 2",
        ),
    ],
)
def test_rig_file_wiring_that_the_model_cannot_have_is_refused(
    tmp_path: Path, name: str, edit: dict[str, object], expected: str
) -> None:
    path = _edited_rig(tmp_path, name, edit)
    with pytest.raises(RigFileError) as info:
        load_rig(path)
    assert expected in str(info.value)


@pytest.mark.parametrize("name", ["sim-dp821a.yaml", "sim-34401a.yaml"])
def test_suite_subset_passes_through_the_model_drivers(tmp_path: Path, name: str) -> None:
    """CI self-test: the power (unit load sweep), one link and the 230 VAC test through real dialects."""
    evidence = tmp_path / "evidence"
    selection = (
        "(test_quiescent_current_is_one_unit_load and positive) or test_snd_nke_is_acknowledged or 230_vac"
    )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "testcases",
        f"--rig={RIGS / name}",
        "--time-scale=0.1",
        f"--evidence-dir={evidence}",
        "-p",
        "no:cacheprovider",
        "-q",
        "-k",
        selection,
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout
    run = json.loads((evidence / "run.json").read_text())
    rig = load_rig(RIGS / name)
    for instrument in run["rig"]["instruments"]:
        cfg = dict(rig.instruments.items())[instrument["role"]]
        assert instrument["idn"].startswith("cmi-hil,SIM-"), instrument  # simulated, and says so
        if cfg.driver not in ("scpi-psu", "scpi-dmm", "scpi-relay", "scpi-ac"):
            model = instrument["idn"].split(",")[1].removeprefix("SIM-")
            assert model.upper() in (cfg.model or "").upper()


def test_fixed_voltage_master_feeds_the_module_whatever_the_supply_does(tmp_path: Path) -> None:
    from harness.rig import CapabilityMissing

    data = yaml.safe_load((RIGS / "sim.yaml").read_text())
    data["mbus"]["bus_supply"] = {"master-fixed": 36}
    path = tmp_path / "fixed.yaml"
    path.write_text(yaml.safe_dump(data))
    with open_bench(load_rig(path)) as bench:
        assert bench.sim is not None
        assert "supply" in bench.capabilities and "supply_range" not in bench.capabilities
        with pytest.raises(CapabilityMissing, match="master-fixed at 36 V"):
            bench.require("supply_range")
        bench.power_dut(21.0, "+")
        assert bench.sim.bus_volts() == 36.0  # the module sees the master's voltage, not the setpoint
