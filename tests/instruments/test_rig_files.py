"""Rig files: the shipped ones load; a wrong one names the file, the field and the allowed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from harness.rig import RigFileError, calibration_problems, load_rig

from .conftest import REPO, SIM_RIG


def write_rig(tmp_path: Path, change: dict, *, base: Path = SIM_RIG) -> Path:
    data = yaml.safe_load(base.read_text())
    for dotted, value in change.items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[int(key) if key.isdigit() and int(key) in node else key]
        if value is _DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


_DELETE = object()


def test_shipped_rigs_load() -> None:
    sim = load_rig(SIM_RIG)
    assert sim.simulated and sim.mains_channels == [104]
    assert sim.rate_input_channels == {1: 101, 2: 102, 3: 103, 4: 104}
    lab = load_rig(REPO / "rigs" / "lab-example.yaml")
    assert not lab.simulated and lab.is_exclusive
    assert lab.instruments.supply is not None and lab.instruments.supply.resource.startswith(
        "TCPIP::192.0.2."
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"instruments.dmm.driver": "keithley"},
            ["instruments.dmm.driver", "allowed: scpi-dmm, keysight-truevolt", "keithley"],
        ),
        (
            {"instruments.dmm.range_a": 0.05},
            ["instruments.dmm.range_a", "allowed: 0.0001, 0.001, 0.01, 0.1, 1, 3"],
        ),
        ({"limits.max_supply_volts": 80}, ["limits.max_supply_volts", "less than or equal to 50", "80"]),
        ({"limits.elv_limit_vac": 120}, ["limits.elv_limit_vac", "less than or equal to 50"]),
        ({"mbus.baud": 1200}, ["mbus.baud", "300, 2400 or 9600", "1200"]),
        ({"wiring.rate_inputs.5": {"channel": 107}}, ["wiring.rate_inputs", "allowed: 1, 2, 3, 4"]),
        (
            {"wiring.polarity.method": "swap"},
            ["wiring.polarity.method", "'none', 'relay_dpdt' or 'supply_channel'"],
        ),
        ({"wiring.rate_inputs.1.channel": 105}, ["relay channel 105 is used for both"]),
        ({"limits.max_voltage": 30}, ["limits.max_voltage", "allowed: max_supply_volts"]),
        ({"mbus": _DELETE}, ["mbus: required field is missing"]),
        ({"instruments.supply.resource": "TCPIP::10.0.0.1::5025::SOCKET"}, ["expected sim://supply"]),
        ({"emulator.time_scale": 0}, ["emulator.time_scale", "greater than 0"]),
    ],
)
def test_wrong_rig_file_names_file_field_and_allowed_values(
    tmp_path: Path, change: dict, expected: list[str]
) -> None:
    path = write_rig(tmp_path, change)
    with pytest.raises(RigFileError) as info:
        load_rig(path)
    message = str(info.value)
    print(message)
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message


def test_unreadable_and_malformed_rig_files(tmp_path: Path) -> None:
    with pytest.raises(RigFileError, match="cannot read rig file"):
        load_rig(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(RigFileError, match="not valid YAML"):
        load_rig(bad)
    bad.write_text("- just a list\n")
    with pytest.raises(RigFileError, match="expected a mapping"):
        load_rig(bad)


def test_expired_calibration_is_reported_for_real_rigs_only(tmp_path: Path) -> None:
    lab = REPO / "rigs" / "lab-example.yaml"
    path = write_rig(tmp_path, {"instruments.dmm.calibration_due": "2020-01-31"}, base=lab)
    rig = load_rig(path)
    problems = calibration_problems(rig, today=dt.date(2026, 11, 24))
    assert problems == [
        "dmm: calibration expired on 2020-01-31 (serial MY00000000); "
        + ("recalibrate, or run without strict certification mode")
    ]
    assert calibration_problems(load_rig(lab), today=dt.date(2026, 11, 24)) == []
    assert calibration_problems(load_rig(SIM_RIG)) == []


def test_relative_emulator_profile_is_taken_from_the_rig_folder(tmp_path: Path) -> None:
    path = write_rig(tmp_path, {"emulator.profile": "profiles/mine.yaml"})
    assert load_rig(path).emulator.profile == (tmp_path / "profiles" / "mine.yaml").resolve()
