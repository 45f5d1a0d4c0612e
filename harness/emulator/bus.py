"""The virtual M-Bus line: master port(s), slaves, wire time, reply timing and collisions (EN 13757-2).

Bytes from a master take wire time at the master's baud (11 bit times per 8E1 character, scaled by the time
scale); each slave reads them through its own UART (:mod:`harness.emulator.wire`), so a wrong baud or parity
is garbage it discards. A complete frame is decoded once and offered to every powered slave; only the slaves
that answer build a reply. Replies start after the slave's reply delay, are paced at wire time, and when
several slaves answer the master reads the wired-AND of their bit streams: a collision.

Line noise (:meth:`Bus.set_line_noise`) hits a chosen fraction of the replies, drawn from a seeded generator
so a run is repeatable: a hit either erases the reply (the current pulses masked: the master's UART sees
no start bit, as when noise destroyed the request and the slave stayed silent) or flips one bit of one
character on its way to the master (a parity/checksum error the master reads as garbage).

Listeners (:meth:`Bus.add_monitor`) are receivers wired to the line that never transmit, like an M-Bus
sniffer: each reads every character on the line, the masters' requests and the slaves' replies, with its
own UART at the time the character's stop bit ends.

A slave's reply can carry idle line between its characters (:meth:`Bus.set_reply_pause`), the knob for a
fault "pause inside a telegram" (EN 13757-2 / FT1.2 admit none inside a frame).
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from harness.emulator.clock import ScaledClock
from harness.emulator.module import Cmi1020, Response
from harness.emulator.wire import CharFormat, Pauses, RxChar, Transmission, char_end_bits, receive
from harness.mbus import frames
from harness.mbus.model import Frame, MBusError

_START_BYTES = (0xE5, 0x10, 0x68)

#: fault ``reply_pause``: idle line of 10 character times (110 bits) after character 10 of each reply
FAULT_PAUSE_AFTER_CHAR = 10
FAULT_PAUSE_IDLE_BITS = 110
#: fault ``startup_chatter``: the stray byte leaves this long (emulated s) after bus power-up
POWER_UP_CHATTER_S = 0.01

NoiseMode = Literal["drop", "garble", "mixed"]
NOISE_MODES: tuple[NoiseMode, ...] = ("drop", "garble", "mixed")


@dataclass
class LineNoise:
    """Which replies line noise hits: ``loss`` of them (0..1), erased (``drop``), corrupted by one bit
    (``garble``) or either at even odds (``mixed``); ``seed`` makes the sequence of hits repeatable."""

    loss: float
    mode: NoiseMode = "mixed"
    seed: int = 0
    dropped: int = 0  #: replies erased so far
    garbled: int = 0  #: replies corrupted so far
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"noise loss must be a fraction 0..1 of the replies, got {self.loss}")
        if self.mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {self.mode!r}")
        self.rng = random.Random(self.seed)

    def hit(self) -> NoiseMode | None:
        """None when this reply passes intact; else what the noise does to it."""
        if self.loss <= 0.0 or self.rng.random() >= self.loss:
            return None
        if self.mode == "mixed":
            return "drop" if self.rng.random() < 0.5 else "garble"
        return self.mode


class Scheduler:
    """One thread running callbacks at wall-clock instants (time.monotonic)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="mbus-bus-scheduler", daemon=True)
        self._thread.start()

    def at(self, wall_s: float, fn: Callable[[], None]) -> None:
        with self._cv:
            heapq.heappush(self._heap, (wall_s, next(self._seq), fn))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic())
                    self._cv.wait(timeout)
                if self._stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
            fn()

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify()
        self._thread.join(timeout=2)


