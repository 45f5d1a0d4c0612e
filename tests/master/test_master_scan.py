"""Primary scan (SND_NKE to each address, EN 13757-2) and the emulated line noise it must survive: every
slave found when one reply in ten is erased or corrupted, and the proof that one look per address is not
enough on such a line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.emulator import Emulator
from harness.master import Master
from harness.master import scan as scan_module
from harness.master.scan import GARBLE_REPEATS, HINT_LOOKS, scan_libmbus, scan_primary
from harness.master.search import SearchResult
from harness.mbus import LongHeader

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
    result = scan_primary(m, ADDRESSES, confirm="silent")
    assert result.addresses == list(range(SLAVES)) and result.collisions == []
    assert result.probes == len(ADDRESSES) + (len(ADDRESSES) - SLAVES)  # one look, a second at silent ones
    assert result.silent == 2 * (len(ADDRESSES) - SLAVES) and result.repeats == 0
    # the default second look is one pass of the secondary search: it places every slave at an address
    # the scan found or did not cover (3..5 here), so no address is probed twice
    result = scan_primary(m, range(0, 3))
    assert result.addresses == [0, 1, 2] and result.confirm == "secondary" and result.fallback == ""
    assert result.probes == 3 and result.confirmed == 0
    assert result.search is not None and len(result.search) == SLAVES
    assert sorted(result.search.reply_addresses.values()) == list(range(SLAVES))


def test_with_one_reply_in_ten_lost_no_slave_is_missed(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    # seed 4 erases the first answer of slave 4: one look per address (libmbus's default) misses it,
    # the second look finds it
    single = scan_primary(_bus(make_emulator, make_master, 0.1, "drop", 4), ADDRESSES, confirm_silent=False)
    assert single.addresses == [0, 1, 2, 3, 5], "the seed no longer erases slave 4's first answer"
    full = scan_primary(_bus(make_emulator, make_master, 0.1, "drop", 4), ADDRESSES, confirm="silent")
    assert full.addresses == list(range(SLAVES)), f"missed {sorted(set(range(SLAVES)) - set(full.addresses))}"
    assert full.confirmed == len(ADDRESSES) - SLAVES + 1
    # by secondary search: the slave's RSP_UD names address 4, the only address looked at again
    fast = scan_primary(_bus(make_emulator, make_master, 0.1, "drop", 4), ADDRESSES)
    assert fast.addresses == list(range(SLAVES)), f"missed {sorted(set(range(SLAVES)) - set(fast.addresses))}"
    assert fast.confirm == "secondary" and fast.confirmed == 1 and fast.unconfirmed == []
    assert fast.probes <= len(ADDRESSES) + 2


def _searched(monkeypatch: pytest.MonkeyPatch, slaves: list[tuple[str, int]], duplicates: list[str]) -> None:
    """Make the confirming search report ``slaves`` (id, A field of its RSP_UD) and ``duplicates``."""

    def fake(_m: Master, **_kw: object) -> SearchResult:
        result = SearchResult()
        for ident, a in slaves:
            result.append(LongHeader(id=ident, manufacturer="ELV", version=1, medium=2))
            result.reply_addresses[ident] = a
        result.duplicates = duplicates
        return result

    monkeypatch.setattr(scan_module, "search_secondary", fake)


def test_slaves_the_search_cannot_place_fall_back_to_a_second_look_everywhere(
    make_emulator: MakeEmu, make_master: MakeMaster, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = make_master(make_emulator(time_scale=SCALE), time_scale=SCALE, latency_allowance_s=ALLOWANCE_S)
    cases: list[tuple[list[tuple[str, int]], list[str], str]] = [
        ([], ["11112222"], "cannot place: 11112222"),  # two slaves share an id: no header to read
        ([("71234567", 0), ("22223333", 253)], [], "A field 253"),  # no primary address in its reply
    ]
    for slaves, duplicates, reason in cases:
        _searched(monkeypatch, slaves, duplicates)
        result = scan_primary(m, range(0, 4))
        assert result.addresses == [0] and result.confirm == "silent" and reason in result.fallback
        assert result.confirmed == 3  # every silent address looked at again


def test_an_address_the_search_names_is_looked_at_and_reported_when_silent(
    make_emulator: MakeEmu, make_master: MakeMaster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the search says a slave answers with A field 2, the scan found nothing there: two more looks at
    # address 2 (and only there); still silent, so it is reported, not invented
    m = make_master(make_emulator(time_scale=SCALE), time_scale=SCALE, latency_allowance_s=ALLOWANCE_S)
    _searched(monkeypatch, [("71234567", 0), ("22223333", 2)], [])
    result = scan_primary(m, range(0, 4))
    assert result.addresses == [0] and result.confirm == "secondary" and result.fallback == ""
    assert result.unconfirmed == [2] and result.confirmed == 1 and result.probes == 4 + HINT_LOOKS


def test_two_slaves_on_one_primary_address_are_a_collision(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    m = _bus(make_emulator, make_master, 0.0, "mixed", 0)
    m.set_primary_address(2, 1)  # slave 2 now answers at address 1 as well as slave 1
    result = scan_primary(m, range(0, SLAVES), confirm="none")
    assert result.collisions == [1] and result.addresses == [0, 1, 3, 4, 5]
    assert result.repeats == GARBLE_REPEATS  # a real collision stays garbled on every repeat
    with pytest.raises(ValueError, match="confirm must be one of"):
        scan_primary(m, ADDRESSES, confirm="twice")  # type: ignore[arg-type]


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
    result = scan_primary(m, ADDRESSES, confirm="silent")
    assert result.addresses == list(range(SLAVES)) and result.collisions == []
    assert result.repeats >= 1


def test_addresses_outside_the_primary_range_are_refused(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    m = _bus(make_emulator, make_master, 0.0, "mixed", 0)
    with pytest.raises(ValueError, match=r"0\.\.250"):
        scan_primary(m, [0, 251])


def test_a_slave_the_search_lost_is_read_and_only_its_mask_looked_at_again(
    make_emulator: MakeEmu, make_master: MakeMaster
) -> None:
    # seed 13 erases an answer the confirming search needed: the scan found a slave the search did not
    # place; that slave is read by its primary address and its id names the one silent mask to look at
    m = _bus(make_emulator, make_master, 0.1, "drop", 13)
    result = scan_primary(m, ADDRESSES)
    assert result.addresses == list(range(SLAVES)) and result.fallback == ""
    assert result.reads >= 1, "the seed no longer makes the search lose a slave the scan found"
    search = result.search
    assert search is not None and len(search) == SLAVES  # every slave placed after the second look
    assert 1 <= search.confirmed < search.silent - search.confirmed  # only the masks the ids fall in


@pytest.mark.parametrize("confirm", ["none", "silent"])
def test_scan_command_takes_the_confirm_mode(
    make_emulator: MakeEmu, confirm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cmi-hil scan --confirm` reaches the scan: one look per address, or a second at each silent one."""
    import json

    from harness.cli import main

    emu = make_emulator(time_scale=SCALE, extra_slaves=1)
    argv = ["scan", "--port", emu.endpoints["mbus"], "--to", "3", "--time-scale", str(SCALE)]
    assert main([*argv, "--latency-allowance-ms", "20", "--confirm", confirm, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["addresses"] == [0, 1] and out["confirm"] == confirm
    assert out["probes"] == 4 + (2 if confirm == "silent" else 0)
