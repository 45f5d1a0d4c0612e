"""Link and application layer details (EN 13757-2/-3, domain.md section 8) a conforming slave must get right:
FCB repeats byte-identical, SND_NKE restarting a read-out, the access number, the A field of every reply,
ACD against REQ_UD1, selection across power cycles, set primary address refused outside 1-250 and via 253,
broadcast 255 executed without reply, wildcards that do not hide a wrong field, application reset state
and the link configuration after a power cycle as the device profile declares it.

Expectations come from the standard and the device profile only; requests a normal master refuses go
through the master's raw path (:mod:`harness.master.raw`) and are marked in the transcript.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from fixtures.checks import wait_std
from fixtures.dut import NOMINAL_VOLTS, answers, set_local_baud
from fixtures.mbus import wait_started
from harness.master import NoReply, Reply, raw
from harness.mbus import AckFrame, LongFrame, LongHeader, ShortFrame, encode
from harness.mbus.model import (
    ADDR_BROADCAST_NO_REPLY,
    ADDR_BROADCAST_REPLY,
    ADDR_SELECTED,
    C_FCB,
    C_FCV,
    CI_DATA_SEND,
    REQ_UD2,
    SND_NKE,
    SND_UD,
)

#: EN 13757-2 C field of RSP_UD: access demand (class 1 data waiting)
C_ACD = 0x20
#: EN 13757-2 C field of RSP_UD: data flow control (the slave cannot accept further data)
C_DFC = 0x10
#: SND_UD sent in a row before DFC is judged (each one more datum the module must accept)
SND_UD_IN_A_ROW = 3
#: power off long enough for any module to lose volatile state (standard seconds, not mandated)
POWER_OFF_S = 0.5
#: REQ_UD1 polls to empty pending class 1 data before ACD is judged
CLASS1_POLLS = 3


def record_key(record: Any) -> tuple[int, tuple[int, ...], int | None, tuple[int, ...]]:
    """What identifies a record's meaning on the wire: DIF, DIFEs, VIF, VIFEs (EN 13757-3)."""
    return (record.dif, tuple(record.dife), record.vif, tuple(record.vife))


def _req_ud2(master: Any, address: int, fcb: bool) -> Reply:
    """One REQ_UD2 (FCV set) returning the raw reply. A lost or garbled reply is asked for again with the
    same FCB, as EN 13757-2 prescribes (the slave repeats its last telegram), up to the master's retries."""
    request = encode(ShortFrame(c=REQ_UD2 | C_FCV | (C_FCB if fcb else 0), a=address))
    problem = ""
    for _ in range(master.retries + 1):
        try:
            reply = master.transact(request)
        except NoReply as exc:
            problem = str(exc)
            continue
        if reply.ok and isinstance(reply.frame, LongFrame):
            return reply
        problem = f"got [{reply.data.hex(' ')}] ({reply.problem})"
    pytest.fail(
        f"REQ_UD2 FCB={int(fcb)} to {address}: expected one RSP_UD long frame; {problem}", pytrace=False
    )


def _frame(reply: Reply) -> LongFrame:
    assert isinstance(reply.frame, LongFrame)
    return reply.frame


def _layout(reply: Reply) -> list[Any]:
    """What a telegram carries (record codings), whatever the values are now."""
    return [record_key(r) for r in _frame(reply).records]


def _access(reply: Reply) -> int:
    header = _frame(reply).header
    assert isinstance(header, LongHeader), "RSP_UD without a long header: no access number (CI 72 expected)"
    return int(header.access_number)


def _silent(master: Any, data: bytes) -> bytes:
    return bytes(master.send_raw(data, expect="silence").data)


def _nke(address: int) -> bytes:
    return encode(ShortFrame(c=SND_NKE, a=address))


def _need_multi(profile: Any) -> None:
    if profile.telegram_count < 2:
        pytest.skip("the device profile has a single telegram: there is no middle of a read-out")


# --- FCB, SND_NKE, access number (EN 13757-2 FCB/FCV, EN 13757-3 long header) ------------------------------


@pytest.mark.requirement("LL-FCB-REPEAT-IDENTICAL", "LL-ACCESS-NUMBER")
def test_repeat_of_every_telegram_is_byte_identical(dut: Any, master: Any, profile: Any) -> None:
    master.link_reset(dut.address)
    fcb = True
    for index in range(profile.telegram_count):
        first = _req_ud2(master, dut.address, fcb)
        repeat = _req_ud2(master, dut.address, fcb)
        assert repeat.data == first.data, (
            f"telegram {index + 1}: a repeat (same FCB={int(fcb)}) must be the identical telegram; got "
            f"[{repeat.data.hex(' ')}] after [{first.data.hex(' ')}]"
        )
        fcb = not fcb


