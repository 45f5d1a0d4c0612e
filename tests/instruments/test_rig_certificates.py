"""Calibration certificate ids in the rig file: shown by `rig check`, carried into run.json, required for
certification (a calibration date is only evidence with the certificate that states it)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from harness.rig import Bench, RigFileError, calibration_problems, load_rig
from harness.rig.check import check_rig, format_report

from .conftest import REPO

LAB_RIG = REPO / "rigs" / "lab-example.yaml"
LAB_CERTIFICATES = {
    "supply": "CAL-2026-0117",
    "dmm": "DAkkS D-K-15 0412-2026-01",
    "relays": "DAkkS D-K-15 0412-2026-02",
    "ac_source": "CAL-2026-0342",
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again on exit: a connection is refused at once


def lab_rig(tmp_path: Path, *, drop: str | None = None, certificate: object = None) -> Path:
    """lab-example with every instrument at a closed loopback port (refused at once, nothing hangs)."""
    data = yaml.safe_load(LAB_RIG.read_text())
    data["exclusive"] = False
    data["mbus"]["url"] = "loop://"
    for cfg in data["instruments"].values():
        cfg["resource"] = f"TCPIP::127.0.0.1::{_closed_port()}::SOCKET"
        cfg["timeout_s"] = 0.5
    if drop is not None:
        del data["instruments"][drop]["certificate"]
    if certificate is not None:
        data["instruments"]["supply"]["certificate"] = certificate
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_lab_example_gives_every_instrument_a_certificate_and_run_json_carries_it() -> None:
    rig = load_rig(LAB_RIG)
    assert {role: cfg.certificate for role, cfg in rig.instruments.items()} == LAB_CERTIFICATES
    assert calibration_problems(rig) == []
    recorded = {i.role: i.certificate for i in Bench(rig).instruments_info()}  # what run.json records
    assert recorded == LAB_CERTIFICATES


def test_rig_check_shows_the_certificates_and_warns_about_a_missing_one(tmp_path: Path) -> None:
    rig = load_rig(lab_rig(tmp_path, drop="dmm"))
    report = check_rig(rig)
    text = format_report(report)
    print(text)
    rows = {row.role: row.certificate for row in report.rows}
    assert rows == {**LAB_CERTIFICATES, "dmm": "MISSING", "mbus": "n/a"}
    header = text.splitlines()[1]
    assert "certificate" in header
    assert "CAL-2026-0117" in text
    expected = f"dmm: no calibration certificate id (instruments.dmm.certificate) in {tmp_path / 'lab.yaml'}"
    assert [w for w in report.warnings if "certificate" in w] == [
        expected + "; copy it from the instrument's calibration certificate"
    ]
    assert f"warning: {expected}" in text


def test_rig_check_of_a_complete_rig_has_no_certificate_warning(tmp_path: Path) -> None:
    report = check_rig(load_rig(lab_rig(tmp_path)))
    assert not any("certificate" in w for w in report.warnings), report.warnings


def test_strict_calibration_refuses_an_instrument_without_certificate(tmp_path: Path) -> None:
    from harness.commands.run import RunSetupError, check_calibration

    path = lab_rig(tmp_path, drop="relays")
    with pytest.raises(RunSetupError) as info:
        check_calibration(load_rig(path))  # what `run --strict-calibration` does before anything starts
    message = str(info.value)
    assert "--strict-calibration: run refused, nothing was started" in message
    assert f"relays: no calibration certificate id (instruments.relays.certificate) in {path}" in message
    assert "update calibration_due and certificate in the rig file" in message


def test_strict_calibration_passes_a_rig_with_every_certificate(tmp_path: Path) -> None:
    from harness.commands.run import check_calibration

    check_calibration(load_rig(lab_rig(tmp_path)))


def test_simulated_instruments_need_no_certificate() -> None:
    rig = load_rig(REPO / "rigs" / "sim.yaml")
    assert all(cfg.certificate is None for _, cfg in rig.instruments.items())
    assert calibration_problems(rig) == []


def test_a_numeric_certificate_id_is_kept_as_text_and_a_blank_one_is_refused(tmp_path: Path) -> None:
    assert load_rig(lab_rig(tmp_path, certificate=120345)).instruments.supply.certificate == "120345"  # type: ignore[union-attr]
    with pytest.raises(RigFileError) as info:
        load_rig(lab_rig(tmp_path, certificate="  "))
    message = str(info.value)
    assert str(tmp_path / "lab.yaml") in message
    assert "instruments.supply.certificate: empty; give the id printed on the calibration" in message
