"""Asynchronous character framing on the M-Bus line, modelled at bit level (EN 13757-2: 8E1, LSB first).

A transmitter turns bytes into a waveform of bits at its baud rate and character format; a receiver samples
that waveform at its own baud and format the way a UART does (16x oversampling, resynchronising on each start
bit). A mismatch in baud or parity therefore yields exactly the garbage a real UART would read, and several
slaves sending at once combine as a wired-AND (space = 0 dominates), which is how a collision looks on M-Bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Parity = Literal["N", "E", "O", "M", "S"]


@dataclass(frozen=True)
class CharFormat:
    """Baud rate and character format of a UART."""

    baud: int
    bytesize: int = 8
    parity: Parity = "E"
    stopbits: float = 1

    @property
    def bits_per_char(self) -> int:
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + (2 if self.stopbits > 1 else 1)

    def char_time_s(self) -> float:
        """Wire time of one character, unscaled."""
        return self.bits_per_char / self.baud

    def __str__(self) -> str:
        stop = "1" if self.stopbits == 1 else str(self.stopbits)
        return f"{self.baud} Bd {self.bytesize}{self.parity}{stop}"


MBUS_8E1_2400 = CharFormat(2400)


@dataclass(frozen=True)
class RxChar:
    """A character as a receiver read it."""

    value: int
    parity_ok: bool
    framing_ok: bool

    @property
    def ok(self) -> bool:
        return self.parity_ok and self.framing_ok


def _parity_bit(value: int, parity: Parity, bytesize: int) -> int | None:
    ones = bin(value & ((1 << bytesize) - 1)).count("1")
    return {"N": None, "E": ones & 1, "O": (ones & 1) ^ 1, "M": 1, "S": 0}[parity]


def char_bits(value: int, fmt: CharFormat) -> list[int]:
    """Line levels of one character: start bit 0, data LSB first, parity, stop bit(s) 1."""
    bits = [0] + [(value >> i) & 1 for i in range(fmt.bytesize)]
    p = _parity_bit(value, fmt.parity, fmt.bytesize)
    if p is not None:
        bits.append(p)
    bits += [1] * (2 if fmt.stopbits > 1 else 1)
    return bits


#: idle bits a transmitter leaves on the line after a character: ``((after_char_index, idle_bits), ...)``
Pauses = tuple[tuple[int, int], ...]


def encode_bits(data: bytes, fmt: CharFormat, pauses: Pauses = ()) -> list[int]:
    """Characters as one bit stream: back to back, except for the idle (mark, 1) bits of ``pauses``."""
    idle = dict(pauses)
    out: list[int] = []
    for i, b in enumerate(data):
        out += char_bits(b, fmt)
        out += [1] * idle.get(i, 0)
    return out


def char_end_bits(data: bytes, fmt: CharFormat, pauses: Pauses = ()) -> list[int]:
    """Bit position, from the first start bit, at which each character's last stop bit ends."""
    idle = dict(pauses)
    ends: list[int] = []
    pos = 0
    for i in range(len(data)):
        pos += fmt.bits_per_char
        ends.append(pos)
        pos += idle.get(i, 0)
    return ends


@dataclass(frozen=True)
class Transmission:
    """One transmitter's burst: bytes sent back to back with ``fmt``, starting ``offset_bits`` (its baud)
    after the common time origin."""

    data: bytes
    fmt: CharFormat
    offset_bits: float = 0.0
    #: idle line inside the burst (an inter-character pause, EN 13757-2 / FT1.2 admits none in a frame)
    pauses: Pauses = ()

    @property
    def idle_bits(self) -> int:
        return sum(bits for _, bits in self.pauses)


def receive(sources: list[Transmission], rx: CharFormat) -> list[RxChar]:
    """What a UART with format ``rx`` reads from the wired-AND of ``sources``.

    The fast path (one source, identical format) returns the bytes unchanged; otherwise the line is
    sampled at 16x the receiver's baud like a real UART.
    """
    if not sources:
        return []
    if len(sources) == 1 and sources[0].fmt == rx and sources[0].offset_bits == 0 and not sources[0].pauses:
        return [RxChar(b, True, True) for b in sources[0].data]
    if all(s.fmt.baud == rx.baud and float(s.offset_bits).is_integer() for s in sources):
        return _receive_bit_aligned(sources, rx)
    waves = [(encode_bits(s.data, s.fmt, s.pauses), s.fmt.baud, s.offset_bits / s.fmt.baud) for s in sources]
    end_s = max(off + len(bits) / baud for bits, baud, off in waves)

    def level(t: float) -> int:
        for bits, baud, off in waves:
            k = int((t - off) * baud)
            if 0 <= k < len(bits) and t >= off and bits[k] == 0:
                return 0
        return 1

    step = 1.0 / (rx.baud * 16)
    n_bits = rx.bits_per_char
    out: list[RxChar] = []
    t = 0.0
    while t < end_s:
        if level(t) == 1:
            t += step
            continue
        start = t
        samples = [level(start + (k + 0.5) / rx.baud) for k in range(n_bits)]
        ch, pos = _decode_char(samples, rx)
        framing_ok = ch.framing_ok
        out.append(ch)
        # a UART is ready for the next start bit from the middle of the (first) stop bit; after a framing
        # error it first waits for the line to return to idle
        t = start + (pos + 0.5) / rx.baud
        if not framing_ok:
            while t < end_s and level(t) == 0:
                t += step
    return out


def _decode_char(samples: list[int], rx: CharFormat) -> tuple[RxChar, int]:
    """One character from its bit samples (start bit first), and the index of its first stop bit."""
    value = sum(bit << i for i, bit in enumerate(samples[1 : 1 + rx.bytesize]))
    pos = 1 + rx.bytesize
    parity_ok = True
    expected = _parity_bit(value, rx.parity, rx.bytesize)
    if expected is not None:
        parity_ok = samples[pos] == expected
        pos += 1
    framing_ok = samples[0] == 0 and all(samples[pos:])
    return RxChar(value, parity_ok, framing_ok), pos


def _receive_bit_aligned(sources: list[Transmission], rx: CharFormat) -> list[RxChar]:
    """Same baud, whole-bit offsets: wired-AND the bit streams directly and read them bit by bit."""
    streams = [(encode_bits(s.data, s.fmt, s.pauses), int(s.offset_bits)) for s in sources]
    total = max(off + len(bits) for bits, off in streams)
    line = [1] * total
    for bits, off in streams:
        for j, bit in enumerate(bits):
            if not bit:
                line[off + j] = 0
    n_bits = rx.bits_per_char
    out: list[RxChar] = []
    i = 0
    while i < total:
        if line[i]:
            i += 1
            continue
        samples = line[i : i + n_bits]
        samples += [1] * (n_bits - len(samples))  # idle line after the last bit
        ch, stop = _decode_char(samples, rx)
        out.append(ch)
        i += stop + 1
        if not ch.framing_ok:
            while i < total and not line[i]:  # wait for idle before the next start bit
                i += 1
    return out
