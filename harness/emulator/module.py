"""CMi1020 model: bus-powered M-Bus slave in front of an E350 (EN 13757-2 link layer, EN 13757-3 application).

One instance per module on the line. :meth:`Cmi1020.handle` takes a decoded request frame and returns the
reply bytes and delay (or None for silence); the bus does the wire, timing and collisions. Seeded faults
(:mod:`harness.emulator.faults`) each change one rule, flagged where the rule is implemented.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass

from harness.emulator.clock import ScaledClock
from harness.emulator.meter import E350Meter, MeterSnapshot
from harness.emulator.rate_inputs import DamageEvent, RateInput, RateInputBank
from harness.emulator.telegram import plain_text_varh, register_record, rsp_ud, split_status_records
from harness.emulator.wire import CharFormat, Transmission, encode_bits
from harness.mbus import encode
from harness.mbus.model import (
    ADDR_BROADCAST_NO_REPLY,
    ADDR_BROADCAST_REPLY,
    ADDR_SELECTED,
    BAUD_BY_CI,
    CI_APPLICATION_RESET,
    CI_DATA_SEND,
    CI_SELECT,
    REQ_UD1,
    REQ_UD2,
    SND_NKE,
    SND_UD,
    AckFrame,
    ControlFrame,
    DataRecord,
    Frame,
    LongFrame,
    LongHeader,
    SecondaryAddress,
    ShortFrame,
)
from harness.mbus.timing import reply_window
from harness.profile import DeviceProfile

ACK = b"\xe5"
_FCB_FCV = 0x30  # FCB and FCV bits of a master C field (EN 13757-2)
_ACD = 0x20  # access demand bit of the slave's C field: class 1 data waiting (EN 13757-2)
_DFC = 0x10  # data flow control bit of the slave's C field: no further data accepted (EN 13757-2)
_POWER_LOW = 0x04  # status byte of the long header: bit 2 power low (EN 13757-3 status field)
#: fault ``slow_turnaround``: emulated seconds the receiver stays off after the end of each reply
SLOW_TURNAROUND_S = 0.1
#: fault ``hangs_after_short_outage``: a bus outage shorter than this (emulated s) leaves the module hung
HANG_OUTAGE_S = 1.0


@dataclass(frozen=True)
class Response:
    """A reply: bytes sent with ``fmt`` starting ``delay_s`` (emulated) after the end of the request."""

    data: bytes
    delay_s: float
    fmt: CharFormat


class Cmi1020:
    """One CMi1020 module with its E350 meter."""

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        index: int,
        ident: str,
        clock: ScaledClock,
        faults: frozenset[str] = frozenset(),
        seed: int = 0,
    ) -> None:
        self.profile = profile
        self.index = index
        self.id = ident
        self.faults = faults
        self.clock = clock
        ident_p = profile.identity
        self.manufacturer = "ELS" if "wrong_manufacturer" in faults else ident_p.manufacturer
        self.version = ident_p.version
        self.medium = ident_p.medium
        self.primary_address = ident_p.primary_address
        self.baud = profile.link.default_baud
        self.selected = False
        self.powered = False
        self.access_number = random.Random(seed * 7919 + index).randrange(256)
        now = clock.now_s()
        self.meter = E350Meter(
            profile.meter,
            firmware=ident_p.firmware,
            time_s=now,
            default_tariff=profile.rate_inputs.default_tariff,
        )
        ri = profile.rate_inputs
        threshold = ri.threshold_vac
        for fault, vac in (("threshold_12vac", 12.0), ("threshold_21vac", 21.0), ("threshold_27vac", 27.0)):
            if fault in faults:
                threshold = vac
        detection = ri.detection_time_s
        slow = (
            ("rate_detect_1s", 1.0),
            ("rate_detect_4s", 4.0),
            ("rate_detect_8s", 8.0),
            ("rate_detect_10s", 10.0),
        )
        for fault, seconds in slow:
            if fault in faults:
                detection = seconds
        falling: float | None = None  # None: the same detection time for both level changes
        if "falling_edge_immediate" in faults:
            falling = 0.0
        elif "falling_edge_latched" in faults:
            falling = float("inf")
        damage_at = ri.max_vac if "rate_input_dies_at_230vac" in faults else None
        release = 12.0 if "rate_hysteresis_wide" in faults else None  # a high input goes low only below this
        self.rate_inputs = RateInputBank(
            [
                RateInput(
                    i + 1,
                    threshold_vac=float("inf") if i + 1 == 3 and "input3_dead" in faults else threshold,
                    max_vac=ri.max_vac,
                    detection_time_s=10.0 if i + 1 == 4 and "rate_detect_10s_input4" in faults else detection,
                    falling_detection_time_s=falling,
                    damage_at_vac=damage_at,
                    integrating="rate_debounce_integrates" in faults,
                    latched_edge="rate_edge_latched" in faults,
                    release_vac=release,
                )
                for i in range(ri.count)
            ]
        )
        self._last_fcb: int | None = None
        self._telegram_index = 0
        self._last_reply: bytes | None = None
        self._last_more_follow = False
        self._resume_after_nke = False  # fault nke_no_restart: a SND_NKE that did not reset the read-out
        self._powered_since_s = now
        self._ready_from_s = now  #: emulated instant the module answers from (end of its startup)
        self._last_exchange_s = float("-inf")
        self._off_since_s = float("-inf")  #: emulated instant the bus supply was last lost
        #: fault hangs_after_short_outage: powered after a short outage but never started
        self.hung = False
        #: fault mute_after_collision: silent after a collided reply until SND_NKE to its address
        self.muted = False
        self._stale: MeterSnapshot | None = None
        #: toggled on each refused rate change (sent in the header status byte, profile refusal_status_bit)
        self.refusal_toggle = 0
        self._red_flash_since_s = float("-inf")
        #: wall-clock instant until which the module is sending
        self.sending_until_wall = 0.0
        #: the burst the module keys on the line: (first bit's wall instant, wall seconds per bit, bits)
        self._keyed: tuple[float, float, list[int]] = (0.0, 1.0, [])
        self.volts = 0.0

    # --- physical layer ------------------------------------------------------------------------------------
    @property
    def fmt(self) -> CharFormat:
        """The UART format the module listens and answers with (EN 13757-2: 8E1)."""
        return CharFormat(self.baud, 8, "N" if "parity_8n1" in self.faults else "E", 1)

    @property
    def checks_parity(self) -> bool:
        return "accepts_bad_parity" not in self.faults

    @property
    def accepts_bad_checksum(self) -> bool:
        return "accepts_bad_checksum" in self.faults

    @property
    def accepts_bad_stop_byte(self) -> bool:
        return "accepts_bad_stop_byte" in self.faults

    def min_volts(self) -> float:
        if "dead_below_24v" in self.faults:
            return 24.0
        return 22.0 if "dead_below_22v" in self.faults else self.profile.supply.min_volts

    def max_volts(self) -> float:
        return 40.0 if "dead_above_40v" in self.faults else self.profile.supply.max_volts

    def supply_ok(self, volts: float) -> bool:
        """Powered when min <= |V| <= max, either polarity (product sheet 'Nominal voltage')."""
        if volts < 0 and (
            "polarity_dependent" in self.faults or not self.profile.supply.polarity_independent
        ):
            return False
        if volts < 0 and "reversed_dead_below_30v" in self.faults and abs(volts) < 30.0:
            return False
        return self.min_volts() <= abs(volts) <= self.max_volts()

    def set_bus_voltage(self, volts: float, now_s: float) -> None:
        self.volts = volts
        ok = self.supply_ok(volts)
        if self.powered and not ok:
            self._power_down(now_s)
        elif ok and not self.powered:
            self._power_up(now_s)

    def _power_down(self, now_s: float) -> None:
        self.sync(now_s)
        self.powered = False
        self._off_since_s = now_s
        self.muted = False
        if "selection_survives_power_cycle" not in self.faults:
            self.selected = False
        self._last_fcb = None
        self._last_reply = None
        # the module is bus powered, the E350 mains powered: a bus loss is no meter power failure (C.7.0)
        if "power_fail_counts_bus_loss" in self.faults:
            self.meter.power_fail_count += 1

    def set_meter_mains(self, on: bool, now_s: float) -> None:
        """The E350's own mains on or off; the meter counts each loss in C.7.0 (E350 readouts)."""
        self.sync(now_s)
        counts = not self.faults & {"power_fail_counter_stuck", "power_fail_counts_bus_loss"}
        self.meter.set_mains(on, now_s, counts=counts)

    def _power_up(self, now_s: float) -> None:
        link = self.profile.link
        self.powered = True
        self._powered_since_s = now_s
        self._ready_from_s = now_s + self.startup_s()
        self.hung = "hangs_after_short_outage" in self.faults and now_s - self._off_since_s < HANG_OUTAGE_S
        if "loses_address_after_power_cycle" in self.faults:
            self.primary_address = 0
        elif link.address_after_power_cycle == "default":
            self.primary_address = self.profile.identity.primary_address
        if link.baud_after_power_cycle == "default" or "baud_lost_after_power_cycle" in self.faults:
            self.baud = link.default_baud
        self._telegram_index = 0
        if "stale_energy" in self.faults:
            self.sync(now_s)
            self._stale = self.meter.snapshot()

    def key_line(self, tx: Transmission, origin_wall: float, time_scale: float) -> None:
        """The bus puts this module's reply ``tx`` on the line, ``tx.offset_bits`` after ``origin_wall``.

        From then on the module's current follows the bits it sends (EN 13757-2:2018 4.2.2.9: a space,
        line level 0, adds the space current to the mark current; a mark draws the mark current only).
        """
        bit_wall = time_scale / tx.fmt.baud
        self._keyed = (
            origin_wall + tx.offset_bits * bit_wall,
            bit_wall,
            encode_bits(tx.data, tx.fmt, tx.pauses),
        )

    def _key_without_sending(self) -> None:
        """Fault space_current_when_silent: after a request to another address the module's transmitter
        stage sinks the space current for 50 character times from its reply delay on, sending nothing."""
        ts = self.clock.time_scale
        bits = [0] * (50 * self.fmt.bits_per_char)
        self._keyed = (time.monotonic() + self.reply_delay_s() * ts, ts / self.baud, bits)

    def keying_space(self, wall_now: float) -> bool:
        """Whether the module sends a space (line level 0) at ``wall_now``."""
        start, bit_wall, bits = self._keyed
        k = math.floor((wall_now - start) / bit_wall)
        return 0 <= k < len(bits) and bits[k] == 0

    def mark_current_a(self, wall_now: float) -> float:
        """Mark (idle) state current: the unit loads' constant current (EN 13757-2:2018 4.2.2.2-4.2.2.4)."""
        supply = self.profile.supply
        volts = abs(self.volts)
        mark = supply.quiescent_ua * 1e-6 * (2 if "two_unit_loads" in self.faults else 1)
        if "current_rises_with_voltage" in self.faults:
            mark += 25e-6 * max(0.0, volts - 21.0)
        if "mark_current_slope" in self.faults:  # 2 % per volt below the top of the range
            mark *= 1.0 + 0.02 * (min(volts, supply.max_volts) - supply.max_volts)
        if "mark_current_polarity_offset" in self.faults and self.volts < 0:
            mark -= 150e-6
        if "mark_current_wanders" in self.faults:  # slow drift, period 4 s of emulated time
            mark += 40e-6 * math.sin(2 * math.pi * self.clock.at_wall(wall_now) / 4.0)
        return mark

    def space_current_a(self) -> float:
        """Current added while the module sends a space (EN 13757-2:2018 4.2.2.9: 11-20 mA)."""
        if "space_current_low" in self.faults:
            return 8e-3
        if "space_current_high" in self.faults:
            return 24e-3
        return self.profile.supply.space_current_ma * 1e-3

    def assume_started(self) -> None:
        """A module found already running (an emulator started with the bus powered): its startup is over."""
        self._ready_from_s = float("-inf")

    def startup_s(self) -> float:
        """Emulated seconds from bus power-up until the module answers (EN 13757-2:2018 4.2.2.11)."""
        startup = self.profile.startup
        if "slow_startup" in self.faults:
            return 1.5 * startup.max_delay_s
        return startup.typical_s

    def ready(self, now_s: float) -> bool:
        """Powered and past its startup time: until then requests go unanswered."""
        return self.powered and not self.hung and now_s >= self._ready_from_s

    def hears(self, wall_s: float) -> bool:
        """Whether the module's receiver is on at wall instant ``wall_s``: always, but with the fault
        ``slow_turnaround`` not until SLOW_TURNAROUND_S after the end of its last reply."""
        if "slow_turnaround" not in self.faults:
            return True
        return wall_s >= self.sending_until_wall + SLOW_TURNAROUND_S * self.clock.time_scale

    @property
    def resyncs_on_idle(self) -> bool:
        """Whether line idle ends a frame in progress (EN 13757-2 / FT1.2); not with the fault
        ``no_resync_after_garbage``, whose assembler counts characters up to the declared length."""
        return "no_resync_after_garbage" not in self.faults

    def reply_collided(self) -> None:
        """The bus tells the module its reply was on the line with another slave's (the read-back of its
        own transmission differs); with the fault ``mute_after_collision`` it falls silent."""
        if "mute_after_collision" in self.faults:
            self.muted = True

    def power_up_chatter(self) -> bytes:
        """What the module's transmitter puts on the bus as it powers up: nothing (fault: a stray byte)."""
        return b"\x00" if "startup_chatter" in self.faults else b""

    def current_a(self, wall_now: float) -> float:
        """Bus current drawn at ``wall_now``: the mark current, plus the space current during each space
        bit the module sends (EN 13757-2: slave-to-master signalling by current)."""
        if not self.powered:
            return 0.0
        sending = self.space_current_a() if self.keying_space(wall_now) else 0.0
        return self.mark_current_a(wall_now) + sending

    # --- meter side ----------------------------------------------------------------------------------------
    def sync(self, now_s: float) -> None:
        """Bring the meter to ``now_s``, switching tariff exactly when a rate input level becomes detected."""
        while (nxt := self.rate_inputs.next_commit(now_s)) is not None:
            t, inp = nxt
            self.meter.advance_to(t)
            inp.settle(t)
            self._change_rate(self.tariff_for(self.rate_inputs.levels()), t)
        self.meter.advance_to(now_s)

    def _change_rate(self, rate: int, t: float) -> None:
        """Ask the meter for ``rate``; one it does not support is refused: the rate stays, the module toggles
        its status bit and flashes the red LED (sibling CMi1020W manual; profile rate_inputs, ui)."""
        if rate == self.meter.active_tariff:
            return
        if rate in range(1, self.meter.tariff_count + 1) or "rate_refusal_ignored" in self.faults:
            self.meter.active_tariff = rate
            return
        if "refusal_no_status_bit" not in self.faults:
            self.refusal_toggle ^= 1
        self._red_flash_since_s = t

    def tariff_for(self, levels: list[bool]) -> int:
        if "wrong_tariff_mapping" in self.faults and len(levels) >= 2:
            levels = [levels[1], levels[0], *levels[2:]]
        return self.profile.rate_inputs.tariff_for(levels)

    def set_rate_input_vac(self, index: int, vac: float, now_s: float) -> DamageEvent | None:
        self.sync(now_s)
        event = self.rate_inputs.input(index).set_vac(vac, now_s)
        if event is not None:
            self.rate_inputs.damage_events.append(event)
        return event

    def press_button(self, now_s: float) -> None:
        """Push button toggles the E350 disconnector (product sheet 'Push button: breaker functionality')."""
        if not self.powered or "button_dead" in self.faults:
            return
        self.sync(now_s)
        self.meter.breaker_closed = not self.meter.breaker_closed
        self._last_exchange_s = now_s

    def led_on(self, now_s: float) -> bool:
        """Green LED: on while the module exchanges data with the meter (periodic poll and each read-out)."""
        if not self.powered or "led_dead" in self.faults:
            return False
        ui = self.profile.ui
        if 0 <= now_s - self._last_exchange_s < ui.meter_exchange_s:
            return True
        return (now_s - self._powered_since_s) % ui.meter_poll_interval_s < ui.meter_exchange_s

    def red_led_on(self, now_s: float) -> bool:
        """Red LED (sibling CMi1020W manual): steady while the module has no meter id (the meter, without
        mains, gives no C.1.0); flashing for ``ui.red_flash_s`` after a refused rate change."""
        if not self.powered or "red_led_dead" in self.faults:
            return False
        self.sync(now_s)
        if not self.meter.mains_on:
            return True
        ui = self.profile.ui
        since = now_s - self._red_flash_since_s
        return 0 <= since < ui.red_flash_s and since % ui.red_flash_period_s < ui.red_flash_period_s / 2

    # --- link layer (EN 13757-2) ---------------------------------------------------------------------------
    def reply_delay_s(self) -> float:
        link = self.profile.link
        if "reply_late" in self.faults:
            return 1.3 * reply_window(self.baud)[1]
        if "reply_early" in self.faults:
            return 2 / self.baud
        return link.reply_delay_s(self.baud)

    def _reply(self, data: bytes, fmt: CharFormat | None = None) -> Response:
        return Response(data, self.reply_delay_s(), fmt or self.fmt)

    def _addressed(self, a: int) -> bool:
        neighbour = "answers_neighbour_address" in self.faults and a == self.primary_address + 1
        return (
            a == self.primary_address
            or neighbour
            or (a == ADDR_SELECTED and self.selected)
            or a >= ADDR_BROADCAST_REPLY
        )

    def _may_answer(self, a: int) -> bool:
        if a == ADDR_BROADCAST_NO_REPLY:
            return "answers_broadcast_255" in self.faults
        if a == ADDR_BROADCAST_REPLY:
            return "broadcast_254_silent" not in self.faults
        return True

    def handle(self, frame: Frame, now_s: float) -> Response | None:
        """Process one request frame addressed to the line; return the reply or None (silence)."""
        if not self.ready(now_s) or isinstance(frame, AckFrame):
            return None  # unpowered, or still starting up (EN 13757-2:2018 4.2.2.11): silence
        if self.muted:
            own_nke = isinstance(frame, ShortFrame) and frame.c == SND_NKE and frame.a == self.primary_address
            if not own_nke:
                return None
            self.muted = False
        if "space_current_when_silent" in self.faults and not self._addressed(frame.a):
            self._key_without_sending()
        if frame.a == ADDR_BROADCAST_NO_REPLY and "broadcast_255_not_executed" in self.faults:
            return None
        if isinstance(frame, ShortFrame):
            return self._short(frame, now_s)
        if frame.c & ~0x20 != SND_UD:
            return None
        if isinstance(frame, ControlFrame):
            return self._control(frame.a, frame.ci)
        return self._long(frame)

    def _short(self, frame: ShortFrame, now_s: float) -> Response | None:
        a, c = frame.a, frame.c
        if c == SND_NKE:
            if a == ADDR_SELECTED:
                if not self.selected:
                    return None
                if not self.faults & {"deselect_broken", "nke_253_no_deselect"}:
                    self.selected = False
            elif not self._addressed(a):
                return None
            self._last_fcb = None
            if "nke_no_restart" in self.faults:
                self._resume_after_nke = True
            else:
                self._telegram_index = 0
            if "snd_nke_no_ack" in self.faults or not self._may_answer(a):
                return None
            return self._reply(ACK)
        base = c & ~_FCB_FCV
        if base == REQ_UD2 & ~_FCB_FCV:
            unselected_answer = a == ADDR_SELECTED and "answers_unselected" in self.faults
            if not (self._addressed(a) or unselected_answer) or not self._may_answer(a):
                return None
            return self._reply(self._req_ud2(c, now_s, a))
        if base == REQ_UD1 & ~_FCB_FCV:
            if not self._addressed(a) or not self._may_answer(a):
                return None
            return self._reply(ACK)  # no alarm pending: E5 (EN 13757-2 REQ_UD1)
        return None

    def _control(self, a: int, ci: int) -> Response | None:
        if not self._addressed(a):
            return None
        if ci in BAUD_BY_CI:
            return self._baud_switch(a, BAUD_BY_CI[ci])
        if ci == CI_APPLICATION_RESET:
            self._application_reset()
            return self._reply(ACK) if self._may_answer(a) else None
        return None

    def _application_reset(self) -> None:
        """EN 13757-3 CI 50: the read-out restarts; the link configuration (address, baud) is kept."""
        self._telegram_index = 0
        self._last_fcb = None
        if "app_reset_clears_address" in self.faults:
            self.primary_address = 0

    def _baud_switch(self, a: int, new_baud: int) -> Response | None:
        """EN 13757-3 CI B8-BF: E5 at the old rate, then switch; unsupported rates get no answer."""
        supported = list(self.profile.link.bauds)
        if "no_300_baud" in self.faults and 300 in supported:
            supported.remove(300)
        if "accepts_9600_baud" in self.faults:
            supported.append(9600)
        if new_baud not in supported:
            return None
        old_fmt, delay_s = self.fmt, self.reply_delay_s()
        self.baud = new_baud
        if "baud_switch_no_e5" in self.faults or not self._may_answer(a):
            return None
        return Response(ACK, delay_s, old_fmt)

    def _long(self, frame: LongFrame) -> Response | None:
        a, ci = frame.a, frame.ci
        if ci == CI_SELECT:
            if a != ADDR_SELECTED or frame.select is None:
                return None
            if self.matches(frame.select):
                self.selected = True
                return self._reply(ACK)
            if not self.faults & {"deselect_broken", "mismatch_keeps_selection"}:
                self.selected = False
            return None
        if not self._addressed(a):
            return None
        if ci in BAUD_BY_CI:
            return self._baud_switch(a, BAUD_BY_CI[ci])
        if ci == CI_DATA_SEND:
            data = frame.data
            # set primary address: DIF 01, VIF 7A, new address (EN 13757-3)
            if len(data) == 3 and data[0] == 0x01 and data[1] & 0x7F == 0x7A:
                if data[2] > 250 and "accepts_reserved_address" not in self.faults:
                    return None
                ignored = a == ADDR_SELECTED and "set_address_via_253_ignored" in self.faults
                if "ignores_set_address" not in self.faults and not ignored:
                    self.primary_address = data[2]
            return self._reply(ACK) if self._may_answer(a) else None
        if ci == CI_APPLICATION_RESET:
            self._application_reset()
            return self._reply(ACK) if self._may_answer(a) else None
        return None

    def matches(self, sel: SecondaryAddress) -> bool:
        """Secondary address match with wildcards: F id nibbles, FFFF manufacturer, FF version/medium."""
        wild_ok = "wildcard_broken" not in self.faults
        for want, have in zip(sel.id.upper(), self.id, strict=False):
            if want == "F" and wild_ok:
                continue
            if want != have:
                return False
        if len(sel.id) != len(self.id):
            return False
        broken = self.faults
        if sel.manufacturer is None and "manufacturer_wildcard_broken" in broken:
            return False
        if sel.manufacturer is not None and sel.manufacturer != self.manufacturer:
            return False
        if sel.version is None and "version_wildcard_broken" in broken:
            return False
        if sel.version is not None and sel.version != self.version:
            return False
        if sel.version is None and "version_wildcard_skips_medium" in broken:
            return True
        if sel.medium is None and "medium_wildcard_broken" in broken:
            return False
        return sel.medium is None or sel.medium == self.medium

    def _req_ud2(self, c: int, now_s: float, a: int) -> bytes:
        """RSP_UD for REQ_UD2; FCB toggle = next telegram, same FCB = repeat (EN 13757-2 FCB/FCV)."""
        fcv = bool(c & 0x10)
        fcb = 1 if c & 0x20 else 0
        count = self.profile.telegram_count
        resume, self._resume_after_nke = self._resume_after_nke and self._last_more_follow, False
        repeat = fcv and self._last_fcb is not None and fcb == self._last_fcb and self._last_reply is not None
        if "fcb_ignored" in self.faults:
            index = (self._telegram_index + 1) % count if self._last_reply is not None else 0
        elif repeat and "repeat_new_access_number" in self.faults:
            index = self._telegram_index  # rebuilt below, with the next access number
        elif repeat:
            assert self._last_reply is not None
            return self._last_reply
        elif (fcv and self._last_fcb is not None and self._last_more_follow) or resume:
            index = (self._telegram_index + 1) % count  # wraps only with fault last_telegram_more_follow
        else:
            index = 0
        self._last_fcb = fcb if fcv else None
        self._telegram_index = index
        if "access_number_frozen" not in self.faults:
            step = 2 if "access_number_skips" in self.faults else 1
            self.access_number = (self.access_number + step) & 0xFF
        records = self.telegram(index, now_s)
        more = index < count - 1 or "last_telegram_more_follow" in self.faults
        own = a if "rsp_a_echoes_request" in self.faults and a >= ADDR_SELECTED else self.primary_address
        frame = rsp_ud(address=own, header=self.header(), records=records, more_follow=more)
        if "acd_set_without_alarm" in self.faults:
            frame = dataclasses.replace(frame, c=frame.c | _ACD)
        if "dfc_set" in self.faults:
            frame = dataclasses.replace(frame, c=frame.c | _DFC)
        data = bytearray(encode(frame))
        if "bad_checksum" in self.faults:
            data[-2] = (data[-2] + 1) & 0xFF
        self._last_reply = bytes(data)
        self._last_more_follow = more
        return self._last_reply

    def header(self) -> LongHeader:
        return LongHeader(
            id=self.id,
            manufacturer=self.manufacturer,
            version=self.version,
            medium=self.medium,
            access_number=self.access_number,
            status=self.header_status(),
            signature=0,
        )

    def header_status(self) -> int:
        """EN 13757-3 status byte: the refused-rate-change toggle in the profile's manufacturer bit."""
        bit = self.profile.rate_inputs.refusal_status_bit
        status = self.refusal_toggle << bit if bit is not None else 0
        return status | _POWER_LOW if "status_power_low" in self.faults else status

    def snapshot(self, now_s: float) -> MeterSnapshot:
        """What the module reads from the meter now (an exchange: the LED lights)."""
        self.sync(now_s)
        self._last_exchange_s = now_s
        snap = self.meter.snapshot()
        if self._stale is not None:
            snap = dataclasses.replace(
                snap,
                energy_import_wh=self._stale.energy_import_wh,
                energy_export_wh=self._stale.energy_export_wh,
                reactive_import_varh=self._stale.reactive_import_varh,
                reactive_export_varh=self._stale.reactive_export_varh,
            )
        return snap

    def telegram(self, index: int, now_s: float) -> list[DataRecord]:
        """Records of telegram ``index`` for the meter as read now."""
        snap = self.snapshot(now_s)
        out: list[DataRecord] = []
        for reg in self.profile.registers:
            if reg.telegram != index:
                continue
            if "missing_register" in self.faults and reg.obis == "1.8.2":
                continue
            if "status_word_split" in self.faults and reg.fields:
                out += split_status_records(reg, snap)
                continue
            value = snap.value(reg)
            if "reactive_wrong_vif" in self.faults and reg.source in ("reactive_import", "reactive_export"):
                reg = plain_text_varh(reg)
            if "misscaled_register" in self.faults and reg.obis == "1.8.0":
                value = value * 10
            if "rate_sum_exceeds_total" in self.faults and reg.obis == "1.8.3":
                value = value * 2
            if "total_not_sum" in self.faults and reg.obis == "1.8.0":
                value = float(value) - snap.energy_import_wh[-1]
            if "total_counts_export" in self.faults and reg.obis == "1.8.0":
                value = float(value) + sum(snap.energy_export_wh)
            out.append(register_record(reg, value))
        return out
