"""Bit-level character model: 8E1 framing, parity and baud mismatch, wired-AND collisions (EN 13757-2)."""

from __future__ import annotations

from harness.emulator.wire import CharFormat, Transmission, char_bits, receive

E8 = CharFormat(2400, 8, "E", 1)


def test_8e1_character_is_start_lsb_first_even_parity_stop() -> None:
    assert char_bits(0xE5, E8) == [0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1]
    assert char_bits(0x03, E8) == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]


def test_same_format_reads_every_byte_clean() -> None:
    data = bytes(range(256))
    chars = receive([Transmission(data, E8)], E8)
    assert bytes(c.value for c in chars) == data and all(c.ok for c in chars)


def test_same_format_through_the_sampler_matches_the_fast_path() -> None:
    data = bytes([0x10, 0x5B, 0x00, 0x5B, 0x16])
    chars = receive([Transmission(data, E8, offset_bits=0.0), Transmission(b"", E8, offset_bits=0.0)], E8)
    assert bytes(c.value for c in chars) == data and all(c.ok for c in chars)


def test_odd_parity_sender_fails_even_parity_check() -> None:
    chars = receive([Transmission(b"\x10\x40\x00", CharFormat(2400, 8, "O", 1))], E8)
    assert [c.value for c in chars] == [0x10, 0x40, 0x00]
    assert not any(c.parity_ok for c in chars)


def test_8n1_sender_gives_framing_errors_to_an_8e1_receiver() -> None:
    chars = receive([Transmission(bytes([0x10, 0x40, 0x00, 0x40, 0x16]), CharFormat(2400, 8, "N", 1))], E8)
    assert not all(c.ok for c in chars)


def test_wrong_baud_is_garbage() -> None:
    data = bytes([0x10, 0x40, 0x00, 0x40, 0x16])
    chars = receive([Transmission(data, CharFormat(9600))], E8)
    assert bytes(c.value for c in chars if c.ok) != data


def test_collision_is_wired_and_with_broken_parity() -> None:
    a, b = Transmission(b"\xe5", E8, 0.0), Transmission(b"\xe5", E8, 1.0)
    chars = receive([a, b], E8)
    assert chars[0].value != 0xE5
    # bit-aligned: data bits AND (01 & 03 = 01) while the parity bits AND to 0: parity error
    aligned = receive([Transmission(b"\x01", E8, 0.0), Transmission(b"\x03", E8, 0.0)], E8)
    assert aligned[0].value == 0x01 and not aligned[0].parity_ok


def test_bit_aligned_path_agrees_with_the_16x_sampler() -> None:
    frame = bytes([0x68, 0x03, 0x03, 0x68, 0x53, 0xFE, 0x52, 0xA3, 0x16])
    other = bytes([0xE5, 0x10, 0x40, 0x00])
    fast = receive([Transmission(frame, E8, 0.0), Transmission(other, E8, 3.0)], E8)
    # a billionth of a bit is invisible on the wire but forces the 16x oversampling path
    sampled = receive([Transmission(frame, E8, 0.0), Transmission(other, E8, 3.0 + 1e-9)], E8)
    assert fast == sampled
