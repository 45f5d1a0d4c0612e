"""Robustness (EN 13757-2 frame rejection and collisions; field conditions): noise and garbage on the bus,
back-to-back requests, another slave colliding, repeated power cycles, and secondary search among other
slaves. Nothing may crash; the module answers correctly afterwards."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fixtures.bench import expected_slave_count
from fixtures.checks import wait_std
from fixtures.dut import NOMINAL_VOLTS, answers, ping
from fixtures.mbus import record_bus_traffic, wait_started
from harness.master import CollisionError, LineError, NoReply
from harness.master.raw import with_bad_stop
from harness.mbus import encode
from harness.mbus.model import (
    ADDR_BROADCAST_REPLY,
    C_FCB,
    C_FCV,
    CI_DATA_SEND,
    REQ_UD2,
    SND_NKE,
    SND_UD,
    LongFrame,
    SecondaryAddress,
    ShortFrame,
)
from harness.mbus.timing import inter_frame_idle_s

POWER_CYCLES = 5
#: reply allowance during the secondary search: every empty probe waits it (timeout only, not a limit)
SEARCH_ALLOWANCE_S = 0.1
BACK_TO_BACK = 12


def _noise() -> list[bytes]:
    rng = random.Random(13757)  # fixed seed: the same garbage every run
    set_address = encode(LongFrame(c=SND_UD, a=0, ci=CI_DATA_SEND, data=bytes([0x01, 0x7A, 99])))
    return [
        bytes(rng.randrange(256) for _ in range(24)),  # line noise
        set_address[:7],  # a frame cut short
        b"\x68\x05\x06\x68" + set_address[4:],  # L fields that disagree
        b"\x10\x40\x00\x40",  # short frame without its stop byte
        b"\xff" * 8,  # idle line glitches
    ]


@pytest.mark.requirement("RB-NOISE")
def test_garbage_and_broken_frames_are_ignored(dut: Any, master: Any) -> None:
    """Each piece of garbage gets silence, and the very next valid request (sent once, after the line idle
    of one reply window) is answered: line idle ends any frame in progress and a broken frame is discarded
    (EN 13757-2 / IEC 60870-5-1 FT1.2), so a truncated frame never swallows the request after it."""
    nke = encode(ShortFrame(c=SND_NKE, a=dut.address))
    for junk in _noise():
        data = master.transact(junk, expect_reply=False).data
        assert not data, f"the module answered garbage [{junk.hex(' ')}] with [{data.hex(' ')}]"
        try:
            reply = master.transact(nke)
        except NoReply:
            pytest.fail(
                f"no answer to the SND_NKE sent once after the garbage [{junk.hex(' ')}] and a reply window "
                "of line idle: the module did not resynchronise (EN 13757-2 / FT1.2 frame rejection)",
                pytrace=False,
            )
        assert reply.is_ack, f"SND_NKE after [{junk.hex(' ')}] answered [{reply.data.hex(' ')}], expected E5"
    set_address = encode(LongFrame(c=SND_UD, a=dut.address, ci=CI_DATA_SEND, data=bytes([0x01, 0x7A, 98])))
    for broken in (encode(ShortFrame(c=SND_NKE, a=dut.address)), set_address):
        raw = with_bad_stop(broken)  # checksum right, stop byte 17: FT1.2 discards the frame
        data = master.send_raw(raw, expect="silence").data
        assert not data, f"the module answered [{raw.data.hex(' ')}] (stop byte 17) with [{data.hex(' ')}]"
    frames = master.read(dut.address)
    assert frames[0].header.id == dut.header.id and frames[0].a == dut.address


@pytest.mark.requirement("RB-BACK-TO-BACK")
def test_back_to_back_requests_are_each_answered(dut: Any, master: Any) -> None:
    """Each request is sent once, the minimum line idle between frames (33 bit times, IEC 60870-5-1 FT1.2 /
    EN 13757-2) after the last byte of the previous reply arrived (the path can only make the idle on the
    line longer), and must be answered: a slow half-duplex turnaround loses it."""
    master.link_reset(dut.address)
    idle_s = inter_frame_idle_s(master.baud) * master.time_scale
    last_byte_at = time.monotonic()
    for i in range(BACK_TO_BACK):
        time.sleep(max(0.0, last_byte_at + idle_s - time.monotonic()))
        nke = bool(i % 2)
        request = (
            ShortFrame(c=SND_NKE, a=dut.address)
            if nke
            else ShortFrame(c=REQ_UD2 | C_FCV | C_FCB, a=dut.address)
        )
        try:  # no end-of-reply silence: the frame is complete when its last byte is in
            reply = master.transact(encode(request), end_silence_s=0.0)
        except NoReply:
            pytest.fail(
                f"request {i} ({'SND_NKE' if nke else 'REQ_UD2'}), sent at least "
                f"{idle_s / master.time_scale * 1e3:.2f} ms (33 bit times at {master.baud} Bd) after the "
                "previous reply, got no answer: the module does not hear a request at the minimum idle "
                "between frames (EN 13757-2 / FT1.2)",
                pytrace=False,
            )
        if nke:
            assert reply.data == b"\xe5", f"request {i}: SND_NKE answered [{reply.data.hex(' ')}]"
        else:
            assert reply.ok and isinstance(reply.frame, LongFrame), f"request {i}: {reply.problem}"
        assert reply.last_byte_at is not None
        last_byte_at = reply.last_byte_at


@pytest.mark.requirement("RB-POWER-CYCLE")
@pytest.mark.time_bound(POWER_CYCLES * 0.25)
@pytest.mark.needs("supply")
def test_repeated_power_cycles_keep_the_configuration(
    dut: Any, bench: Any, master: Any, station: Any
) -> None:
    address = 42
    master.set_primary_address(dut.address, address)
    for cycle in range(POWER_CYCLES):
        bench.power_off()
        wait_std(station, 0.2, what=f"bus supply off, power cycle {cycle + 1}")
        bench.power_dut(
            NOMINAL_VOLTS, "+" if cycle % 2 == 0 else "-" if "polarity" in bench.capabilities else "+"
        )
        wait_started(station, what=f"start-up, power cycle {cycle + 1}")
        assert answers(master, address), f"power cycle {cycle + 1}: no answer at primary address {address}"


@pytest.fixture
def crowd(crowded_station: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The auxiliary bench with other slaves; its transcript is kept with the test's evidence and its
    EN 13757-2 waits (every silent probe's whole reply window) are counted as the DUT master's are."""
    master = crowded_station.master
    start, baud = len(master.transcript), master.baud
    try:
        yield crowded_station
    finally:
        record_bus_traffic(
            crowded_station,
            request.node.nodeid,
            master.transcript[start:],
            baud,
            title="transcript (line with other slaves)",
        )


