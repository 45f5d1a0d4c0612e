"""The emulated module's startup after bus power-up (EN 13757-2:2018 4.2.2.11) and the timing faults
``slow_startup``, ``startup_chatter`` and ``reply_pause``, observed as a master on the RFC 2217 endpoint
observes them: bytes and their arrival times."""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.emulator import Emulator
from harness.mbus.timing import char_time_s
from harness.monitor import frame_gaps_s
from harness.profile import load_profile

from .helpers import ACK, RawLink, req_ud2, snd_nke

PROFILE = load_profile()
ADDRESS = PROFILE.identity.primary_address


def _power_up(emu: Emulator) -> float:
    """Switch the bus on; the wall instant it happened."""
    emu.physics.set_bus_voltage(36.0)
    return time.monotonic()


def test_the_module_ignores_requests_until_its_startup_time_has_passed(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    emu = make_emulator(powered=False, time_scale=1.0)  # 50 ms: longer than the request's way to the module
    link = make_link(emu)
    t_on = _power_up(emu)
    assert link.exchange(snd_nke(ADDRESS)) == b"", "answered inside its startup time"
    ready_wall = t_on + PROFILE.startup.typical_s * emu.time_scale
    time.sleep(max(0.0, ready_wall - time.monotonic()))
    assert link.exchange(snd_nke(ADDRESS)) == ACK


def test_an_emulator_started_powered_answers_at_once(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    emu = make_emulator(time_scale=1.0)  # 50 ms of startup would be longer than the first exchange
    assert make_link(emu).exchange(snd_nke(ADDRESS)) == ACK


def test_slow_startup_answers_only_after_the_profile_limit(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    emu = make_emulator(powered=False, faults=["slow_startup"], time_scale=0.02)
    link = make_link(emu)
    t_on = _power_up(emu)
    limit_wall = t_on + PROFILE.startup.max_delay_s * emu.time_scale
    while time.monotonic() < limit_wall:
        assert link.exchange(snd_nke(ADDRESS)) == b"", "slow_startup answered within the limit"
    deadline = t_on + 2 * PROFILE.startup.max_delay_s * emu.time_scale
    while time.monotonic() < deadline:
        if link.exchange(snd_nke(ADDRESS)) == ACK:
            return
    raise AssertionError("slow_startup never answered")


def test_startup_chatter_puts_one_stray_byte_on_the_line(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    clean = make_emulator(powered=False)
    faulty = make_emulator(powered=False, faults=["startup_chatter"])
    for emu, expected in ((clean, b""), (faulty, b"\x00")):
        link = make_link(emu)
        _power_up(emu)
        time.sleep(0.05)  # 0.5 s emulated: well past the stray byte
        assert link.port.read(16) == expected


def _arrivals(link: RawLink, request: bytes, timeout_s: float = 2.0) -> list[tuple[int, float]]:
    """Every byte of the reply with its arrival time (read byte by byte)."""
    link.port.read(link.port.in_waiting)
    link.port.write(request)
    out: list[tuple[int, float]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        b = link.port.read(1)
        if b:
            out.append((b[0], time.monotonic()))
            deadline = time.monotonic() + 0.1
    return out


def test_reply_pause_leaves_ten_character_times_after_character_10(
    make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    pause = char_time_s(2400) * 10
    for faults, paused in (([], False), (["reply_pause"], True)):
        emu = make_emulator(faults=faults, time_scale=1.0)
        link = make_link(emu)
        assert link.exchange(snd_nke(ADDRESS)) == ACK  # a one-character reply has nothing to pause in
        got = _arrivals(link, req_ud2(ADDRESS, fcb=True))
        assert len(got) > 20 and got[0][0] == 0x68
        # the judge's own reading of arrival times: what a later byte proves was delivery delay comes off
        gap = frame_gaps_s(tuple(round(t * 1e9) for _, t in got), baud=2400)[10]
        if paused:
            assert abs(gap - pause) < 0.5 * pause, f"gap after character 10: {gap * 1e3:.1f} ms"
        else:
            assert gap < 0.5 * pause, f"clean emulator: {gap * 1e3:.1f} ms idle after character 10"
