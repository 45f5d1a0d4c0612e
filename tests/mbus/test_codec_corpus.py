"""The libmbus corpus: every frame decodes and agrees with libmbus's normalised XML, except the listed
disagreements, each with the reason we follow EN 13757-3 instead; every error frame gives an error
diagnostic."""

from __future__ import annotations

from pathlib import Path

import pytest
from mbus_libmbus_xml import ERROR_FRAMES, FRAMES, compare_frame, error_frame_paths, frame_paths, read_hex

from harness.mbus import LongFrame, MBusError, decode, encode

_ZERO_DATE = (
    "type G date 00 00 is no calendar date (day 0, month 0); we report null, libmbus prints 2000-00-00"
)
_NON_BCD = (
    "BCD field holds hex digits A-F (EN 13757-3 type A allows only 0-9 and a leading F); we keep the "
    "digits as text with an EN13757-3:bcd warning, libmbus turns each nibble into a decimal number"
)
_LIMIT_DURATION = (
    "VIFE 50/58 (E101 ufnn) makes the record a duration of a limit exceed in seconds; "
    "libmbus drops the VIFE and reports volume flow"
)
_FIRST_LAST_TIME = (
    "VIFE 6F (E110 1f1b) makes the record the date/time of the last end of the limit exceed; "
    "libmbus drops the VIFE and scales the date bits as the VIF's unit"
)

#: (frame, field) -> reason. Reviewed one by one against EN 13757-3.
KNOWN_DISAGREEMENTS: dict[tuple[str, str], str] = {
    ("ACW_Itron-BM-plus-m", "record[2].value"): _ZERO_DATE,
    ("itron_bm_+m", "record[2].value"): _ZERO_DATE,
    ("siemens_water", "record[3].value"): _ZERO_DATE,
    ("siemens_wfh21", "record[3].value"): _ZERO_DATE,
    ("REL-Relay-Padpuls2", "record[1].value"): (
        "type F date/time A1 15 E9 17 has the IV (invalid) bit set in the minute byte; we report null, "
        "libmbus prints 1900-01-00T00:00:00"
    ),
    ("ELS_Elster-F96-Plus", "record[4].value"): _NON_BCD,
    ("ELS_Elster-F96-Plus", "record[5].value"): _NON_BCD,
    ("abb_f95", "record[2].value"): _NON_BCD,
    ("abb_f95", "record[3].value"): _NON_BCD,
    ("SEN_Pollustat", "record[12].unit"): _LIMIT_DURATION,
    ("SEN_Pollustat", "record[13].unit"): _LIMIT_DURATION,
    ("landis+gyr_ultraheat_t230", "record[19].unit"): _FIRST_LAST_TIME,
    ("landis+gyr_ultraheat_t230", "record[20].unit"): _FIRST_LAST_TIME,
    ("landis+gyr_ultraheat_t230", "record[21].value"): _FIRST_LAST_TIME,
    ("landis+gyr_ultraheat_t230", "record[22].value"): _FIRST_LAST_TIME,
    ("sen_pollutherm", "record[2].value"): (
        "VIF 7B announces the FB extension table but no VIFE follows (EN13757-3:vif warning); "
        "we report the raw "
        "value 302 with quantity 'unknown', libmbus leaves the normalised value empty"
    ),
    ("manual_frame2", "record[1].unit"): (
        "CI 73 fixed data, counter 2 unit code 3E means 'same unit as counter 1 (litre), historic value' "
        "(EN 1434-3 fixed structure); we report 0.135 m3, libmbus prints the unit as 'reserved but historic'"
    ),
}

FRAME_PATHS = frame_paths()


def test_corpus_is_present() -> None:
    assert len(FRAME_PATHS) == 76, f"expected the 76 libmbus frames under {FRAMES}"


@pytest.mark.parametrize("path", FRAME_PATHS, ids=lambda p: p.stem)
def test_frame_agrees_with_libmbus_or_is_a_listed_disagreement(path: Path) -> None:
    mismatches, _ = compare_frame(path)
    unexpected = [m for m in mismatches if m.key not in KNOWN_DISAGREEMENTS]
    assert not unexpected, "\n".join(f"{m.where}: ours {m.ours!r}, libmbus {m.libmbus!r}" for m in unexpected)


def test_every_listed_disagreement_still_occurs() -> None:
    seen = {m.key for path in FRAME_PATHS for m in compare_frame(path)[0]}
    stale = set(KNOWN_DISAGREEMENTS) - seen
    assert not stale, f"disagreements no longer seen, remove them from the list: {sorted(stale)}"


@pytest.mark.parametrize("path", FRAME_PATHS, ids=lambda p: p.stem)
def test_corpus_frame_has_no_error_and_reencodes(path: Path) -> None:
    frame = decode(read_hex(path))
    assert [d for d in frame.diagnostics if d.severity == "error"] == []
    assert decode(encode(frame)) == frame


def test_corpus_agreement_counts() -> None:
    """Most of the corpus agrees field by field: a broken scale or table would show here first."""
    results = [compare_frame(p) for p in FRAME_PATHS]
    agreeing = sum(1 for mismatches, _ in results if not mismatches)
    records = sum(n for _, n in results)
    assert agreeing >= 65 and records >= 900


ERROR_PATHS = [p for p in error_frame_paths() if p.parent == ERROR_FRAMES]


@pytest.mark.parametrize("path", ERROR_PATHS, ids=lambda p: p.stem)
def test_error_frame_gives_an_error_diagnostic(path: Path) -> None:
    try:
        diagnostics = decode(read_hex(path)).diagnostics
    except MBusError as exc:
        diagnostics = tuple(exc.diagnostics)
    assert any(d.severity == "error" for d in diagnostics), diagnostics


def _unsupported(name: str) -> bytes:
    return read_hex(ERROR_FRAMES / "unsupported-frames" / f"{name}.hex")


def test_unsupported_frames_are_errors_or_valid_master_frames() -> None:
    """libmbus cannot parse these; EN 13757 says which are broken and which are valid master telegrams."""
    with pytest.raises(MBusError) as exc:
        decode(_unsupported("invalid_length"))
    assert exc.value.diagnostics[0].rule == "EN13757-2:length"
    fixed = decode(_unsupported("invalid_length2"))
    assert [d.rule for d in fixed.diagnostics if d.severity == "error"] == ["EN13757-3:fixed-data"]
    with pytest.raises(ValueError):
        read_hex(ERROR_FRAMES / "unsupported-frames" / "manual_frame1.hex")  # odd digit count, no start byte
    set_address = decode(_unsupported("manual_frame4"))
    assert isinstance(set_address, LongFrame) and (set_address.a, set_address.ci, set_address.data) == (
        0xFE,
        0x51,
        bytes([0x01, 0x7A, 0x08]),
    )
    for name in ("manual_frame5", "manual_frame6", "svm_f22_telegram2"):
        frame = decode(_unsupported(name))
        assert not frame.diagnostics and encode(frame) == _unsupported(name)