@pytest.mark.requirement("LL-NKE-RESTART", "LL-ACCESS-NUMBER")
def test_snd_nke_in_the_middle_of_a_readout_restarts_at_telegram_1(
    dut: Any, master: Any, profile: Any
) -> None:
    _need_multi(profile)
    a = dut.address
    master.link_reset(a)
    first = _req_ud2(master, a, True)
    second = _req_ud2(master, a, False)
    master.link_reset(a)
    begun = _req_ud2(master, a, True)
    master.link_reset(a)  # telegram 1 delivered, telegram 2 pending: the middle of the read-out
    restarted = _req_ud2(master, a, True)
    assert _layout(restarted) == _layout(first), (
        "after SND_NKE in the middle of a read-out the next REQ_UD2 must return telegram 1; "
        f"got a telegram with {len(_frame(restarted).records)} records laid out differently"
    )
    assert _access(restarted) != _access(begun), (
        "after SND_NKE telegram 1 must be sent anew (access number advanced), not repeated "
        f"(access number {_access(restarted)} both times)"
    )
    follow = _req_ud2(master, a, False)
    assert _layout(follow) == _layout(second), "after the restart a toggled FCB must give telegram 2"


@pytest.mark.requirement("LL-ACCESS-NUMBER")
def test_access_number_advances_on_new_telegrams_and_not_on_repeats(
    dut: Any, master: Any, profile: Any
) -> None:
    a = dut.address
    master.link_reset(a)
    fcb, seen = True, []
    for _ in range(max(3, profile.telegram_count + 1)):
        new = _access(_req_ud2(master, a, fcb))
        repeat = _access(_req_ud2(master, a, fcb))
        assert repeat == new, f"a repeat changed the access number from {new} to {repeat}"
        seen.append(new)
        fcb = not fcb
    steps = [(b - a_) & 0xFF for a_, b in zip(seen, seen[1:], strict=False)]
    assert steps == [1] * len(steps), (
        f"access numbers of successive new telegrams {seen}: each must be the previous + 1 (mod 256)"
    )


# --- A field and ACD (EN 13757-2 reply frame) --------------------------------------------------------------

A_FIELD_CASES = ["primary", "selected_253", "broadcast_254", "after_set_address"]


@pytest.mark.requirement("LL-A-FIELD")
@pytest.mark.parametrize("how", A_FIELD_CASES)
def test_a_field_of_every_rsp_ud_is_the_module_address(dut: Any, master: Any, how: str) -> None:
    own = dut.address
    if how == "primary":
        frames = master.read(own)
    elif how == "selected_253":
        assert master.select(dut.secondary), f"no E5 to a select of the module's own address {dut.secondary}"
        frames = master.read_selected()
    elif how == "broadcast_254":
        frames = master.read(ADDR_BROADCAST_REPLY)
    else:
        own = 7 if dut.address != 7 else 8
        master.set_primary_address(dut.address, own)
        frames = master.read(own)
    wrong = [(i + 1, f.a) for i, f in enumerate(frames) if f.a != own]
    assert not wrong, f"read via {how}: RSP_UD telegram(s) (number, A field) {wrong}, expected A = {own}"


@pytest.mark.requirement("LL-ACD-DFC", "LL-REQ-UD1")
def test_acd_bit_agrees_with_req_ud1(dut: Any, master: Any) -> None:
    answer = master.req_ud1(dut.address)
    for _ in range(CLASS1_POLLS):
        if isinstance(answer, AckFrame):
            break
        answer = master.req_ud1(dut.address)  # class 1 data delivered: poll until none is left
    assert isinstance(answer, AckFrame), (
        f"REQ_UD1 still returns class 1 data after {CLASS1_POLLS} polls: expected E5 once it is delivered"
    )
    frames = master.read(dut.address)
    flagged = [i + 1 for i, f in enumerate(frames) if f.c & C_ACD]
    assert not flagged, (
        f"RSP_UD telegram(s) {flagged} set ACD (class 1 data waiting) while REQ_UD1 answers E5 (none waiting)"
    )


