"""EN 13757-2 link layer: frame layouts, checksum, length, start/stop bytes, C field, addresses."""

from __future__ import annotations

import pytest

from harness.mbus import (
    AckFrame,
    ControlFrame,
    LongFrame,
    MBusError,
    SecondaryAddress,
    ShortFrame,
    address_class,
    decode,
    decode_manufacturer,
    encode,
    encode_manufacturer,
    frame_length,
    has_errors,
)
from harness.mbus.model import (
    ADDR_SELECTED,
    C_FCB,
    CI_BAUD_300,
    CI_DATA_SEND,
    CI_SELECT,
    REQ_UD2,
    SND_NKE,
    SND_UD,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def rules(frame: object) -> list[tuple[str, str]]:
    return [(d.severity, d.rule) for d in frame.diagnostics]  # type: ignore[attr-defined]


def raised_rule(data: bytes, *, strict: bool = False) -> str:
    with pytest.raises(MBusError) as exc:
        decode(data, strict=strict)
    return exc.value.diagnostics[0].rule


def test_ack_is_single_character_e5() -> None:
    assert encode(AckFrame()) == b"\xe5"
    assert decode(b"\xe5") == AckFrame()


def test_snd_nke_short_frame_bytes() -> None:
    assert encode(ShortFrame(c=SND_NKE, a=1)) == h("10 40 01 41 16")
    assert decode(h("10 40 01 41 16")) == ShortFrame(c=SND_NKE, a=1)


def test_req_ud2_with_fcb_short_frame() -> None:
    assert encode(ShortFrame(c=REQ_UD2 | C_FCB, a=5)) == h("10 7B 05 80 16")


def test_baud_change_is_a_control_frame() -> None:
    wire = encode(ControlFrame(c=SND_UD, a=1, ci=CI_BAUD_300))
    assert wire == h("68 03 03 68 53 01 B8 0C 16")
    assert decode(wire) == ControlFrame(c=SND_UD, a=1, ci=CI_BAUD_300)


def test_set_primary_address_long_frame() -> None:
    frame = LongFrame(c=SND_UD, a=1, ci=CI_DATA_SEND, data=bytes([0x01, 0x7A, 5]))
    assert encode(frame) == h("68 06 06 68 53 01 51 01 7A 05 25 16")
    assert decode(encode(frame)) == frame


def test_select_secondary_address_bytes_and_wildcards() -> None:
    frame = LongFrame(
        c=SND_UD, a=ADDR_SELECTED, ci=CI_SELECT, select=SecondaryAddress("12345678", "ELV", 1, 2)
    )
    assert encode(frame) == h("68 0B 0B 68 53 FD 52 78 56 34 12 96 15 01 02 64 16")
    assert decode(encode(frame)) == frame
    wild = LongFrame(c=SND_UD, a=ADDR_SELECTED, ci=CI_SELECT, select=SecondaryAddress("1234FFFF"))
    assert encode(wild)[7:15] == h("FF FF 34 12 FF FF FF FF")
    assert decode(encode(wild)).select == SecondaryAddress("1234FFFF", None, None, None)  # type: ignore[union-attr]


def test_bad_checksum_is_refused_in_both_modes() -> None:
    assert raised_rule(h("10 40 01 42 16")) == "EN13757-2:checksum"
    assert raised_rule(h("10 40 01 42 16"), strict=True) == "EN13757-2:checksum"
    assert raised_rule(h("68 03 03 68 53 01 B8 0D 16")) == "EN13757-2:checksum"


def test_checksum_error_names_expected_and_received_byte() -> None:
    with pytest.raises(MBusError) as exc:
        decode(h("10 40 01 42 16"))
    d = exc.value.diagnostics[0]
    assert "41" in d.message and "42" in d.message and d.offset == 3


def test_wrong_stop_byte_is_refused() -> None:
    assert raised_rule(h("10 40 01 41 17")) == "EN13757-2:stop-byte"


def test_l_fields_must_agree() -> None:
    assert raised_rule(h("68 03 04 68 53 01 B8 0C 16")) == "EN13757-2:length"


def test_second_start_byte_must_be_68() -> None:
    assert raised_rule(h("68 03 03 69 53 01 B8 0C 16")) == "EN13757-2:start-byte"


def test_truncated_frame_is_a_length_error() -> None:
    assert raised_rule(h("68 06 06 68 53 01 51 01 7A")) == "EN13757-2:length"
    assert raised_rule(h("10 40 01")) == "EN13757-2:length"
    assert raised_rule(b"") == "EN13757-2:length"


def test_l_field_below_three_is_refused() -> None:
    assert raised_rule(h("68 00 00 68 08 16")) == "EN13757-2:length"


def test_unknown_start_byte_is_refused() -> None:
    assert raised_rule(h("A5 40 01 41 16")) == "EN13757-2:start-byte"


def test_non_bytes_input_is_the_codecs_error() -> None:
    with pytest.raises(MBusError):
        decode("10 40 01 41 16")  # type: ignore[arg-type]


def test_trailing_bytes_warn_when_lenient_and_fail_when_strict() -> None:
    data = h("10 40 01 41 16 00")
    assert rules(decode(data)) == [("warning", "EN13757-2:trailing-bytes")]
    assert rules(decode(data, strict=True)) == [("error", "EN13757-2:trailing-bytes")]
    assert not has_errors(decode(data)) and has_errors(decode(data, strict=True))


def test_unknown_c_field_is_a_deviation() -> None:
    data = encode(ShortFrame(c=0x41, a=1))
    assert rules(decode(data)) == [("warning", "EN13757-2:c-field")]
    assert rules(decode(data, strict=True)) == [("error", "EN13757-2:c-field")]
    assert rules(decode(encode(ShortFrame(c=SND_NKE, a=1)), strict=True)) == []


def test_slave_c_field_in_a_short_frame_is_a_deviation() -> None:
    assert ("error", "EN13757-2:c-field") in rules(decode(encode(ShortFrame(c=0x08, a=1)), strict=True))


def test_reserved_address_is_a_deviation() -> None:
    assert rules(decode(encode(ShortFrame(c=SND_NKE, a=251)), strict=True)) == [
        ("error", "EN13757-2:address")
    ]
    assert rules(decode(encode(ShortFrame(c=SND_NKE, a=254)), strict=True)) == []


def test_application_error_control_frame_is_an_error() -> None:
    frame = decode(h("68 03 03 68 08 01 70 79 16"))
    assert rules(frame) == [("error", "EN13757-3:application-error")]


def test_application_error_code_is_named() -> None:
    frame = decode(h("68 04 04 68 08 01 70 08 81 16"))
    assert "too busy" in frame.diagnostics[0].message


def test_frame_length_cuts_frames_from_a_stream() -> None:
    assert frame_length(b"") is None
    assert frame_length(b"\xe5\x10") == 1
    assert frame_length(h("10 40")) == 5
    assert frame_length(h("68")) is None
    assert frame_length(h("68 06 06")) == 12
    with pytest.raises(MBusError):
        frame_length(h("16 68"))


def test_long_frame_over_252_user_bytes_cannot_be_encoded() -> None:
    with pytest.raises(MBusError):
        encode(LongFrame(c=SND_UD, a=1, ci=CI_DATA_SEND, data=bytes(253)))
    assert len(encode(LongFrame(c=SND_UD, a=1, ci=CI_DATA_SEND, data=bytes(252)))) == 261


def test_manufacturer_code_packing() -> None:
    assert encode_manufacturer("ELV") == 0x1596
    assert decode_manufacturer(0x1596) == "ELV"
    with pytest.raises(MBusError):
        encode_manufacturer("elv")
    with pytest.raises(MBusError):
        encode_manufacturer("ELVA")


def test_address_classes() -> None:
    assert [address_class(a) for a in (0, 1, 250, 251, 253, 254, 255)] == [
        "unconfigured",
        "primary",
        "primary",
        "reserved",
        "selected",
        "broadcast_reply",
        "broadcast",
    ]


def test_ci_sent_in_the_wrong_direction_is_a_deviation() -> None:
    from_slave = LongFrame(c=0x08, a=1, ci=CI_DATA_SEND, data=b"\x01\x7a\x05")
    assert rules(decode(encode(from_slave), strict=True)) == [("error", "EN13757-3:ci-direction")]
    assert rules(decode(encode(from_slave))) == [("warning", "EN13757-3:ci-direction")]
    from_master = LongFrame(c=SND_UD, a=1, ci=CI_DATA_SEND, data=b"\x01\x7a\x05")
    assert rules(decode(encode(from_master), strict=True)) == []


def test_every_rule_id_the_codec_emits_is_documented() -> None:
    import re
    from pathlib import Path

    from harness.mbus.rules import RULES

    codec_dir = Path(decode.__code__.co_filename).parent
    source = "".join(p.read_text() for p in codec_dir.glob("*.py") if p.name != "rules.py")
    emitted = set(re.findall(r'"((?:EN13757-[23]|codec):[a-z-]+)"', source))
    assert emitted and emitted <= set(RULES), emitted - set(RULES)


def test_c_field_bits() -> None:
    from harness.mbus import c_field

    req = c_field(0x7B)
    assert (req.name, req.from_master, req.fcb, req.fcv) == ("REQ_UD2", True, True, True)
    assert c_field(0x5B).fcb is False
    rsp = c_field(0x38)
    assert (rsp.name, rsp.from_master, rsp.acd, rsp.dfc) == ("RSP_UD", False, True, True)
    assert (c_field(0x40).name, c_field(0x73).name, c_field(0x5A).name) == ("SND_NKE", "SND_UD", "REQ_UD1")
    assert c_field(0x41).name == "unknown"