@dataclass
class _Assembler:
    """Cuts frames out of the characters a UART group reads; a bad character spoils the frame in progress."""

    check_parity: bool
    #: line idle ends a frame in progress (EN 13757-2 / FT1.2); False models fault no_resync_after_garbage
    resync_on_idle: bool = True
    buf: bytearray = field(default_factory=bytearray)
    last_end: float = float("-inf")
    discarding: bool = False

    def feed(self, chars: list[RxChar], ends: list[float], gap_s: float) -> list[tuple[bytes, float]]:
        out: list[tuple[bytes, float]] = []
        for ch, t in zip(chars, ends, strict=True):
            if t - self.last_end > gap_s:  # line silence ends any frame in progress (EN 13757-2)
                if self.resync_on_idle:
                    self.buf.clear()
                self.discarding = False
            self.last_end = t
            if not ch.framing_ok or (self.check_parity and not ch.parity_ok):
                self.buf.clear()
                self.discarding = True
                continue
            if self.discarding:
                continue
            self.buf.append(ch.value)
            while self.buf:
                if self.buf[0] not in _START_BYTES:
                    del self.buf[0]
                    continue
                try:
                    n = frames.frame_length(bytes(self.buf))
                except MBusError:
                    del self.buf[0]
                    continue
                if n is None or len(self.buf) < n:
                    break
                out.append((bytes(self.buf[:n]), t))
                del self.buf[:n]
        return out


@dataclass
class TimingRecord:
    """Emulator-side timestamps of one exchange (wall clock, time.monotonic)."""

    request: bytes
    request_end_wall: float
    reply_start_wall: float
    reply_end_wall: float
    baud: int
    responders: tuple[int, ...]
    time_scale: float
    #: when the first reply byte actually left for the master (scheduled: reply start + one character)
    first_byte_sent_wall: float | None = None
    reply_chars: int = 1  #: characters the master port reads
    noise: str | None = None  #: what line noise did to this reply ("drop", "garble"), None when intact

    @property
    def reply_delay_s(self) -> float:
        """End of request to the start bit of the reply, in emulated (unscaled) seconds, as scheduled."""
        return (self.reply_start_wall - self.request_end_wall) / self.time_scale

    @property
    def sent_late_s(self) -> float | None:
        """How much later than scheduled the first byte was handed to the master port (wall seconds)."""
        if self.first_byte_sent_wall is None:
            return None
        first_char_s = (self.reply_end_wall - self.reply_start_wall) / max(1, self.reply_chars)
        return self.first_byte_sent_wall - (self.reply_start_wall + first_char_s)


def _with_checksum(raw: bytes) -> bytes:
    """The same frame with its checksum recomputed (to model a slave that does not check it)."""
    b = bytearray(raw)
    if b[0] == 0x10 and len(b) == 5:
        b[3] = (b[1] + b[2]) & 0xFF
    elif b[0] == 0x68 and len(b) >= 9:
        b[-2] = sum(b[4:-2]) & 0xFF
    return bytes(b)


def _with_stop(raw: bytes) -> bytes:
    """The same frame with its stop character 16 (to model a slave that does not check it)."""
    if raw[:1] in (b"\x10", b"\x68") and len(raw) >= 5:
        return raw[:-1] + b"\x16"
    return raw


def _decode_fixed(raw: bytes, fixed: bytes) -> Frame | None:
    if fixed == raw:
        return None
    try:
        return frames.decode(fixed)
    except MBusError:
        return None


def _decode(raw: bytes) -> tuple[Frame | None, Frame | None, Frame | None]:
    """(frame if valid, frame if only its checksum is wrong, frame if only its stop byte is wrong)."""
    try:
        return frames.decode(raw), None, None
    except MBusError:
        pass
    return None, _decode_fixed(raw, _with_checksum(raw)), _decode_fixed(raw, _with_stop(raw))


Sink = Callable[[bytes], None]


@dataclass
class MasterPort:
    """A master's end of the line: its UART format and where the bytes it reads go.

    ``echo``: the port's adapter hears its own transmission (a half-duplex level converter that echoes):
    the master reads back each character it sends when its stop bit ends, before any reply."""

    name: str
    fmt: CharFormat
    sink: Sink | None = None
    echo: bool = False


