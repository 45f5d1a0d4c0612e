"""The wire model's inter-character pause (the knob a "pause inside a telegram" fault sets)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.emulator import Emulator
from harness.emulator.wire import MBUS_8E1_2400, Transmission, char_end_bits, encode_bits, receive

DATA = bytes([0x68, 0x03, 0x03, 0x68, 0x53])
BITS = MBUS_8E1_2400.bits_per_char


def test_a_pause_is_idle_line_between_two_characters() -> None:
    plain = encode_bits(DATA, MBUS_8E1_2400)
    paused = encode_bits(DATA, MBUS_8E1_2400, ((1, 7),))
    assert paused == plain[: 2 * BITS] + [1] * 7 + plain[2 * BITS :]
    assert char_end_bits(DATA, MBUS_8E1_2400, ((1, 7),)) == [11, 22, 40, 51, 62]
    assert char_end_bits(DATA, MBUS_8E1_2400) == [11, 22, 33, 44, 55]


def test_a_receiver_reads_the_same_bytes_across_a_pause() -> None:
    tx = Transmission(DATA, MBUS_8E1_2400, 0.0, ((2, 30),))
    assert tx.idle_bits == 30
    chars = receive([tx], MBUS_8E1_2400)
    assert bytes(c.value for c in chars) == DATA and all(c.ok for c in chars)


def test_set_reply_pause_refuses_a_wrong_slave_or_a_negative_pause(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator()
    with pytest.raises(ValueError, match=r"slave index must be 0\.\.0"):
        emu.bus.set_reply_pause(1, after_char=3, idle_bits=11)
    with pytest.raises(ValueError, match="must be >= 0"):
        emu.bus.set_reply_pause(0, after_char=3, idle_bits=-1)
    emu.bus.set_reply_pause(0, after_char=3, idle_bits=11)
    assert emu.bus.reply_pauses == {0: ((3, 11),)}
    emu.bus.set_reply_pause(0, after_char=3, idle_bits=0)
    assert emu.bus.reply_pauses == {}
