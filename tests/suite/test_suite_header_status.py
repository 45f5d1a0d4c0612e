"""harness.expect.header_status_problems: the long header's status byte (EN 13757-3 status field) as a module
with no error reports it. Each status byte below is written by hand; the check passes the conforming ones
and names the bit of each wrong one."""

from __future__ import annotations

import pytest

from harness.expect import ExpectationError, header_status_problems
from harness.profile import load_profile

PROFILE = load_profile()


@pytest.mark.parametrize("status", [0x00, 0x20, 0x40, 0x80, 0xE0])
def test_no_error_status_passes_whatever_the_manufacturer_bits(status: int) -> None:
    # bits 5-7 manufacturer specific; bit 5 is the shipped profile's refused-rate-change toggle
    assert header_status_problems(PROFILE, status) == []


@pytest.mark.parametrize(
    ("status", "named"),
    [
        (0x01, "application busy"),
        (0x02, "any application error"),
        (0x03, "abnormal condition"),
        (0x04, "power low"),
        (0x08, "permanent error"),
        (0x10, "temporary error"),
        (0x24, "power low"),  # an error bit beside the refusal toggle is still an error
    ],
)
def test_each_bit_the_standard_defines_fails_when_set(status: int, named: str) -> None:
    problems = header_status_problems(PROFILE, status)
    assert len(problems) == 1 and named in problems[0], problems


def test_several_error_bits_are_each_named() -> None:
    # application status, power low, permanent error, temporary error
    assert len(header_status_problems(PROFILE, 0x1F)) == 4


def test_a_refusal_bit_among_the_standard_bits_is_a_profile_error() -> None:
    profile = PROFILE.model_copy(
        update={"rate_inputs": PROFILE.rate_inputs.model_copy(update={"refusal_status_bit": 2})}
    )
    assert any("refusal_status_bit" in p for p in header_status_problems(profile, 0x00))


def test_a_value_that_is_no_byte_is_refused() -> None:
    with pytest.raises(ExpectationError, match="0..255"):
        header_status_problems(PROFILE, 0x100)