@pytest.mark.requirement("AD-SEARCH")
def test_secondary_search_finds_the_module_among_other_slaves(crowd: Any, profile: Any) -> None:
    master = crowd.master
    saved = master.link.latency_allowance_s
    master.link.latency_allowance_s = min(saved, SEARCH_ALLOWANCE_S)  # most probes are silent
    try:
        found = master.search_secondary()
    finally:
        master.link.latency_allowance_s = saved
    ids = [h.id for h in found]
    on_line = expected_slave_count(crowd.rig)  # as the rig file wires the line, not as the emulator says
    assert profile.identity.id in ids, f"secondary search found {ids}, not the module {profile.identity.id}"
    assert len(ids) == on_line, (
        f"secondary search found {len(ids)} slaves {ids}, the rig's line has {on_line}"
    )


def collision_problem(action: Callable[[], object], what: str) -> str | None:
    """Run ``action`` (a request several slaves answer at once) and say why it did not show a collision.

    Only a :class:`CollisionError` from the master (the line itself garbled by several senders) counts:
    a clean answer or silence means the collision the test relies on never happened.
    """
    try:
        result = action()
    except CollisionError:
        return None
    except LineError as exc:
        return f"{what}: a garbled reply, but the master did not see a collision ({exc})"
    except Exception as exc:  # silence (NoReply) or anything else the master reports
        return f"{what}: {type(exc).__name__}: {exc}, not a collision"
    return f"{what}: a clean answer ({result!r}), not a collision"


@pytest.mark.requirement("RB-COLLISION")
def test_module_keeps_working_after_a_collision(crowd: Any, profile: Any) -> None:
    master = crowd.master
    address = profile.identity.primary_address
    with pytest.raises(LineError):  # every slave answers the broadcast at once: garbled, never silent
        master.request_ud2(ADDR_BROADCAST_REPLY, fcb=True)
    problem = collision_problem(
        lambda: master.select(SecondaryAddress(id="FFFFFFFF")),
        f"a select of every id on a line of {expected_slave_count(crowd.rig)} slaves",
    )
    assert problem is None, problem
    master.deselect()
    # the first request after the collisions is a read-out without SND_NKE: a link reset must not be needed
    try:
        frames = master.read(address, reset=False)
    except NoReply:
        pytest.fail(
            f"no answer to REQ_UD2 at primary address {address} after colliding with other slaves (no "
            "SND_NKE sent since): the module must keep working after a collision (EN 13757-2)",
            pytrace=False,
        )
    assert frames[0].header.id == profile.identity.id
    assert ping(master, address), "the module no longer answers after colliding with other slaves"
    frames = master.read(address)
    assert frames[0].header.id == profile.identity.id
