"""`cmi-hil emulate`: prints endpoints once they accept connections, stops cleanly, clear errors."""

from __future__ import annotations

import signal
import subprocess
import sys

import serial

from harness.cli import main

from .helpers import ACK, snd_nke


def test_emulate_prints_endpoints_serves_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "emulate", "--time-scale", "0.1", "--slaves", "2", "--pty"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        names = dict(line.split(": ", 1) for line in lines)
        assert names["mbus"].startswith("rfc2217://127.0.0.1:") and names["pty"].startswith("/dev/")
        port = serial.serial_for_url(names["mbus"], baudrate=2400, parity="E", timeout=0.5)
        try:
            port.write(snd_nke(0))
            assert port.read(1) == ACK
        finally:
            port.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unknown_fault_is_a_clear_error_without_traceback(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["emulate", "--fault", "not_a_fault"]) == 2
    err = capsys.readouterr().err
    assert "not_a_fault" in err and "bad_checksum" in err and "Traceback" not in err
