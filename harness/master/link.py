"""Byte transport of the master: any pyserial URL at 8E1, replies cut by frame length and silence.

``SerialLink`` owns the port and the transcript. It knows nothing of operations; it sends bytes,
computes when the request left the line, and collects what comes back within the EN 13757-2 reply
window (scaled by ``time_scale`` for the emulator, widened by a latency allowance for USB/network).

Some level converters echo the master's own bytes (half-duplex RS-485/M-Bus converters; libmbus users
report them, domain.md section 8). With ``echo=True`` (rig file ``mbus.echo: true``) the link reads back
exactly the bytes it sent before it looks for a reply: an echo that differs from the request is a bench
problem (:class:`EchoMismatch`), and the reply latency runs from the arrival of the echo's last byte,
which crossed the same receive path as the reply (the adapter's transmit delay drops out).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import serial

from harness.evidence import TranscriptEntry
from harness.instruments.serial_port import port_options
from harness.master.errors import PortError
from harness.master.summary import summarize
from harness.mbus import Frame, MBusError, decode, frame_length
from harness.mbus.frames import START_LONG
from harness.mbus.timing import end_of_frame_silence_s, reply_window, wire_time_s

#: where ``Reply.latency_s`` is measured from
LatencyReference = Literal["request", "echo"]

#: granularity of the blocking reads (the read returns as soon as a byte arrives)
POLL_S = 0.002
#: guard against a babbling line: never collect more than this many bytes for one reply
MAX_REPLY_BYTES = 2 * 261
PARITIES = {"E": serial.PARITY_EVEN, "N": serial.PARITY_NONE, "O": serial.PARITY_ODD}


@dataclass
class Reply:
    """What came back after one request.

    ``data`` is every byte received for the request; ``frame`` the decoded first frame when the
    bytes are exactly one valid frame (otherwise ``None``); ``latency_s`` runs from the end of the
    request on the line to the first reply byte (``None`` when nothing came).
    """

    request: bytes
    data: bytes = b""
    frame: Frame | None = None
    latency_s: float | None = None
    problem: str | None = None  #: why the bytes are not one valid frame (None when they are, or when empty)
    request_end: float = 0.0  #: monotonic time the request left the line
    first_byte_at: float | None = None
    last_byte_at: float | None = None
    frames_seen: int = 0  #: number of frames recognised back to back in ``data``
    diagnostics: tuple[str, ...] = field(default=())
    #: monotonic arrival of the last byte of the adapter's echo (echoing adapters only)
    echo_end_at: float | None = None
    #: ``"echo"``: ``latency_s`` runs from ``echo_end_at``; ``"request"``: from the end of the request
    #: (``request_end``, or where an echo and the reply came in one read, the earliest it can have ended)
    latency_from: LatencyReference = "request"
    #: each read chunk as ``(bytes received so far, monotonic arrival time)``: every byte of a chunk
    #: had ended on the line by its arrival time; the chunk boundaries bound the byte timing
    chunks: tuple[tuple[int, float], ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.data

    @property
    def ok(self) -> bool:
        """Exactly one valid frame and nothing else."""
        return self.frame is not None and self.problem is None

    @property
    def is_ack(self) -> bool:
        return self.ok and self.data == b"\xe5"

    @property
    def byte_arrivals(self) -> tuple[float, ...]:
        """Monotonic arrival time of every byte of ``data``: the arrival of the chunk that carried it."""
        out: list[float] = []
        for received, t in self.chunks:
            out.extend([t] * (received - len(out)))
        return tuple(out)


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


class EchoMismatch(PortError):
    """The adapter was declared echoing (``mbus.echo: true``) but did not give back exactly what was sent.

    A bench problem (converter, wiring, rig file), not a failure of the module: nothing the module sent
    has been read yet when this is raised."""

    def __init__(self, message: str, *, sent: bytes, echoed: bytes) -> None:
        super().__init__(message)
        self.sent = sent
        self.echoed = echoed


class SerialLink:
    """One serial line to the bus (``/dev/ttyUSB0``, ``rfc2217://host:port``, ``socket://``, ``loop://``).

    Character format 8E1 (EN 13757-2). Timestamps are monotonic; the transcript keeps µs since open.
    """

    def __init__(
        self,
        url: str,
        baud: int,
        *,
        time_scale: float = 1.0,
        latency_allowance_s: float = 0.05,
        inter_char_timeout_s: float | None = None,
        echo: bool = False,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        if latency_allowance_s < 0:
            raise ValueError(f"latency_allowance_s must be >= 0, got {latency_allowance_s}")
        self.url = url
        self.time_scale = time_scale
        self.latency_allowance_s = latency_allowance_s
        self._inter_char_timeout_s = inter_char_timeout_s
        #: the adapter echoes every byte the master sends (rig file ``mbus.echo``)
        self.echo = echo
        self.transcript: list[TranscriptEntry] = []
        self._t0 = time.monotonic()
        try:
            self.port = serial.serial_for_url(
                url,
                baudrate=baud,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_EVEN,
                stopbits=serial.STOPBITS_ONE,
                timeout=POLL_S,
                **port_options(url),  # exclusive open of a local adapter
            )
        except (serial.SerialException, ValueError, OSError) as exc:
            raise PortError(
                f"cannot open M-Bus port {url!r} at {baud} Bd 8E1: {exc}; check the URL "
                "(/dev/ttyUSB0, rfc2217://host:port, socket://host:port, loop://) and that the port is free"
            ) from exc
        self._baud = baud
        self.last_stray = b""
        #: monotonic start of the last request plus its wire time: the earliest it can have left the line
        self._earliest_request_end = 0.0

    # --- port settings ---------------------------------------------------------------------------
    @property
    def baud(self) -> int:
        return self._baud

    def set_baud(self, baud: int, *, note: str = "") -> None:
        """Switch the local port's baud rate (the slave must already have switched or be about to).

        The switch goes into the transcript as an empty tx entry, so timing and evidence follow the rate."""
        old = self._baud
        try:
            self.port.baudrate = baud
        except (serial.SerialException, ValueError, OSError) as exc:
            raise PortError(f"cannot set {self.url!r} to {baud} Bd: {exc}") from exc
        self._baud = baud
        summary = f"master port switched from {old} Bd to {baud} Bd" + (f" ({note})" if note else "")
        self.transcript.append(
            TranscriptEntry(direction="tx", t_us=self.now_us(time.monotonic()), data="", summary=summary)
        )

    def close(self) -> None:
        if self.port.is_open:
            self.port.close()

    # --- timing ----------------------------------------------------------------------------------
    def window_s(self) -> tuple[float, float]:
        """Reply window at the current baud, scaled (simulation) and without allowance."""
        lo, hi = reply_window(self._baud)
        return lo * self.time_scale, hi * self.time_scale

    def reply_timeout_s(self) -> float:
        """Longest wait for the first reply byte after the end of a request."""
        return self.window_s()[1] + self.latency_allowance_s

    def silence_s(self) -> float:
        """Inter-character silence taken as end of reply (after a complete frame, or bytes that cannot
        become one)."""
        if self._inter_char_timeout_s is not None:
            return self._inter_char_timeout_s
        # a few character times on the line plus some jitter of the path (USB latency timer, TCP, scheduler)
        return end_of_frame_silence_s(self._baud) * self.time_scale + min(0.02, self.latency_allowance_s)

    def frame_gap_timeout_s(self) -> float:
        """Longest wait for the next byte of a frame still in progress.

        The bytes a frame still needs cross the same path as its first byte, so they may be as late as the
        path's latency allowance (the rig's uncertainty budget, in wall seconds: it does not shrink with the
        time scale). Giving up earlier charges a stall of the path (USB latency timer, TCP, a loaded
        scheduler) to the slave as a broken frame. A gap inside a frame is judged from timestamps (bus
        monitor, EN 13757-2 / FT1.2), not by this timeout.
        """
        if self._inter_char_timeout_s is not None:
            return self._inter_char_timeout_s
        return end_of_frame_silence_s(self._baud) * self.time_scale + self.latency_allowance_s

    def now_us(self, t: float) -> int:
        return int(round((t - self._t0) * 1e6))

    # --- I/O -------------------------------------------------------------------------------------
    def _read_some(self, until: float) -> tuple[bytes, float]:
        """Bytes as soon as any arrive, or ``b""`` once ``until`` (monotonic) has passed.

        Bytes already waiting are returned even when ``until`` has passed: the master may have been held up
        (an RFC 2217 parity or baud change waits for the server's acknowledgement, a loaded scheduler) while
        the adapter buffered a reply, and a reply in the buffer is never silence. Their arrival is then known
        only to be no later than now, which can only make a latency look longer."""
        while True:
            try:
                waiting = self.port.in_waiting
                if waiting:
                    return self.port.read(waiting), time.monotonic()
                now = time.monotonic()
                if now >= until:
                    return b"", now
                chunk = self.port.read(1)
            except (serial.SerialException, OSError) as exc:
                raise PortError(f"reading from {self.url!r} failed: {exc}; check the connection") from exc
            if chunk:
                return chunk, time.monotonic()

    def _strip_echo(
        self, request: bytes, buf: bytearray, t_first: float, deadline: float, silence: float
    ) -> tuple[bytes, float]:
        """Level converters that echo the master's own request: drop the echo, keep waiting for the reply."""
        t_last = t_first
        while len(buf) < len(request) and request.startswith(bytes(buf)):
            more, t = self._read_some(t_last + silence)
            if not more:
                break
            buf += more
            t_last = t
        if bytes(buf[: len(request)]) != request:
            return bytes(buf), t_first
        self.transcript.append(
            TranscriptEntry(
                direction="rx",
                t_us=self.now_us(t_first),
                data=_hex(request),
                summary="echo of the request (the adapter echoes what it sends)",
            )
        )
        rest = bytes(buf[len(request) :])
        if rest:
            return rest, t_last
        return self._read_some(deadline)

    def _read_echo(self, request: bytes, request_end: float, deadline: float) -> tuple[bytes, float, bytes]:
        """The declared echo of ``request``: ``(echo, arrival of its last byte, bytes read past it)``.

        Bytes ahead of an exact echo were on the line before the request (the late tail of an earlier
        reply): they are recorded as stray, as :meth:`drain_stray` records what waits before a request.
        Raises :class:`EchoMismatch` when no exact echo comes by ``deadline``.
        """
        buf = bytearray()
        t_last = time.monotonic()
        at = -1
        while len(buf) < MAX_REPLY_BYTES + len(request):
            chunk, t = self._read_some(deadline)
            if not chunk:
                break
            buf += chunk
            t_last = t
            at = bytes(buf).find(request)
            if at >= 0:
                break
        if at >= 0:
            if at:
                stray = bytes(buf[:at])
                self.last_stray += stray
                self.transcript.append(
                    TranscriptEntry(
                        direction="rx",
                        t_us=self.now_us(t_last),
                        data=_hex(stray),
                        summary="stray bytes before the echo (late reply or line noise)",
                    )
                )
            return request, t_last, bytes(buf[at + len(request) :])
        self.transcript.append(
            TranscriptEntry(
                direction="rx",
                t_us=self.now_us(t_last),
                data=_hex(bytes(buf)),
                summary="echo does not match the request (bench problem: adapter or wiring)",
            )
        )
        got = f"[{_hex(bytes(buf))}]" if buf else "nothing"
        raise EchoMismatch(
            f"the M-Bus adapter on {self.url!r} is declared echoing (rig file mbus.echo: true) but gave back "
            f"{got} instead of the {len(request)}-byte request [{_hex(request)}] within "
            f"{(deadline - request_end) * 1000:.0f} ms of its end: a bench problem, not a module failure. "
            "Check the level converter and its wiring; if this adapter does not echo, set mbus.echo: false",
            sent=request,
            echoed=bytes(buf),
        )

    def _after_echo(self, request: bytes, reply: Reply, deadline: float) -> tuple[bytes, float, float]:
        """Read the declared echo, record it, then wait for the first reply byte: ``(bytes, their arrival,
        the instant the latency runs from)``.

        The reply window is counted from the echo's end (the request had left the line by then). A reply
        byte that came in the same read as the echo's last byte leaves the gap between them unobserved:
        the latency is then taken from the earliest instant the request can have left the line (its start
        plus its wire time), which can only overstate it.
        """
        echoed, echo_end, rest = self._read_echo(request, reply.request_end, deadline)
        reply.echo_end_at = echo_end
        self.transcript.append(
            TranscriptEntry(
                direction="rx",
                t_us=self.now_us(echo_end),
                data=_hex(echoed),
                summary="echo of the request (mbus.echo: the adapter echoes what it sends)",
            )
        )
        if rest:  # unobserved gap: time from the earliest the request can have left the line
            return rest, echo_end, min(reply.request_end, self._earliest_request_end)
        reply.latency_from = "echo"
        chunk, t_first = self._read_some(max(deadline, echo_end + self.window_s()[1]))
        return chunk, t_first, echo_end

    def drain_stray(self) -> bytes:
        """Discard (and record) bytes that arrived outside any reply window."""
        stray = b""
        try:
            while self.port.in_waiting:
                stray += self.port.read(self.port.in_waiting)
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"reading from {self.url!r} failed: {exc}; check the connection") from exc
        if stray:
            self.transcript.append(
                TranscriptEntry(
                    direction="rx",
                    t_us=self.now_us(time.monotonic()),
                    data=_hex(stray),
                    summary="stray bytes outside a reply window (late reply or line noise)",
                )
            )
        return stray

    def send(self, data: bytes, *, parity: str | None = None, note: str = "") -> float:
        """Write a request; return the earliest monotonic time its last bit can have left the line.

        ``parity`` ("E", "N", "O") overrides 8E1 for this request only (to test a slave's parity check);
        ``note`` is added to the transcript summary (e.g. why a raw request is deliberately malformed).
        """
        #: bytes found waiting before this request: a late reply to an earlier one, or noise
        self.last_stray = self.drain_stray()
        t_start = time.monotonic()
        self.transcript.append(
            TranscriptEntry(
                direction="tx",
                t_us=self.now_us(t_start),
                data=_hex(data),
                summary=summarize(data)
                + (f" [sent with parity {parity}]" if parity and parity != "E" else "")
                + (f" [{note}]" if note else ""),
            )
        )
        try:
            if parity and parity != "E":
                if parity not in PARITIES:
                    raise ValueError(f"parity must be one of {sorted(PARITIES)}, got {parity!r}")
                self.port.parity = PARITIES[parity]
                try:
                    t_write = time.monotonic()
                    self.port.write(data)
                    self.port.flush()
                    # the parity may only change back once the last character has left the line
                    on_line_s = wire_time_s(len(data) + 1, self._baud) * self.time_scale
                    time.sleep(max(0.0, t_write + on_line_s - time.monotonic()))
                finally:
                    self.port.parity = serial.PARITY_EVEN
            else:
                self.port.write(data)
                self.port.flush()
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"writing to {self.url!r} failed: {exc}; check the connection") from exc
        # the request is on its way from the write on and takes its wire time (scaled in simulation): the
        # earliest instant it can have ended. A master held up in write/flush (a loaded scheduler) must not
        # move that instant later, or the reply latency would look shorter than it is; the path may only make
        # it look longer, which the rig's latency allowance budgets.
        self._earliest_request_end = t_start + wire_time_s(len(data), self._baud) * self.time_scale
        return self._earliest_request_end

    def receive(
        self,
        request: bytes,
        request_end: float,
        *,
        timeout_s: float | None = None,
        listen_until: float | None = None,
        silence_s: float | None = None,
        incomplete_silence_s: float | None = None,
    ) -> Reply:
        """Collect the reply to ``request``.

        Waits up to ``timeout_s`` (default: reply window max + allowance) after ``request_end`` for a first
        byte, then reads until the frame is complete (``frame_length``) and the line has been silent for
        :meth:`silence_s`. With ``listen_until`` it keeps listening until that time after a complete frame,
        so a second, slower responder is seen as a collision instead of being missed. ``silence_s``
        overrides the end-of-reply silence once a frame is complete; ``incomplete_silence_s`` (default
        :meth:`silence_s`) is how long a frame still incomplete may pause before the reply is taken as cut
        off (a gap test listens longer, to measure a pause instead of losing the rest of the frame).
        """
        if timeout_s is None:
            timeout_s = self.reply_timeout_s()
        deadline = request_end + timeout_s
        reply = Reply(request=request, request_end=request_end)
        silence = self.silence_s()
        reference = request_end  # what the reply latency runs from
        if self.echo and request:
            chunk, t_first, reference = self._after_echo(request, reply, deadline)
        else:
            chunk, t_first = self._read_some(deadline)
            if chunk and request and chunk[0] == request[0]:
                chunk, t_first = self._strip_echo(request, bytearray(chunk), t_first, deadline, silence)
        if not chunk:
            return reply
        buf = bytearray(chunk)
        t_last = t_first
        gap_timeout = self.frame_gap_timeout_s()
        chunks = [(len(buf), t_first)]
        while len(buf) < MAX_REPLY_BYTES:
            complete = _one_frame_length(bytes(buf)) is not None
            if complete:
                until = t_last + (silence if silence_s is None else silence_s)
            else:
                wait = silence if incomplete_silence_s is None else incomplete_silence_s
                if _frame_in_progress(bytes(buf)):
                    # a frame in progress also waits the path allowance (a stalled scheduler or TCP hop)
                    wait = max(wait, gap_timeout)
                until = t_last + wait
            if complete and listen_until is not None:
                until = max(until, listen_until)
            chunk, t = self._read_some(until)
            if not chunk:
                break
            buf += chunk
            t_last = t
            chunks.append((len(buf), t))
        reply.data = bytes(buf)
        reply.chunks = tuple(chunks)
        reply.first_byte_at = t_first
        reply.last_byte_at = t_last
        reply.latency_s = t_first - reference
        _classify(reply)
        self.transcript.append(
            TranscriptEntry(
                direction="rx",
                t_us=self.now_us(t_first),
                data=_hex(reply.data),
                summary=summarize(reply.data) if reply.problem is None else f"garbled: {reply.problem}",
                latency_ms=round(reply.latency_s * 1000.0, 3),
            )
        )
        return reply


