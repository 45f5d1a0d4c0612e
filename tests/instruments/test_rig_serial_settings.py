"""Per-adapter serial settings of the rig file: ``mbus.echo``, ``mbus.low_latency`` (schema, bench, check)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from harness.instruments.serial_port import LowLatencyError, set_low_latency
from harness.rig import RigFileError, load_rig
from harness.rig.bench import Bench
from harness.rig.check import mbus_identity

from .conftest import SIM_RIG
from .test_rig_messages import LAB_RIG, edited


@pytest.fixture
def pty_device() -> Iterator[str]:
    """A pseudo-terminal: a local serial device without the low-latency ioctl (like a non-USB driver)."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def test_echo_is_declared_per_adapter_and_offered_by_the_bench(tmp_path: Path) -> None:
    assert Bench(load_rig(SIM_RIG)).mbus_echo is False
    rig = load_rig(edited(tmp_path, SIM_RIG, "  baud: 2400\n", "  baud: 2400\n  echo: true\n"))
    assert Bench(rig).mbus_echo is True
    assert "adapter echoes" in mbus_identity(rig)
    with pytest.raises(RigFileError, match=r"mbus\.echo: .*allowed: true or false"):
        load_rig(edited(tmp_path, SIM_RIG, "  baud: 2400\n", "  baud: 2400\n  echo: maybe\n"))


def test_low_latency_is_refused_for_a_url_port(tmp_path: Path) -> None:
    with pytest.raises(RigFileError, match=r"mbus\.low_latency: only for a local adapter .*ser2net"):
        load_rig(edited(tmp_path, SIM_RIG, "  baud: 2400\n", "  baud: 2400\n  low_latency: true\n"))
    local = "  url: /dev/ttyUSB0\n  low_latency: true\n"
    lab = edited(tmp_path, LAB_RIG, "  url: rfc2217://192.0.2.20:4001", local + "  #")
    assert load_rig(lab).mbus.low_latency


def test_low_latency_without_the_ioctl_says_what_to_do(pty_device: str) -> None:
    with pytest.raises(LowLatencyError, match="cannot be set .*mbus.low_latency: false"):
        set_low_latency(pty_device)
    with pytest.raises(LowLatencyError, match="cannot open /dev/nonexistent-adapter"):
        set_low_latency("/dev/nonexistent-adapter")


def test_low_latency_sets_the_ftdi_latency_timer(
    pty_device: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(serial.Serial, "set_low_latency_mode", lambda self, on: calls.append(on))
    assert set_low_latency(pty_device, sysfs=tmp_path) == "ASYNC_LOW_LATENCY set"
    timer = tmp_path / Path(pty_device).name / "latency_timer"
    timer.parent.mkdir(parents=True)
    timer.write_text("16\n")  # the ftdi_sio default
    assert set_low_latency(pty_device, sysfs=tmp_path) == "ASYNC_LOW_LATENCY set, latency_timer 1 ms"
    assert timer.read_text() == "1" and calls == [True, True]
