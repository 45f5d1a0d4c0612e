"""Every master operation against the reference emulator over its real RFC 2217 endpoint."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.emulator import Emulator
from harness.expect import record_head
from harness.master import CollisionError, LineError, Master, NoReply
from harness.mbus import AckFrame, LongHeader, SecondaryAddress, ShortFrame
from harness.mbus.model import SND_NKE

MakeEmu = Callable[..., Emulator]
MakeMaster = Callable[..., Master]


def _id(frames: list) -> str:  # type: ignore[type-arg]
    header = frames[0].header
    assert isinstance(header, LongHeader)
    return header.id


def test_link_reset_is_acknowledged_within_the_window(emu: Emulator, master: Master) -> None:
    master.link_reset(emu.dut.primary_address)
    tx, rx = master.transcript[-2:]
    assert (tx.direction, rx.direction) == ("tx", "rx")
    assert tx.data == "10 40 00 40 16" and rx.data == "E5"
    lo, hi = master.link.window_s()
    assert rx.latency_ms is not None and lo * 1000 * 0.5 <= rx.latency_ms <= (hi + 0.02) * 1000


def test_read_follows_a_multi_telegram_answer_with_the_fcb(emu: Emulator, master: Master) -> None:
    telegrams = master.read(emu.dut.primary_address)
    assert len(telegrams) == emu.profile.telegram_count >= 2
    assert [t.more_records_follow for t in telegrams] == [True] * (len(telegrams) - 1) + [False]
    assert {_id([t]) for t in telegrams} == {emu.dut.id}
    c_fields = [
        e.data.split()[1] for e in master.transcript if e.direction == "tx" and e.data.startswith("10")
    ]
    assert c_fields[0] == "40"  # SND_NKE starts the read-out at telegram 1
    assert c_fields[1:] == ["7B", "5B", "7B", "5B"][: len(telegrams)]


def test_read_upto_stops_after_the_first_telegrams_and_the_next_read_starts_over(
    emu: Emulator, master: Master
) -> None:
    a = emu.dut.primary_address
    first = master.read(a, upto=1)
    assert len(first) == 1 and first[0].more_records_follow  # the rest of the read-out is left unread
    whole = master.read(a)  # SND_NKE restarts it at telegram 1
    # the same first telegram again (its record layout: the meter's values may move between the reads)
    assert len(whole) == emu.profile.telegram_count
    assert [record_head(r) for r in whole[0].records] == [record_head(r) for r in first[0].records]
    with pytest.raises(ValueError, match="upto=1: a read-out's first telegrams"):
        master.read(a, upto=1, reset=False)
    with pytest.raises(ValueError, match="upto >= 1"):
        master.read(a, upto=0)


def test_same_fcb_repeats_the_last_telegram(emu: Emulator, master: Master) -> None:
    a = emu.dut.primary_address
    master.link_reset(a)
    first = master.request_ud2(a, fcb=True)
    again = master.request_ud2(a, fcb=True)
    nxt = master.request_ud2(a, fcb=False)
    assert again == first and again.header == first.header  # byte-identical repeat, access number included
    assert nxt.records != first.records


def test_req_ud1_without_alarm_is_acknowledged(emu: Emulator, master: Master) -> None:
    assert isinstance(master.req_ud1(emu.dut.primary_address), AckFrame)


def test_select_read_selected_and_deselect(make_emulator: MakeEmu, make_master: MakeMaster) -> None:
    emu = make_emulator(slave_ids=["11112222"])
    m = make_master(emu)
    assert m.select(SecondaryAddress(id=emu.dut.id))
    assert _id(m.read_selected()) == emu.dut.id
    assert m.select(SecondaryAddress(id="1111FFFF", manufacturer="ELV"))  # wildcard nibbles
    assert _id(m.read_selected()) == "11112222"
    m.deselect()
    with pytest.raises(NoReply, match="253"):
        m.read_selected()


def test_select_of_an_absent_id_is_false(master: Master) -> None:
    assert master.select(SecondaryAddress(id="99999999")) is False


def test_select_matching_two_slaves_is_a_collision(make_emulator: MakeEmu, make_master: MakeMaster) -> None:
    emu = make_emulator(slave_ids=["11112222"])
    m = make_master(emu, retries=0)
    with pytest.raises(CollisionError, match="more than one slave"):
        m.select(SecondaryAddress(id="FFFFFFFF"))


def test_two_slaves_on_one_primary_address_collide(make_emulator: MakeEmu, make_master: MakeMaster) -> None:
    emu = make_emulator(slave_ids=["11112222"])
    emu.slaves[1].primary_address = emu.dut.primary_address
    m = make_master(emu, retries=0)
    with pytest.raises(LineError, match="no two slaves share the address") as err:
        m.read(emu.dut.primary_address, reset=False)
    assert err.value.reply is not None and err.value.reply.data  # the garbled bytes are kept for evidence


def test_set_primary_address_moves_the_slave(emu: Emulator, master: Master) -> None:
    master.set_primary_address(emu.dut.primary_address, 42)
    assert emu.dut.primary_address == 42
    assert _id(master.read(42)) == emu.dut.id
    with pytest.raises(NoReply, match="primary address 0"):
        master.link_reset(0)


def test_change_baud_both_ways(emu: Emulator, master: Master) -> None:
    a = emu.dut.primary_address
    master.change_baud(a, 300)
    assert master.baud == 300 and emu.dut.baud == 300
    assert _id(master.read(a)) == emu.dut.id
    master.change_baud(a, 2400)
    assert master.baud == 2400 and emu.dut.baud == 2400
    assert _id(master.read(a)) == emu.dut.id
    assert any("switched from 300 Bd to 2400 Bd" in e.summary for e in master.transcript)


def test_a_master_at_the_wrong_baud_gets_no_answer(emu: Emulator, make_master: MakeMaster) -> None:
    m = make_master(emu, 300, retries=0)
    with pytest.raises((NoReply, LineError)):
        m.link_reset(emu.dut.primary_address)


def test_application_reset_is_acknowledged(emu: Emulator, master: Master) -> None:
    master.application_reset(emu.dut.primary_address)
    assert master.transcript[-1].data == "E5"


def test_scan_primary_finds_exactly_the_configured_addresses(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    emu = make_emulator(extra_slaves=2)
    m = make_master(emu)
    seen: list[tuple[int, bool]] = []
    assert m.scan_primary(range(0, 6), progress=lambda a, p: seen.append((a, p))) == [0, 1, 2]
    assert seen == [(0, True), (1, True), (2, True), (3, False), (4, False), (5, False)]


def test_bad_checksum_from_the_slave_is_a_line_error(make_emulator: MakeEmu, make_master: MakeMaster) -> None:
    emu = make_emulator(faults=["bad_checksum"])
    m = make_master(emu, retries=0)
    with pytest.raises(LineError, match="garbled reply") as err:
        m.read(emu.dut.primary_address, reset=False)
    assert not isinstance(err.value, NoReply)


def test_slave_with_an_8n1_uart_does_not_answer_8e1(make_emulator: MakeEmu, make_master: MakeMaster) -> None:
    emu = make_emulator(faults=["parity_8n1"])
    m = make_master(emu, retries=0)
    with pytest.raises(NoReply, match="same baud \\(8E1\\)"):  # an 8N1 slave cannot read 8E1 requests
        m.read(emu.dut.primary_address, reset=False)


def test_request_with_bad_parity_is_ignored_by_a_conforming_slave(emu: Emulator, master: Master) -> None:
    reply = master.transact(ShortFrame(c=SND_NKE, a=emu.dut.primary_address), expect_reply=False, parity="O")
    assert reply.empty
    assert "[sent with parity O]" in master.transcript[-1].summary
    master.link_reset(emu.dut.primary_address)  # the port is back at 8E1