def _one_frame_length(buf: bytes) -> int | None:
    """Length of the frame at the start of ``buf`` if it is complete in ``buf``; else None."""
    try:
        n = frame_length(buf)
    except MBusError:
        return None
    if n is None or n > len(buf):
        return None
    return n


def _frame_in_progress(buf: bytes) -> bool:
    """True while ``buf`` is the consistent start of a frame that still needs bytes (EN 13757-2 FT1.2:
    a short frame ``10 ..``, a long frame ``68 L L 68 ..`` whose L fields agree); False once the frame is
    complete or when the bytes can never become one."""
    try:
        n = frame_length(buf)
    except MBusError:
        return False
    if n is not None and n <= len(buf):
        return False
    if buf[0] == START_LONG:
        return (len(buf) < 3 or buf[2] == buf[1]) and (len(buf) < 4 or buf[3] == START_LONG)
    return True


def _classify(reply: Reply) -> None:
    """Fill ``frame``, ``problem`` and ``frames_seen`` from ``reply.data``."""
    data = reply.data
    try:
        n = frame_length(data)
    except MBusError as exc:
        reply.problem = f"does not start with a frame start byte (E5/10/68): {exc}"
        return
    if n is None or n > len(data):
        need = "unknown" if n is None else str(n)
        reply.problem = f"incomplete frame: {len(data)} bytes received, frame needs {need}"
        return
    # count frames back to back, to tell two answers in a row from noise
    pos, frames = 0, 0
    while pos < len(data):
        try:
            m = frame_length(data[pos:])
        except MBusError:
            break
        if m is None or pos + m > len(data):
            break
        frames += 1
        pos += m
    reply.frames_seen = frames
    try:
        frame = decode(data[:n])
    except MBusError as exc:
        reply.problem = f"invalid frame: {exc}"
        return
    errors = [d for d in frame.diagnostics if d.severity == "error"]
    if errors:
        reply.problem = f"invalid frame: {errors[0].message}"
        reply.diagnostics = tuple(d.message for d in errors)
        return
    reply.frame = frame
    if n < len(data):
        reply.problem = f"{len(data) - n} more byte(s) after a complete frame (second responder?)"
