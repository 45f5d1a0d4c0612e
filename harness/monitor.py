"""Bus-side timing from a bus monitor: a listen-only receiver on the M-Bus line (a sniffer).

A master sees its replies through a USB latency timer, a serial server and a LAN, so its reply latency
carries tens of milliseconds of uncertainty (the rig's ``latency_allowance_s``). A sniffer wired to the
bus reads the master's request and the slave's reply with one UART, and this module timestamps every
byte it delivers on one clock (:func:`time.perf_counter_ns`). The receive latency of that path is the
same for the request and the reply, so it cancels in every interval; what is left is its jitter, the
monitor's *resolution*, which is the uncertainty of each interval (given by the rig's budget for the
sniffer: e.g. about 2 ms for an FTDI adapter with its latency timer at 1 ms).

A byte's timestamp marks the end of its stop bit on the line (when a UART has it). Hence, per exchange:

* reply delay = first reply byte - end of request - one character time (the reply's start bit),
  judged against :func:`harness.mbus.timing.reply_window` (EN 13757-2 reply timing); when the request's
  last byte arrived together with the reply (the monitor stalled), the delay is not decided;
* inter-character gap = interval between two bytes of one frame - one character time (idle line
  between a stop bit and the next start bit), judged against
  :func:`harness.mbus.timing.inter_char_gap_allowance_s` (EN 13757-2 / FT1.2: no pause inside a frame;
  the tolerance is an assumption, flagged there).

A byte can reach the monitor late (a busy host, a USB packet collecting several bytes) but never before its
stop bit has ended, and a UART cannot deliver two bytes less than one character time apart. So the moment
byte *i* was on the line is bounded by every later byte of the same frame: ``t_j - (j - i)`` character
times. The monitor takes the lowest of these bounds (:func:`line_envelope_ns`), which removes the delay
of a byte that came late when a later one came on time; a real pause moves every later byte, so it stays.

The stream is cut into frames with the codec's frame-length rule (:func:`harness.mbus.frames.frame_length`)
and each frame's direction is read from its PRM bit (C field 0x40, set in every master-to-slave frame; the
single character E5 is always a slave's). On a simulated bench ``time_scale`` turns wall intervals back
into line time. Everything but :class:`BusMonitor` (the reader) is a pure function.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType

import serial

from harness.evidence import Verdict
from harness.mbus import frames
from harness.mbus.model import MBusError
from harness.mbus.timing import char_time_s, inter_char_gap_allowance_s, reply_window
from harness.measure import verdict_of

#: PRM bit of the C field: 1 in frames from the primary station (the master), EN 13757-2 / IEC 60870-5-2
C_PRM = 0x40
_NS = 1e-9


class MonitorError(Exception):
    """The bus monitor cannot be opened or read; the message says what to check."""


@dataclass(frozen=True)
class StampedByte:
    """One byte as the monitor received it, with the monitor's clock (ns) at its arrival."""

    value: int
    t_ns: int


@dataclass(frozen=True)
class MonitoredFrame:
    """A frame cut out of the monitored stream by the frame-length rule, with one timestamp per byte."""

    data: bytes
    stamps_ns: tuple[int, ...]

    @property
    def from_master(self) -> bool:
        """True for a master's request (PRM bit set); E5 and RSP_UD come from a slave."""
        return from_master(self.data)

    @property
    def decodes(self) -> bool:
        """True when the codec accepts the frame (checksum, lengths, stop byte)."""
        try:
            frames.decode(self.data)
        except MBusError:
            return False
        return True


def from_master(frame: bytes) -> bool:
    """Direction of a frame from its C field's PRM bit (EN 13757-2); E5 is a slave's acknowledge."""
    if frame[:1] == b"\x10" and len(frame) > 1:
        return bool(frame[1] & C_PRM)
    if frame[:1] == b"\x68" and len(frame) > 4:
        return bool(frame[4] & C_PRM)
    return False


