"""`cmi-hil emulate`: prints endpoints once they accept connections, stops cleanly, clear errors."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import serial

from harness.cli import main

from .helpers import ACK, snd_nke


def test_emulate_prints_endpoints_serves_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "emulate",
            "--time-scale",
            "0.1",
            "--slaves",
            "2",
            "--pty",
            "--tcp",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not (line := proc.stdout.readline().strip()).startswith("# 3 slave(s)"):
            assert line, "emulate ended before printing its endpoints"
            lines.append(line)
        urls = [line.split(": ", 1)[1] for line in lines if line.startswith("mbus: ")]
        rfc2217 = next(u for u in urls if u.startswith("rfc2217://127.0.0.1:"))
        tcp = next(u for u in urls if u.startswith("tcp://127.0.0.1:"))
        host_port = tcp.removeprefix("tcp://")
        assert any(f"socket://{host_port}" in line for line in lines if line.startswith("#"))
        assert any(line.startswith("pty: /dev/") for line in lines)
        for url in (rfc2217, f"socket://{host_port}"):
            port = serial.serial_for_url(url, baudrate=2400, parity="E", timeout=0.5)
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


def test_emulate_help_documents_the_tcp_endpoint_and_the_pty_limitation(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main(["emulate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--tcp [PORT]" in out and "socket://" in out and "mbus-tcp-" in out
    assert "parity" in out and "Failed to set baud rate" in out
