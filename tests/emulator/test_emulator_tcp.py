"""The raw TCP endpoint (a transparent M-Bus/Ethernet gateway) and no stale traffic on any endpoint.

Every test talks to the emulator through its endpoints as an outside master would: pyserial ``socket://``
for the TCP endpoint, ``rfc2217://`` for the RFC 2217 server, the tty device for the pty. These tests are
about which bytes reach which client, not about timing: frames are read up to their length with a generous
timeout, so a loaded machine cannot cut a reply short, and a test that relies on the master's reply window
runs the emulator at real time.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable

import pytest
import serial

from harness.cli import main
from harness.emulator import Emulator, EndpointError
from harness.emulator.pty_port import POLL_S
from harness.mbus import LongFrame
from harness.mbus.frames import frame_length
from harness.mbus.timing import reply_window

from .helpers import ACK, SCALE, baud_switch, req_ud2, rsp, snd_nke


def _socket_url(emu: Emulator) -> str:
    return emu.endpoints["tcp"].replace("tcp://", "socket://", 1)


#: a reply complete within this long is on time on any machine: frames are cut by their length, not by gaps
FRAME_TIMEOUT_S = 3.0


def _gateway(make_emulator: Callable[..., Emulator], **options: object) -> Emulator:
    """An emulator at the self-tests' time scale (for length-framed reads that need no reply window)."""
    return make_emulator(time_scale=SCALE, **options)


def _exchange(port: serial.SerialBase, request: bytes) -> bytes:
    """Send ``request``; return the first reply frame, read up to its length (EN 13757-2 FT1.2)."""
    port.write(request)
    data = bytearray()
    while (n := frame_length(bytes(data))) is None or len(data) < n:
        chunk = port.read(1 if n is None else n - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _telegrams(url: str, limit: int = 5) -> list[LongFrame]:
    """The DUT's telegrams, up to ``limit``: SND_NKE, then REQ_UD2 with FCB toggling while more follow."""
    port = serial.serial_for_url(url, baudrate=2400, parity="E", timeout=FRAME_TIMEOUT_S)
    try:
        assert _exchange(port, snd_nke(0)) == ACK
        out = [rsp(_exchange(port, req_ud2(0, fcb=1)))]
        while out[-1].more_records_follow and len(out) < limit:
            out.append(rsp(_exchange(port, req_ud2(0, fcb=int(len(out) % 2 == 0)))))
        return out
    finally:
        port.close()


def _is_full_read_out(emu: Emulator, telegrams: list[LongFrame]) -> bool:
    """Every telegram of the profile, each from the DUT, the last one ending the read-out."""
    ids = [getattr(t.header, "id", None) for t in telegrams]
    return (
        ids == [emu.profile.identity.id] * emu.profile.telegram_count
        and not telegrams[-1].more_records_follow
    )


def _quiet_s() -> float:
    """Twice the whole reply window at 2400 Bd (scaled), and at least 0.2 s: queued bytes show by then."""
    return max(reply_window(2400)[1] * SCALE * 2, 0.2)


def test_tcp_endpoint_is_listed_and_serves_a_full_read_out(make_emulator: Callable[..., Emulator]) -> None:
    emu = _gateway(make_emulator, tcp_port=0)
    assert emu.endpoints["tcp"].startswith("tcp://127.0.0.1:")
    assert _is_full_read_out(emu, _telegrams(_socket_url(emu)))


def test_tcp_carries_bare_frames_without_telnet_or_framing(make_emulator: Callable[..., Emulator]) -> None:
    emu = _gateway(make_emulator, tcp_port=0)
    host, port = emu.endpoints["tcp"].removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2) as sock:
        sock.sendall(snd_nke(0))
        assert sock.recv(16) == ACK  # one byte, exactly the E5 the slave put on the bus


def test_tcp_bus_side_keeps_its_baud_after_the_slave_switches(make_emulator: Callable[..., Emulator]) -> None:
    """Documented gateway behaviour: the slave moves to 300 Bd, the gateway stays at 2400 Bd 8E1."""
    emu = _gateway(make_emulator, tcp_port=0)
    host, port = emu.endpoints["tcp"].removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=FRAME_TIMEOUT_S) as sock:
        sock.sendall(snd_nke(0))
        assert sock.recv(16) == ACK  # heard at 2400 Bd before the switch
        sock.sendall(baud_switch(0, 0xB8))
        assert sock.recv(16) == ACK  # acknowledged at the old rate (EN 13757-3 CI B8 = 300 Bd)
        sock.settimeout(_quiet_s())
        sock.sendall(snd_nke(0))
        with pytest.raises(TimeoutError):
            sock.recv(16)  # the slave now listens at 300 Bd: 2400 Bd characters are garbage to it


