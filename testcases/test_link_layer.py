"""Link layer (EN 13757-2): SND_NKE, REQ_UD2/RSP_UD, REQ_UD1, frame format and checksum, parity and
checksum rejection, reply window at 300 and 2400 Bd, FCB next/repeat, multi-telegram read-out."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.reply_timing import measure_master_latency, measure_monitor_latency
from harness.expect import record_head
from harness.mbus import decode, encode
from harness.mbus.model import (
    C_FCB,
    C_FCV,
    REQ_UD2,
    RSP_UD,
    SND_NKE,
    AckFrame,
    LongFrame,
    ShortFrame,
)
from harness.mbus.timing import reply_window

#: transactions per baud for the reply-window measurement
LATENCY_SAMPLES = 5


def _short(c: int, a: int) -> bytes:
    return encode(ShortFrame(c=c, a=a))


@pytest.mark.requirement("LL-SND-NKE", "PS-STANDARD")
def test_snd_nke_is_acknowledged_with_e5(dut: Any, master: Any) -> None:
    reply = master.transact(_short(SND_NKE, dut.address))
    assert reply.data == b"\xe5", f"SND_NKE to {dut.address}: expected E5, got [{reply.data.hex(' ')}]"


@pytest.mark.requirement("LL-REQ-UD2", "LL-FRAME-FORMAT", "LL-CHAR-8E1")
def test_req_ud2_is_answered_with_a_valid_rsp_ud(dut: Any, master: Any) -> None:
    master.link_reset(dut.address)
    reply = master.transact(_short(REQ_UD2 | C_FCV | C_FCB, dut.address))
    assert reply.ok, f"RSP_UD is not one valid 8E1 FT1.2 frame: {reply.problem} [{reply.data.hex(' ')}]"
    frame = decode(reply.data, strict=True)
    errors = [d for d in frame.diagnostics if d.severity == "error"]
    assert not errors, f"RSP_UD breaks EN 13757: {[d.message for d in errors]}"
    assert isinstance(frame, LongFrame), f"expected a long frame, got {type(frame).__name__}"
    assert frame.c & ~0x30 == RSP_UD, f"C field {frame.c:02X} is not RSP_UD (08, ACD/DFC bits allowed)"
    assert frame.a == dut.address, f"RSP_UD carries address {frame.a}, expected {dut.address}"


@pytest.mark.requirement("LL-REQ-UD1")
def test_req_ud1_is_answered(dut: Any, master: Any) -> None:
    frame = master.req_ud1(dut.address)
    assert isinstance(frame, AckFrame | LongFrame)


@pytest.mark.requirement("LL-BAD-PARITY")
def test_request_with_bad_parity_is_ignored(dut: Any, master: Any) -> None:
    """SND_NKE sent with odd parity (every character's parity bit wrong) through the master, so the request
    and whatever came back are in the transcript; the module must stay silent for the whole window."""
    reply = master.transact(_short(SND_NKE, dut.address), parity="O", expect_reply=False)
    assert reply.empty, f"the module answered a request sent with odd parity: [{reply.data.hex(' ')}]"
    master.link_reset(dut.address)  # and it still works at 8E1


@pytest.mark.requirement("LL-BAD-CHECKSUM")
@pytest.mark.parametrize("kind", ["short", "long"])
def test_request_with_bad_checksum_is_ignored(dut: Any, master: Any, kind: str) -> None:
    if kind == "short":
        data = bytearray(_short(SND_NKE, dut.address))
    else:
        data = bytearray(encode(LongFrame(c=0x53, a=dut.address, ci=0x51, data=bytes([0x01, 0x7A, 77]))))
    data[-2] = (data[-2] + 1) & 0xFF
    reply = master.transact(bytes(data), expect_reply=False)
    assert reply.empty, f"the module answered a {kind} frame with a wrong checksum: [{reply.data.hex(' ')}]"
    master.link_reset(dut.address)  # still at its address: the bad set-address frame was not executed


@pytest.mark.requirement("LL-REPLY-WINDOW", "PS-STANDARD")
@pytest.mark.time_bound(lambda p: LATENCY_SAMPLES * reply_window(min(p.link.bauds))[1])
@pytest.mark.parametrize("baud", [2400, 300])
def test_reply_starts_inside_the_window(
    dut: Any, master: Any, station: Any, bus_monitor: Any, baud: int
) -> None:
    """Latency from the end of the request to the start of the reply, at each baud (on a simulated bench
    exactly as on a real one): from the bus monitor's timestamps where the rig has one at this baud (its
    resolution as the uncertainty), else from the master's own timestamps with the rig's latency
    uncertainty."""
    if baud != dut.baud:
        master.change_baud(dut.address, baud)
    monitored = bus_monitor is not None and bus_monitor.baud == baud
    if monitored:
        bus_monitor.clear()
    for i in range(LATENCY_SAMPLES):
        request = (
            _short(SND_NKE, dut.address)
            if i % 2
            else _short(REQ_UD2 | C_FCV | (C_FCB * (i % 4 == 0)), dut.address)
        )
        reply = master.transact(request)
        assert reply.latency_s is not None, f"request {i}: the master recorded no first reply byte"
        if monitored:
            continue
        measure_master_latency(reply, baud=baud, station=station, conditions={})
    if monitored:
        seen = bus_monitor.wait_for_replies(LATENCY_SAMPLES, timeout_s=2 * master.reply_timeout_s() + 1.0)
        replied = [ex for ex in seen if ex.reply is not None]
        assert len(replied) >= LATENCY_SAMPLES, (
            f"the bus monitor saw {len(replied)} of the {LATENCY_SAMPLES} replies the master received; "
            "check the monitor's wiring and baud (rig file mbus.monitor)"
        )
        # an exchange whose request end reached the monitor late (a stalled host) decides nothing
        decided = [ex for ex in replied[:LATENCY_SAMPLES] if ex.request_end_resolved]
        assert decided, "the bus monitor resolved the end of none of the requests; check its host's load"
        undecided = len(replied[:LATENCY_SAMPLES]) - len(decided)
        for ex in decided:
            measure_monitor_latency(
                ex, monitor=bus_monitor, baud=baud, conditions={"undecided_exchanges": undecided}
            )


@pytest.mark.requirement("LL-FCB")
def test_fcb_toggle_gives_next_and_same_fcb_repeats(dut: Any, master: Any, profile: Any) -> None:
    if profile.telegram_count < 2:
        pytest.skip("the device profile has a single telegram: FCB toggling cannot be told from repeating")
    a = dut.address

    def req(fcb: bool) -> LongFrame:
        return master.request_ud2(a, fcb=fcb)

    master.link_reset(a)
    first = req(True)
    repeat = req(True)
    assert repeat == first, "same FCB after a telegram must repeat it (EN 13757-2), got a different telegram"
    second = req(False)
    assert [record_head(r) for r in second.records] != [record_head(r) for r in first.records], (
        "toggled FCB must deliver the next telegram, got the first again"
    )
    repeat2 = req(False)
    assert repeat2 == second, "same FCB must repeat the second telegram"
    master.link_reset(a)
    again = req(True)
    assert [record_head(r) for r in again.records] == [record_head(r) for r in first.records], (
        "after SND_NKE the read-out must restart at the first telegram"
    )


@pytest.mark.requirement("LL-MULTI-TELEGRAM")
def test_multi_telegram_readout_ends_with_last_telegram(dut: Any, master: Any, profile: Any) -> None:
    frames = master.read(dut.address)
    assert len(frames) == profile.telegram_count, (
        f"expected {profile.telegram_count} telegram(s) per the device profile, got {len(frames)}"
    )
    for i, frame in enumerate(frames[:-1]):
        assert frame.more_records_follow, f"telegram {i} is not the last but lacks DIF 1F"
    assert not frames[-1].more_records_follow, "the last telegram still announces more records (DIF 1F)"


@pytest.mark.requirement("AL-APP-RESET")
def test_application_reset_is_acknowledged(dut: Any, master: Any) -> None:
    master.application_reset(dut.address)
    frames = master.read(dut.address)
    assert frames[0].header.id == dut.header.id, (
        "the module does not read out normally after an application reset"
    )
