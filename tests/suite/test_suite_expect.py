"""harness.expect: expected records from the device profile + EN 13757-3, and the checks built on it.

Every telegram below is written by hand as bytes (not built by the emulator or the codec's builders), then
decoded by the codec as the suite decodes what the module sends. Each check is shown passing a conforming
telegram and failing a telegram with one wrong byte: VIF decade, storage number, tariff, subunit, coding.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.expect import (
    ExpectationError,
    expected_identity,
    expected_record,
    expected_records,
    expected_tariff,
    max_quiescent_current_a,
    must_answer_at,
    rate_sum_problem,
    rate_sums,
    register_values,
    telegram_problems,
    value_problem,
    vif_meaning,
)
from harness.mbus import decode
from harness.mbus.model import LongFrame
from harness.profile import DeviceProfile, Register, load_profile

#: RSP_UD long header of the shipped profile: id 71234567, ELV (96 15), version 20, medium 02
HEADER = bytes.fromhex("67 45 23 71 96 15 20 02 01 00 00 00")

#: EN 13757-3 heads for shipped registers, written out from the tables (DIF DIFE.. VIF VIFE..)
HAND_WRITTEN_HEADS = {
    "meter_serial": "0C 78",  # BCD8, fabrication number
    "firmware": "0D FD 0E",  # variable length (text), FD table: firmware version
    "status_word": "02 FD 1B",  # E350 C.5.0: one INT16 status word, digital input
    "energy_import_total": "04 03",  # INT32, energy 10^0 Wh
    "energy_import_t1": "84 10 03",  # DIFE tariff 1 (bits 4-5)
    "energy_import_t4": "84 80 10 03",  # tariff 4 = 0b100: low bits 00 in DIFE 1, 01 in DIFE 2
    "energy_export_total": "04 83 3C",  # VIFE 3C backward flow
    "voltage_l2": "82 80 40 FD 49",  # subunit 2 = 0b10: bit 6 of the second DIFE; FD 49 = 10^0 V (E350: 1 V)
    "current_l1": "84 40 FD 5A",  # subunit 1; FD 5A = 10^-2 A (E350 readouts: 10 mA)
    "power_total": "04 2C",  # INT32, power 10^1 W (E350 readouts: 16.7 in kW, 10 W resolution)
    "power_fail_count": "02 FD 61",  # cumulation counter
    "reactive_import_total": "04 FB 02",  # FB table E000 001n: reactive energy 10^(n-1) kvarh, n=0: 100 varh
    "reactive_export_total": "04 FB 82 3C",  # the same, VIFE 3C backward flow (export, as 2.8.0)
    "energy_absolute_total": "04 83 FC 10",  # OBIS 15.8.0: VIFE FC 10 = accumulation of abs value, both signs
    "event_counter_1": "82 10 FD 61",  # OBIS 82.8.1: INT16 counter, DIFE tariff 1 (OBIS E group)
    "event_counter_2": "82 20 FD 61",  # OBIS 82.8.2: DIFE tariff 2
}


def _frame(records: bytes) -> LongFrame:
    """A hand-made RSP_UD (68 L L 68 08 A 72 header records CS 16) decoded by the codec."""
    body = bytes((0x08, 0x00, 0x72)) + HEADER + records
    raw = bytes((0x68, len(body), len(body), 0x68)) + body + bytes((sum(body) & 0xFF, 0x16))
    frame = decode(raw)
    assert isinstance(frame, LongFrame)
    return frame


def _profile(*registers: dict[str, object]) -> DeviceProfile:
    shipped = load_profile().model_dump()
    shipped["registers"] = [
        {"obis": "1.8.0", "source": "energy_import", "quantity": "energy", "unit": "Wh", "telegram": 0, **r}
        for r in registers
    ]
    return DeviceProfile.model_validate(shipped)


ENERGY = {"name": "energy_import_total", "coding": "INT32", "vif": 0x03, "scale": 1}
ENERGY_T1 = {"name": "energy_import_t1", "coding": "INT32", "vif": 0x03, "scale": 1, "tariff": 1}
CORRECT = bytes.fromhex("04 03 40 E2 01 00" + "84 10 03 10 27 00 00")  # 123456 Wh, 10000 Wh in tariff 1


def test_shipped_profile_heads_equal_the_en13757_3_tables_written_by_hand() -> None:
    heads = {e.register: e.head.hex(" ").upper() for e in expected_records(load_profile())}
    assert {name: heads[name] for name in HAND_WRITTEN_HEADS} == HAND_WRITTEN_HEADS


def test_a_conforming_telegram_has_no_problem_and_its_values_are_read() -> None:
    expected = expected_records(_profile(ENERGY, ENERGY_T1))
    frame = _frame(CORRECT)
    assert telegram_problems(expected, frame.records) == []
    assert register_values(expected, [frame]) == {"energy_import_total": 123456, "energy_import_t1": 10000}


@pytest.mark.parametrize(
    ("records", "what"),
    [
        ("04 04 40 E2 01 00", "VIF one decade off (10^1 Wh)"),
        ("44 03 40 E2 01 00", "storage number 1 instead of 0"),
        ("84 20 03 40 E2 01 00", "tariff 2 instead of 0"),
        ("84 40 03 40 E2 01 00", "subunit 1 instead of 0"),
        ("02 03 40 E2", "INT16 instead of INT32"),
        ("14 03 40 E2 01 00", "maximum instead of instantaneous value"),
    ],
)
def test_one_wrong_byte_in_the_head_is_reported(records: str, what: str) -> None:
    expected = expected_records(_profile(ENERGY, ENERGY_T1))
    frame = _frame(bytes.fromhex(records) + CORRECT[6:])
    problems = telegram_problems(expected, frame.records)
    assert any(p.startswith("energy_import_total expected as [04 03]") for p in problems), (what, problems)
    assert any(records[:5].upper() in p and "not a record" in p for p in problems), (what, problems)


def test_a_missing_and_a_duplicated_record_are_reported() -> None:
    expected = expected_records(_profile(ENERGY, ENERGY_T1))
    assert telegram_problems(expected, _frame(CORRECT[:6]).records) == [
        "energy_import_t1 expected as [84 10 03]"
    ]
    doubled = telegram_problems(expected, _frame(CORRECT + CORRECT[:6]).records)
    assert doubled == ["[04 03] is not a record of the device profile"]


def test_a_value_sent_ten_times_too_large_differs_from_the_meter() -> None:
    exp = expected_record(
        Register.model_validate(
            {
                **ENERGY,
                "obis": "1.8.0",
                "source": "energy_import",
                "quantity": "energy",
                "unit": "Wh",
                "telegram": 0,
            }
        )
    )
    frame = _frame(bytes.fromhex("04 03 80 D4 12 00"))  # 1234560 Wh
    value = register_values([exp], [frame])["energy_import_total"]
    assert value_problem(exp, value, [123456.0, 123456.2]) is not None
    assert value_problem(exp, 123457, [123456.0, 123456.2]) is None  # one count of resolution


def test_an_enumerated_register_is_compared_exactly() -> None:
    status = next(e for e in expected_records(load_profile()) if e.register == "status_word")
    assert not status.numeric
    assert value_problem(status, 0x0401, [0x0400, 0x0400]) is not None  # within "one count" yet wrong
    assert value_problem(status, 0x0400, [0x0400, 0x0400]) is None


@pytest.mark.parametrize(
    ("record", "tariff", "breaker"),
    [
        ("02 FD 1B 00 04", 1, 1),  # "0400" in E350 readouts: rate 1, disconnector closed
        ("02 FD 1B 01 04", 2, 1),  # "0401": rate 2
        ("02 FD 1B 04 00", 5, 0),  # rate 5, disconnector open
    ],
)
def test_status_word_fields_are_read_by_their_names(record: str, tariff: int, breaker: int) -> None:
    """C.5.0 is one word (E350 readouts); the profile's bit fields give the active rate and the breaker."""
    values = register_values(expected_records(load_profile()), [_frame(bytes.fromhex(record))])
    assert (values["active_tariff"], values["breaker"]) == (tariff, breaker)


