"""Adapters that echo the master's bytes (rig file ``mbus.echo``; domain.md section 8): the master strips
exactly its own echo, a different echo is a bench problem, the reply is timed from the echo's end; the
emulator's master endpoints echo on request (``cmi-hil emulate --echo``, ``rigs/sim-echo.yaml``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest

from harness.emulator import EmulatorOptions, start_emulator
from harness.master import EchoMismatch, Master, Reply
from harness.mbus import LongFrame
from harness.mbus.timing import reply_window
from harness.pytest_plugin import error_kind
from harness.rig import load_rig, open_bench

from .conftest import REPO

SCALE = 0.1
ALLOWANCE_S = 0.02


def _read_dut(*, echo: bool) -> tuple[LongFrame, Master, list[Reply]]:
    """SND_NKE, REQ_UD2 and three more SND_NKE to the DUT at address 0 through an emulator endpoint."""
    emu = start_emulator(EmulatorOptions(time_scale=SCALE, powered=True, echo=echo))
    try:
        url = emu.endpoints["mbus"]
        with Master(url, 2400, time_scale=SCALE, latency_allowance_s=ALLOWANCE_S, echo=echo, retries=0) as m:
            m.link_reset(0)
            frame = m.request_ud2(0, fcb=True)
            replies = [m.transact(bytes.fromhex("10 40 00 40 16")) for _ in range(3)]
    finally:
        emu.stop()
    assert isinstance(frame, LongFrame)
    return frame, m, replies


def test_through_an_echoing_endpoint_the_same_telegram_comes_timed_from_the_echo_end() -> None:
    plain, plain_master, _ = _read_dut(echo=False)
    echoed, master, replies = _read_dut(echo=True)
    # the same telegram once the echo is stripped (the access number counts per read, the rest is equal)
    assert (echoed.header, len(echoed.records)) == (plain.header, len(plain.records))
    assert [r.vif for r in echoed.records] == [r.vif for r in plain.records]
    assert not any(e.summary.startswith("echo") for e in plain_master.transcript)
    transcript = master.transcript
    echoes = [i for i, e in enumerate(transcript) if e.summary.startswith("echo of the request")]
    assert len(echoes) == 5  # one per request
    for i in echoes:
        assert transcript[i].data == transcript[i - 1].data  # exactly the bytes just sent
    low, high = reply_window(2400)
    for reply in replies:
        assert reply.is_ack and reply.echo_end_at is not None and reply.first_byte_at is not None
        if reply.latency_from == "echo":
            assert reply.latency_s == pytest.approx(reply.first_byte_at - reply.echo_end_at)
        assert reply.latency_s is not None  # inside the EN 13757-2 window (scaled) from either end
        assert low * SCALE <= reply.latency_s <= high * SCALE + ALLOWANCE_S
    assert any(r.latency_from == "echo" for r in replies)


class FakeAdapter:
    """A TCP 'adapter' that answers each request with ``respond(request)`` (echo and/or reply bytes)."""

    def __init__(self, respond: Callable[[bytes], bytes]) -> None:
        self.respond = respond
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            while data := conn.recv(256):
                conn.sendall(self.respond(data))

    def close(self) -> None:
        self.listener.close()


def _corrupt_first(data: bytes) -> bytes:
    return bytes([data[0] ^ 0x01]) + data[1:]


@pytest.mark.parametrize(
    ("respond", "expected"),
    [
        pytest.param(
            lambda req: _corrupt_first(req) + b"\xe5",
            "gave back [11 40 05 45 16 E5] instead of the 5-byte request [10 40 05 45 16]",
            id="differs",
        ),
        pytest.param(lambda req: req[:3], "gave back [10 40 05] instead of the 5-byte request", id="short"),
        pytest.param(lambda req: b"", "gave back nothing instead of the 5-byte request", id="missing"),
    ],
)
def test_an_echo_that_is_not_the_request_is_a_bench_problem(
    respond: Callable[[bytes], bytes], expected: str
) -> None:
    adapter = FakeAdapter(respond)
    try:
        with (
            Master(adapter.url, 2400, latency_allowance_s=0.02, echo=True, retries=0) as m,
            pytest.raises(EchoMismatch) as info,
        ):
            m.link_reset(5)
    finally:
        adapter.close()
    message = str(info.value)
    print(message)
    assert expected in message
    assert "declared echoing (rig file mbus.echo: true)" in message
    assert "a bench problem, not a module failure" in message and "set mbus.echo: false" in message
    assert error_kind(info.value) == "bench"  # charged to the bench, never to the module
    assert info.value.sent == bytes.fromhex("10 40 05 45 16")


def test_late_bytes_ahead_of_the_echo_are_stray_and_the_reply_still_counts() -> None:
    """The tail of an earlier reply still arriving when the next request goes out precedes its echo."""
    tail = bytes.fromhex("84 20 83 3C C8 00 00 00 1F F1 16")
    adapter = FakeAdapter(lambda req: tail + req + b"\xe5")
    try:
        with Master(adapter.url, 2400, latency_allowance_s=0.02, echo=True, retries=0) as m:
            reply = m.transact(bytes.fromhex("10 40 05 45 16"))
    finally:
        adapter.close()
    assert reply.is_ack and m.link.last_stray == tail
    assert [e.summary.split(" (")[0] for e in m.transcript[1:]] == [
        "stray bytes before the echo",
        "echo of the request",
        "E5",
    ]


def test_an_adapter_that_echoes_exactly_passes_the_reply_through() -> None:
    adapter = FakeAdapter(lambda req: req + b"\xe5")  # echo and ACK in one TCP segment
    try:
        with Master(adapter.url, 2400, latency_allowance_s=0.02, echo=True, retries=0) as m:
            reply = m.transact(bytes.fromhex("10 40 05 45 16"))
    finally:
        adapter.close()
    assert reply.is_ack and [e.direction for e in m.transcript] == ["tx", "rx", "rx"]
    assert m.transcript[1].data == "10 40 05 45 16" and m.transcript[2].data == "E5"
    # read together or apart, the latency never comes out below zero (an unobserved gap is timed from the
    # earliest instant the request can have left the line)
    assert reply.latency_s is not None and reply.latency_s >= 0


def test_the_sim_echo_rig_reads_the_module_through_an_echoing_endpoint() -> None:
    rig = load_rig(REPO / "rigs" / "sim-echo.yaml")
    assert rig.mbus.echo is True
    with open_bench(rig) as bench:
        bench.power_dut(36.0, "+")
        assert bench.mbus_echo is True
        with Master(bench.mbus_url, 2400, time_scale=bench.time_scale, echo=False, retries=0) as m:
            reply = m.link.receive(b"", m.link.send(bytes.fromhex("10 40 00 40 16")), timeout_s=0.5)
        # a master that ignores the echo reads its own request first: the endpoint really echoes
        assert reply.data.startswith(bytes.fromhex("10 40 00 40 16"))


def test_cmi_hil_emulate_offers_the_echo_option() -> None:
    from harness.cli import build_parser

    assert build_parser().parse_args(["emulate", "--echo"]).echo is True
    assert build_parser().parse_args(["emulate"]).echo is False
    assert EmulatorOptions(echo=True).echo and not EmulatorOptions().echo


def test_an_echo_is_no_reply_in_the_mandated_wait_accounting() -> None:
    """The suite's timing account (fixtures.mbus.mandated_waits) counts the request once, not its echo."""
    from fixtures.mbus import mandated_waits
    from harness.evidence import TranscriptEntry

    def entry(direction: str, data: str, summary: str) -> TranscriptEntry:
        return TranscriptEntry(direction=direction, t_us=0, data=data, summary=summary)  # type: ignore[arg-type]

    nke = "10 40 00 40 16"
    echoed = [
        entry("tx", nke, "SND_NKE a=0"),
        entry("rx", nke, "echo of the request (mbus.echo: the adapter echoes what it sends)"),
        entry("rx", "E5", "E5 (ack)"),
        entry("tx", nke, "SND_NKE a=0"),
        entry("rx", nke, "echo of the request (mbus.echo: the adapter echoes what it sends)"),  # no reply
    ]
    plain = [echoed[0], echoed[2], echoed[3]]
    assert mandated_waits(echoed, 2400) == pytest.approx(mandated_waits(plain, 2400))
