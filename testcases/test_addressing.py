"""Addressing (product sheet: primary and secondary; EN 13757-2 addresses, EN 13757-3 selection):
set/read primary addresses, 0/254/255 semantics, secondary select exact and with every wildcard kind,
deselect, and search among other slaves."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from harness.mbus import encode
from harness.mbus.model import (
    ADDR_BROADCAST_NO_REPLY,
    ADDR_BROADCAST_REPLY,
    ADDR_SELECTED,
    C_FCB,
    C_FCV,
    REQ_UD2,
    SND_NKE,
    LongFrame,
    LongHeader,
    SecondaryAddress,
    ShortFrame,
)

#: primary addresses exercised by default: both ends, powers of two and a few in between
PRIMARY_SAMPLE = [1, 2, 5, 64, 127, 128, 200, 249, 250]


def _silent(master: Any, c: int, a: int) -> bytes:
    """Send a short frame and return what came back within the full reply window (should be nothing)."""
    return master.transact(encode(ShortFrame(c=c, a=a)), expect_reply=False).data


def _req_ud2(a: int) -> bytes:
    return encode(ShortFrame(c=REQ_UD2 | C_FCV | C_FCB, a=a))


@pytest.mark.requirement("AD-SET-PRIMARY", "AD-PRIMARY", "LL-SND-UD")
@pytest.mark.parametrize("new_address", PRIMARY_SAMPLE)
def test_set_primary_address_then_read_there(dut: Any, master: Any, new_address: int) -> None:
    master.set_primary_address(dut.address, new_address)
    frames = master.read(new_address)
    assert frames[0].a == new_address, f"RSP_UD from address {frames[0].a}, expected {new_address}"
    assert frames[0].header.id == dut.header.id
    stale = _silent(master, SND_NKE, dut.address)
    assert not stale, (
        f"the module still answers at its old address {dut.address} after moving to {new_address}"
    )


@pytest.mark.requirement("AD-PRIMARY")
def test_silent_at_other_primary_addresses(dut: Any, master: Any) -> None:
    master.set_primary_address(dut.address, 100)
    for other in (99, 101, 0, 250):
        data = _silent(master, SND_NKE, other)
        assert not data, f"module at address 100 answered SND_NKE to address {other}: [{data.hex(' ')}]"


@pytest.mark.requirement("AD-ADDR-0")
def test_unconfigured_address_0_answers(dut: Any, master: Any) -> None:
    master.set_primary_address(dut.address, 9)
    master.set_primary_address(9, 0)
    frames = master.read(0)
    assert frames[0].header.id == dut.header.id


@pytest.mark.requirement("AD-BROADCAST-254")
def test_broadcast_with_reply_254_is_answered(dut: Any, master: Any) -> None:
    master.link_reset(ADDR_BROADCAST_REPLY)
    frame = master.request_ud2(ADDR_BROADCAST_REPLY, fcb=True)
    assert frame.header.id == dut.header.id


@pytest.mark.requirement("AD-BROADCAST-255")
@pytest.mark.parametrize("c", [SND_NKE, REQ_UD2 | C_FCV | C_FCB], ids=["SND_NKE", "REQ_UD2"])
def test_broadcast_without_reply_255_is_never_answered(dut: Any, master: Any, c: int) -> None:
    data = _silent(master, c, ADDR_BROADCAST_NO_REPLY)
    assert not data, f"the module answered a request to address 255: [{data.hex(' ')}]"


@pytest.mark.requirement("AD-SELECT")
def test_select_by_exact_secondary_address(dut: Any, master: Any) -> None:
    assert master.select(dut.secondary), f"no E5 to a select of the module's own address {dut.secondary}"
    frame = master.request_ud2(ADDR_SELECTED, fcb=True)
    assert isinstance(frame, LongFrame) and isinstance(frame.header, LongHeader)
    assert frame.header.id == dut.header.id


def _wildcards(exact: SecondaryAddress) -> dict[str, SecondaryAddress]:
    ident = exact.id
    return {
        "id_all_f": replace(exact, id="FFFFFFFF"),
        "id_first_digit": replace(exact, id="F" + ident[1:]),
        "id_last_digit": replace(exact, id=ident[:7] + "F"),
        "id_low_half": replace(exact, id=ident[:4] + "FFFF"),
        "manufacturer": replace(exact, manufacturer=None),
        "version": replace(exact, version=None),
        "medium": replace(exact, medium=None),
        "all": SecondaryAddress(id="FFFFFFFF"),
    }


@pytest.mark.requirement("AD-SELECT-WILDCARD")
@pytest.mark.parametrize("kind", list(_wildcards(SecondaryAddress(id="12345678")).keys()))
def test_select_with_wildcard(dut: Any, master: Any, kind: str) -> None:
    pattern = _wildcards(dut.secondary)[kind]
    assert master.select(pattern), f"no E5 to select pattern {pattern} ({kind} wildcard)"
    frame = master.request_ud2(ADDR_SELECTED, fcb=True)
    assert frame.header.id == dut.header.id


def _other_id(ident: str) -> str:
    return ident[:7] + str((int(ident[7]) + 1) % 10)


@pytest.mark.requirement("AD-SELECT-WILDCARD")
@pytest.mark.parametrize("field", ["id", "manufacturer", "version", "medium"])
def test_non_matching_select_is_not_acknowledged(dut: Any, master: Any, field: str) -> None:
    exact = dut.secondary
    wrong = {
        "id": replace(exact, id=_other_id(exact.id)),
        "manufacturer": replace(exact, manufacturer="ABC" if exact.manufacturer != "ABC" else "ABD"),
        "version": replace(exact, version=((exact.version or 0) + 1) & 0xFF),
        "medium": replace(exact, medium=((exact.medium or 0) + 1) & 0xFF),
    }[field]
    assert not master.select(wrong), f"the module acknowledged a select with a different {field}: {wrong}"
    data = _silent(master, REQ_UD2 | C_FCV | C_FCB, ADDR_SELECTED)
    assert not data, f"the module answers at 253 after a select with a different {field}"


@pytest.mark.requirement("AD-DESELECT")
def test_unselected_module_is_silent_at_253(dut: Any, master: Any) -> None:
    data = _silent(master, REQ_UD2 | C_FCV | C_FCB, ADDR_SELECTED)
    assert not data, f"a module that was never selected answered REQ_UD2 to 253: [{data.hex(' ')}]"


@pytest.mark.requirement("AD-DESELECT")
@pytest.mark.parametrize("how", ["snd_nke_253", "non_matching_select"])
def test_deselect(dut: Any, master: Any, how: str) -> None:
    assert master.select(dut.secondary)
    if how == "snd_nke_253":
        master.deselect()
    else:
        assert not master.select(replace(dut.secondary, id=_other_id(dut.secondary.id)))
    data = _silent(master, REQ_UD2 | C_FCV | C_FCB, ADDR_SELECTED)
    assert not data, f"the module still answers at 253 after deselection by {how}: [{data.hex(' ')}]"