def test_a_newer_tcp_client_takes_over_from_an_older_one(make_emulator: Callable[..., Emulator]) -> None:
    emu = _gateway(make_emulator, tcp_port=0)
    host, port = emu.endpoints["tcp"].removeprefix("tcp://").rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=2) as old,
        socket.create_connection((host, int(port)), timeout=2) as new,
    ):
        assert old.recv(16) == b""  # the gateway closed the older connection
        new.sendall(snd_nke(0))
        assert new.recv(16) == ACK


def test_a_taken_tcp_port_is_a_clear_error(make_emulator: Callable[..., Emulator]) -> None:
    emu = _gateway(make_emulator, tcp_port=0)
    taken = int(emu.endpoints["tcp"].rsplit(":", 1)[1])
    with pytest.raises(EndpointError, match=rf"127\.0\.0\.1:{taken}.*choose another port"):
        _gateway(make_emulator, tcp_port=taken)


def test_emulate_cli_reports_a_taken_tcp_port_without_traceback(
    make_emulator: Callable[..., Emulator], capsys: pytest.CaptureFixture[str]
) -> None:
    taken = int(_gateway(make_emulator, tcp_port=0).endpoints["tcp"].rsplit(":", 1)[1])
    assert main(["emulate", "--tcp", str(taken)]) == 2
    err = capsys.readouterr().err
    assert f"--tcp {taken}" in err and "choose another port" in err and "Traceback" not in err


def test_emulate_cli_rejects_a_tcp_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulate", "--tcp", "70000"]) == 2
    err = capsys.readouterr().err
    assert "--tcp" in err and "65535" in err and "Traceback" not in err


# --- no stale traffic --------------------------------------------------------------------------------------


def _pty_unread(path: str) -> bytes:
    """Open the tty as a program that does not flush on open (as libmbus does) and take what is waiting."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        ready, _, _ = select.select([fd], [], [], _quiet_s())
        return os.read(fd, 4096) if ready else b""
    finally:
        os.close(fd)


def test_pty_client_sees_no_reply_sent_to_a_master_before_it_opened(
    make_emulator: Callable[..., Emulator],
) -> None:
    """Reproduction: after a read over RFC 2217, a pty client read the queued replies as its own and saw a
    collision at address 0."""
    emu = _gateway(make_emulator, pty=True)
    _telegrams(emu.endpoints["mbus"], limit=1)
    assert _pty_unread(emu.endpoints["pty"]) == b""
    assert _is_full_read_out(emu, _telegrams(emu.endpoints["pty"]))


def test_pty_drops_what_a_closed_program_left_unread(make_emulator: Callable[..., Emulator]) -> None:
    """The documented guarantee: a program opening the tty more than one poll period after the previous
    one closed it sees none of the bytes that one left unread."""
    emu = _gateway(make_emulator, pty=True)
    fd = os.open(emu.endpoints["pty"], os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, snd_nke(0))
        select.select([fd], [], [], _quiet_s())  # the E5 is waiting, nobody reads it
    finally:
        os.close(fd)
    time.sleep(10 * POLL_S)
    assert _pty_unread(emu.endpoints["pty"]) == b""


def test_tcp_client_sees_no_reply_sent_to_a_master_before_it_connected(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = _gateway(make_emulator, tcp_port=0)
    _telegrams(emu.endpoints["mbus"], limit=1)
    host, port = emu.endpoints["tcp"].removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=_quiet_s()) as sock:
        with pytest.raises(TimeoutError):
            sock.recv(4096)
        sock.sendall(snd_nke(0))
        assert sock.recv(16) == ACK


def test_rfc2217_client_sees_no_reply_sent_to_a_master_before_it_connected(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = _gateway(make_emulator, tcp_port=0)
    _telegrams(_socket_url(emu), limit=1)
    port = serial.serial_for_url(emu.endpoints["mbus"], baudrate=2400, parity="E", timeout=_quiet_s())
    try:
        assert port.read(1) == b""
        port.write(snd_nke(0))
        assert port.read(2) == ACK
    finally:
        port.close()