def split_frames(
    stream: Iterable[StampedByte], *, baud: int, time_scale: float = 1.0
) -> Iterator[MonitoredFrame]:
    """Cut a timestamped byte stream into frames with the codec's frame-length rule (EN 13757-2 FT1.2).

    Bytes that cannot start a frame (noise, a collision's garbage) are skipped up to the next start byte.
    A frame in progress is abandoned after a silence longer than the reply window's maximum: it was cut
    off. Shorter pauses inside a frame are kept in it, so that they can be measured.
    """
    cut_ns = reply_window(baud)[1] * time_scale / _NS
    buf: list[StampedByte] = []
    last_ns: int | None = None
    for b in stream:
        if last_ns is not None and b.t_ns - last_ns > cut_ns:
            buf.clear()
        last_ns = b.t_ns
        buf.append(b)
        while buf:
            try:  # the frame-length rule needs only the start byte and the L field
                n = frames.frame_length(bytes(x.value for x in buf[:2]))
            except MBusError:
                del buf[0]
                continue
            if n is None or len(buf) < n:
                break
            yield MonitoredFrame(bytes(x.value for x in buf[:n]), tuple(x.t_ns for x in buf[:n]))
            del buf[:n]


def line_envelope_ns(stamps_ns: tuple[int, ...], char_ns: float) -> tuple[int, ...]:
    """Latest moment each byte of one frame can have ended on the line, given every later byte's arrival:
    ``e_i = min(t_i, e_{i+1} - char)`` (no UART delivers bytes closer than one character time). Pure."""
    out = list(stamps_ns)
    for i in range(len(out) - 2, -1, -1):
        out[i] = min(out[i], round(out[i + 1] - char_ns))
    return tuple(out)


def frame_gaps_s(stamps_ns: tuple[int, ...], *, baud: int, time_scale: float = 1.0) -> tuple[float, ...]:
    """Idle line between consecutive characters of one frame, line seconds (0 = back to back). Pure.

    ``stamps_ns`` holds each byte's arrival at a receiver (a monitor's UART, or a master's read chunk: every
    byte of a chunk stamped with the chunk's arrival); :func:`line_envelope_ns` takes out what a later byte
    proves was delivery delay, one character time is the character itself (EN 13757-2 8E1)."""
    char = char_time_s(baud)
    env = line_envelope_ns(stamps_ns, char * time_scale / _NS)
    return tuple((b - a) * _NS / time_scale - char for a, b in itertools.pairwise(env))


def judge_gaps(
    gaps_s: Iterable[float], *, baud: int, uncertainty_s: float, allowance_s: float | None = None
) -> tuple[TimingCheck, ...]:
    """Judge every inter-character gap of one frame (line seconds) against the gap allowance. Pure.

    EN 13757-2 / FT1.2: no pause inside a frame; ``allowance_s`` is the tolerance (the device profile's
    ``link.inter_char_gap_max_bit_times``, an assumption), by default :func:`inter_char_gap_allowance_s`.
    ``uncertainty_s`` is that of one interval between two timestamps (line seconds)."""
    allowance = inter_char_gap_allowance_s(baud) if allowance_s is None else allowance_s
    return tuple(
        TimingCheck(
            f"reply_gap[{i}]",
            gap,
            None,
            allowance,
            uncertainty_s,
            verdict_of(gap, None, allowance, uncertainty_s),
            "EN 13757-2 / FT1.2: no pause inside a frame",
            assumption=True,
        )
        for i, gap in enumerate(gaps_s)
    )