def test_a_status_word_needs_fields_that_do_not_overlap() -> None:
    word = {"name": "status_word", "obis": "C.5.0", "source": "status_word", "quantity": "digital_input"}
    word |= {"unit": "", "coding": "INT16", "vif": 0xFD, "vife": [0x1B], "scale": 1, "telegram": 0}
    overlap = [{"name": "active_tariff", "lsb": 0, "width": 3}, {"name": "breaker", "lsb": 2}]
    with pytest.raises(ValidationError, match="overlaps"):
        _profile(word | {"fields": overlap})
    with pytest.raises(ValidationError, match="needs bit fields"):
        _profile(word)


def test_voltage_resolution_comes_from_the_vif_exponent() -> None:
    volts = next(e for e in expected_records(load_profile()) if e.register == "voltage_l1")
    assert volts.resolution == pytest.approx(1.0) and volts.exponent == 0  # E350 readouts: 1 V
    frame = _frame(bytes.fromhex("82 40 FD 49 E6 00"))  # 230 x 1 V
    assert register_values([volts], [frame]) == {"voltage_l1": pytest.approx(230.0)}
    assert value_problem(volts, 230.0, [230.4]) is None
    assert value_problem(volts, 232.0, [230.0]) is not None
    assert value_problem(volts, 2300.0, [230.0]) is not None  # ten times the meter, as a 10^-1 V coding would


