"""Rig-file value errors from `rig check` and `run` alike; strict calibration; what a rig cannot verify."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.rig import load_rig
from harness.rig.bench import Bench
from harness.rig.check import check_rig, format_report, missing_capability_reason

from .conftest import REPO, SIM_RIG

LAB_RIG = REPO / "rigs" / "lab-example.yaml"


def edited(tmp_path: Path, base: Path, old: str, new: str) -> Path:
    text = base.read_text()
    assert old in text, f"{old!r} not in {base}"
    path = tmp_path / "rig.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


CASES = [
    pytest.param(
        "calibration_due: 2027-01-15",
        "calibration_due: 2027-13-31",
        ["instruments.dmm.calibration_due", "month", "'2027-13-31'", "allowed: a date YYYY-MM-DD"],
        id="bad-date",
    ),
    pytest.param(
        "nplc: 1.0",
        "nplc: fast",
        ["instruments.dmm.nplc", "'fast'", "allowed: a number"],
        id="wrong-type",
    ),
    pytest.param(
        "driver: keysight-ac6800",
        "driver: chroma-6404",
        ["instruments.ac_source.driver", "unknown ac_source driver 'chroma-6404'", "allowed: scpi-ac"],
        id="unknown-driver",
    ),
    pytest.param(
        "driver: keysight-truevolt",
        "driver: keithley-dmm6500",
        [
            "instruments.dmm.model",
            "'Keysight 34465A' is not a model driver keithley-dmm6500 knows",
            "DMM6500",
        ],
        id="unknown-model",
    ),
    pytest.param(
        "range_a: 0.1",
        "range_a: 0.03",
        ["instruments.dmm.range_a", "allowed: 0.0001, 0.001, 0.01, 0.1, 1, 3"],
        id="range-of-the-model",
    ),
    pytest.param(
        "visa_backend: '@py'",
        "visa_backend: '@ni'",
        ["instruments.supply.visa_backend", "'@py' or '@ivi'"],
        id="visa-backend",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CASES)
@pytest.mark.parametrize("command", ["rig-check", "run"])
def test_value_errors_name_file_field_and_allowed_values_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: list[str], command: str
) -> None:
    path = edited(tmp_path, LAB_RIG, old, new)
    argv = ["rig", "check", "--rig", str(path)] if command == "rig-check" else ["run", "--rig", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    print(err)
    assert "Traceback" not in err
    assert str(path) in err
    for part in expected:
        assert part in err


def test_strict_calibration_refuses_an_overdue_instrument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overdue = edited(tmp_path, LAB_RIG, "calibration_due: 2027-01-15", "calibration_due: 2020-01-15")
    assert main(["run", "--rig", str(overdue), "--strict-calibration", "--reports-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--strict-calibration: run refused, nothing was started" in err
    assert "dmm: calibration expired on 2020-01-15 (serial MY00000000)" in err
    assert list(tmp_path.iterdir()) == [overdue]  # no run folder


def test_strict_calibration_lets_a_calibrated_rig_past_the_check(tmp_path: Path) -> None:
    from harness.commands.run import check_calibration

    check_calibration(load_rig(LAB_RIG))  # every date in lab-example is in the future: no refusal


def _sim_rig(tmp_path: Path, change: dict) -> Path:
    data = yaml.safe_load(SIM_RIG.read_text())
    for dotted, value in change.items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_rig_check_lists_what_a_rig_without_dmm_cannot_verify(tmp_path: Path) -> None:
    rig = load_rig(_sim_rig(tmp_path, {"instruments.dmm": None}))
    report = check_rig(rig)
    text = format_report(report)
    print(text)
    assert report.ok  # the bench works; it just cannot verify everything
    missing = {item.requirement: item.missing for item in report.unverifiable}
    no_dmm = {"dmm": "no instruments.dmm in the rig file"}
    assert missing == {
        "PS-UNIT-LOAD": no_dmm,
        "PL-MARK-CURRENT": no_dmm,
        "PL-MARK-VARIATION": no_dmm,
        "PL-MARK-SHORT-TERM": no_dmm,
        "PL-SPACE-CURRENT": {**no_dmm, "current_sampling": "no instruments.dmm in the rig file"},
        "PL-SPACE-ONLY-SENDING": {**no_dmm, "current_sampling": "no instruments.dmm in the rig file"},
    }
    assert "PS-UNIT-LOAD: needs dmm: no instruments.dmm in the rig file" in text
    assert "rig check: OK (6 requirement(s) not verifiable)" in text


def test_rig_check_says_a_fixed_voltage_master_cannot_verify_the_supply_range(tmp_path: Path) -> None:
    rig = load_rig(_sim_rig(tmp_path, {"mbus.bus_supply": {"master-fixed": 36}}))
    assert rig.mbus.master_fixed_volts == 36.0
    report = check_rig(rig)
    missing = {item.requirement: item.missing for item in report.unverifiable}
    assert list(missing) == ["PS-SUPPLY-RANGE"]
    assert "master-fixed at 36 V" in missing["PS-SUPPLY-RANGE"]["supply_range"]


def test_a_full_rig_has_nothing_unverifiable() -> None:
    report = check_rig(load_rig(SIM_RIG))
    assert report.ok and report.unverifiable == []


def _rate_input_4_not_mains(data: dict) -> None:
    data["wiring"]["rate_inputs"][4] = {"channel": 104}


@pytest.mark.parametrize(
    ("edit", "capability", "reason"),
    [
        (
            lambda d: d["wiring"].update(polarity={"method": "none"}),
            "polarity",
            "wiring.polarity.method is none",
        ),
        (_rate_input_4_not_mains, "mains", "no rate input declared mains: true"),
        (lambda d: d["limits"].update(max_rate_input_vac=120.0), "mains", "120 is below 230 VAC"),
    ],
)
def test_missing_capability_reasons_name_the_rig_file_field(
    tmp_path: Path, edit: object, capability: str, reason: str
) -> None:
    data = yaml.safe_load(SIM_RIG.read_text())
    edit(data)  # type: ignore[operator]
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(data))
    bench = Bench(load_rig(path))  # not opened: mark every instrument connected
    for role in ("supply", "dmm", "relays", "ac_source"):
        setattr(bench, role, object())
    assert capability not in bench.capabilities
    assert reason in missing_capability_reason(bench, capability)


def test_bus_supply_field_forms(tmp_path: Path) -> None:
    from harness.rig import RigFileError

    path = _sim_rig(tmp_path, {"mbus.bus_supply": "usb-master"})
    with pytest.raises(RigFileError, match="mbus.bus_supply: expected 'external-input' or a mapping"):
        load_rig(path)
    path = _sim_rig(tmp_path, {"mbus.bus_supply": {"master-fixed": 80}})
    with pytest.raises(RigFileError, match="less than or equal to 50"):
        load_rig(path)
    assert load_rig(SIM_RIG).mbus.master_fixed_volts is None


def test_rig_check_flags_an_instrument_that_is_not_the_model_in_the_rig_file() -> None:
    from harness.rig.check import identity_model_problem

    fields = ["RIGOL TECHNOLOGIES", "DP832", "DP8C1", "00.01.14"]
    problem = identity_model_problem("supply", "rigol-dp800", "Rigol DP821A", fields)
    assert problem is not None and "says model DP821A" in problem and "'DP832'" in problem
    assert identity_model_problem("supply", "rigol-dp800", "DP832", fields) is None
    assert identity_model_problem("supply", "scpi-psu", "anything", fields) is None


def test_rig_drivers_lists_every_registered_driver(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.instruments import DRIVER_REGISTRY

    assert main(["rig", "drivers"]) == 0
    out = capsys.readouterr().out
    for name, entry in DRIVER_REGISTRY.items():
        assert f"  {name} " in out
        assert all(model in out for model in entry.models)