@dataclass(frozen=True)
class Exchange:
    """A master's request and the slave frame that followed it (if any), timed on the monitor's clock."""

    request: MonitoredFrame
    reply: MonitoredFrame | None
    baud: int
    time_scale: float = 1.0

    def _line_s(self, interval_ns: int) -> float:
        return interval_ns * _NS / self.time_scale

    def _envelope(self, frame: MonitoredFrame) -> tuple[int, ...]:
        return line_envelope_ns(frame.stamps_ns, char_time_s(self.baud) * self.time_scale / _NS)

    @property
    def request_end_ns(self) -> int:
        """End of the request's last stop bit (monitor clock)."""
        return self._envelope(self.request)[-1]

    @property
    def reply_first_ns(self) -> int | None:
        """End of the reply's first character (monitor clock, bounded by the later characters)."""
        return self._envelope(self.reply)[0] if self.reply is not None else None

    @property
    def reply_last_ns(self) -> int | None:
        return self._envelope(self.reply)[-1] if self.reply is not None else None

    @property
    def reply_delay_s(self) -> float | None:
        """End of the request to the start bit of the reply, line seconds (EN 13757-2 reply timing)."""
        first = self.reply_first_ns
        if first is None:
            return None
        return self._line_s(first - self.request_end_ns) - char_time_s(self.baud)

    def _gaps(self, frame: MonitoredFrame | None) -> tuple[float, ...]:
        if frame is None:
            return ()
        return frame_gaps_s(frame.stamps_ns, baud=self.baud, time_scale=self.time_scale)

    @property
    def request_end_resolved(self) -> bool | None:
        """False when the request's last byte reached the monitor less than one character time before the
        reply's first byte: impossible on the line, so the monitor stalled and that timestamp is late by an
        unknown amount (the reply delay cannot be decided from it). None without a reply."""
        if self.reply is None:
            return None
        raw_s = self._line_s(self.reply.stamps_ns[0] - self.request.stamps_ns[-1])
        return raw_s >= char_time_s(self.baud)

    @property
    def reply_gaps_s(self) -> tuple[float, ...]:
        """Idle line between consecutive characters of the reply, line seconds (0 = back to back)."""
        return self._gaps(self.reply)

    @property
    def request_gaps_s(self) -> tuple[float, ...]:
        """The same for the master's request (information: the master is not the device under test)."""
        return self._gaps(self.request)


def pair_exchanges(
    monitored: Iterable[MonitoredFrame], *, baud: int, time_scale: float = 1.0
) -> Iterator[Exchange]:
    """Pair each request with the slave frame that follows it; a request followed by another request
    (or by nothing) had no reply. Slave frames with no request before them are skipped."""
    pending: MonitoredFrame | None = None
    for frame in monitored:
        if frame.from_master:
            if pending is not None:
                yield Exchange(pending, None, baud, time_scale)
            pending = frame
        elif pending is not None:
            yield Exchange(pending, frame, baud, time_scale)
            pending = None
    if pending is not None:
        yield Exchange(pending, None, baud, time_scale)


@dataclass(frozen=True)
class TimingCheck:
    """One bus-side timing value judged against its limits, with the monitor's resolution as uncertainty."""

    name: str
    value_s: float
    low_s: float | None
    high_s: float | None
    uncertainty_s: float
    verdict: Verdict
    rule: str
    assumption: bool = False


@dataclass(frozen=True)
class ExchangeTiming:
    """The timing verdicts of one exchange: its reply delay and every gap inside its reply."""

    exchange: Exchange
    reply_delay: TimingCheck | None
    gaps: tuple[TimingCheck, ...]

    @property
    def checks(self) -> tuple[TimingCheck, ...]:
        return ((self.reply_delay,) if self.reply_delay is not None else ()) + self.gaps

    @property
    def verdict(self) -> Verdict:
        """fail beats inconclusive beats pass (an exchange without a reply has no timing to judge: pass)."""
        verdicts = {c.verdict for c in self.checks}
        return "fail" if "fail" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"

    @property
    def longest_gap(self) -> TimingCheck | None:
        return max(self.gaps, key=lambda c: c.value_s, default=None)