def test_power_resolution_is_ten_watts() -> None:
    watts = next(e for e in expected_records(load_profile()) if e.register == "power_total")
    assert watts.resolution == pytest.approx(10.0) and watts.exponent == 1
    frame = _frame(bytes.fromhex("04 2C F0 00 00 00"))  # 240 x 10 W
    assert register_values([watts], [frame]) == {"power_total": pytest.approx(2400.0)}
    assert value_problem(watts, 2400.0, [2404.0]) is None
    assert value_problem(watts, 2420.0, [2400.0]) is not None


def test_a_profile_scale_contradicting_its_vif_is_refused() -> None:
    wrong = {**ENERGY, "scale": 10}  # VIF 03 says 10^0 Wh per count
    with pytest.raises(ExpectationError, match="scale 10.*exponent 10\\^0"):
        expected_records(_profile(wrong))
    with pytest.raises(ExpectationError, match="encodes energy in Wh"):
        expected_records(_profile({**ENERGY, "unit": "W"}))
    with pytest.raises(ExpectationError, match="VIF FD 3F is not in"):
        vif_meaning(0xFD, (0x3F,))


def test_vif_meaning_follows_en13757_3_tables() -> None:
    assert vif_meaning(0x06, ()).exponent == 3  # 10^(6-3) Wh = kWh
    assert vif_meaning(0x2E, ()).unit == "W" and vif_meaning(0x2E, ()).exponent == 3
    assert vif_meaning(0xFB, (0x01,)).exponent == 6  # MWh
    assert vif_meaning(0xFD, (0x49,)).exponent == 0  # 10^0 V
    assert vif_meaning(0xFD, (0x5B,)).exponent == -1  # 10^-1 A
    assert vif_meaning(0x83, (0x74,)).exponent == -2  # multiplicative correction 10^(4-6)


def test_identity_tariff_supply_expectations_come_from_the_profile() -> None:
    profile = load_profile()
    ident = expected_identity(profile)
    assert (ident.manufacturer, ident.medium) == ("ELV", 0x02)
    assert expected_tariff(profile, [False] * 4) == profile.rate_inputs.default_tariff
    assert expected_tariff(profile, [True, False, False, False]) == 2
    with pytest.raises(ExpectationError, match="expected 4 rate input levels"):
        expected_tariff(profile, [True])
    assert max_quiescent_current_a(profile) == pytest.approx(1.5e-3)
    assert must_answer_at(profile, 21.0) and must_answer_at(profile, -42.0)
    assert not must_answer_at(profile, 20.9) and not must_answer_at(profile, 42.1)


def _assumed_paths(profile: DeviceProfile) -> set[str]:
    """Profile sections and registers marked ``assumption: true`` (as catalogue ``assumes`` names them)."""
    sections = {"identity", "link", "startup", "supply", "rate_inputs", "ui"}
    paths = {name for name in sections if getattr(profile, name).assumption}
    mark = profile.supply.mark_current  # the supply's nested limits (EN 13757-2 4.2.2.3/4.2.2.4)
    if mark.assumption:
        paths |= {f"supply.mark_current.{name}" for name in type(mark).model_fields}
    return paths | {f"registers.{r.name}" for r in profile.registers if r.assumption}


def test_every_assumes_entry_names_an_assumption_of_the_shipped_profile() -> None:
    from harness.requirements import load_catalogue

    assumed = _assumed_paths(load_profile())
    named = {path for r in load_catalogue().requirements for path in r.assumes}
    assert named, "the catalogue lists no requirement verified against an assumption"
    assert named <= assumed, f"catalogue assumes {sorted(named - assumed)}, not assumptions of the profile"
    # the check itself notices a confirmed value: drop the flag of one register and it no longer matches
    confirmed = load_profile().model_dump()
    for reg in confirmed["registers"]:
        if reg["name"] == "status_word":
            reg["assumption"] = False
    assert "registers.status_word" not in _assumed_paths(DeviceProfile.model_validate(confirmed))