@pytest.mark.requirement("LL-ACD-DFC")
def test_dfc_clear_while_user_data_is_accepted(dut: Any, master: Any) -> None:
    """EN 13757-2: DFC set in a slave's reply means it cannot accept further data. The module accepts SND_UD
    (set primary address, here to the address it already has, so nothing changes): each of several in a row
    is acknowledged with E5, and every RSP_UD read between and after them has DFC clear."""
    same_address = encode(
        LongFrame(c=SND_UD, a=dut.address, ci=CI_DATA_SEND, data=bytes([0x01, 0x7A, dut.address]))
    )
    flagged: list[tuple[int, int]] = []
    for n in range(SND_UD_IN_A_ROW + 1):
        frames = master.read(dut.address)
        flagged += [(n, i + 1) for i, f in enumerate(frames) if f.c & C_DFC]
        if n == SND_UD_IN_A_ROW:
            break
        reply = master.transact(same_address)
        assert reply.is_ack, (
            f"SND_UD {n + 1} of {SND_UD_IN_A_ROW} (set primary address {dut.address}) answered "
            f"[{reply.data.hex(' ')}], expected E5: the module must accept user data"
        )
    assert not flagged, (
        f"RSP_UD (after SND_UD number, telegram) {flagged} set DFC (no further data accepted) although the "
        "module accepts SND_UD: EN 13757-2 wants DFC clear"
    )


# --- selection, set primary address, broadcast 255 (EN 13757-2 addresses, EN 13757-3 selection) ------------


def _power_cycle(bench: Any, master: Any, station: Any, baud: int) -> None:
    bench.power_off()
    wait_std(station, POWER_OFF_S)
    bench.power_dut(NOMINAL_VOLTS, "+")
    wait_started(station)
    set_local_baud(master, baud)


@pytest.mark.requirement("AD-SELECT-POWER-CYCLE")
@pytest.mark.needs("supply")
def test_power_cycle_leaves_the_module_deselected(dut: Any, bench: Any, master: Any, station: Any) -> None:
    assert master.select(dut.secondary), f"no E5 to a select of the module's own address {dut.secondary}"
    master.request_ud2(ADDR_SELECTED, fcb=True)  # selected: it answers at 253
    _power_cycle(bench, master, station, dut.baud)
    assert answers(master, dut.address), "the module does not answer at its primary address after power-up"
    data = _silent(master, encode(ShortFrame(c=REQ_UD2 | C_FCV | C_FCB, a=ADDR_SELECTED)))
    assert not data, f"after a power cycle the module still answers at 253 as if selected: [{data.hex(' ')}]"


@pytest.mark.requirement("AD-SET-PRIMARY-RESERVED")
@pytest.mark.parametrize("reserved", [251, 252, 253, 254, 255])
def test_set_primary_address_outside_1_250_is_refused(dut: Any, master: Any, reserved: int) -> None:
    master.send_raw(raw.set_primary_address(dut.address, reserved), expect="silence")  # E5 or not: not judged
    assert answers(master, dut.address), (
        f"after a set primary address to reserved {reserved} the module no longer answers at "
        f"{dut.address}: it must refuse addresses outside 0-250"
    )
    if reserved < ADDR_SELECTED:
        data = _silent(master, _nke(reserved))
        assert not data, f"the module answers at reserved address {reserved}: [{data.hex(' ')}]"


@pytest.mark.requirement("AD-SET-PRIMARY-SELECTED", "AD-SET-PRIMARY")
def test_set_primary_address_via_253_when_selected(dut: Any, master: Any) -> None:
    new = 12 if dut.address != 12 else 13
    assert master.select(dut.secondary), f"no E5 to a select of the module's own address {dut.secondary}"
    master.send_raw(raw.set_primary_address(ADDR_SELECTED, 251), expect="silence")
    assert answers(master, dut.address), (
        f"a set primary address to reserved 251 via 253 moved the module away from {dut.address}"
    )
    assert not _silent(master, _nke(251)), "the module took reserved address 251 sent via 253"
    master.set_primary_address(ADDR_SELECTED, new)
    master.deselect()
    assert answers(master, new), f"set primary address {new} sent to 253 (selected) was not executed"
    data = _silent(master, _nke(dut.address))
    assert not data, f"the module still answers at {dut.address} after moving to {new} via 253"


@pytest.mark.requirement("AD-BROADCAST-255", "AD-SET-PRIMARY")
def test_set_primary_address_by_broadcast_255_is_executed_without_reply(dut: Any, master: Any) -> None:
    new = 13 if dut.address != 13 else 14
    data = _silent(master, raw.set_primary_address(ADDR_BROADCAST_NO_REPLY, new).data)
    assert not data, f"the module answered a set primary address to 255: [{data.hex(' ')}]"
    assert answers(master, new), (
        f"set primary address {new} sent to 255 (one slave on the bus) was not executed"
    )


