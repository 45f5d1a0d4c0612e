"""Each diagnostic rule fires on a minimal telegram that breaks it, with the severity its kind gives
(deviation: warning when lenient, error when strict; error: error in both modes; raised: MBusError)."""

from __future__ import annotations

import pytest

from harness.mbus import MBusError, decode
from harness.mbus.rules import RULES

HEADER = "78 56 34 12 96 15 01 02 05 00 00 00"  # ID 12345678, ELV, version 1, medium 2, access 5


def long_frame(c: int, a: int, ci: int, app: str) -> bytes:
    body = bytes([c, a, ci]) + bytes.fromhex(app)
    return bytes((0x68, len(body), len(body), 0x68)) + body + bytes((sum(body) & 0xFF, 0x16))


def control_frame(c: int, a: int, ci: int) -> bytes:
    return bytes((0x68, 3, 3, 0x68, c, a, ci, (c + a + ci) & 0xFF, 0x16))


#: rule -> a telegram that breaks exactly that rule
BREAKS: dict[str, bytes] = {
    "EN13757-2:start-byte": bytes.fromhex("A5 40 01 41 16"),
    "EN13757-2:length": bytes.fromhex("68 03 04 68 53 01 B8 0C 16"),
    "EN13757-2:checksum": bytes.fromhex("10 40 01 40 16"),
    "EN13757-2:stop-byte": bytes.fromhex("10 40 01 41 00"),
    "EN13757-2:trailing-bytes": bytes.fromhex("10 40 01 41 16 E5"),
    "EN13757-2:c-field": bytes.fromhex("10 41 01 42 16"),
    "EN13757-2:address": bytes.fromhex("10 40 FC 3C 16"),
    "EN13757-2:frame-type": control_frame(0x08, 1, 0x72),
    "EN13757-3:ci": long_frame(0x08, 1, 0xA0, "00"),
    "EN13757-3:ci-direction": long_frame(0x08, 1, 0x51, "01 7A 05"),
    "EN13757-3:application-error": long_frame(0x08, 1, 0x70, "03"),
    "EN13757-3:header": long_frame(0x08, 1, 0x72, "78 56 34 12"),
    "EN13757-3:select": long_frame(0x53, 253, 0x52, "78 56 34 12 96 15 01"),
    "EN13757-3:fixed-data": long_frame(0x08, 1, 0x73, "78 56 34 12 0A 00"),
    "EN13757-3:bcd": long_frame(0x08, 1, 0x78, "0A 13 1A 00"),
    "EN13757-3:manufacturer": long_frame(0x08, 1, 0x72, "78 56 34 12 00 00 01 02 05 00 00 00"),
    "EN13757-3:premature-end": long_frame(0x08, 1, 0x72, HEADER + " 04 03 01 02"),
    "EN13757-3:dif": long_frame(0x08, 1, 0x78, "3F 00"),
    "EN13757-3:dife-chain": long_frame(0x08, 1, 0x78, "81" + " 80" * 10 + " 00 03 01"),
    "EN13757-3:vife-chain": long_frame(0x08, 1, 0x78, "01 FD" + " C8" * 10 + " 48 01"),
    "EN13757-3:lvar": long_frame(0x08, 1, 0x78, "0D 13 CA"),
    "EN13757-3:vif": long_frame(0x08, 1, 0x78, "01 6F 01"),
    "EN13757-3:data-coding": long_frame(0x08, 1, 0x78, "05 6D 00 00 00 00"),
}
#: rules that no byte string can trigger through decode()
NOT_FROM_BYTES = {"codec:input", "codec:internal", "codec:encode"}


def test_every_rule_has_a_breaking_telegram() -> None:
    assert set(BREAKS) == set(RULES) - NOT_FROM_BYTES


def _findings(data: bytes, strict: bool) -> list[tuple[str, str]]:
    try:
        frame = decode(data, strict=strict)
    except MBusError as exc:
        return [("raised", d.rule) for d in exc.diagnostics]
    return [(d.severity, d.rule) for d in frame.diagnostics]


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_rule_fires_with_the_severity_of_its_kind(rule: str) -> None:
    kind = RULES[rule].kind
    lenient, strict = _findings(BREAKS[rule], False), _findings(BREAKS[rule], True)
    expected_lenient = {"raised": "raised", "error": "error", "deviation": "warning"}[kind]
    expected_strict = "raised" if kind == "raised" else "error"
    assert lenient == [(expected_lenient, rule)]
    assert strict == [(expected_strict, rule)]


@pytest.mark.parametrize(
    "good",
    [
        bytes.fromhex("10 40 01 41 16"),
        control_frame(0x53, 1, 0xBB),
        long_frame(0x53, 1, 0x51, "01 7A 05"),
        long_frame(0x53, 253, 0x52, "78 56 34 12 96 15 01 02"),
        long_frame(0x08, 1, 0x72, HEADER + " 04 03 01 02 03 04 0A 13 12 00 0D 13 C1 12 04 6D 00 0C 7A 18 0F"),
        long_frame(0x08, 1, 0x78, "81" + " 80" * 9 + " 00 03 01 01 FD" + " C8" * 9 + " 48 01"),
    ],
)
def test_conforming_telegrams_pass_strict_mode(good: bytes) -> None:
    assert _findings(good, strict=True) == []
