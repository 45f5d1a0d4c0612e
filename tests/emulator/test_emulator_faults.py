"""Every seeded fault changes behaviour as documented: its probe holds on a clean emulator and fails with it.

A probe is a conformance check over raw bytes on the RFC 2217 endpoint (plus the bench physics for supply,
rate inputs, button and LED). Running it on both emulators shows the probe can fail and the fault is real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from harness.emulator import Emulator
from harness.emulator.faults import FAULTS, UnknownFaultError, validate_faults
from harness.emulator.oracle import Oracle
from harness.emulator.rate_inputs import RateInput
from harness.mbus import encode
from harness.mbus.model import CI_APPLICATION_RESET, REQ_UD1, SND_UD, ControlFrame, ShortFrame
from harness.mbus.timing import char_time_s, inter_frame_idle_s, reply_window
from harness.monitor import frame_gaps_s

from .helpers import (
    ACK,
    RawLink,
    baud_switch,
    power_cycle,
    read_all,
    read_register,
    req_ud2,
    rsp,
    select,
    set_address,
    snd_nke,
    wait_startup,
)

#: a claim of silence waits this many reply windows: longer is stricter both ways (a late answer still counts)
SILENCE_WINDOW = 3.0


def set_all_loads(emu: Emulator, watts: float) -> None:
    for phase in (1, 2, 3):
        emu.physics.set_load_w(phase, watts)


# --- probes: each asserts one conforming behaviour -------------------------------------------------------


def p_rsp_ud_checksum(emu: Emulator, link: RawLink) -> None:
    rsp(link.exchange(req_ud2(0)))


def p_snd_nke_ack(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(0)) == ACK


def p_reply_not_late(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(0), window_factor=2.0) == ACK
    assert link.last_latency_s is not None and link.last_latency_s <= reply_window(2400)[1] + 0.02


def p_reply_not_early(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(0)) == ACK
    assert link.last_latency_s is not None and link.last_latency_s >= reply_window(2400)[0]


def p_unselected_silent(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(req_ud2(253), window_factor=SILENCE_WINDOW) == b""


def p_wildcard_select(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(select(emu.profile.identity.id[:3] + "FFFFF")) == ACK


def p_fcb_repeat(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(0)) == ACK
    first = link.exchange(req_ud2(0, fcb=0))
    assert link.exchange(req_ud2(0, fcb=0)) == first, "same FCB must repeat the last telegram"


def p_manufacturer(emu: Emulator, link: RawLink) -> None:
    header = rsp(link.exchange(req_ud2(0))).header
    assert header is not None and header.manufacturer == Oracle(emu.profile).expected_header().manufacturer


def p_records_match_oracle(emu: Emulator, link: RawLink) -> None:
    set_all_loads(emu, 0.0)  # still meter: prediction and read-out see the same registers
    got = [list(f.records) for f in read_all(link)]
    assert got == Oracle(emu.profile).expected_records(emu.meter_snapshot())


def p_input1_selects_tariff(emu: Emulator, link: RawLink) -> None:
    emu.physics.set_rate_input_vac(1, 230.0)
    emu.physics.advance_s(6.5)
    expected = Oracle(emu.profile).expected_tariff([230.0, 0.0, 0.0, 0.0])
    assert read_register(emu, link, "active_tariff") == expected
    assert emu.physics.damage_events() == []


def p_detection_time(emu: Emulator, link: RawLink) -> None:
    default = Oracle(emu.profile).expected_tariff([False] * 4)
    emu.physics.set_rate_input_vac(1, 230.0)
    emu.physics.advance_s(3.5)
    assert read_register(emu, link, "active_tariff") == default, "detected before the 5 s minimum"
    emu.physics.advance_s(3.0)
    assert read_register(emu, link, "active_tariff") != default, "not detected after 5 s held"


def p_threshold(emu: Emulator, link: RawLink) -> None:
    emu.physics.set_rate_input_vac(1, 18.0)
    emu.physics.advance_s(6.5)
    assert read_register(emu, link, "active_tariff") == Oracle(emu.profile).expected_tariff([False] * 4)


def p_unit_load(emu: Emulator, link: RawLink) -> None:
    assert emu.physics.bus_current_a() <= Oracle(emu.profile).max_quiescent_current_a()


def p_answers_at_22v(emu: Emulator, link: RawLink) -> None:
    emu.physics.set_bus_voltage(22.0)
    assert link.exchange(snd_nke(0)) == ACK


def p_answers_reversed(emu: Emulator, link: RawLink) -> None:
    emu.physics.set_bus_voltage(-36.0)
    assert link.exchange(snd_nke(0)) == ACK


def p_baud_300(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(baud_switch(0, 0xB8)) == ACK, "no E5 at the old rate"
    link.set_format(baud=300)
    assert link.exchange(snd_nke(0)) == ACK, "no answer at 300 Bd"


def p_address_kept(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(set_address(0, 5)) == ACK
    power_cycle(emu)
    assert link.exchange(snd_nke(5)) == ACK


def p_led_lights(emu: Emulator, link: RawLink) -> None:
    seen = False
    for _ in range(170):  # 17 s of emulated time: more than one meter poll interval
        seen = seen or emu.physics.led_on()
        emu.physics.advance_s(0.1)
    assert seen


def p_button_toggles_breaker(emu: Emulator, link: RawLink) -> None:
    before = read_register(emu, link, "breaker")
    emu.physics.press_button()
    assert read_register(emu, link, "breaker") != before


def p_power_fail_counts(emu: Emulator, link: RawLink) -> None:
    """C.7.0 counts the meter's mains losses, not the module's bus supply losses (E350 readouts)."""
    before = read_register(emu, link, "power_fail_count")
    power_cycle(emu)
    assert read_register(emu, link, "power_fail_count") == before, "a bus supply loss was counted"
    emu.physics.set_meter_mains(False)
    emu.physics.set_meter_mains(True)
    assert read_register(emu, link, "power_fail_count") == before + 1  # type: ignore[operator]


def p_unsupported_rate_refused(emu: Emulator, link: RawLink) -> None:
    """Inputs 1+2 select rate 6, which the 5-rate meter lacks: refused, header bit 5 toggled, red LED
    flashing (shipped profile; sibling CMi1020W manual)."""
    emu.physics.set_rate_input_vac(1, 30.0)
    emu.physics.advance_s(5.5)
    before = read_register(emu, link, "active_tariff")
    status = rsp(link.exchange(req_ud2(0))).header.status
    assert not emu.physics.red_led_on()
    emu.physics.set_rate_input_vac(2, 30.0)
    emu.physics.advance_s(5.5)
    assert read_register(emu, link, "active_tariff") == before
    assert (rsp(link.exchange(req_ud2(0))).header.status ^ status) & 0x20
    lit = set()
    for _ in range(20):
        lit.add(emu.physics.red_led_on())
        emu.physics.advance_s(0.1)
    assert lit == {True, False}, "the red LED does not flash after a refused rate change"


def p_red_led_steady_without_meter(emu: Emulator, link: RawLink) -> None:
    assert not emu.physics.red_led_on()
    emu.physics.set_meter_mains(False)
    assert all(emu.physics.red_led_on() for _ in range(5))
    emu.physics.set_meter_mains(True)
    assert not emu.physics.red_led_on()


def p_energy_refreshes(emu: Emulator, link: RawLink) -> None:
    before = read_register(emu, link, "energy_import_total")
    emu.physics.advance_s(3600)
    assert read_register(emu, link, "energy_import_total") > before  # type: ignore[operator]


def p_bad_parity_ignored(emu: Emulator, link: RawLink) -> None:
    link.set_format(parity="O")
    assert link.exchange(snd_nke(0), window_factor=SILENCE_WINDOW) == b""


def p_bad_checksum_ignored(emu: Emulator, link: RawLink) -> None:
    frame = bytearray(snd_nke(0))
    frame[3] ^= 0x01
    assert link.exchange(bytes(frame), window_factor=SILENCE_WINDOW) == b""


def p_broadcast_254(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(254)) == ACK


def p_broadcast_255_silent(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(255), window_factor=SILENCE_WINDOW) == b""


def p_set_address(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(set_address(0, 9)) == ACK
    assert link.exchange(snd_nke(9)) == ACK


def p_deselect(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(select(emu.profile.identity.id)) == ACK
    assert link.exchange(select("00000000"), window_factor=SILENCE_WINDOW) == b""
    assert link.exchange(req_ud2(253), window_factor=SILENCE_WINDOW) == b"", (
        "still selected after a non-matching select"
    )


# --- link and application layer details (domain.md section 8) -------------------------------------------


def p_nke_restarts_readout(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(0)) == ACK
    first = rsp(link.exchange(req_ud2(0, fcb=0)))
    assert first.more_records_follow
    assert link.exchange(snd_nke(0)) == ACK  # in the middle of the read-out
    again = rsp(link.exchange(req_ud2(0, fcb=1)))
    assert [r.vif for r in again.records] == [r.vif for r in first.records], "SND_NKE must restart at 1"


def _access_number(data: bytes) -> int:
    header = rsp(data).header
    assert header is not None
    return int(header.access_number)  # type: ignore[union-attr]


def p_access_number_steps_by_one(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(0)) == ACK
    first = _access_number(link.exchange(req_ud2(0, fcb=0)))
    second = _access_number(link.exchange(req_ud2(0, fcb=1)))
    assert second == (first + 1) & 0xFF


def p_acd_clear_without_alarm(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(encode(ShortFrame(c=REQ_UD1, a=0))) == ACK
    assert rsp(link.exchange(req_ud2(0))).c & 0x20 == 0, "ACD set although REQ_UD1 finds no class 1 data"


def p_dfc_clear_while_snd_ud_accepted(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(set_address(0, 0)) == ACK
    assert rsp(link.exchange(req_ud2(0))).c & 0x10 == 0, "DFC set although SND_UD is accepted"


def p_a_field_is_own_address(emu: Emulator, link: RawLink) -> None:
    assert rsp(link.exchange(req_ud2(254))).a == 0


def p_deselected_after_power_cycle(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(select(emu.profile.identity.id)) == ACK
    power_cycle(emu)
    assert link.exchange(req_ud2(253), window_factor=SILENCE_WINDOW) == b""


def p_nke_253_deselects(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(select(emu.profile.identity.id)) == ACK
    link.exchange(snd_nke(253))
    assert link.exchange(req_ud2(253), window_factor=SILENCE_WINDOW) == b""


def p_reserved_address_refused(emu: Emulator, link: RawLink) -> None:
    link.exchange(set_address(0, 251))
    assert link.exchange(snd_nke(0)) == ACK, "the module left address 0 for reserved address 251"


def p_set_address_via_253(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(select(emu.profile.identity.id)) == ACK
    assert link.exchange(set_address(253, 7)) == ACK
    assert link.exchange(snd_nke(7)) == ACK


def p_broadcast_255_executed(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(set_address(255, 8), window_factor=SILENCE_WINDOW) == b""
    assert link.exchange(snd_nke(8)) == ACK


def p_silent_at_neighbour_address(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(1), window_factor=SILENCE_WINDOW) == b""


def _ident(emu: Emulator) -> tuple[str, str, int, int]:
    i = emu.profile.identity
    return i.id, i.manufacturer, i.version, i.medium


def p_manufacturer_wildcard(emu: Emulator, link: RawLink) -> None:
    ident, _, version, medium = _ident(emu)
    assert link.exchange(select(ident, None, version, medium)) == ACK


def p_version_wildcard(emu: Emulator, link: RawLink) -> None:
    ident, man, _, medium = _ident(emu)
    assert link.exchange(select(ident, man, None, medium)) == ACK


def p_medium_wildcard(emu: Emulator, link: RawLink) -> None:
    ident, man, version, _ = _ident(emu)
    assert link.exchange(select(ident, man, version, None)) == ACK


def p_version_wildcard_keeps_medium(emu: Emulator, link: RawLink) -> None:
    ident, man, _, medium = _ident(emu)
    assert link.exchange(select(ident, man, None, (medium + 1) & 0xFF), window_factor=SILENCE_WINDOW) == b""


def p_app_reset_keeps_address(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(set_address(0, 6)) == ACK
    assert link.exchange(encode(ControlFrame(c=SND_UD, a=6, ci=CI_APPLICATION_RESET))) == ACK
    assert link.exchange(snd_nke(6)) == ACK


def p_baud_kept_after_power_cycle(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(baud_switch(0, 0xB8)) == ACK
    link.set_format(baud=300)
    power_cycle(emu)
    assert link.exchange(snd_nke(0)) == ACK, "no answer at 300 Bd after a power cycle (profile: keep)"


def _answers_at(volts: float) -> Callable[[Emulator, RawLink], None]:
    def probe(emu: Emulator, link: RawLink) -> None:
        emu.physics.set_bus_voltage(volts)
        assert link.exchange(snd_nke(0)) == ACK, f"no answer at {volts} V"

    return probe


def p_unit_load_at_42v(emu: Emulator, link: RawLink) -> None:
    emu.physics.set_bus_voltage(42.0)
    assert emu.physics.bus_current_a() <= Oracle(emu.profile).max_quiescent_current_a()


def _mark_currents_a(emu: Emulator, volts: tuple[float, ...]) -> list[float]:
    currents = []
    for v in volts:
        emu.physics.set_bus_voltage(v)
        currents.append(emu.physics.bus_current_a())
    return currents


def p_mark_current_flat(emu: Emulator, link: RawLink) -> None:
    currents = _mark_currents_a(emu, (21.0, 30.0, 36.0, 42.0))
    assert max(currents) - min(currents) <= emu.profile.supply.mark_current.max_variation_ua * 1e-6


def p_mark_current_same_reversed(emu: Emulator, link: RawLink) -> None:
    normal, reversed_ = _mark_currents_a(emu, (36.0, -36.0))
    assert abs(normal - reversed_) <= emu.profile.supply.mark_current.max_variation_ua * 1e-6


def p_mark_current_steady(emu: Emulator, link: RawLink) -> None:
    readings = []
    for _ in range(20):  # 2 s of emulated time
        readings.append(emu.physics.bus_current_a())
        time.sleep(0.1 * emu.time_scale)
    assert max(readings) - min(readings) <= emu.profile.supply.mark_current.max_short_term_variation_ua * 1e-6


def p_space_current_in_range(emu: Emulator, link: RawLink) -> None:
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(emu.physics.bus_current_a())
            time.sleep(0.0001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        rsp(link.exchange(req_ud2(0)))
    finally:
        done.set()
        sampler.join()
    supply = emu.profile.supply
    step_a = max(samples) - min(samples)
    assert supply.space_current_min_ma * 1e-3 <= step_a <= supply.space_current_max_ma * 1e-3, step_a


def p_mark_current_while_others_are_asked(emu: Emulator, link: RawLink) -> None:
    mark = emu.physics.bus_current_a()
    link.port.write(req_ud2(1))  # nobody at address 1: the module stays silent
    end = time.monotonic() + 1.5 * reply_window(2400)[1] * emu.time_scale + 0.05
    highest = mark
    while time.monotonic() < end:
        highest = max(highest, emu.physics.bus_current_a())
        time.sleep(0.0002)
    assert highest - mark <= emu.profile.supply.mark_current.max_short_term_variation_ua * 1e-6


def _tariff_after(
    index: int, vac: float, held_s: float, *, detected: bool
) -> Callable[[Emulator, RawLink], None]:
    def probe(emu: Emulator, link: RawLink) -> None:
        default = Oracle(emu.profile).expected_tariff([False] * 4)
        emu.physics.set_rate_input_vac(index, vac)
        emu.physics.advance_s(held_s)
        tariff = read_register(emu, link, "active_tariff")
        assert (tariff != default) == detected, f"input {index} at {vac} VAC for {held_s} s: tariff {tariff}"

    return probe


def _detected_between_4_6_and_5_6_s(index: int) -> Callable[[Emulator, RawLink], None]:
    def probe(emu: Emulator, link: RawLink) -> None:
        default = Oracle(emu.profile).expected_tariff([False] * 4)
        emu.physics.set_rate_input_vac(index, 230.0)
        emu.physics.advance_s(4.6)
        assert read_register(emu, link, "active_tariff") == default, "detected before 5 s"
        emu.physics.advance_s(1.0)
        assert read_register(emu, link, "active_tariff") != default, "not detected after 5 s"

    return probe


def p_falling_edge_takes_detection_time(emu: Emulator, link: RawLink) -> None:
    default = Oracle(emu.profile).expected_tariff([False] * 4)
    emu.physics.set_rate_input_vac(1, 230.0)
    emu.physics.advance_s(5.5)
    assert read_register(emu, link, "active_tariff") != default
    emu.physics.set_rate_input_vac(1, 0.0)
    emu.physics.advance_s(4.0)
    assert read_register(emu, link, "active_tariff") != default, "low level taken before 5 s"
    emu.physics.advance_s(1.5)
    assert read_register(emu, link, "active_tariff") == default, "low level not taken after 5 s"


def p_pulse_train_ignored(emu: Emulator, link: RawLink) -> None:
    # two 3 s pulses 1 s apart: 6 s of high time, none held 5 s. An integrating debounce takes the level
    # at 6 s, a latched edge at 5 s; both hold it until 5 s after the train: the read comes at 7 s, and
    # real time slipping in between (a loaded machine) only moves it later inside that 5 s window
    default = Oracle(emu.profile).expected_tariff([False] * 4)
    for level_vac, held_s in ((230.0, 3.0), (0.0, 1.0), (230.0, 3.0)):
        emu.physics.set_rate_input_vac(1, level_vac)
        emu.physics.advance_s(held_s)
    emu.physics.set_rate_input_vac(1, 0.0)
    assert read_register(emu, link, "active_tariff") == default, "pulses shorter than 5 s were taken"
    emu.physics.advance_s(6.0)
    assert read_register(emu, link, "active_tariff") == default, "input still taken high 6 s after the train"


def p_lowered_below_threshold_taken_low(emu: Emulator, link: RawLink) -> None:
    # a clearly high level lowered to just below the threshold, the input connected throughout: both levels
    # are held well past the detection time, so real time slipping in (a loaded machine) only reads later
    default = Oracle(emu.profile).expected_tariff([False] * 4)
    emu.physics.set_rate_input_vac(1, 28.0)
    emu.physics.advance_s(6.5)
    assert read_register(emu, link, "active_tariff") != default, "28 VAC held 6.5 s was not taken high"
    emu.physics.set_rate_input_vac(1, 23.0)
    emu.physics.advance_s(6.5)
    assert read_register(emu, link, "active_tariff") == default, "lowered from 28 to 23 VAC: still high"


def p_no_pause_inside_a_telegram(emu: Emulator, link: RawLink) -> None:
    # three replies: a reader held up across the seeded pause stamps the bytes on both sides of it together
    # and hides it (a loaded CI machine does that now and then); the fault is in every reply, a clean
    # reply has none, so each of three must be free of it
    assert link.exchange(snd_nke(0)) == ACK
    for fcb in (1, 0, 1):
        link.port.write(req_ud2(0, fcb=fcb))
        got, stamps, deadline = bytearray(), [], time.monotonic() + 2.0
        while time.monotonic() < deadline and (not stamps or time.monotonic() - stamps[-1] < 0.2):
            b = link.port.read(1)
            if b:
                got += b
                stamps.append(time.monotonic())
        rsp(bytes(got))
        # arrival envelope (a later byte proves an earlier one's delay was delivery); 7 character times of
        # idle line is far beyond any tolerance and below the seeded 10, above loopback jitter
        gaps = frame_gaps_s(tuple(round(t * 1e9) for t in stamps), baud=2400)
        worst = max(range(len(gaps)), key=gaps.__getitem__)
        idle = f"{gaps[worst] * 1e3:.1f} ms idle after character {worst + 1}"
        assert gaps[worst] < 7 * char_time_s(2400), idle


def p_startup_within_limit(emu: Emulator, link: RawLink) -> None:
    emu.physics.set_bus_voltage(0.0)
    emu.physics.set_bus_voltage(36.0)
    limit_wall = time.monotonic() + emu.profile.startup.max_delay_s * emu.time_scale
    while time.monotonic() < limit_wall:
        if link.exchange(snd_nke(0)) == ACK:
            return
    raise AssertionError(f"no answer within {emu.profile.startup.max_delay_s} s of power-up")


def p_quiet_at_power_up(emu: Emulator, link: RawLink) -> None:
    emu.physics.set_bus_voltage(0.0)
    link.port.read(link.port.in_waiting)
    emu.physics.set_bus_voltage(36.0)
    time.sleep(emu.profile.startup.max_delay_s * emu.time_scale / 10)
    stray = link.port.read(16)
    assert stray == b"", f"bytes on the line at power-up: [{stray.hex(' ')}]"


# --- robustness: resynchronisation, turnaround, collisions, short outages (EN 13757-2 / FT1.2) ----------


def p_request_after_truncated_frame(emu: Emulator, link: RawLink) -> None:
    cut = set_address(0, 99)[:7]  # a long frame broken off after 7 of its 12 bytes
    assert link.exchange(cut, window_factor=SILENCE_WINDOW) == b""
    assert link.exchange(snd_nke(0), window_factor=SILENCE_WINDOW) == ACK, "the request after it was lost"


def p_request_at_minimum_idle_after_a_reply(emu: Emulator, link: RawLink) -> None:
    # real time (the seeded turnaround is 100 ms, loopback delivery a few ms even on a loaded machine) and
    # three tries, so a probe held up once still sends inside it; the clean module answers each
    idle_s = inter_frame_idle_s(link.baud) * emu.time_scale  # FT1.2: 33 bit times of idle between frames
    for _ in range(3):
        link.port.read(link.port.in_waiting)
        link.port.write(snd_nke(0))
        got, deadline = b"", time.monotonic() + 1.0
        while not got and time.monotonic() < deadline:
            got = link.port.read(1)
        assert got == ACK
        time.sleep(idle_s)
        assert link.exchange(snd_nke(0)) == ACK, "a request 33 bit times after a reply was lost"


def p_answers_after_a_collision(emu: Emulator, link: RawLink) -> None:
    garbled = link.exchange(req_ud2(254))  # the module and the extra slave answer at once
    assert garbled, "nobody answered the broadcast"
    rsp(link.exchange(req_ud2(0, fcb=1)))


def p_restarts_after_a_short_outage(emu: Emulator, link: RawLink) -> None:
    emu.physics.set_bus_voltage(0.0)
    time.sleep(0.2 * emu.time_scale)
    emu.physics.set_bus_voltage(36.0)
    wait_startup(emu)
    assert link.exchange(snd_nke(0)) == ACK, "no answer after a 0.2 s bus outage"


def p_status_clear_without_error(emu: Emulator, link: RawLink) -> None:
    header = rsp(link.exchange(req_ud2(0))).header
    assert header is not None and header.status & 0x1F == 0, f"status {header.status:#04x}"  # type: ignore[union-attr]


def p_bad_stop_byte_ignored(emu: Emulator, link: RawLink) -> None:
    frame = bytearray(snd_nke(0))
    frame[-1] = 0x17
    assert link.exchange(bytes(frame), window_factor=SILENCE_WINDOW) == b""


def p_baud_9600_refused(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(baud_switch(0, 0xBD), window_factor=SILENCE_WINDOW) == b""
    assert link.exchange(snd_nke(0)) == ACK, "no answer at 2400 Bd after a refused switch to 9600 Bd"


def p_last_telegram_ends_readout(emu: Emulator, link: RawLink) -> None:
    assert link.exchange(snd_nke(0)) == ACK
    count = emu.profile.telegram_count
    frames = [rsp(link.exchange(req_ud2(0, fcb=i % 2))) for i in range(count)]
    assert [f.more_records_follow for f in frames] == [True] * (count - 1) + [False]


@dataclass(frozen=True)
class Probe:
    check: Callable[[Emulator, RawLink], None]
    options: dict[str, object] = field(default_factory=dict)


REAL_TIME = {"time_scale": 1.0}  # timing probes need the real window to rise above loopback jitter

PROBES: dict[str, Probe] = {
    "bad_checksum": Probe(p_rsp_ud_checksum),
    "parity_8n1": Probe(p_snd_nke_ack),
    "reply_late": Probe(p_reply_not_late, REAL_TIME),
    "reply_early": Probe(p_reply_not_early, REAL_TIME),
    "answers_unselected": Probe(p_unselected_silent),
    "wildcard_broken": Probe(p_wildcard_select),
    "fcb_ignored": Probe(p_fcb_repeat),
    "wrong_manufacturer": Probe(p_manufacturer),
    "missing_register": Probe(p_records_match_oracle),
    "misscaled_register": Probe(p_records_match_oracle),
    "status_word_split": Probe(p_records_match_oracle),
    "reactive_wrong_vif": Probe(p_records_match_oracle),
    "rate_refusal_ignored": Probe(p_unsupported_rate_refused),
    "refusal_no_status_bit": Probe(p_unsupported_rate_refused),
    "red_led_dead": Probe(p_red_led_steady_without_meter),
    "wrong_tariff_mapping": Probe(p_input1_selects_tariff),
    "rate_detect_1s": Probe(p_detection_time, REAL_TIME),
    "rate_detect_10s": Probe(p_detection_time, REAL_TIME),
    "threshold_12vac": Probe(p_threshold),
    "two_unit_loads": Probe(p_unit_load),
    "dead_below_24v": Probe(p_answers_at_22v),
    "polarity_dependent": Probe(p_answers_reversed),
    "no_300_baud": Probe(p_baud_300),
    "baud_switch_no_e5": Probe(p_baud_300),
    "loses_address_after_power_cycle": Probe(p_address_kept),
    "led_dead": Probe(p_led_lights),
    "button_dead": Probe(p_button_toggles_breaker),
    "power_fail_counter_stuck": Probe(p_power_fail_counts),
    "power_fail_counts_bus_loss": Probe(p_power_fail_counts),
    "stale_energy": Probe(p_energy_refreshes),
    "snd_nke_no_ack": Probe(p_snd_nke_ack),
    "accepts_bad_parity": Probe(p_bad_parity_ignored),
    "accepts_bad_checksum": Probe(p_bad_checksum_ignored),
    "broadcast_254_silent": Probe(p_broadcast_254),
    "answers_broadcast_255": Probe(p_broadcast_255_silent),
    "ignores_set_address": Probe(p_set_address),
    "deselect_broken": Probe(p_deselect),
    "rate_input_dies_at_230vac": Probe(p_input1_selects_tariff),
    "repeat_new_access_number": Probe(p_fcb_repeat),
    "nke_no_restart": Probe(p_nke_restarts_readout),
    "access_number_frozen": Probe(p_access_number_steps_by_one),
    "access_number_skips": Probe(p_access_number_steps_by_one),
    "acd_set_without_alarm": Probe(p_acd_clear_without_alarm),
    "dfc_set": Probe(p_dfc_clear_while_snd_ud_accepted),
    "rate_sum_exceeds_total": Probe(p_records_match_oracle),
    "total_not_sum": Probe(p_records_match_oracle),
    "total_counts_export": Probe(p_records_match_oracle),
    "rsp_a_echoes_request": Probe(p_a_field_is_own_address),
    "selection_survives_power_cycle": Probe(p_deselected_after_power_cycle),
    "nke_253_no_deselect": Probe(p_nke_253_deselects),
    "mismatch_keeps_selection": Probe(p_deselect),
    "accepts_reserved_address": Probe(p_reserved_address_refused),
    "set_address_via_253_ignored": Probe(p_set_address_via_253),
    "broadcast_255_not_executed": Probe(p_broadcast_255_executed),
    "answers_neighbour_address": Probe(p_silent_at_neighbour_address),
    "manufacturer_wildcard_broken": Probe(p_manufacturer_wildcard),
    "version_wildcard_broken": Probe(p_version_wildcard),
    "medium_wildcard_broken": Probe(p_medium_wildcard),
    "version_wildcard_skips_medium": Probe(p_version_wildcard_keeps_medium),
    "app_reset_clears_address": Probe(p_app_reset_keeps_address),
    "baud_lost_after_power_cycle": Probe(p_baud_kept_after_power_cycle),
    "dead_above_40v": Probe(_answers_at(42.0)),
    "dead_below_22v": Probe(_answers_at(21.0)),
    "reversed_dead_below_30v": Probe(_answers_at(-21.0)),
    "current_rises_with_voltage": Probe(p_unit_load_at_42v),
    "threshold_21vac": Probe(_tariff_after(1, 23.0, 6.5, detected=False)),
    "threshold_27vac": Probe(_tariff_after(1, 25.0, 6.5, detected=True)),
    "rate_detect_4s": Probe(_detected_between_4_6_and_5_6_s(1), REAL_TIME),
    "rate_detect_8s": Probe(_detected_between_4_6_and_5_6_s(1), REAL_TIME),
    "rate_detect_10s_input4": Probe(_detected_between_4_6_and_5_6_s(4), REAL_TIME),
    "input3_dead": Probe(_tariff_after(3, 230.0, 6.5, detected=True)),
    "falling_edge_immediate": Probe(p_falling_edge_takes_detection_time, REAL_TIME),
    "falling_edge_latched": Probe(p_falling_edge_takes_detection_time, REAL_TIME),
    "rate_debounce_integrates": Probe(p_pulse_train_ignored, REAL_TIME),
    "rate_edge_latched": Probe(p_pulse_train_ignored, REAL_TIME),
    "rate_hysteresis_wide": Probe(p_lowered_below_threshold_taken_low),
    "mark_current_slope": Probe(p_mark_current_flat),
    "mark_current_wanders": Probe(p_mark_current_steady),
    "mark_current_polarity_offset": Probe(p_mark_current_same_reversed),
    "space_current_low": Probe(p_space_current_in_range),
    "space_current_high": Probe(p_space_current_in_range),
    "space_current_when_silent": Probe(p_mark_current_while_others_are_asked),
    "reply_pause": Probe(p_no_pause_inside_a_telegram, REAL_TIME),
    "slow_startup": Probe(p_startup_within_limit, {"time_scale": 0.02}),
    "startup_chatter": Probe(p_quiet_at_power_up),
    "no_resync_after_garbage": Probe(p_request_after_truncated_frame),
    "slow_turnaround": Probe(p_request_at_minimum_idle_after_a_reply, REAL_TIME),
    "mute_after_collision": Probe(p_answers_after_a_collision, {"extra_slaves": 1}),
    "hangs_after_short_outage": Probe(p_restarts_after_a_short_outage),
    "status_power_low": Probe(p_status_clear_without_error),
    "accepts_bad_stop_byte": Probe(p_bad_stop_byte_ignored),
    "accepts_9600_baud": Probe(p_baud_9600_refused),
    "last_telegram_more_follow": Probe(p_last_telegram_ends_readout),
}


def test_catalogue_has_a_probe_per_fault_and_at_least_60_faults() -> None:
    assert set(PROBES) == set(FAULTS)
    assert len(FAULTS) >= 60
    for info in FAULTS.values():
        assert info.description and info.area and info.source


def test_unknown_fault_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownFaultError) as err:
        validate_faults(["bad_checksum", "no_such_fault"])
    assert "no_such_fault" in str(err.value) and "wildcard_broken" in str(err.value)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_probe_holds_on_clean_emulator(
    fault: str, make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    probe = PROBES[fault]
    emu = make_emulator(**probe.options)
    probe.check(emu, make_link(emu))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_breaks_its_probe(
    fault: str, make_emulator: Callable[..., Emulator], make_link: Callable[..., RawLink]
) -> None:
    probe = PROBES[fault]
    emu = make_emulator(faults=[fault], **probe.options)
    with pytest.raises(AssertionError):
        probe.check(emu, make_link(emu))


# --- the rate-input debounce and comparator faults, on the input model alone (emulated s, no clock) -------


def _input(
    *, integrating: bool = False, latched_edge: bool = False, release_vac: float | None = None
) -> RateInput:
    return RateInput(
        1,
        threshold_vac=24.0,
        max_vac=230.0,
        detection_time_s=5.0,
        integrating=integrating,
        latched_edge=latched_edge,
        release_vac=release_vac,
    )


def _levels_at(inp: RateInput, steps: list[tuple[float, float]], probes: list[float]) -> list[bool]:
    """Apply ``(at_s, vac)`` steps and report the detected level at each instant of ``probes``."""
    events = sorted([(t, 0, v) for t, v in steps] + [(t, 1, 0.0) for t in probes])
    seen = []
    for t, kind, vac in events:
        if kind == 0:
            inp.set_vac(vac, t)
        else:
            while inp.settle(t):
                pass
            seen.append(inp.detected)
    return seen


def test_integrating_debounce_adds_pulses_until_the_input_stays_low_for_a_detection_time() -> None:
    train = [(0.0, 230.0), (3.0, 0.0), (4.0, 230.0), (7.0, 0.0)]
    assert _levels_at(_input(), train, [5.9, 6.1, 11.9, 12.1]) == [False] * 4
    assert _levels_at(_input(integrating=True), train, [5.9, 6.1, 11.9, 12.1]) == [False, True, True, False]
    # a low held for the detection time clears the counter: a later 3 s pulse alone is ignored
    apart = [(0.0, 230.0), (3.0, 0.0), (8.0, 230.0), (11.0, 0.0)]
    assert _levels_at(_input(integrating=True), apart, [10.5, 12.0, 20.0]) == [False] * 3


def test_latched_edge_takes_a_short_pulse_high_from_5_s_after_it_began_to_5_s_after_it_ended() -> None:
    pulse = [(0.0, 230.0), (3.0, 0.0)]
    assert _levels_at(_input(), pulse, [4.9, 5.1, 7.9, 8.1]) == [False] * 4
    assert _levels_at(_input(latched_edge=True), pulse, [4.9, 5.1, 7.9, 8.1]) == [False, True, True, False]
    # a level held past the detection time is taken at the same instant as by a conforming input
    held = [(0.0, 230.0), (9.0, 0.0)]
    assert _levels_at(_input(latched_edge=True), held, [4.9, 5.1, 13.9, 14.1]) == [False, True, True, False]


def test_wide_hysteresis_keeps_a_sagging_input_high_until_it_falls_below_the_release_level() -> None:
    sag = [(0.0, 28.0), (6.0, 23.0)]
    assert _levels_at(_input(), sag, [5.9, 6.1, 10.9, 11.1]) == [True, True, True, False]
    assert _levels_at(_input(release_vac=12.0), sag, [5.9, 11.1, 30.0]) == [True, True, True]
    # below the release level it is taken low a detection time later; coming from low, 23 VAC stays low
    drop = [(0.0, 28.0), (6.0, 11.0)]
    assert _levels_at(_input(release_vac=12.0), drop, [10.9, 11.1]) == [True, False]
    assert _levels_at(_input(release_vac=12.0), [(0.0, 23.0)], [5.1, 20.0]) == [False, False]
