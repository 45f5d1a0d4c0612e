"""Stable ids of the codec's diagnostics, with what each checks and where the rule comes from.

``raised`` rules make :func:`harness.mbus.decode` raise :class:`MBusError` (no frame can be
recovered); ``error`` rules are errors in both modes; ``deviation`` rules are warnings in lenient
mode and errors in strict mode.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

RuleKind = Literal["raised", "error", "deviation"]


class Rule(NamedTuple):
    kind: RuleKind
    source: str  #: clause of EN 13757 (or the codec) the rule comes from
    checks: str


RULES: dict[str, Rule] = {
    "EN13757-2:start-byte": Rule(
        "raised", "EN 13757-2 FT1.2 frame formats", "start bytes E5, 10, 68 (68 repeated)"
    ),
    "EN13757-2:length": Rule(
        "raised", "EN 13757-2 FT1.2 frame formats", "both L fields equal, L >= 3, frame complete"
    ),
    "EN13757-2:checksum": Rule("raised", "EN 13757-2 FT1.2", "CS = sum of C..last data byte mod 256"),
    "EN13757-2:stop-byte": Rule("raised", "EN 13757-2 FT1.2", "frame ends with 16"),
    "EN13757-2:trailing-bytes": Rule("deviation", "EN 13757-2 FT1.2", "no bytes after the stop byte"),
    "EN13757-2:c-field": Rule(
        "deviation",
        "EN 13757-2 C field",
        "C is one of 40, 53/73, 5A/7A, 5B/7B, 08/18/28/38; short frames carry master C",
    ),
    "EN13757-2:address": Rule("deviation", "EN 13757-2 addresses", "addresses 251 and 252 are reserved"),
    "EN13757-2:frame-type": Rule(
        "deviation", "EN 13757-2/-3", "CIs with application data are not control frames"
    ),
    "EN13757-3:ci": Rule("deviation", "EN 13757-3 CI field table", "CI known to the codec (else kept raw)"),
    "EN13757-3:ci-direction": Rule(
        "deviation",
        "EN 13757-3 CI field table",
        "master CIs (50-56, B8-BF) with master C, slave CIs (70-7A) with slave C",
    ),
    "EN13757-3:application-error": Rule(
        "error", "EN 13757-3 application errors (CI 70)", "the slave reports an application error"
    ),
    "EN13757-3:header": Rule(
        "error", "EN 13757-3 long/short header", "12-byte long header, 4-byte short header"
    ),
    "EN13757-3:select": Rule("error", "EN 13757-3 secondary addressing", "select carries exactly 8 bytes"),
    "EN13757-3:fixed-data": Rule("error", "EN 1434-3 fixed data structure (CI 73)", "16 bytes of fixed data"),
    "EN13757-3:bcd": Rule(
        "deviation", "EN 13757-3 annex (type A)", "BCD digits 0-9, F only as negative sign"
    ),
    "EN13757-3:manufacturer": Rule("deviation", "EN 13757-3 manufacturer id", "three letters A-Z"),
    "EN13757-3:premature-end": Rule(
        "error",
        "EN 13757-3 variable data structure",
        "every record complete: DIFE, VIF, plain text, VIFE, LVAR, data",
    ),
    "EN13757-3:dif": Rule("error", "EN 13757-3 special functions", "DIF xF is 0F, 1F, 2F or 7F"),
    "EN13757-3:dife-chain": Rule("error", "EN 13757-3 DIFE", "at most 10 DIFEs"),
    "EN13757-3:vife-chain": Rule("error", "EN 13757-3 VIFE", "at most 10 VIFEs"),
    "EN13757-3:lvar": Rule("error", "EN 13757-3 LVAR coding", "LVAR not in a reserved range"),
    "EN13757-3:vif": Rule(
        "deviation", "EN 13757-3 VIF/VIFE tables", "VIF, FB/FD code and VIFEs not reserved"
    ),
    "EN13757-3:data-coding": Rule(
        "deviation", "EN 13757-3 types F/G/I/J", "date/time VIFs use INT16/24/32/48 data"
    ),
    "codec:input": Rule("raised", "codec", "decode() is given bytes"),
    "codec:internal": Rule(
        "raised", "codec", "safety net: a decoder bug reported as MBusError, never seen in tests"
    ),
    "codec:encode": Rule("raised", "codec", "encode() is given a frame the wire format can express"),
}
