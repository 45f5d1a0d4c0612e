"""End of a reply on a loaded, scaled bench: a byte the frame still needs may be as late as the path's
latency allowance (the rig's uncertainty budget), whatever the time scale; a complete frame or bytes
that cannot become a frame end after the short EN 13757-2 silence."""

from __future__ import annotations

import time

import pytest

from harness.master import LineError, Master
from harness.mbus import LongFrame, LongHeader, encode
from harness.mbus.model import C_FCB, C_FCV, CI_RESPONSE_LONG, REQ_UD2, RSP_UD, ShortFrame

from .conftest import ScriptedSlave

#: the simulated bench's time scale in `cmi-hil mutate` and its reply allowance (fixtures.bench)
FAST_SCALE = 0.05
SIM_ALLOWANCE_S = 0.25


REQUEST = encode(ShortFrame(c=REQ_UD2 | C_FCV | C_FCB, a=5))


def _rsp_ud() -> bytes:
    header = LongHeader(id="12345678", manufacturer="ELV", version=1, medium=2)
    return encode(LongFrame(c=RSP_UD, a=5, ci=CI_RESPONSE_LONG, header=header, manufacturer_data=None))


def test_a_path_stall_inside_a_frame_is_not_a_broken_frame_at_a_small_time_scale(
    scripted: ScriptedSlave,
) -> None:
    """At time scale 0.05 four character times are 0.9 ms; a 40 ms stall of the path (scheduler, TCP) in the
    middle of a telegram is inside the 250 ms budget and must not cut the frame in two."""
    data = _rsp_ud()
    scripted.script = [(0.005, [data[:9], data[9:]], 0.040)]
    with Master(
        scripted.url, 2400, time_scale=FAST_SCALE, latency_allowance_s=SIM_ALLOWANCE_S, retries=0
    ) as m:
        reply = m.transact(REQUEST)
    assert reply.ok, reply.problem
    assert reply.data == data


def test_a_frame_whose_missing_bytes_come_after_the_budget_is_incomplete(scripted: ScriptedSlave) -> None:
    """The same split with a gap beyond the allowance: the master reports the frame incomplete."""
    data = _rsp_ud()
    scripted.script = [(0.005, [data[:9], data[9:]], 0.25)]
    with (
        Master(scripted.url, 2400, time_scale=FAST_SCALE, latency_allowance_s=0.05, retries=0) as m,
        pytest.raises(LineError, match="incomplete frame: 9 bytes"),
    ):
        m.read(5, reset=False)


def test_bytes_that_cannot_become_a_frame_end_after_the_short_silence(scripted: ScriptedSlave) -> None:
    """68 05 06 68: L fields that disagree can never complete, so the master does not wait the budget."""
    scripted.script = [(0.005, [bytes.fromhex("68050668")], 0.0)]
    with Master(
        scripted.url, 2400, time_scale=FAST_SCALE, latency_allowance_s=SIM_ALLOWANCE_S, retries=0
    ) as m:
        reply = m.link.receive(REQUEST, m.link.send(REQUEST))
        finished = time.monotonic()
    assert reply.data == bytes.fromhex("68050668") and not reply.ok
    assert reply.last_byte_at is not None
    assert finished - reply.last_byte_at < SIM_ALLOWANCE_S / 2


def test_a_master_held_up_in_flush_does_not_shorten_the_reply_latency(
    scripted: ScriptedSlave, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slave answers 30 ms after the request; the master's flush returns 20 ms late (a loaded scheduler).
    The request ended 1.15 ms after the write (5 characters at 2400 Bd, time scale 0.05), so the latency
    seen must stay near 29 ms: a request end stamped after the flush would make it look like 10 ms, a reply
    before the EN 13757-2 minimum that the module never sent."""
    scripted.script = [(0.030, [b"\xe5"], 0.0)]
    with Master(
        scripted.url, 2400, time_scale=FAST_SCALE, latency_allowance_s=SIM_ALLOWANCE_S, retries=0
    ) as m:
        flush = m.link.port.flush

        def late_flush() -> None:
            flush()
            time.sleep(0.020)

        monkeypatch.setattr(m.link.port, "flush", late_flush)
        reply = m.transact(REQUEST)
    assert reply.latency_s is not None
    assert reply.latency_s >= 0.025, f"latency {reply.latency_s * 1000:.1f} ms, the slave waited 30 ms"


def test_a_reply_buffered_while_the_master_was_held_up_is_not_silence(scripted: ScriptedSlave) -> None:
    """The master is held up past the reply window (an RFC 2217 parity change waits for the server's
    acknowledgement; at time scale 0.05 the window is 9 ms) while the adapter buffers the slave's E5: the
    byte is in the reply, never taken for silence (a slave that answered a bad-parity request would pass)."""
    scripted.script = [(0.005, [b"\xe5"], 0.0)]
    with Master(scripted.url, 2400, time_scale=FAST_SCALE, latency_allowance_s=0.01, retries=0) as m:
        end = m.link.send(REQUEST)
        time.sleep(0.2)
        assert time.monotonic() > end + m.reply_timeout_s()
        reply = m.link.receive(REQUEST, end)
    assert reply.data == b"\xe5"
