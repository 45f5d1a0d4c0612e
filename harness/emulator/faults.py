"""Catalogue of seeded faults: each one a single, documented deviation a real module could have.

The conformance suite must detect every one (architecture.md 'Sharpness is measured'). A fault applies to
the DUT only (the first module on the line), never to extra slaves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultInfo:
    """What a fault changes (``description``) and which requirement area it breaks (``area``, ``source``)."""

    name: str
    description: str
    area: str
    source: str


def _f(name: str, description: str, area: str, source: str) -> tuple[str, FaultInfo]:
    return name, FaultInfo(name, description, area, source)


FAULTS: dict[str, FaultInfo] = dict(
    [
        _f(
            "bad_checksum",
            "RSP_UD telegrams carry a checksum one higher than the byte sum",
            "link layer",
            "EN 13757-2 FT1.2 checksum",
        ),
        _f(
            "parity_8n1",
            "the slave UART runs 8N1 instead of 8E1 in both directions",
            "physical layer",
            "EN 13757-2 character format 8E1",
        ),
        _f(
            "reply_late",
            "replies start 1.3 x (330 bit times + 50 ms) after the request, beyond the window",
            "timing",
            "EN 13757-2 reply window",
        ),
        _f(
            "reply_early",
            "replies start 2 bit times after the request, before the 11 bit time minimum",
            "timing",
            "EN 13757-2 reply window",
        ),
        _f(
            "reply_pause",
            "each reply longer than 11 characters pauses 10 character times (110 idle bits) after "
            "character 10",
            "timing",
            "EN 13757-2 / FT1.2: no pause inside a frame",
        ),
        _f(
            "slow_startup",
            "after bus power-up the module answers only after 1.5 x the profile's startup delay limit",
            "physical layer",
            "EN 13757-2:2018 4.2.2.11 startup delay",
        ),
        _f(
            "startup_chatter",
            "the module's transmitter puts a stray 00 byte on the bus 10 ms after bus power-up",
            "physical layer",
            "EN 13757-2:2018 4.2.2.11 startup delay (no bus disturbance before the first answer)",
        ),
        _f(
            "answers_unselected",
            "answers REQ_UD2 to address 253 even when not selected",
            "addressing",
            "EN 13757-3 secondary addressing",
        ),
        _f(
            "wildcard_broken",
            "secondary select treats an F nibble in the id as a literal digit, so id wildcards never match",
            "addressing",
            "EN 13757-3 secondary addressing wildcards",
        ),
        _f(
            "fcb_ignored",
            "every REQ_UD2 advances to the next telegram; a repeat with the same FCB does not return the "
            "last telegram again",
            "link layer",
            "EN 13757-2 FCB/FCV",
        ),
        _f(
            "wrong_manufacturer",
            "the long header (and select) uses manufacturer ELS instead of ELV",
            "application data",
            "EN 13757-3 long header; profile identity",
        ),
        _f(
            "missing_register",
            "the tariff 2 import energy register (OBIS 1.8.2) is left out of the telegram",
            "application data",
            "product sheet 'all OBIS fields from meter'",
        ),
        _f(
            "misscaled_register",
            "total import energy (OBIS 1.8.0) is sent 10x too large (VIF exponent off by one decade)",
            "application data",
            "EN 13757-3 VIF scaling",
        ),
        _f(
            "wrong_tariff_mapping",
            "rate inputs 1 and 2 select each other's tariff",
            "rate inputs",
            "profile rate_inputs.tariff_rules",
        ),
        _f(
            "rate_detect_1s",
            "a rate input level is detected after 1 s instead of 5 s (glitches leak through)",
            "rate inputs",
            "product sheet 'minimum detection time 5 s'",
        ),
        _f(
            "rate_detect_10s",
            "a rate input level is detected only after 10 s instead of 5 s",
            "rate inputs",
            "product sheet 'minimum detection time 5 s'",
        ),
        _f(
            "threshold_12vac",
            "rate inputs switch high at 12 VAC instead of 24 VAC",
            "rate inputs",
            "product sheet 'rate input high voltage > 24 VAC'",
        ),
        _f(
            "two_unit_loads",
            "the module draws twice its quiescent current (2 unit loads)",
            "power",
            "product sheet 'unit loads 1T / 1.5 mA'",
        ),
        _f(
            "dead_below_24v",
            "the module browns out below 24 V instead of 21 V",
            "power",
            "product sheet 'nominal voltage 21-42 VDC'",
        ),
        _f(
            "polarity_dependent",
            "the module only works with positive bus polarity",
            "power",
            "product sheet 'independent of wiring polarity'",
        ),
        _f(
            "no_300_baud",
            "300 Bd is not supported: a switch to 300 is not answered and not done",
            "baud rate",
            "product sheet 'M-Bus slave 300 and 2400 bit/s'",
        ),
        _f(
            "baud_switch_no_e5",
            "a baud switch is done without acknowledging it with E5 at the old rate",
            "baud rate",
            "EN 13757-3 baud rate switch (CI B8-BF)",
        ),
        _f(
            "loses_address_after_power_cycle",
            "the primary address falls back to 0 after a power cycle",
            "addressing",
            "profile link.address_after_power_cycle",
        ),
        _f(
            "led_dead",
            "the green LED never lights",
            "user interface",
            "product sheet 'green LED: communication with meter'",
        ),
        _f(
            "button_dead",
            "the push button does nothing",
            "user interface",
            "product sheet 'push button: breaker functionality'",
        ),
        _f(
            "power_fail_counter_stuck",
            "the power-fail counter (OBIS C.7.0) never increments",
            "application data",
            "domain.md E350 registers C.7.0",
        ),
        _f(
            "rate_refusal_ignored",
            "a rate-input combination mapped to a rate the meter lacks is taken instead of being refused",
            "rate inputs",
            "CMi1020W manual (sibling): rates the meter does not support are refused (domain.md section 7)",
        ),
        _f(
            "refusal_no_status_bit",
            "a refused rate change leaves the header status bit of the profile unchanged",
            "rate inputs",
            "CMi1020W manual (sibling): a failed rate change toggles a status bit (domain.md section 7)",
        ),
        _f(
            "red_led_dead",
            "the red LED never lights (no meter id, failed rate change)",
            "user interface",
            "CMi1020W manual (sibling): red LED steady / flashing (domain.md section 7)",
        ),
        _f(
            "reactive_wrong_vif",
            "reactive energy (3.8.0, 4.8.0) sent with plain-text VIF 7C 'varh' instead of EN 13757-3 FB 02",
            "application data",
            "EN 13757-3 alternate extended VIF table FB: E000 001n reactive energy (domain.md section 7)",
        ),
        _f(
            "status_word_split",
            "the status word C.5.0 goes out as one INT8 record per field (rate, disconnector), not one word",
            "application data",
            "E350 readouts: C.5.0 is one 4-hex-digit status word (domain.md section 7)",
        ),
        _f(
            "power_fail_counts_bus_loss",
            "the power-fail counter (OBIS C.7.0) counts M-Bus supply losses, not the meter's mains losses",
            "application data",
            "E350 readouts C.7.0: the meter counts its own mains losses (domain.md section 7)",
        ),
        _f(
            "stale_energy",
            "energy registers keep the values read at power-up and never refresh",
            "application data",
            "product sheet 'all OBIS fields from meter'",
        ),
        _f(
            "snd_nke_no_ack",
            "SND_NKE resets the link but is not acknowledged with E5",
            "link layer",
            "EN 13757-2 SND_NKE",
        ),
        _f(
            "accepts_bad_parity",
            "characters with a parity error are accepted instead of discarding the frame",
            "physical layer",
            "EN 13757-2 character format 8E1",
        ),
        _f(
            "accepts_bad_checksum",
            "frames with a wrong checksum are processed and answered",
            "link layer",
            "EN 13757-2 FT1.2 checksum",
        ),
        _f(
            "broadcast_254_silent",
            "does not answer requests to the broadcast-with-reply address 254",
            "addressing",
            "EN 13757-2 address 254",
        ),
        _f(
            "answers_broadcast_255",
            "answers requests to the broadcast-without-reply address 255",
            "addressing",
            "EN 13757-2 address 255",
        ),
        _f(
            "ignores_set_address",
            "acknowledges set primary address (CI 51, 01 7A nn) but keeps the old address",
            "addressing",
            "EN 13757-3 set primary address",
        ),
        _f(
            "deselect_broken",
            "a non-matching select or SND_NKE to 253 does not deselect the module",
            "addressing",
            "EN 13757-3 secondary addressing deselect",
        ),
        _f(
            "rate_input_dies_at_230vac",
            "a rate input is damaged by 230 VAC (its rated maximum) and reads low from then on",
            "rate inputs",
            "product sheet 'rate input max voltage 230 VAC'",
        ),
        # --- link layer details (EN 13757-2 FCB, EN 13757-3 access number; domain.md section 8) ---------
        _f(
            "repeat_new_access_number",
            "a repeat (same FCB) is rebuilt with the next access number instead of resent identically",
            "link layer",
            "EN 13757-2 FCB/FCV repeat",
        ),
        _f(
            "nke_no_restart",
            "SND_NKE is acknowledged but a read-out in progress continues with the next telegram",
            "link layer",
            "EN 13757-2 SND_NKE resets the link (read-out restarts at telegram 1)",
        ),
        _f(
            "access_number_frozen",
            "the access number of the long header never changes",
            "link layer",
            "EN 13757-3 long header access number",
        ),
        _f(
            "access_number_skips",
            "the access number advances by 2 on every new telegram",
            "link layer",
            "EN 13757-3 long header access number",
        ),
        _f(
            "acd_set_without_alarm",
            "every RSP_UD has the ACD bit set (class 1 data waiting) although REQ_UD1 finds no alarm (E5)",
            "link layer",
            "EN 13757-2 C field RSP_UD ACD bit / REQ_UD1",
        ),
        _f(
            "rsp_a_echoes_request",
            "the A field of RSP_UD repeats the request's address (253, 254) instead of the module's own",
            "link layer",
            "EN 13757-2 A field of the slave's reply",
        ),
        # --- addressing details (EN 13757-2 addresses, EN 13757-3 selection) ---------------------------
        _f(
            "selection_survives_power_cycle",
            "the module is still selected at 253 after a power cycle",
            "addressing",
            "EN 13757-3 secondary addressing (selection state)",
        ),
        _f(
            "nke_253_no_deselect",
            "SND_NKE to 253 does not deselect the module (a non-matching select still does)",
            "addressing",
            "EN 13757-3 secondary addressing deselect",
        ),
        _f(
            "mismatch_keeps_selection",
            "a non-matching select leaves the module selected (SND_NKE to 253 still deselects)",
            "addressing",
            "EN 13757-3 secondary addressing deselect",
        ),
        _f(
            "accepts_reserved_address",
            "set primary address accepts 251-255 and moves the module there",
            "addressing",
            "EN 13757-2 addresses (1-250 primary, 251-255 reserved/special)",
        ),
        _f(
            "set_address_via_253_ignored",
            "set primary address sent to 253 while selected is acknowledged but not executed",
            "addressing",
            "EN 13757-3 set primary address; EN 13757-3 secondary addressing",
        ),
        _f(
            "broadcast_255_not_executed",
            "requests to the broadcast-without-reply address 255 are ignored instead of executed",
            "addressing",
            "EN 13757-2 address 255",
        ),
        _f(
            "answers_neighbour_address",
            "the module also answers at its primary address + 1",
            "addressing",
            "EN 13757-2 primary address",
        ),
        _f(
            "manufacturer_wildcard_broken",
            "a select with manufacturer FF FF (wildcard) does not match",
            "addressing",
            "EN 13757-3 secondary addressing wildcards",
        ),
        _f(
            "version_wildcard_broken",
            "a select with version FF (wildcard) does not match",
            "addressing",
            "EN 13757-3 secondary addressing wildcards",
        ),
        _f(
            "medium_wildcard_broken",
            "a select with medium FF (wildcard) does not match",
            "addressing",
            "EN 13757-3 secondary addressing wildcards",
        ),
        _f(
            "version_wildcard_skips_medium",
            "a select with version FF also ignores the medium, so a wrong medium matches",
            "addressing",
            "EN 13757-3 secondary addressing wildcards",
        ),
        _f(
            "app_reset_clears_address",
            "an application reset (CI 50) sets the primary address back to 0",
            "addressing",
            "EN 13757-3 CI 50 application reset (link configuration kept)",
        ),
        # --- baud rate -----------------------------------------------------------------------------
        _f(
            "baud_lost_after_power_cycle",
            "the baud rate falls back to the default after a power cycle, though the profile says keep",
            "baud rate",
            "profile link.baud_after_power_cycle",
        ),
        # --- power: both ends of the range, both polarities, current across the range ------------------
        _f(
            "dead_above_40v",
            "the module stops answering above 40 V instead of 42 V",
            "power",
            "product sheet 'nominal voltage 21-42 VDC'",
        ),
        _f(
            "dead_below_22v",
            "the module browns out below 22 V instead of 21 V",
            "power",
            "product sheet 'nominal voltage 21-42 VDC'",
        ),
        _f(
            "reversed_dead_below_30v",
            "in reversed polarity the module needs 30 V (positive polarity works from 21 V)",
            "power",
            "product sheet 'independent of wiring polarity'",
        ),
        _f(
            "current_rises_with_voltage",
            "quiescent current grows 25 uA per volt above 21 V and exceeds 1 unit load near 42 V",
            "power",
            "product sheet 'unit loads 1T / 1.5 mA'; EN 13757-2 mark current variation",
        ),
        # --- rate inputs: both sides of the threshold, every input, both edges --------------------------
        _f(
            "threshold_21vac",
            "rate inputs switch high at 21 VAC (just below the 24 VAC threshold)",
            "rate inputs",
            "product sheet 'rate input low voltage < 24 VAC'",
        ),
        _f(
            "threshold_27vac",
            "rate inputs switch high only above 27 VAC (just above the 24 VAC threshold)",
            "rate inputs",
            "product sheet 'rate input high voltage > 24 VAC'",
        ),
        _f(
            "rate_detect_4s",
            "a rate input level is detected after 4 s instead of 5 s",
            "rate inputs",
            "product sheet 'minimum detection time 5 s'",
        ),
        _f(
            "rate_detect_8s",
            "a rate input level is detected only after 8 s instead of 5 s",
            "rate inputs",
            "product sheet 'minimum detection time 5 s'",
        ),
        _f(
            "rate_detect_10s_input4",
            "rate input 4 alone is detected only after 10 s (inputs 1-3 after 5 s)",
            "rate inputs",
            "product sheet 'minimum detection time 5 s'",
        ),
        _f(
            "input3_dead",
            "rate input 3 never reads high",
            "rate inputs",
            "product sheet 'controls up to four rate inputs'",
        ),
        _f(
            "falling_edge_immediate",
            "a rate input going low is taken at once, without the 5 s detection time",
            "rate inputs",
            "product sheet 'minimum detection time 5 s' (both level changes)",
        ),
        _f(
            "falling_edge_latched",
            "a rate input detected high never returns low when the level is removed",
            "rate inputs",
            "product sheet 'rate input low voltage < 24 VAC'",
        ),
        _f(
            "rate_debounce_integrates",
            "the rate-input debounce counts high time without clearing it when the input goes low (only "
            "after a whole detection time low): pulses each shorter than 5 s, a short low apart, add up "
            "to a detection",
            "rate inputs",
            "product sheet 'minimum detection time 5 s' (a level must be held 5 s to count)",
        ),
        _f(
            "rate_edge_latched",
            "a rising edge on a rate input starts the 5 s timer, and at its expiry the level seen at the "
            "edge (high) is taken without checking the input again: a pulse shorter than 5 s is taken "
            "high 5 s after it began and low again 5 s after it ended",
            "rate inputs",
            "product sheet 'minimum detection time 5 s' (shorter pulses are ignored)",
        ),
        _f(
            "rate_hysteresis_wide",
            "the rate-input comparator has a hysteresis far too wide: an input goes high above 24 VAC but, "
            "once high, goes low again only below 12 VAC, so a control voltage that sags to 20-23 VAC keeps "
            "it high (a level removed entirely is still taken low)",
            "rate inputs",
            "product sheet 'rate input low voltage < 24 VAC' (whatever level the input came from)",
        ),
        # --- the current interface (EN 13757-2:2018 4.2.2): mark and space current -----------------------
        _f(
            "mark_current_slope",
            "the mark current rises 2 % per volt up to the nominal 1.35 mA at 42 V (0.78 mA at 21 V): always "
            "under one unit load, but not flat over bus voltage",
            "power",
            "EN 13757-2:2018 4.2.2.3 variation of the mark state current over bus voltage",
        ),
        _f(
            "mark_current_wanders",
            "the mark current drifts +/-40 uA around its value with a 4 s period at a fixed bus voltage",
            "power",
            "EN 13757-2:2018 4.2.2.4 short-term variation of the mark state current",
        ),
        _f(
            "mark_current_polarity_offset",
            "in reversed polarity the mark current is 150 uA lower than in normal polarity",
            "power",
            "EN 13757-2:2018 4.2.2.3 mark current over bus voltage; product sheet 'polarity independent'",
        ),
        _f(
            "space_current_low",
            "a space the module sends adds 8 mA to the mark current instead of 11-20 mA",
            "power",
            "EN 13757-2:2018 4.2.2.9 space state current",
        ),
        _f(
            "space_current_high",
            "a space the module sends adds 24 mA to the mark current instead of 11-20 mA",
            "power",
            "EN 13757-2:2018 4.2.2.9 space state current",
        ),
        _f(
            "space_current_when_silent",
            "after a request to another address the module sinks the space current for 50 character times "
            "without sending a character (the emulated line carries no break for it)",
            "power",
            "EN 13757-2:2018 4.2.2.9 space state current only while sending; 4.2.2.2 mark state when idle",
        ),
        _f(
            "rate_sum_exceeds_total",
            "the tariff 3 import energy register (OBIS 1.8.3) counts its energy twice, so the rates add up "
            "to more than the total",
            "application data",
            "E350 registers 1.8.0 = 1.8.1 + .. + 1.8.n (domain.md sections 5 and 7)",
        ),
        _f(
            "total_not_sum",
            "the total import energy (OBIS 1.8.0) leaves out tariff 5's energy, so it is less than its rates",
            "application data",
            "E350 registers 1.8.0 = 1.8.1 + .. + 1.8.n (domain.md sections 5 and 7)",
        ),
        _f(
            "total_counts_export",
            "the total import energy (OBIS 1.8.0) also counts the exported energy, so the rates fall short "
            "of it",
            "application data",
            "E350 registers 1.8.0 = 1.8.1 + .. + 1.8.n (domain.md sections 5 and 7)",
        ),
        _f(
            "dfc_set",
            "every RSP_UD has the DFC bit set (cannot accept further data) although SND_UD is still accepted",
            "link layer",
            "EN 13757-2 C field RSP_UD DFC bit",
        ),
        # --- robustness (EN 13757-2 / IEC 60870-5-1 FT1.2 frame rejection, turnaround, collisions, supply) --
        _f(
            "no_resync_after_garbage",
            "the frame assembler has no idle-line timeout: after a start byte it counts characters up to the "
            "declared length, so the valid request after a truncated frame is swallowed as its remainder",
            "robustness",
            "EN 13757-2 / IEC 60870-5-1 FT1.2: line idle (33 bits) ends a frame; a broken frame is discarded",
        ),
        _f(
            "slow_turnaround",
            "the receiver is re-enabled only 100 ms after the end of each reply (slow half-duplex "
            "turnaround): a request sent at the standard's minimum idle of 33 bit times is lost",
            "robustness",
            "EN 13757-2 / IEC 60870-5-1 FT1.2: 33 bit times of line idle between frames suffice",
        ),
        _f(
            "mute_after_collision",
            "after a reply of the module collided with another slave's, it stays silent to every request "
            "until a SND_NKE to its own address or a power cycle",
            "robustness",
            "EN 13757-2 collisions (domain.md section 2): the slave keeps working after one",
        ),
        _f(
            "hangs_after_short_outage",
            "a bus outage shorter than 1 s leaves the module hung (no brown-out reset: its reservoir keeps "
            "the microcontroller above power-on reset) and silent until an outage of at least 1 s",
            "robustness",
            "product sheet 'supply from M-Bus' (the module restarts with the bus after any outage)",
        ),
        _f(
            "accepts_bad_stop_byte",
            "the frame check ignores the stop byte: a request ending 17 instead of 16 is processed and "
            "answered",
            "link layer",
            "EN 13757-2 / IEC 60870-5-1 FT1.2: a frame without its stop character 16 is discarded",
        ),
        _f(
            "accepts_9600_baud",
            "a switch to 9600 Bd (CI BD), which the product sheet does not list, is acknowledged and taken",
            "baud rate",
            "product sheet 'M-Bus slave 300 and 2400 bit/s'; EN 13757-3 CI B8-BF",
        ),
        _f(
            "last_telegram_more_follow",
            "the last telegram of the read-out also ends with DIF 1F (more records follow), and the next "
            "FCB toggle wraps round to the first telegram, so a read-out never ends",
            "link layer",
            "EN 13757-3 DIF 1F (more records follow) only on telegrams that are not the last",
        ),
        # --- application data: EN 13757-3 status byte of the long header ---------------------------------
        _f(
            "status_power_low",
            "the long header's status byte has the power-low bit (0x04) set at every bus voltage",
            "application data",
            "EN 13757-3 status field: bit 2 power low (clear while the supply is nominal)",
        ),
    ]
)


class UnknownFaultError(ValueError):
    """A fault name that is not in the catalogue; the message lists the valid names."""


def validate_faults(names: Iterable[str]) -> frozenset[str]:
    """Check fault names against the catalogue and return them as a set."""
    names = list(names)
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise UnknownFaultError(
            f"unknown fault name(s) {unknown}; valid names are: {', '.join(sorted(FAULTS))}"
        )
    return frozenset(names)
