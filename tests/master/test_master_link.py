"""Transport, timing and error behaviour of the master, against pure functions, ``loop://`` and a
scripted slave on a real TCP socket (EN 13757-2 reply windows, end of frame, garbled replies)."""

from __future__ import annotations

import time

import pytest

from harness.master import CollisionError, LineError, Master, NoReply, PortError, reply_window
from harness.mbus import AckFrame, LongFrame, LongHeader, ShortFrame, encode
from harness.mbus.model import CI_RESPONSE_LONG, RSP_UD, SND_NKE
from harness.mbus.timing import char_time_s, wire_time_s

from .conftest import ScriptedSlave

E5 = b"\xe5"


def _rsp_ud(ident: str = "12345678", more: bool = False) -> bytes:
    header = LongHeader(id=ident, manufacturer="ELV", version=1, medium=2)
    return encode(
        LongFrame(
            c=RSP_UD,
            a=5,
            ci=CI_RESPONSE_LONG,
            header=header,
            more_records_follow=more,
            manufacturer_data=b"" if more else None,
        )
    )


def test_reply_window_follows_en13757_2() -> None:
    lo, hi = reply_window(2400)
    assert lo == pytest.approx(11 / 2400) and hi == pytest.approx(0.1875)
    lo, hi = reply_window(300)
    assert lo == pytest.approx(0.036667, abs=1e-6) and hi == pytest.approx(1.15)
    assert char_time_s(2400) == pytest.approx(11 / 2400)
    assert wire_time_s(5, 300) == pytest.approx(55 / 300)


def test_reply_window_rejects_a_nonsense_baud() -> None:
    with pytest.raises(ValueError, match="baud"):
        reply_window(0)


def test_loop_url_opens_8e1_and_an_echo_is_not_a_reply() -> None:
    with Master("loop://", 2400, latency_allowance_s=0.02, retries=0) as m:
        assert m.link.port.parity == "E" and m.link.port.bytesize == 8 and m.link.port.stopbits == 1
        # loop:// returns what was written, like a level converter that echoes: the echo is dropped
        with pytest.raises(NoReply, match="primary address 7"):
            m.link_reset(7)
        assert [e.direction for e in m.transcript] == ["tx", "rx"]
        assert m.transcript[1].summary.startswith("echo of the request")
        assert m.transcript[1].data == m.transcript[0].data


def test_a_reply_after_an_echo_is_read(scripted: ScriptedSlave) -> None:
    echo = encode(ShortFrame(c=SND_NKE, a=7))
    scripted.script = [(0.0, [echo, E5], 0.03)]
    with Master(scripted.url, 2400, latency_allowance_s=0.02, retries=0) as m:
        m.link_reset(7)
    assert m.transcript[-1].data == "E5" and m.transcript[-2].summary.startswith("echo")


def test_bad_url_is_a_port_error_naming_the_url() -> None:
    with pytest.raises(PortError, match="rfc2217://127.0.0.1:1"):
        Master("rfc2217://127.0.0.1:1")


def test_no_reply_waits_the_whole_window_and_says_what_to_check(scripted: ScriptedSlave) -> None:
    scripted.script = [None]
    with Master(scripted.url, 2400, latency_allowance_s=0.02, retries=0) as m:
        t0 = time.monotonic()
        with pytest.raises(NoReply) as err:
            m.link_reset(5)
        assert time.monotonic() - t0 >= 0.1875
    text = str(err.value)
    for part in ("primary address 5", "207.5 ms", "2400 Bd", "EN 13757-2", "10 40 05 45 16", "E5", "check"):
        assert part in text


def test_garbled_reply_is_a_line_error_not_no_reply(scripted: ScriptedSlave) -> None:
    bad = bytearray(_rsp_ud())
    bad[-2] ^= 0xFF  # checksum
    scripted.script = [(0.01, [bytes(bad)], 0.0)]
    with (
        Master(scripted.url, 2400, latency_allowance_s=0.02, retries=0) as m,
        pytest.raises(LineError) as err,
    ):
        m.read(5, reset=False)
    assert not isinstance(err.value, CollisionError)
    assert "garbled reply from primary address 5" in str(err.value)
    assert err.value.reply is not None and err.value.reply.data == bytes(bad)


def test_two_answers_at_once_are_a_collision(scripted: ScriptedSlave) -> None:
    scripted.script = [(0.01, [E5 + E5], 0.0)]
    with Master(scripted.url, 2400, latency_allowance_s=0.02, retries=0) as m, pytest.raises(CollisionError):
        m.link_reset(5)


def test_frame_with_inner_gaps_is_read_whole_by_its_length(scripted: ScriptedSlave) -> None:
    data = _rsp_ud()
    scripted.script = [(0.01, [data[:10], data[10:20], data[20:]], 0.004)]
    with Master(scripted.url, 2400, latency_allowance_s=0.02, retries=0) as m:
        telegrams = m.read(5, reset=False)
    assert len(telegrams) == 1 and telegrams[0].header is not None and telegrams[0].header.id == "12345678"


def test_latency_is_measured_from_the_end_of_the_request(scripted: ScriptedSlave) -> None:
    scripted.script = [(0.060, [E5], 0.0)]
    with Master(scripted.url, 2400, latency_allowance_s=0.02) as m:
        reply = m.transact(ShortFrame(c=SND_NKE, a=1))
        assert isinstance(reply.frame, AckFrame)
        assert reply.latency_s is not None
        # request is 5 characters = 22.9 ms on the line; the slave started 60 ms after receiving it
        assert 0.030 <= reply.latency_s <= 0.1
        rx = m.transcript[-1]
        assert rx.direction == "rx" and rx.latency_ms == pytest.approx(reply.latency_s * 1000, abs=0.01)
        assert m.transcript[0].t_us < rx.t_us


def test_retry_after_silence_then_success(scripted: ScriptedSlave) -> None:
    scripted.script = [None, (0.005, [E5], 0.0)]
    with Master(scripted.url, 2400, latency_allowance_s=0.02, retries=1) as m:
        m.link_reset(3)
    assert len(scripted.received) == 2


def test_expect_no_reply_returns_empty_after_the_window(scripted: ScriptedSlave) -> None:
    scripted.script = [None]
    with Master(scripted.url, 2400, latency_allowance_s=0.02) as m:
        t0 = time.monotonic()
        reply = m.transact(ShortFrame(c=SND_NKE, a=9), expect_reply=False)
        assert reply.empty and reply.latency_s is None
        assert time.monotonic() - t0 >= 0.1875


def test_multi_telegram_toggles_fcb_and_repeats_on_a_lost_telegram(scripted: ScriptedSlave) -> None:
    first, second = _rsp_ud(more=True), _rsp_ud()
    bad = bytearray(second)
    bad[-2] ^= 0x01
    # SND_NKE -> E5; REQ_UD2 -> telegram 1; REQ_UD2 -> garbled; REQ_UD2 (same FCB) -> telegram 2
    scripted.script = [
        (0.005, [E5], 0.0),
        (0.005, [first], 0.0),
        (0.005, [bytes(bad)], 0.0),
        (0.005, [second], 0.0),
    ]
    with Master(scripted.url, 2400, latency_allowance_s=0.02, retries=1) as m:
        telegrams = m.read(5)
    assert [t.more_records_follow for t in telegrams] == [True, False]
    c_fields = [r[1] for r in scripted.received[1:]]
    assert c_fields == [0x7B, 0x5B, 0x5B]  # FCB 1, then toggled to 0, then the same FCB again to repeat
