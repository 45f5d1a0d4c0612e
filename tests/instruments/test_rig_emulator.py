"""The simulated rig with the real reference emulator: the module sees the supply, the DMM reads its unit
load, rate-input levels reach its model, and `cmi-hil rig check` reports the bench."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.rig import Bench, RigConfig, open_bench

from .conftest import SIM_RIG

#: Product sheet: unit loads 1T / 1.5 mA.
UNIT_LOAD_A = 1.5e-3


@pytest.fixture
def emulated(sim_rig: RigConfig) -> Iterator[Bench]:
    with open_bench(sim_rig) as bench:
        yield bench


def test_mbus_url_is_the_emulator_endpoint(emulated: Bench) -> None:
    assert emulated.emulator is not None
    assert emulated.mbus_url == emulated.emulator.endpoints["mbus"]
    assert emulated.mbus_url.startswith("rfc2217://127.0.0.1:")


@pytest.mark.parametrize("polarity", ["+", "-"])
def test_module_sees_the_supply_and_draws_one_unit_load(emulated: Bench, polarity: str) -> None:
    dut = emulated.emulator.dut
    assert not dut.powered and emulated.bus_current_a() == 0.0
    emulated.power_dut(30.0, polarity)  # type: ignore[arg-type]
    assert dut.volts == (30.0 if polarity == "+" else -30.0)
    assert dut.powered
    current = emulated.bus_current_a()
    assert 0.5 * UNIT_LOAD_A < current <= UNIT_LOAD_A + emulated.dmm_uncertainty_a(current)
    emulated.power_off()
    assert not dut.powered


def test_dmm_sees_a_second_unit_load_fault(sim_rig: RigConfig) -> None:
    with open_bench(sim_rig, faults=["two_unit_loads"]) as bench:
        bench.power_dut(36.0)
        assert bench.bus_current_a() > UNIT_LOAD_A


def test_rate_input_level_reaches_the_module_model(emulated: Bench) -> None:
    dut = emulated.emulator.dut
    emulated.set_rate_input(2, 30.0)
    assert dut.rate_inputs.input(2).vac == 30.0
    emulated.clear_rate_inputs()
    emulated.set_rate_input(4, 230.0)
    assert [dut.rate_inputs.input(i).vac for i in (1, 2, 3, 4)] == [0.0, 0.0, 0.0, 230.0]
    emulated.close()
    assert dut.rate_inputs.input(4).vac == 0.0


def test_rig_check_on_the_simulated_rig(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rig", "check", "--rig", str(SIM_RIG)]) == 0
    out = capsys.readouterr().out
    assert "cmi-hil,SIM-PSU60,SIM-PSU-0001,1.0" in out and "cmi-hil,SIM-AC310,SIM-AC-0001,1.0" in out
    assert "rfc2217://127.0.0.1:" in out
    assert out.rstrip().endswith("rig check: OK")


def test_rig_check_names_an_unreachable_instrument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMI_HIL_LOCK_DIR", str(tmp_path))
    rig = tmp_path / "bench9.yaml"
    rig.write_text(
        yaml.safe_dump(
            {
                "name": "bench9",
                "instruments": {
                    "dmm": {"resource": "TCPIP::127.0.0.1::9::SOCKET", "calibration_due": "2020-01-01"}
                },
                "mbus": {"url": "socket://127.0.0.1:9"},
            }
        )
    )
    assert main(["rig", "check", "--rig", str(rig)]) == 1
    out = capsys.readouterr().out
    assert "problem: dmm: rig 'bench9'" in out and "TCPIP::127.0.0.1::9::SOCKET" in out
    assert "problem: mbus: cannot open M-Bus port socket://127.0.0.1:9" in out
    assert "warning: dmm: calibration expired on 2020-01-01" in out
    assert main(["rig", "check", "--rig", str(rig), "--strict"]) == 1
    assert "problem: dmm: calibration expired on 2020-01-01" in capsys.readouterr().out


def test_rig_check_reports_a_wrong_rig_file_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = tmp_path / "broken.yaml"
    rig.write_text(SIM_RIG.read_text().replace("baud: 2400", "baud: 1200"))
    assert main(["rig", "check", "--rig", str(rig)]) == 2
    err = capsys.readouterr().err
    assert f"{rig}: invalid rig file" in err and "mbus.baud: Input should be 300, 2400 or 9600" in err
    assert "Traceback" not in err