@pytest.mark.requirement("AD-BROADCAST-255", "LL-NKE-RESTART")
def test_snd_nke_by_broadcast_255_resets_the_link_without_reply(dut: Any, master: Any) -> None:
    a = dut.address
    master.link_reset(a)
    first = _req_ud2(master, a, True)
    data = _silent(master, _nke(ADDR_BROADCAST_NO_REPLY))
    assert not data, f"the module answered SND_NKE to 255: [{data.hex(' ')}]"
    after = _req_ud2(master, a, True)  # the same FCB: only a link reset makes this a new telegram
    assert after.data != first.data and _layout(after) == _layout(first), (
        "after SND_NKE to 255 the same FCB must give a new telegram 1 (the reset was executed), "
        "got a repeat of the last telegram"
    )


def _wrong(exact: Any, field: str) -> Any:
    if field == "manufacturer":
        return replace(exact, manufacturer="ABC" if exact.manufacturer != "ABC" else "ABD")
    if field == "version":
        return replace(exact, version=(exact.version + 1) & 0xFF)
    if field == "medium":
        return replace(exact, medium=(exact.medium + 1) & 0xFF)
    return replace(exact, id=exact.id[:7] + str((int(exact.id[7]) + 1) % 10))


#: (field given as wildcard, field given wrong): a wildcard in one field must not excuse another
WILDCARD_WITH_WRONG = [
    ("version", "medium"),
    ("medium", "version"),
    ("manufacturer", "version"),
    ("version", "manufacturer"),
    ("id_digit", "medium"),
]


@pytest.mark.requirement("AD-SELECT-WILDCARD")
@pytest.mark.parametrize(
    ("wild", "wrong"), WILDCARD_WITH_WRONG, ids=[f"{w}-{x}" for w, x in WILDCARD_WITH_WRONG]
)
def test_wildcard_does_not_hide_another_wrong_field(dut: Any, master: Any, wild: str, wrong: str) -> None:
    pattern = _wrong(dut.secondary, wrong)
    if wild == "id_digit":
        pattern = replace(pattern, id=pattern.id[:7] + "F")
    else:
        pattern = replace(pattern, **{wild: None})
    assert not master.select(pattern), (
        f"a select with {wild} wildcard but a wrong {wrong} selected the module"
    )
    data = _silent(master, encode(ShortFrame(c=REQ_UD2 | C_FCV | C_FCB, a=ADDR_SELECTED)))
    assert not data, f"the module answers at 253 after a select with a wrong {wrong} ({wild} wildcard)"


# --- state across application reset and power cycles ---------------------------------------------------


@pytest.mark.requirement("AL-APP-RESET-STATE", "AL-APP-RESET")
def test_application_reset_keeps_the_address_and_restarts_the_readout(dut: Any, master: Any) -> None:
    a = 21 if dut.address != 21 else 22
    master.set_primary_address(dut.address, a)
    master.link_reset(a)
    first = _req_ud2(master, a, True)
    master.application_reset(a)
    try:
        after = _req_ud2(master, a, True)
    except NoReply:
        pytest.fail(
            f"after an application reset the module no longer answers at its address {a}", pytrace=False
        )
    assert _layout(after) == _layout(first) and after.data != first.data, (
        "after an application reset the next REQ_UD2 must be a new telegram 1, not a repeat"
    )


@pytest.mark.requirement("BD-PERSIST-POWER-CYCLE")
@pytest.mark.needs("supply")
def test_address_and_baud_after_power_cycle_are_as_the_profile_says(
    dut: Any, bench: Any, master: Any, station: Any, profile: Any
) -> None:
    link = profile.link
    new = 23 if dut.address != 23 else 24
    other = next((b for b in dut.bauds if b != dut.baud), None)
    master.set_primary_address(dut.address, new)
    if other is not None:
        master.change_baud(new, other)
    baud = other if other is not None and link.baud_after_power_cycle == "keep" else link.default_baud
    address = new if link.address_after_power_cycle == "keep" else profile.identity.primary_address
    _power_cycle(bench, master, station, baud)
    assert answers(master, address), (
        f"after a power cycle the module does not answer at address {address}, {baud} Bd; the profile says "
        f"address {link.address_after_power_cycle}, baud {link.baud_after_power_cycle}"
    )