@pytest.mark.parametrize(
    ("register", "got", "before", "after", "agrees"),
    [
        ("status_word", 0x0401, 0x0400, 0x0400, False),  # a tariff off by one
        ("status_word", 0x0401, 0x0400, 0x0402, False),  # an enumeration between two readings is neither
        ("status_word", 0x0402, 0x0400, 0x0402, True),  # the rate changed during the read-out
        ("status_word", 0x0000, 0x0400, 0x0400, False),  # the breaker bit lost
        ("error_flags", 0x0101, 0x0100, 0x0100, False),
        ("power_fail_count", 4, 3, 3, False),  # a counter one too high
        ("power_fail_count", 4, 3, 5, True),  # a counter inside the readings' span, exactly
        ("power_fail_count", 2, 3, 5, False),
    ],
)
def test_integer_and_enumerated_registers_get_no_tolerance(
    register: str, got: int, before: int, after: int, agrees: bool
) -> None:
    """issue 11: integers and enumerations compared exactly (harness.verdict.register_agrees)."""
    exp = next(e for e in expected_records(load_profile()) if e.register == register)
    assert exp.resolution == 0.0 and not exp.numeric
    assert (value_problem(exp, got, [before, after]) is None) is agrees


def _rates_profile(*tariffs: int) -> DeviceProfile:
    regs = [
        {"name": "energy_import_total", "coding": "INT32", "vif": 0x03, "scale": 1},
        *(
            {"name": f"energy_import_t{t}", "coding": "INT32", "vif": 0x03, "scale": 1, "tariff": t}
            for t in tariffs
        ),
    ]
    return _profile(*regs)


def _energy_records(total: int, *rates: tuple[int, int]) -> bytes:
    """INT32 energy records, VIF 03 (1 Wh): the total, then (tariff, Wh) with the tariff in DIFEs."""
    out = bytes((0x04, 0x03)) + total.to_bytes(4, "little")
    for tariff, wh in rates:
        difes = (
            bytes((0x80 | (tariff & 3) << 4, (tariff >> 2 & 3) << 4))
            if tariff > 3
            else bytes(((tariff & 3) << 4,))
        )
        out += bytes((0x84,)) + difes + bytes((0x03,)) + wh.to_bytes(4, "little")
    return out


@pytest.mark.parametrize(
    ("total", "rates", "complete_problem", "partial_problem"),
    [
        (1000, (600, 399), False, False),  # rounding of each register: within one count each
        (10000, (600, 400), True, False),  # the total ten times the meter's, with the right VIF
        (1000, (6000, 400), True, True),  # rate 1 ten times the meter's, with the right VIF
        (1000, (600, 300), True, False),  # rate 2 a hundred Wh short
    ],
)
def test_rate_registers_must_add_up_to_their_total(
    total: int, rates: tuple[int, int], complete_problem: bool, partial_problem: bool
) -> None:
    """E350 energy registers: x.8.0 is the sum of x.8.1..x.8.n; a 10x value with the right VIF fails.

    Partial: the profile exposes rates 1-2 of the meter's 5, read from hand-built telegram bytes; complete:
    all 5 rates exposed (3-5 holding 0 Wh)."""
    partial = _rates_profile(1, 2)
    (group,) = rate_sums(partial)
    assert not group.complete
    values = register_values(
        expected_records(partial), [_frame(_energy_records(total, *enumerate(rates, 1)))]
    )
    assert (rate_sum_problem(group, values) is not None) is partial_problem
    (group,) = rate_sums(_rates_profile(1, 2, 3, 4, 5))
    assert group.complete
    values = {"energy_import_total": total, **{f"energy_import_t{t}": 0 for t in (3, 4, 5)}}
    values |= {f"energy_import_t{i}": v for i, v in enumerate(rates, start=1)}
    assert (rate_sum_problem(group, values) is not None) is complete_problem


def test_shipped_profile_groups_import_rates_as_complete_and_export_rates_as_partial() -> None:
    groups = {g.total.register: g for g in rate_sums(load_profile())}
    assert groups["energy_import_total"].complete and len(groups["energy_import_total"].rates) == 5
    assert not groups["energy_export_total"].complete and len(groups["energy_export_total"].rates) == 2


def test_the_meter_firmware_is_text_compared_exactly() -> None:
    """E350 readouts: OBIS 0.2.0 is text such as "M23"; EN 13757-3 LVAR ASCII is sent last character first."""
    firmware = next(e for e in expected_records(load_profile()) if e.register == "firmware")
    frame = _frame(bytes.fromhex("0D FD 0E 03 33 32 4D"))  # "M23" reversed: 3, 2, M
    assert telegram_problems([firmware], frame.records) == []
    assert register_values([firmware], [frame]) == {"firmware": "M23"}
    assert value_problem(firmware, "M23", ["M23", "M23"]) is None
    assert value_problem(firmware, "M26", ["M23", "M23"]) is not None
    assert value_problem(firmware, 0x0102, ["M23", "M23"]) is not None  # the module's firmware number
