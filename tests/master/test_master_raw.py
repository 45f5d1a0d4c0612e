"""The master's raw path: requests a normal master refuses, sent as built and marked in the transcript."""

from __future__ import annotations

import time

import pytest

from harness.emulator import Emulator
from harness.master import Master, NoReply, RawRequest, raw
from harness.mbus import ShortFrame, decode, encode
from harness.mbus.model import SND_NKE

from .conftest import ScriptedSlave


def _nke(a: int) -> bytes:
    return encode(ShortFrame(c=SND_NKE, a=a))


@pytest.mark.parametrize("new", [251, 252, 253, 254, 255])
def test_set_address_to_a_reserved_address_is_built_and_marked(new: int) -> None:
    req = raw.set_primary_address(0, new)
    frame = decode(req.data)
    assert frame.data == bytes([0x01, 0x7A, new])  # type: ignore[union-attr]
    assert req.malformed and str(new) in req.why and "EN 13757-2" in req.rule
    assert req.note().startswith("deliberately malformed")


def test_set_address_in_range_is_not_marked_malformed() -> None:
    assert not raw.set_primary_address(3, 250).malformed
    with pytest.raises(ValueError, match="one byte"):
        raw.set_primary_address(0, 256)


def test_bad_checksum_stop_and_length_break_only_their_rule() -> None:
    good = raw.set_primary_address(0, 7).data
    cs = raw.with_bad_checksum(good)
    assert cs.data[:-2] == good[:-2] and cs.data[-2] == (good[-2] + 1) & 0xFF and cs.data[-1] == 0x16
    stop = raw.with_bad_stop(good)
    assert stop.data[:-1] == good[:-1] and stop.data[-1] == 0x17
    disagree = raw.with_length_fields(good, good[1], good[1] + 1)
    assert disagree.data[1] != disagree.data[2] and disagree.data[4:] == good[4:]
    short_l = raw.with_length_fields(good, good[1] - 1)
    assert short_l.data[1] == short_l.data[2] == good[1] - 1 and "L field" in short_l.rule
    for bad in (cs, stop, disagree, short_l):
        with pytest.raises(Exception):  # noqa: B017 - any codec error: the frame must not decode
            decode(bad.data, strict=True)


def test_builders_refuse_input_that_is_not_a_frame() -> None:
    with pytest.raises(ValueError, match="ending"):
        raw.with_bad_checksum(b"\xe5")
    with pytest.raises(ValueError, match="differ"):
        raw.with_bad_stop(_nke(1), 0x16)
    with pytest.raises(ValueError, match="long or control"):
        raw.with_length_fields(_nke(1), 3)
    good = raw.set_primary_address(0, 7).data
    with pytest.raises(ValueError, match="nothing broken"):
        raw.with_length_fields(good, good[1])


def test_normal_master_refuses_what_the_raw_path_sends(emu: Emulator, master: Master) -> None:
    with pytest.raises(ValueError, match="0..250"):
        master.set_primary_address(0, 251)
    reply = master.send_raw(raw.set_primary_address(0, 251), expect="silence")
    tx = next(e for e in reversed(master.transcript) if e.direction == "tx")
    assert tx.data == reply.request.hex(" ").upper()
    assert "deliberately malformed" in tx.summary and "251" in tx.summary
    assert master.requests_sent == 1


def test_well_formed_raw_bytes_are_marked_raw_and_answered(emu: Emulator, master: Master) -> None:
    reply = master.send_raw(_nke(0))
    assert reply.is_ack
    tx = next(e for e in master.transcript if e.direction == "tx")
    assert "raw request" in tx.summary and "malformed" not in tx.summary


@pytest.mark.parametrize(
    "build",
    [raw.with_bad_checksum, raw.with_bad_stop, lambda d: raw.with_length_fields(d, d[1], d[1] + 2)],
    ids=["checksum", "stop", "length"],
)
def test_emulator_ignores_each_malformed_frame(emu: Emulator, master: Master, build: object) -> None:
    req = build(raw.set_primary_address(0, 9).data)  # type: ignore[operator]
    assert isinstance(req, RawRequest) and req.malformed
    assert master.send_raw(req, expect="silence").empty
    assert master.send_raw(_nke(0)).is_ack  # still at address 0: nothing was executed


def test_expect_reply_raises_on_silence_and_silence_waits_the_window(scripted: ScriptedSlave) -> None:
    m = Master(scripted.url, 2400, time_scale=0.1, latency_allowance_s=0.02)
    try:
        with pytest.raises(NoReply, match="no reply"):
            m.send_raw(_nke(5))
        t0 = time.monotonic()
        reply = m.send_raw(_nke(5), expect="silence")
        assert reply.empty and time.monotonic() - t0 >= m.reply_timeout_s() * 0.9
        with pytest.raises(ValueError, match="expect"):
            m.send_raw(_nke(5), expect="maybe")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="at least one byte"):
            m.send_raw(b"")
    finally:
        m.close()
