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
