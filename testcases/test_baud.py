"""Baud rate (product sheet: M-Bus slave 300 and 2400 bit/s; EN 13757-3 CI B8..BF): both rates work,
switching both ways with E5 at the old rate, unsupported rates refused and the rate kept."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.dut import ping, set_local_baud
from harness.mbus import encode
from harness.mbus.model import BAUD_BY_CI, SND_UD, ControlFrame

CI_BY_BAUD = {baud: ci for ci, baud in BAUD_BY_CI.items()}
SUPPORTED = [300, 2400]  #: product sheet
UNSUPPORTED = [b for b in sorted(CI_BY_BAUD) if b not in SUPPORTED]


def _baud_frame(address: int, baud: int) -> bytes:
    return encode(ControlFrame(c=SND_UD, a=address, ci=CI_BY_BAUD[baud]))


@pytest.mark.requirement("BD-RATES")
@pytest.mark.parametrize("baud", SUPPORTED)
def test_reads_out_at_each_supported_rate(dut: Any, master: Any, baud: int) -> None:
    if baud != dut.baud:
        master.change_baud(dut.address, baud)
    frames = master.read(dut.address)
    assert frames and frames[0].header.id == dut.header.id


@pytest.mark.requirement("BD-SWITCH")
def test_switches_both_ways_with_e5_at_the_old_rate(dut: Any, master: Any) -> None:
    other = next(b for b in dut.bauds if b != dut.baud)
    for old, new in ((dut.baud, other), (other, dut.baud)):
        assert master.baud == old
        reply = master.transact(_baud_frame(dut.address, new))
        assert reply.data == b"\xe5", (
            f"baud change {old} -> {new} Bd: expected E5 at the old rate, got [{reply.data.hex(' ')}]"
        )
        set_local_baud(master, new)
        assert ping(master, dut.address), f"no answer at {new} Bd after the module acknowledged the switch"
        frames = master.read(dut.address)
        assert frames[0].header.id == dut.header.id


@pytest.mark.requirement("BD-UNSUPPORTED")
@pytest.mark.parametrize("baud", UNSUPPORTED)
def test_unsupported_rate_is_refused_and_rate_kept(dut: Any, master: Any, baud: int) -> None:
    reply = master.transact(_baud_frame(dut.address, baud), expect_reply=False)
    assert not reply.data, (
        f"the module acknowledged a switch to unsupported {baud} Bd: [{reply.data.hex(' ')}]"
    )
    assert ping(master, dut.address), (
        f"after a refused switch to {baud} Bd the module no longer answers at {dut.baud} Bd"
    )