def judge_exchange(
    exchange: Exchange, *, resolution_s: float, gap_allowance_s: float | None = None
) -> ExchangeTiming:
    """Judge one exchange's bus-side timing. Pure.

    ``resolution_s`` is the monitor's uncertainty of one interval between two of its timestamps, in the
    monitor's (wall) seconds; on a simulated bench it is scaled to line time like the intervals.
    Reply delay: EN 13757-2 reply window (:func:`reply_window`). Gaps: EN 13757-2 / FT1.2 "no pause
    inside a frame", with the tolerance ``gap_allowance_s`` (line seconds; the device profile's
    ``link.inter_char_gap_max_bit_times``), by default :func:`inter_char_gap_allowance_s` (an assumption).
    """
    if resolution_s < 0:
        raise ValueError(f"resolution_s must be >= 0, got {resolution_s}")
    u = resolution_s / exchange.time_scale
    delay = exchange.reply_delay_s
    reply_check = None
    if delay is not None:
        low, high = reply_window(exchange.baud)
        verdict, rule = verdict_of(delay, low, high, u), "EN 13757-2 reply timing"
        if not exchange.request_end_resolved:
            verdict, rule = (
                "inconclusive",
                rule + " (not decided: the request's end reached the monitor late)",
            )
        reply_check = TimingCheck("reply_delay", delay, low, high, u, verdict, rule)
    gaps = judge_gaps(exchange.reply_gaps_s, baud=exchange.baud, uncertainty_s=u, allowance_s=gap_allowance_s)
    return ExchangeTiming(exchange, reply_check, gaps)


class BusMonitor:
    """Reads a bus monitor (any pyserial URL: a sniffer's serial port, ``socket://`` of the emulator's
    monitor endpoint, ``rfc2217://`` of a serial server) and timestamps each byte as it arrives.

    Reading starts at once on a thread of its own and runs until :meth:`close`.
    """

    def __init__(self, url: str, *, baud: int, resolution_s: float, time_scale: float = 1.0) -> None:
        if resolution_s < 0:
            raise ValueError(f"resolution_s must be >= 0, got {resolution_s}")
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.url = url
        self.baud = baud
        self.resolution_s = resolution_s
        self.time_scale = time_scale
        try:
            self._port = serial.serial_for_url(
                url, baudrate=baud, bytesize=8, parity=serial.PARITY_EVEN, stopbits=1, timeout=0.05
            )
        except (serial.SerialException, ValueError) as exc:
            raise MonitorError(
                f"cannot open the bus monitor at {url!r} ({exc}); check the rig's monitor URL "
                "(a serial port, socket://HOST:PORT or rfc2217://HOST:PORT) and that nothing else holds it"
            ) from None
        self._lock = threading.Lock()
        self._bytes: list[StampedByte] = []
        self._stopped = threading.Event()
        self._error: str | None = None
        self._thread = threading.Thread(target=self._read_loop, name="bus-monitor", daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                data = self._port.read(self._port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                if not self._stopped.is_set():
                    self._error = str(exc)
                return
            if not data:
                continue
            t = time.perf_counter_ns()  # one clock for request and reply: the path's latency cancels
            with self._lock:
                self._bytes.extend(StampedByte(b, t) for b in data)

    def received(self) -> list[StampedByte]:
        """Every byte received so far, in order, with its timestamp."""
        if self._error is not None:
            raise MonitorError(f"the bus monitor at {self.url!r} stopped reading: {self._error}")
        with self._lock:
            return list(self._bytes)

    def clear(self) -> None:
        """Forget what was received so far (start a new measurement)."""
        with self._lock:
            self._bytes.clear()

    def exchanges(self) -> list[Exchange]:
        """The exchanges seen so far (the last one may still await its reply)."""
        monitored = split_frames(self.received(), baud=self.baud, time_scale=self.time_scale)
        return list(pair_exchanges(monitored, baud=self.baud, time_scale=self.time_scale))

    def wait_for_replies(self, count: int, timeout_s: float) -> list[Exchange]:
        """Wait until ``count`` exchanges with a reply were seen or ``timeout_s`` passed; return them all."""
        deadline = time.monotonic() + timeout_s
        parsed_at = -1
        while True:
            with self._lock:
                n_bytes = len(self._bytes)
            if n_bytes != parsed_at:  # parse only when something came: the reader thread keeps the CPU
                parsed_at = n_bytes
                seen = self.exchanges()
                if sum(ex.reply is not None for ex in seen) >= count:
                    return seen
            if time.monotonic() >= deadline:
                return self.exchanges()
            time.sleep(0.05)

    def judged(self) -> list[ExchangeTiming]:
        """Every exchange seen so far, judged with this monitor's resolution."""
        return [judge_exchange(ex, resolution_s=self.resolution_s) for ex in self.exchanges()]

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)
        self._port.close()

    def __enter__(self) -> BusMonitor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
