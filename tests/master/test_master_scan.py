"""Primary scan (SND_NKE to each address, EN 13757-2) and the emulated line noise it must survive: every
slave found when one reply in ten is erased or corrupted, and the proof that one look per address is not
enough on such a line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.emulator import Emulator
from harness.master import Master
from harness.master.scan import scan_libmbus, scan_primary

MakeEmu = Callable[..., Emulator]
MakeMaster = Callable[..., Master]

SCALE = 0.05
ALLOWANCE_S = 0.02
#: the extra slaves come configured at primary addresses 1..n, the DUT at 0
SLAVES = 6
ADDRESSES = range(0, 16)


def _bus(make_emulator: MakeEmu, make_master: MakeMaster, loss: float, mode: str, seed: int) -> Master:
    emu = make_emulator(time_scale=SCALE, extra_slaves=SLAVES - 1)
    if loss:
        emu.bus.set_line_noise(loss, mode=mode, seed=seed)  # type: ignore[arg-type]
    return make_master(emu, time_scale=SCALE, latency_allowance_s=ALLOWANCE_S)


def test_noise_erases_or_corrupts_the_chosen_share_of_replies(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    emu = make_emulator(time_scale=SCALE)
    m = make_master(emu, time_scale=SCALE, latency_allowance_s=ALLOWANCE_S)
    noise = emu.bus.set_line_noise(1.0, mode="drop")
    assert scan_primary(m, [0], confirm_silent=False).addresses == []
    assert noise is not None and noise.dropped == 1
    noise = emu.bus.set_line_noise(1.0, mode="garble")
    result = scan_primary(m, [0], confirm_silent=False)
    assert result.collisions == [0] and result.repeats == 2  # every repeat garbled too
    assert any(e.summary.startswith("garbled") for e in m.transcript)
    with pytest.raises(ValueError, match="fraction 0..1"):
        emu.bus.set_line_noise(1.5)


def test_a_clean_line_is_scanned_in_one_pass_per_address(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    m = _bus(make_emulator, make_master, 0.0, "mixed", 0)
    result = scan_primary(m, ADDRESSES)
    assert result.addresses == list(range(SLAVES)) and result.collisions == []
    assert result.probes == len(ADDRESSES) + (len(ADDRESSES) - SLAVES)  # one look, a second at silent ones
    assert result.silent == 2 * (len(ADDRESSES) - SLAVES) and result.repeats == 0


def test_with_one_reply_in_ten_lost_no_slave_is_missed(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    # seed 4 erases the first answer of slave 4: one look per address (libmbus's default) misses it,
    # the second look at silent addresses finds it
    single = scan_primary(_bus(make_emulator, make_master, 0.1, "drop", 4), ADDRESSES, confirm_silent=False)
    assert single.addresses == [0, 1, 2, 3, 5], "the seed no longer erases slave 4's first answer"
    full = scan_primary(_bus(make_emulator, make_master, 0.1, "drop", 4), ADDRESSES)
    assert full.addresses == list(range(SLAVES)), f"missed {sorted(set(range(SLAVES)) - set(full.addresses))}"
    assert full.confirmed == len(ADDRESSES) - SLAVES + 1


def test_libmbus_baseline_sends_one_ping_per_address(make_emulator: MakeEmu, make_master: MakeMaster) -> None:
    m = _bus(make_emulator, make_master, 0.0, "mixed", 0)
    lib = scan_libmbus(m, ADDRESSES)
    ours = scan_primary(m, ADDRESSES, confirm_silent=False)
    assert lib.addresses == ours.addresses == list(range(SLAVES))
    assert lib.probes == ours.probes == len(ADDRESSES)


def test_a_corrupted_answer_is_asked_again_not_taken_for_two_slaves(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    m = _bus(make_emulator, make_master, 0.3, "garble", 2)
    result = scan_primary(m, ADDRESSES)
    assert result.addresses == list(range(SLAVES)) and result.collisions == []
    assert result.repeats >= 1


def test_addresses_outside_the_primary_range_are_refused(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    m = _bus(make_emulator, make_master, 0.0, "mixed", 0)
    with pytest.raises(ValueError, match=r"0\.\.250"):
        scan_primary(m, [0, 251])
