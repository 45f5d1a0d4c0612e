"""``cmi-hil rig calibrate``: latency against a known slave on the simulated bench; the rig-file edit."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.master import SerialLink
from harness.rig import load_rig
from harness.rig.calibrate import (
    CalibrationError,
    LatencyCalibration,
    measure_loopback,
    set_latency_allowance,
    write_allowance,
)

from .conftest import SIM_RIG
from .test_rig_messages import LAB_RIG, edited


def _calibration(excess_ms: list[float]) -> LatencyCalibration:
    return LatencyCalibration(tuple(x / 1000 for x in excess_ms), 0.029, len(excess_ms), 0, 0, 2400)


def test_distribution_and_the_rig_file_value() -> None:
    result = _calibration([1.0, 2.0, 3.0, 4.0, 10.2])
    assert result.median_s == pytest.approx(0.003)
    assert result.max_s == pytest.approx(0.0102)
    assert 0.004 < result.p95_s <= 0.0102
    assert result.allowance_s == pytest.approx(0.011)  # the largest excess rounded UP to whole ms
    assert _calibration([0.0]).allowance_s == pytest.approx(0.001)  # never zero


def test_the_edit_changes_only_that_value_and_keeps_comments() -> None:
    text = SIM_RIG.read_text()
    edited = set_latency_allowance(text, 0.007)
    assert edited is not None
    changed = [(a, b) for a, b in zip(text.splitlines(), edited.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    before, after = changed[0]
    assert re.match(r"^\s+latency_allowance_s: 0.007\s+# loopback TCP", after), after
    assert before.split("#")[1] == after.split("#")[1]


@pytest.mark.parametrize(
    "text",
    [
        "name: r\nuncertainty: {latency_allowance_s: 0.05}\n",  # flow style: paste by hand
        "name: r\nuncertainty:\n  rate_poll_step_s: 0.5\nother:\n  latency_allowance_s: 0.05\n",
    ],
)
def test_no_edit_where_the_field_is_not_its_own_line_of_uncertainty(text: str) -> None:
    assert set_latency_allowance(text, 0.007) is None


def test_an_allowance_the_schema_refuses_is_not_written(tmp_path: Path) -> None:
    rig = tmp_path / "rig.yaml"
    rig.write_text(SIM_RIG.read_text())
    with pytest.raises(CalibrationError, match="outside 0..2 s"):
        write_allowance(rig, 2.5)
    assert rig.read_text() == SIM_RIG.read_text()


def test_calibrate_on_the_simulated_bench_prints_and_writes_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = tmp_path / "sim.yaml"
    rig.write_text(SIM_RIG.read_text())
    assert main(["rig", "calibrate", "--rig", str(rig), "--count", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"median [\d.]+ ms, p95 [\d.]+ ms, max [\d.]+ ms \(3 sample", out), out
    assert "nothing written" in out
    assert rig.read_text() == SIM_RIG.read_text()

    assert main(["rig", "calibrate", "--rig", str(rig), "--count", "2", "--write"]) == 0
    value = float(re.findall(r"latency_allowance_s: ([\d.]+)", capsys.readouterr().out)[-1])
    assert load_rig(rig).uncertainty.latency_allowance_s == pytest.approx(value)
    assert 0.001 <= value < 0.2  # loopback RFC 2217: a few ms, far below a USB adapter's


def test_calibrate_without_a_slave_at_the_address_says_what_to_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rig", "calibrate", "--rig", str(SIM_RIG), "--count", "1", "--address", "77"]) == 2
    err = capsys.readouterr().err
    assert "no reply from primary address 77" in err and "--address" in err


def test_loopback_plug_times_the_echo_of_each_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMI_HIL_LOCK_DIR", str(tmp_path))
    rig = edited(tmp_path, LAB_RIG, "rfc2217://192.0.2.20:4001", "loop://")  # pyserial's loopback port
    assert main(["rig", "calibrate", "--rig", str(rig), "--loopback", "--count", "3"]) == 0
    out = capsys.readouterr().out
    assert "loopback plug, 2400 Bd" in out and "3 SND_NKE frame(s) echoed, 0 lost" in out
    assert main(["rig", "calibrate", "--rig", str(SIM_RIG), "--loopback"]) == 2
    assert "--loopback needs a real adapter" in capsys.readouterr().err


def test_loopback_without_an_echo_says_where_the_plug_goes() -> None:
    master_fd, slave_fd = os.openpty()  # a port nothing echoes on
    try:
        link = SerialLink(os.ttyname(slave_fd), 2400, latency_allowance_s=0.0)
        try:
            with pytest.raises(CalibrationError, match="no echo of 2 frame.*loopback plug"):
                measure_loopback(link, count=2, timeout_s=0.05)
        finally:
            link.close()
    finally:
        os.close(master_fd)
        os.close(slave_fd)
