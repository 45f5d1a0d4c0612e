"""EN 13757-3 application layer: headers, data records, VIF tables, scaling, dates, strict diagnostics."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.mbus import (
    Coding,
    DataRecord,
    Function,
    LongFrame,
    LongHeader,
    MBusError,
    ShortHeader,
    build_record,
    decode,
    describe,
    encode,
)
from harness.mbus.model import (
    CI_RESPONSE_LONG,
    CI_RESPONSE_MODE2,
    CI_RESPONSE_NONE,
    CI_RESPONSE_SHORT,
    RSP_UD,
)

HEADER = LongHeader(id="12345678", manufacturer="ELV", version=1, medium=2, access_number=5)


def telegram(*records: DataRecord, ci: int = CI_RESPONSE_LONG, **kw: object) -> LongFrame:
    header = {
        CI_RESPONSE_LONG: HEADER,
        CI_RESPONSE_MODE2: HEADER,
        CI_RESPONSE_SHORT: ShortHeader(5, 0, 0),
    }.get(ci)
    return LongFrame(c=RSP_UD, a=1, ci=ci, header=header, records=records, **kw)  # type: ignore[arg-type]


def record_from(hex_record: str, *, strict: bool = False) -> tuple[LongFrame, DataRecord]:
    """Decode one record placed after a CI 78 (no header) response."""
    body = bytes([RSP_UD, 1, CI_RESPONSE_NONE]) + bytes.fromhex(hex_record)
    wire = bytes((0x68, len(body), len(body), 0x68)) + body + bytes((sum(body) & 0xFF, 0x16))
    frame = decode(wire, strict=strict)
    assert isinstance(frame, LongFrame)
    return frame, frame.records[0]


def view(hex_record: str):  # type: ignore[no-untyped-def]
    return describe(record_from(hex_record)[1])


def test_long_header_fields() -> None:
    wire = encode(telegram(build_record(coding=Coding.INT32, vif=0x03, value=1)))
    assert wire[7:19] == bytes.fromhex("78 56 34 12 96 15 01 02 05 00 00 00")
    assert decode(wire).header == HEADER  # type: ignore[union-attr]


def test_energy_in_wh_with_exponent() -> None:
    v = view("04 03 39 30 00 00")
    assert (v.quantity, v.unit, v.value, v.raw_value, v.raw) == (
        "energy",
        "Wh",
        12345.0,
        12345,
        "04 03 39 30 00 00",
    )
    assert view("04 06 39 30 00 00").value == 12345000.0  # VIF 06: kWh


def test_energy_in_mwh_from_fb_table() -> None:
    v = view("02 FB 00 05 00")  # FB 00: 10^-1 MWh
    assert (v.quantity, v.unit, v.value) == ("energy", "Wh", 500000.0)


def test_reactive_energy_from_fb_table() -> None:
    """EN 13757-3 FB table E000 001n: reactive energy 10^(n-1) kvarh (FB 02 = 100 varh per count)."""
    v = view("04 FB 02 C4 09 00 00")
    assert (v.quantity, v.unit, v.value, v.problem) == ("reactive_energy", "varh", 250000.0, None)
    assert view("04 FB 03 02 00 00 00").value == 2000.0


def test_absolute_accumulation_from_the_fc_extension() -> None:
    """EN 13757-3:2018 VIFE FC + E001 0000: accumulation of abs value, both signs (E350 OBIS 15.8.0)."""
    v = view("04 83 FC 10 D2 04 00 00")
    assert (v.quantity, v.value, v.modifiers, v.problem) == (
        "energy",
        1234.0,
        ("accumulation_abs_both",),
        None,
    )
    assert (
        view("04 83 FC 11 D2 04 00 00").problem == "VIFE FC 11 is reserved in the combinable extension table"
    )


def test_voltage_and_current_from_fd_table() -> None:
    assert (view("02 FD 48 FC 08").quantity, view("02 FD 48 FC 08").value) == ("voltage", 230.0)
    current = view("02 FD 59 D2 04")  # FD 59: mA
    assert (current.quantity, current.unit, current.value) == ("current", "A", 1.234)


def test_power_and_backward_flow_qualifier() -> None:
    v = view("04 AB 3C 10 27 00 00")  # power W with VIFE 3C (backward flow = export)
    assert (v.quantity, v.unit, v.value, v.modifiers) == ("power", "W", 10000.0, ("backward_flow",))


def test_time_vif_units_become_seconds() -> None:
    assert view("02 22 02 00").value == 7200.0  # on time in hours
    assert view("02 27 01 00").value == 86400.0  # operating time in days


def test_volume_flow_per_minute_scales_to_per_hour() -> None:
    assert view("02 43 01 00").value == pytest.approx(0.006)  # 10^-4 m3/min = 0.006 m3/h per unit


def test_bcd_positive_and_negative() -> None:
    assert view("0C 13 78 56 34 12").value == pytest.approx(12345.678)
    negative = view("0A 5B 23 F1")  # type A: F in the most significant digit = negative
    assert (negative.quantity, negative.raw_value) == ("flow_temperature", -123)


def test_bcd_with_hex_digits_is_reported_not_guessed() -> None:
    frame, record = record_from("0A 5B 2A 01")
    assert describe(record).value == "012A"
    assert [(d.severity, d.rule) for d in frame.diagnostics] == [("warning", "EN13757-3:bcd")]
    strict_frame, _ = record_from("0A 5B 2A 01", strict=True)
    assert [(d.severity, d.rule) for d in strict_frame.diagnostics] == [("error", "EN13757-3:bcd")]


def test_integer_codings_are_signed() -> None:
    assert view("02 5B FF FF").raw_value == -1
    assert view("06 03 01 00 00 00 00 80").raw_value == -(2**47) + 1
    assert view("05 2B 00 00 C8 42").value == 100.0  # real32


def test_variable_length_text_bcd_and_binary() -> None:
    assert view("0D FD 11 04 44 43 42 41").value == "ABCD"  # customer, text sent last character first
    assert view("0D 13 C2 34 12").value == pytest.approx(1.234)
    assert view("0D 13 D2 34 12").value == pytest.approx(-1.234)
    assert view("0D 13 E2 34 12").raw_value == 0x1234


def test_storage_tariff_subunit_from_dife_chain() -> None:
    record = build_record(coding=Coding.INT32, vif=0x03, value=7, storage=5, tariff=2, subunit=1)
    assert (record.dif, record.dife) == (0xC4, (0x62,))
    v = describe(record)
    assert (v.storage, v.tariff, v.subunit) == (5, 2, 1)
    deep = describe(build_record(coding=Coding.INT8, vif=0x03, value=1, storage=100, tariff=5, subunit=2))
    assert (deep.storage, deep.tariff, deep.subunit) == (100, 5, 2)


def test_function_field() -> None:
    assert view("14 03 01 00 00 00").function is Function.MAXIMUM
    assert view("24 03 01 00 00 00").function is Function.MINIMUM
    assert view("34 03 01 00 00 00").function is Function.ERROR


def test_dates_types_g_f_i_j() -> None:
    when = dt.datetime(2024, 3, 5, 14, 30, 15)
    assert describe(build_record(coding=Coding.INT16, vif=0x6C, value=when.date())).value == "2024-03-05"
    assert describe(build_record(coding=Coding.INT32, vif=0x6D, value=when)).value == "2024-03-05T14:30:00"
    assert describe(build_record(coding=Coding.INT48, vif=0x6D, value=when)).value == "2024-03-05T14:30:15"
    assert describe(build_record(coding=Coding.INT24, vif=0x6D, value=when.time())).value == "14:30:15"
    assert view("04 6D A1 15 E9 17").value is None  # IV bit: time marked invalid by the meter


def test_plain_text_unit_with_multiplicative_vife() -> None:
    v = view("02 FC 03 48 52 25 74 22 15")  # Elvaco CMa10 humidity: text '%RH', VIFE 74 = 10^-2
    assert (v.quantity, v.unit, v.value) == ("plain_text", "%RH", pytest.approx(54.1))


def test_manufacturer_vife_after_standard_vif_keeps_phase() -> None:
    record = build_record(coding=Coding.INT16, vif=0xFD, vife=(0x48, 0x7F, 0x02), value=2301)
    v = describe(record)
    assert (v.quantity, v.value, v.manufacturer_vife) == ("voltage", pytest.approx(230.1), (0x02,))


def test_manufacturer_vif() -> None:
    v = view("02 FF 01 34 12")
    assert (v.quantity, v.raw_value, v.manufacturer_vife) == ("manufacturer_specific", 0x1234, (0x01,))


def test_special_functions_manufacturer_data_more_records_and_filler() -> None:
    frame, _ = record_from("02 03 01 00 2F 2F 0F AA BB")
    assert (len(frame.records), frame.manufacturer_data, frame.more_records_follow) == (1, b"\xaa\xbb", False)
    more, _ = record_from("02 03 01 00 1F")
    assert (more.manufacturer_data, more.more_records_follow) == (None, True)
    assert decode(encode(more)) == more


def test_global_readout_request_record() -> None:
    frame = LongFrame(c=0x53, a=1, ci=CI_RESPONSE_NONE, records=(DataRecord(dif=0x7F),))
    assert decode(encode(frame)) == frame


def test_short_header_telegram() -> None:
    frame = telegram(build_record(coding=Coding.INT16, vif=0x2B, value=5), ci=CI_RESPONSE_SHORT)
    assert decode(encode(frame)) == frame
    assert encode(frame)[7:11] == bytes([5, 0, 0, 0])


def test_mode2_telegram_is_big_endian() -> None:
    record = DataRecord(dif=0x02, vif=0x2B, data=bytes.fromhex("01 02"))
    frame = telegram(record, ci=CI_RESPONSE_MODE2)
    wire = encode(frame)
    assert wire[7:11] == bytes.fromhex("12 34 56 78") and wire[11:13] == bytes.fromhex("15 96")
    assert decode(wire) == frame
    assert describe(record, big_endian=True).raw_value == 0x0102


def test_truncated_record_keeps_earlier_records_with_an_error() -> None:
    frame, _ = record_from("02 03 01 00 04 03 01")
    assert len(frame.records) == 1
    assert [(d.severity, d.rule) for d in frame.diagnostics] == [("error", "EN13757-3:premature-end")]


def test_too_many_difes_is_an_error_even_when_lenient() -> None:
    frame, _ = record_from("82" + " 80" * 10 + " 00 03 01 00")
    assert ("error", "EN13757-3:dife-chain") in [(d.severity, d.rule) for d in frame.diagnostics]
    ok, _ = record_from("82" + " 80" * 9 + " 00 03 01 00")
    assert ok.diagnostics == ()


def test_reserved_vif_is_a_deviation() -> None:
    lenient, _ = record_from("02 6F 01 00")
    strict, _ = record_from("02 6F 01 00", strict=True)
    assert [(d.severity, d.rule) for d in lenient.diagnostics] == [("warning", "EN13757-3:vif")]
    assert [(d.severity, d.rule) for d in strict.diagnostics] == [("error", "EN13757-3:vif")]


def test_date_vif_with_bcd_coding_is_a_deviation() -> None:
    strict, _ = record_from("0A 6C 01 02", strict=True)
    assert ("error", "EN13757-3:data-coding") in [(d.severity, d.rule) for d in strict.diagnostics]


def test_non_letter_manufacturer_is_a_deviation() -> None:
    wire = bytearray(encode(telegram(build_record(coding=Coding.INT8, vif=0x03, value=1))))
    wire[11:13] = b"\x00\x00"
    wire[-2] = sum(wire[4:-2]) & 0xFF
    assert [(d.severity, d.rule) for d in decode(bytes(wire), strict=True).diagnostics] == [
        ("error", "EN13757-3:manufacturer")
    ]


def test_build_record_is_the_inverse_of_raw_value() -> None:
    cases = [
        (Coding.INT8, -5),
        (Coding.INT24, 8_000_000),
        (Coding.INT64, -(2**62)),
        (Coding.BCD8, 12345678),
        (Coding.BCD12, -12345678901),
        (Coding.VARIABLE, "E350"),
        (Coding.VARIABLE, -300),
    ]
    for coding, value in cases:
        record = build_record(coding=coding, vif=0x03, value=value)
        assert describe(record).raw_value == value, (coding, value)
        assert decode(encode(telegram(record))).records == (record,)  # type: ignore[union-attr]


def test_build_record_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(MBusError):
        build_record(coding=Coding.INT8, vif=0x03, value=300)
    with pytest.raises(MBusError):
        build_record(coding=Coding.BCD4, vif=0x03, value=-1234)  # negative BCD leaves 3 digits
    with pytest.raises(MBusError):
        build_record(coding=Coding.INT16, vif=0x7C, value=1)  # plain-text VIF needs its text


def test_encode_refuses_inconsistent_records() -> None:
    with pytest.raises(MBusError):
        encode(telegram(DataRecord(dif=0x04, vif=0x03, data=b"\x01")))  # INT32 with one byte
    with pytest.raises(MBusError):
        encode(telegram(DataRecord(dif=0x84, dife=(0x80,), vif=0x03, data=bytes(4))))  # chain never ends


def test_fixed_data_structure_counters_and_medium() -> None:
    from harness.mbus.fixed import decode_fixed

    fixed = decode_fixed(bytes.fromhex("93 92 91 90 10 00 05 69 31 65 00 00 69 00 00 00"))
    assert (fixed.id, fixed.access_number, fixed.medium) == ("90919293", 16, 4)  # heat
    energy, volume = fixed.counters
    assert (energy.quantity, energy.unit, energy.value) == ("energy", "Wh", 6531000.0)  # unit 05: kWh
    assert (volume.quantity, volume.unit, volume.value) == ("volume", "m3", pytest.approx(0.069))  # 29: l
    binary = decode_fixed(bytes.fromhex("93 92 91 90 10 80 05 29 10 00 00 00 00 00 00 00"))
    assert binary.counters[0].raw_value == 16  # status bit 7: binary counters
    with pytest.raises(MBusError):
        decode_fixed(bytes(15))