class Bus:
    """The line shared by the master port(s) and every slave."""

    def __init__(self, slaves: list[Cmi1020], clock: ScaledClock) -> None:
        self.slaves = slaves
        self.clock = clock
        self.volts = 0.0
        self.ports: list[MasterPort] = []
        #: listen-only receivers on the line (bus monitors); they read requests and replies alike
        self.monitors: list[MasterPort] = []
        #: idle bits inside each reply of a slave (by slave index): ``((after_char_index, idle_bits), ...)``
        self.reply_pauses: dict[int, Pauses] = {}
        self.timing_log: deque[TimingRecord] = deque(maxlen=1000)
        self.lock = threading.RLock()  #: guards every slave's state (bus, physics and scheduler threads)
        self._lock = self.lock
        self._wire_free_wall = 0.0
        self._assemblers: dict[tuple[CharFormat, bool, bool], _Assembler] = {}
        self._scheduler = Scheduler()
        self.noise: LineNoise | None = None

    def set_line_noise(self, loss: float, *, mode: NoiseMode = "mixed", seed: int = 0) -> LineNoise | None:
        """Let line noise hit ``loss`` (0..1) of the replies from now on (0 = a clean line again)."""
        with self._lock:
            self.noise = LineNoise(loss, mode, seed) if loss > 0 else None
            return self.noise

    def stop(self) -> None:
        self._scheduler.stop()

    def add_port(self, port: MasterPort) -> None:
        with self._lock:
            self.ports.append(port)

    def remove_port(self, port: MasterPort) -> None:
        with self._lock:
            if port in self.ports:
                self.ports.remove(port)

    def add_monitor(self, port: MasterPort) -> None:
        """Wire a listen-only receiver to the line: it reads every character from then on."""
        with self._lock:
            self.monitors.append(port)

    def remove_monitor(self, port: MasterPort) -> None:
        with self._lock:
            if port in self.monitors:
                self.monitors.remove(port)

    def set_reply_pause(self, slave_index: int, after_char: int, idle_bits: int) -> None:
        """Make slave ``slave_index`` leave ``idle_bits`` of idle line after character ``after_char``
        (0-based) of each reply longer than that; ``idle_bits=0`` removes the pause."""
        if not 0 <= slave_index < len(self.slaves):
            raise ValueError(f"slave index must be 0..{len(self.slaves) - 1}, got {slave_index}")
        if after_char < 0 or idle_bits < 0:
            raise ValueError(f"after_char and idle_bits must be >= 0, got {after_char}, {idle_bits}")
        with self._lock:
            if idle_bits == 0:
                self.reply_pauses.pop(slave_index, None)
            else:
                self.reply_pauses[slave_index] = ((after_char, idle_bits),)

    # --- supply -------------------------------------------------------------------------------------------
    def set_bus_voltage(self, volts: float) -> None:
        with self._lock:
            self.volts = volts
            now = self.clock.now_s()
            wall = time.monotonic()
            for s in self.slaves:
                was_powered = s.powered
                s.set_bus_voltage(volts, now)
                chatter = s.power_up_chatter() if s.powered and not was_powered else b""
                if chatter:  # a transmitter that glitches while its supply comes up
                    self._emit(s, chatter, wall + POWER_UP_CHATTER_S * self.clock.time_scale)

    def _emit(self, slave: Cmi1020, data: bytes, start_wall: float) -> None:
        """Put bytes from ``slave`` on the line at ``start_wall`` that answer no request (every master port
        and listener reads them, like any current pulses on the line)."""
        ts = self.clock.time_scale
        tx = Transmission(data, slave.fmt)
        finish = start_wall + len(data) * slave.fmt.bits_per_char / slave.fmt.baud * ts
        slave.sending_until_wall = finish
        for port in [*self.ports, *self.monitors]:
            chars = receive([tx], port.fmt)
            for ch, at in zip(chars, _char_ends([tx], chars, start_wall, finish, ts), strict=True):
                self._scheduler.at(at, _deliver(port, bytes([ch.value])))

    def _pauses(self, slave: Cmi1020) -> Pauses:
        """Idle line inside ``slave``'s replies: set by :meth:`set_reply_pause`, or by the fault
        ``reply_pause`` (10 character times after character 10)."""
        if slave.index in self.reply_pauses:
            return self.reply_pauses[slave.index]
        if "reply_pause" in slave.faults:
            return ((FAULT_PAUSE_AFTER_CHAR, FAULT_PAUSE_IDLE_BITS),)
        return ()

    def current_a(self) -> float:
        wall = time.monotonic()
        with self._lock:
            return sum(s.current_a(wall) for s in self.slaves)

    # --- master -> slaves ---------------------------------------------------------------------------------
    def master_write(self, port: MasterPort, data: bytes, arrival_wall: float | None = None) -> None:
        """Bytes a master puts on the line (they arrive now and take wire time at the master's format)."""
        if not data:
            return
        arrival = time.monotonic() if arrival_wall is None else arrival_wall
        ts = self.clock.time_scale
        with self._lock:
            fmt = port.fmt
            start = max(arrival, self._wire_free_wall)
            duration = len(data) * fmt.char_time_s() * ts
            self._wire_free_wall = start + duration
            for mon in self.monitors:
                self._to_listener(mon, [Transmission(data, fmt)], start, start + duration)
            if port.echo:
                self._to_listener(port, [Transmission(data, fmt)], start, start + duration)
            groups: dict[tuple[CharFormat, bool, bool], list[Cmi1020]] = {}
            for s in self.slaves:
                if s.powered and s.hears(start):
                    groups.setdefault((s.fmt, s.checks_parity, s.resyncs_on_idle), []).append(s)
            replies: dict[float, list[tuple[Cmi1020, Response]]] = {}
            requests: dict[float, bytes] = {}
            decoded: dict[bytes, tuple[Frame | None, Frame | None, Frame | None]] = {}
            chars_by_fmt: dict[CharFormat, list[RxChar]] = {}
            for key, members in groups.items():
                rx_fmt, check_parity, resync = key
                chars = chars_by_fmt.get(rx_fmt)
                if chars is None:
                    chars = chars_by_fmt[rx_fmt] = receive([Transmission(data, fmt)], rx_fmt)
                if not chars:
                    continue
                step = duration / len(chars)
                ends = [start + (i + 1) * step for i in range(len(chars))]
                gap_s = max(33 / rx_fmt.baud, 0.010) * ts  # about 3 characters of silence
                asm = self._assemblers.setdefault(key, _Assembler(check_parity, resync))
                for raw, end in asm.feed(chars, ends, gap_s):
                    if raw not in decoded:
                        decoded[raw] = _decode(raw)
                    good, bad_cs, bad_stop = decoded[raw]
                    now_s = self.clock.at_wall(end)
                    for s in members:
                        frame = good if good is not None else (bad_cs if s.accepts_bad_checksum else None)
                        if frame is None and s.accepts_bad_stop_byte:
                            frame = bad_stop
                        if frame is None:
                            continue
                        resp = s.handle(frame, now_s)
                        if resp is not None:
                            replies.setdefault(end, []).append((s, resp))
                            requests[end] = raw
            for end, responders in replies.items():
                self._schedule_reply(requests[end], end, responders)

    # --- slaves -> master ---------------------------------------------------------------------------------
    def _schedule_reply(
        self, request: bytes, end_wall: float, responders: list[tuple[Cmi1020, Response]]
    ) -> None:
        ts = self.clock.time_scale
        starts = [end_wall + r.delay_s * ts for _, r in responders]
        t0 = min(starts)
        sources: list[Transmission] = []
        finish = t0
        for k, ((slave, resp), start) in enumerate(zip(responders, starts, strict=True)):
            # slaves never start on the same bit: each has its own oscillator and firmware timing
            # quantised to whole bits, which keeps the wired-AND of up to 250 replies cheap
            offset_bits = float(round((start - t0) / ts * resp.fmt.baud) + (k % 7))
            tx = Transmission(resp.data, resp.fmt, offset_bits, self._pauses(slave))
            sources.append(tx)
            bits = len(resp.data) * resp.fmt.bits_per_char + tx.idle_bits
            t_end = t0 + (offset_bits + bits) / resp.fmt.baud * ts
            slave.sending_until_wall = t_end
            slave.key_line(tx, t0, ts)  # its current follows the bits it sends
            finish = max(finish, t_end)
        record = TimingRecord(
            request,
            end_wall,
            t0,
            finish,
            responders[0][1].fmt.baud,
            tuple(s.index for s, _ in responders),
            ts,
        )
        self.timing_log.append(record)
        if len(responders) > 1:  # each sender's read-back of the line differs from what it sent
            for slave, _ in responders:
                slave.reply_collided()
        hit = self.noise.hit() if self.noise is not None else None
        if hit == "drop":
            assert self.noise is not None
            self.noise.dropped += 1
            record.noise = "drop"
            return
        flip_at, flip_bit = 0.0, 0
        if hit == "garble":
            assert self.noise is not None
            self.noise.garbled += 1
            record.noise = "garble"
            flip_at, flip_bit = self.noise.rng.random(), 1 << self.noise.rng.randrange(8)
        for n, port in enumerate(list(self.ports)):
            chars = receive(sources, port.fmt)
            if not chars:
                continue
            if flip_bit:
                k = int(flip_at * len(chars))
                chars[k] = RxChar(chars[k].value ^ flip_bit, False, chars[k].framing_ok)
            record.reply_chars = len(chars)
            for i, (ch, at) in enumerate(zip(chars, _char_ends(sources, chars, t0, finish, ts), strict=True)):
                stamp = record if i == 0 and n == 0 else None
                self._scheduler.at(at, _deliver(port, bytes([ch.value]), stamp))
        for mon in self.monitors:
            self._to_listener(mon, sources, t0, finish)

    def _to_listener(self, port: MasterPort, sources: list[Transmission], t0: float, t1: float) -> None:
        """Schedule what a listen-only receiver reads of ``sources`` (on the line from ``t0`` to ``t1``)."""
        chars = receive(sources, port.fmt)
        ts = self.clock.time_scale
        for ch, at in zip(chars, _char_ends(sources, chars, t0, t1, ts), strict=True):
            self._scheduler.at(at, _deliver(port, bytes([ch.value])))


def _char_ends(
    sources: list[Transmission], chars: list[RxChar], t0: float, t1: float, time_scale: float
) -> list[float]:
    """Wall instants at which a receiver has each of ``chars`` (the end of its stop bit).

    One undisturbed source read character for character: its own bit positions (pauses included);
    otherwise (a collision, a foreign format) the characters are spread evenly over the burst.
    """
    if len(sources) == 1 and len(chars) == len(sources[0].data):
        tx = sources[0]
        bit_s = time_scale / tx.fmt.baud
        return [t0 + (tx.offset_bits + end) * bit_s for end in char_end_bits(tx.data, tx.fmt, tx.pauses)]
    step = (t1 - t0) / len(chars) if chars else 0.0
    return [t0 + (i + 1) * step for i in range(len(chars))]


def _deliver(port: MasterPort, data: bytes, stamp: TimingRecord | None = None) -> Callable[[], None]:
    def run() -> None:
        if stamp is not None:
            stamp.first_byte_sent_wall = time.monotonic()
        sink = port.sink
        if sink is not None:
            try:
                sink(data)
            except OSError:
                port.sink = None  # the master went away; the line stays up for the next one

    return run
