"""Link layer, addressing and baud behaviour of the emulated CMi1020, driven by raw bytes over RFC 2217."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from harness.emulator import Emulator
from harness.emulator.oracle import Oracle
from harness.mbus import decode, encode
from harness.mbus.model import CI_APPLICATION_RESET, REQ_UD1, LongFrame, MBusError, ShortFrame
from harness.mbus.timing import reply_window

from .helpers import RawLink, baud_switch, req_ud2, select, set_address, snd_nke, wait_startup

ACK = b"\xe5"


def rsp(data: bytes) -> LongFrame:
    frame = decode(data, strict=True)
    assert isinstance(frame, LongFrame), f"expected RSP_UD long frame, got {data.hex(' ')}"
    return frame


def test_snd_nke_is_acknowledged_with_e5(link: RawLink) -> None:
    assert link.exchange(snd_nke(0)) == ACK


def test_req_ud2_answers_rsp_ud_with_profile_identity(emu: Emulator, link: RawLink) -> None:
    frame = rsp(link.exchange(req_ud2(0)))
    header = Oracle(emu.profile).expected_header(access_number=frame.header.access_number)  # type: ignore[union-attr]
    assert frame.c == 0x08 and frame.ci == 0x72 and frame.a == 0
    assert frame.header == header


def test_records_equal_oracle_prediction_for_a_still_meter(emu: Emulator, link: RawLink) -> None:
    for phase in (1, 2, 3):
        emu.physics.set_load_w(phase, 0.0)  # no load: the registers hold still between read and prediction
    got = [rsp(link.exchange(snd_nke(0)) and link.exchange(req_ud2(0, fcb=0)))]
    got.append(rsp(link.exchange(req_ud2(0, fcb=1))))
    expected = Oracle(emu.profile).expected_records(emu.meter_snapshot())
    assert [list(f.records) for f in got] == expected
    assert [f.more_records_follow for f in got] == [True, False]


def test_fcb_toggle_reads_next_telegram_and_same_fcb_repeats(link: RawLink) -> None:
    assert link.exchange(snd_nke(0)) == ACK
    first = link.exchange(req_ud2(0, fcb=0))
    repeat = link.exchange(req_ud2(0, fcb=0))
    second = link.exchange(req_ud2(0, fcb=1))
    assert repeat == first
    assert rsp(first).more_records_follow and not rsp(second).more_records_follow
    assert rsp(second).header.access_number == (rsp(first).header.access_number + 1) % 256  # type: ignore[union-attr]
    wrapped = link.exchange(req_ud2(0, fcb=0))
    assert list(rsp(wrapped).records)[0] == list(rsp(first).records)[0]


def test_req_ud1_without_alarm_answers_e5(link: RawLink) -> None:
    assert link.exchange(encode(ShortFrame(c=REQ_UD1, a=0))) == ACK


@pytest.mark.parametrize("address", [1, 17, 250])
def test_other_primary_address_is_silent(link: RawLink, address: int) -> None:
    assert link.exchange(snd_nke(address)) == b""


def test_broadcast_254_answers_and_255_is_silent(link: RawLink) -> None:
    assert link.exchange(snd_nke(254)) == ACK
    assert link.exchange(snd_nke(255)) == b""
    assert rsp(link.exchange(req_ud2(254))).a == 0


def test_set_primary_address_then_answers_there_only(link: RawLink) -> None:
    assert link.exchange(set_address(0, 42)) == ACK
    assert link.exchange(snd_nke(42)) == ACK
    assert link.exchange(snd_nke(0)) == b""
    assert rsp(link.exchange(req_ud2(42))).a == 42


def test_secondary_select_with_wildcards_and_deselect(emu: Emulator, link: RawLink) -> None:
    ident = emu.profile.identity.id
    assert link.exchange(req_ud2(253)) == b"", "not selected yet"
    assert link.exchange(select(ident[:4] + "FFFF", manufacturer="ELV", medium=2)) == ACK
    assert rsp(link.exchange(req_ud2(253))).header.id == ident  # type: ignore[union-attr]
    assert link.exchange(select("00000000")) == b"", "non-matching select is silent and deselects"
    assert link.exchange(req_ud2(253)) == b""
    assert link.exchange(select("FFFFFFFF")) == ACK
    assert link.exchange(snd_nke(253)) == ACK
    assert link.exchange(req_ud2(253)) == b"", "SND_NKE to 253 deselects"


@pytest.mark.parametrize("field", ["manufacturer", "version", "medium"])
def test_select_on_wrong_manufacturer_version_or_medium_is_silent(
    emu: Emulator, link: RawLink, field: str
) -> None:
    wrong = {"manufacturer": "ABC", "version": emu.profile.identity.version + 1, "medium": 0x07}
    assert link.exchange(select("FFFFFFFF", **{field: wrong[field]})) == b""  # type: ignore[arg-type]


def test_bad_parity_character_is_ignored(link: RawLink) -> None:
    link.set_format(parity="O")
    assert link.exchange(snd_nke(0)) == b""
    link.set_format(parity="E")
    assert link.exchange(snd_nke(0)) == ACK


def test_bytes_before_a_parity_change_in_one_segment_keep_the_old_parity(emu: Emulator) -> None:
    """Data and an RFC 2217 SET-PARITY behind it can arrive in one TCP segment: the data must still
    go on the line at the parity in force when it was sent (odd here), so the module ignores it
    (EN 13757-2: 8E1 only)."""
    host, port = emu.endpoints["mbus"].removeprefix("rfc2217://").split(":")

    def set_parity(value: int) -> bytes:  # RFC 2217: IAC SB COM-PORT-OPTION SET-PARITY value IAC SE
        return bytes([255, 250, 44, 3, value, 255, 240])

    odd, even = 2, 3
    with socket.create_connection((host, int(port)), timeout=1) as sock:
        sock.sendall(set_parity(odd) + snd_nke(0) + set_parity(even))
        odd_answer = _drain(sock, 0.4)
        sock.sendall(snd_nke(0))
        even_answer = _drain(sock, 0.4)
    assert ACK[0] not in odd_answer  # telnet negotiation bytes never include E5
    assert ACK[0] in even_answer


def _drain(sock: socket.socket, seconds: float) -> bytes:
    data = bytearray()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def test_8n1_master_is_not_understood(link: RawLink) -> None:
    link.set_format(parity="N")
    assert link.exchange(snd_nke(0)) == b""


def test_bad_checksum_and_bad_length_are_ignored(link: RawLink) -> None:
    good = bytearray(req_ud2(0))
    bad_cs = bytes(good[:3]) + bytes([(good[3] + 1) & 0xFF]) + bytes(good[4:])
    assert link.exchange(bad_cs) == b""
    long_frame = bytearray(set_address(0, 9))
    long_frame[2] += 1  # second L field disagrees
    assert link.exchange(bytes(long_frame)) == b""
    assert link.exchange(snd_nke(0)) == ACK


def test_wrong_master_baud_is_garbage_to_the_module(link: RawLink) -> None:
    link.set_format(baud=9600)
    assert link.exchange(snd_nke(0)) == b""


def test_baud_switch_acks_at_old_rate_then_talks_at_new(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(baud_switch(0, 0xB8)) == ACK  # E5 at 2400
    assert emu.dut.baud == 300
    assert link.exchange(snd_nke(0)) == b"", "2400 Bd master no longer understood"
    link.set_format(baud=300)
    assert link.exchange(snd_nke(0)) == ACK
    assert link.exchange(baud_switch(0, 0xBB)) == ACK  # E5 at 300
    link.set_format(baud=2400)
    assert link.exchange(snd_nke(0)) == ACK


@pytest.mark.parametrize("ci", [0xB9, 0xBD, 0xBF])
def test_unsupported_baud_is_not_answered(emu: Emulator, link: RawLink, ci: int) -> None:
    assert link.exchange(baud_switch(0, ci)) == b""
    assert emu.dut.baud == 2400


def test_application_reset_acknowledged_and_restarts_telegrams(link: RawLink) -> None:
    assert link.exchange(snd_nke(0)) == ACK
    first = rsp(link.exchange(req_ud2(0, fcb=0)))
    assert rsp(link.exchange(req_ud2(0, fcb=1))).more_records_follow is False
    assert link.exchange(baud_switch(0, CI_APPLICATION_RESET)) == ACK
    again = rsp(link.exchange(req_ud2(0, fcb=0)))
    assert again.more_records_follow and again.records[0] == first.records[0]


def test_collision_when_two_slaves_answer(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    emu = make_emulator(extra_slaves=1)
    link = make_link(emu)
    emu.slaves[1].primary_address = 0  # two modules on address 0
    reply = link.exchange(req_ud2(0))
    assert reply, "a collision is not silence"
    with pytest.raises(MBusError):
        decode(reply)
    ack_collision = link.exchange(select("FFFFFFFF"))
    assert ack_collision != ACK, f"two E5 at once must not read as one clean E5, got {ack_collision.hex()}"


def test_many_slaves_only_the_addressed_one_answers(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    emu = make_emulator(extra_slaves=20, seed=3)
    link = make_link(emu)
    target = emu.slaves[7]
    assert rsp(link.exchange(req_ud2(7))).header.id == target.id  # type: ignore[union-attr]
    assert link.exchange(select(target.id)) == ACK
    assert rsp(link.exchange(req_ud2(253))).header.id == target.id  # type: ignore[union-attr]


def test_duplicate_slave_ids_collide_on_select(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    emu = make_emulator(slave_ids=["12345678", "12345678"])
    link = make_link(emu)
    assert link.exchange(select("12345678")) not in (ACK, b"")


def test_unpowered_module_is_silent_and_answers_in_both_polarities(emu: Emulator, link: RawLink) -> None:
    emu.physics.set_bus_voltage(0.0)
    assert link.exchange(snd_nke(0)) == b""
    for volts in (21.0, 42.0, -21.0, -42.0):
        emu.physics.set_bus_voltage(volts)
        if volts == 21.0:  # powered up from 0 V: its startup time first
            wait_startup(emu)
        assert link.exchange(snd_nke(0)) == ACK, f"no answer at {volts} V"
    for volts in (20.0, -20.0, 43.0):
        emu.physics.set_bus_voltage(volts)
        assert link.exchange(snd_nke(0)) == b"", f"answer at {volts} V, outside 21-42 V"


def test_configuration_survives_brown_out(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(set_address(0, 12)) == ACK
    emu.physics.set_bus_voltage(10.0)
    emu.physics.set_bus_voltage(36.0)
    wait_startup(emu)
    assert link.exchange(snd_nke(12)) == ACK


@pytest.mark.parametrize("baud", [2400, 300])
def test_reply_starts_inside_the_en13757_window(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink], baud: int
) -> None:
    emu = make_emulator(time_scale=1.0)
    link = make_link(emu)
    if baud != 2400:
        assert link.exchange(baud_switch(0, 0xB8)) == ACK
        link.set_format(baud=baud)
    assert link.exchange(snd_nke(0)) == ACK
    lo, hi = reply_window(baud)
    emulator_side = emu.timing_log[-1].reply_delay_s
    assert lo <= emulator_side <= hi
    assert link.last_latency_s is not None and lo <= link.last_latency_s <= hi + 0.02
