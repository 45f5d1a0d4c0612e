"""Property tests (hypothesis): encode/decode round trip and a decoder that never crashes (EN 13757-2/-3)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness.commands.decode import frame_json
from harness.mbus import (
    AckFrame,
    Coding,
    ControlFrame,
    DataRecord,
    Frame,
    LongFrame,
    LongHeader,
    MBusError,
    SecondaryAddress,
    ShortFrame,
    ShortHeader,
    build_record,
    decode,
    decode_manufacturer,
    describe,
    encode,
    frame_length,
)
from harness.mbus.records import DATA_LENGTH, lvar_length

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
byte = st.integers(0, 255)
hex_id = st.text("0123456789ABCDEF", min_size=8, max_size=8)
manufacturer = st.integers(0, 0xFFFF).map(decode_manufacturer)


def _chain(codes: list[int]) -> tuple[int, ...]:
    return tuple(c | 0x80 for c in codes[:-1]) + tuple(codes[-1:])


@st.composite
def data_records(draw: st.DrawFn) -> DataRecord:
    if draw(st.integers(0, 30)) == 0:
        return DataRecord(dif=0x7F)  # global readout request
    coding = draw(st.integers(0, 14))
    dife = _chain(draw(st.lists(st.integers(0, 0x7F), max_size=3)))
    dif = coding | draw(st.integers(0, 3)) << 4 | draw(st.integers(0, 1)) << 6 | (0x80 if dife else 0)
    vife = _chain(draw(st.lists(st.integers(0, 0x7F), max_size=3)))
    vif = draw(st.integers(0, 0x7F)) | (0x80 if vife else 0)
    text = draw(st.text(st.characters(max_codepoint=255), max_size=6)) if vif & 0x7F == 0x7C else None
    size = DATA_LENGTH[coding]
    lvar = None
    if size is None:
        lvar = draw(
            st.one_of(
                st.integers(0, 12),
                st.integers(0xC0, 0xC6),
                st.integers(0xD0, 0xD6),
                st.integers(0xE0, 0xEA),
                st.just(0xF0),
            )
        )
        size = lvar_length(lvar)
    data = draw(st.binary(min_size=size, max_size=size))
    return DataRecord(dif=dif, dife=dife, vif=vif, vife=vife, data=data, lvar=lvar, plain_text_vif=text)


@st.composite
def variable_frames(draw: st.DrawFn) -> LongFrame:
    ci = draw(st.sampled_from([0x72, 0x76, 0x78, 0x7A]))
    header: LongHeader | ShortHeader | None = None
    if ci in (0x72, 0x76):
        header = LongHeader(
            draw(hex_id),
            draw(manufacturer),
            draw(byte),
            draw(byte),
            draw(byte),
            draw(byte),
            draw(st.integers(0, 0xFFFF)),
        )
    elif ci == 0x7A:
        header = ShortHeader(draw(byte), draw(byte), draw(st.integers(0, 0xFFFF)))
    more = draw(st.booleans())
    mdata = draw(st.one_of(st.none(), st.binary(min_size=1 if more else 0, max_size=20)))
    return LongFrame(
        c=draw(byte),
        a=draw(byte),
        ci=ci,
        header=header,
        records=tuple(draw(st.lists(data_records(), max_size=6))),
        manufacturer_data=mdata,
        more_records_follow=more,
    )


@st.composite
def select_frames(draw: st.DrawFn) -> LongFrame:
    address = SecondaryAddress(
        draw(hex_id),
        draw(st.one_of(st.none(), st.integers(0, 0xFFFE).map(decode_manufacturer))),
        draw(st.one_of(st.none(), st.integers(0, 254))),
        draw(st.one_of(st.none(), st.integers(0, 254))),
    )
    return LongFrame(c=0x53, a=253, ci=draw(st.sampled_from([0x52, 0x56])), select=address)


raw_cis = st.integers(0, 255).filter(lambda ci: ci not in (0x52, 0x56, 0x72, 0x76, 0x78, 0x7A))
frames: st.SearchStrategy[Frame] = st.one_of(
    st.just(AckFrame()),
    st.builds(ShortFrame, c=byte, a=byte),
    st.builds(ControlFrame, c=byte, a=byte, ci=byte),
    st.builds(LongFrame, c=byte, a=byte, ci=raw_cis, data=st.binary(min_size=1, max_size=60)),
    select_frames(),
    variable_frames(),
)


def _encodable(frame: Frame) -> bytes:
    try:
        return encode(frame)
    except MBusError:
        assume(False)  # longer than 252 user bytes, or a variable CI with nothing in it
        raise


@SETTINGS
@given(frames)
def test_decode_of_encode_is_identity(frame: Frame) -> None:
    wire = _encodable(frame)
    assert decode(wire) == frame
    assert decode(wire, strict=True) == frame
    assert frame_length(wire) == len(wire)
    if wire[0] == 0x68:
        assert frame_length(wire[:1]) is None


def _reframe(body: bytes) -> bytes:
    """Valid link layer around any body, so that the mutation reaches the application layer."""
    body = body[:255] or b"\x08"
    return bytes((0x68, len(body), len(body), 0x68)) + body + bytes((sum(body) & 0xFF, 0x16))


def _check_never_crashes(data: bytes) -> None:
    for strict in (False, True):
        try:
            frame = decode(data, strict=strict)
        except MBusError as exc:
            assert exc.diagnostics and all(d.severity == "error" for d in exc.diagnostics)
            # the safety net for codec bugs must never be what answered
            assert all(d.rule != "codec:internal" for d in exc.diagnostics), exc.diagnostics
            continue
        if isinstance(frame, LongFrame):
            for record in frame.records:
                describe(record, big_endian=frame.ci == 0x76)
        json.dumps(frame_json(frame), allow_nan=False)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    _check_never_crashes(data)
    _check_never_crashes(_reframe(data))


@SETTINGS
@given(
    frames,
    st.lists(
        st.tuples(st.integers(0, 300), byte, st.sampled_from(["set", "insert", "delete"])),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_mutated_frames_never_crash_the_decoder(
    frame: Frame, edits: list[tuple[int, int, str]], fix: bool
) -> None:
    wire = bytearray(_encodable(frame))
    for pos, value, op in edits:
        at = pos % (len(wire) + 1)
        if op == "insert":
            wire.insert(at, value)
        elif at < len(wire):
            if op == "set":
                wire[at] = value
            else:
                del wire[at]
    data = bytes(wire)
    _check_never_crashes(data)
    if fix and len(data) > 6:
        _check_never_crashes(_reframe(data[4:-2]))


_INT_RANGES = {
    Coding.INT8: 8,
    Coding.INT16: 16,
    Coding.INT24: 24,
    Coding.INT32: 32,
    Coding.INT48: 48,
    Coding.INT64: 64,
}
_BCD_DIGITS = {Coding.BCD2: 2, Coding.BCD4: 4, Coding.BCD6: 6, Coding.BCD8: 8, Coding.BCD12: 12}


@st.composite
def coded_values(draw: st.DrawFn) -> tuple[Coding, int | str]:
    kind = draw(st.sampled_from(["int", "bcd", "text"]))
    if kind == "int":
        coding = draw(st.sampled_from(sorted(_INT_RANGES)))
        bits = _INT_RANGES[coding]
        return coding, draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    if kind == "bcd":
        coding = draw(st.sampled_from(sorted(_BCD_DIGITS)))
        digits = _BCD_DIGITS[coding]
        return coding, draw(st.integers(-(10 ** (digits - 1)) + 1, 10**digits - 1))
    return Coding.VARIABLE, draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20))


@SETTINGS
@given(
    coded_values(),
    st.integers(0, 0x7F).filter(lambda v: v not in (0x7B, 0x7C, 0x7D)),
    st.integers(0, 40),
    st.integers(0, 7),
    st.integers(0, 3),
)
def test_build_record_and_describe_are_inverse(
    coded: tuple[Coding, int | str], vif: int, storage: int, tariff: int, subunit: int
) -> None:
    coding, value = coded
    record = build_record(
        coding=coding, vif=vif, value=value, storage=storage, tariff=tariff, subunit=subunit
    )
    view = describe(record)
    assert (view.raw_value, view.storage, view.tariff, view.subunit) == (value, storage, tariff, subunit)


@SETTINGS
@given(st.lists(frames, min_size=1, max_size=5))
def test_frame_length_cuts_a_stream_of_frames(stream: list[Frame]) -> None:
    wires = [_encodable(f) for f in stream]
    buf = b"".join(wires)
    cut = []
    while buf:
        n = frame_length(buf)
        assert n is not None
        cut.append(buf[:n])
        buf = buf[n:]
    assert cut == wires
