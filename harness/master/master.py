"""The M-Bus master: EN 13757-2 link-layer transactions and EN 13757-3 addressing over any pyserial URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Literal

from harness.evidence import TranscriptEntry
from harness.master.errors import CollisionError, LineError, NoReply, UnexpectedReply
from harness.master.link import Reply, SerialLink
from harness.master.raw import RawRequest
from harness.master.search import ProgressFn, SearchResult, search_secondary
from harness.master.summary import c_name, describe_frame
from harness.mbus import AckFrame, ControlFrame, Frame, LongFrame, SecondaryAddress, ShortFrame, encode
from harness.mbus.model import (
    ADDR_BROADCAST_NO_REPLY,
    ADDR_SELECTED,
    BAUD_BY_CI,
    C_FCB,
    C_FCV,
    CI_APPLICATION_RESET,
    CI_DATA_SEND,
    CI_SELECT,
    REQ_UD1,
    REQ_UD2,
    SND_NKE,
    SND_UD,
)

#: what a raw request waits for: a reply (silence raises NoReply) or the whole window (nothing judged)
RawExpect = Literal["reply", "silence"]
CI_BY_BAUD = {baud: ci for ci, baud in BAUD_BY_CI.items()}
#: upper bound on telegrams in one multi-telegram read-out (guards against a slave that never ends)
MAX_TELEGRAMS = 64


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


def _who(address: int) -> str:
    if address == ADDR_SELECTED:
        return "the slave selected by secondary address (253)"
    if address == 254:
        return "broadcast address 254"
    return f"primary address {address}"


class Master:
    """An M-Bus master on one serial line.

    ``url`` is any pyserial URL; ``baud`` the line rate (8E1). ``time_scale`` (simulation only) scales
    every wait computed from the standard to match an emulator run at the same scale;
    ``latency_allowance_s`` widens reply timeouts for USB/RS-232 converters and network hops;
    ``retries`` is how often an operation repeats after no reply or a garbled reply;
    ``echo``: the adapter echoes the master's bytes (rig file ``mbus.echo``; see :mod:`harness.master.link`).
    """

    def __init__(
        self,
        url: str,
        baud: int = 2400,
        *,
        time_scale: float = 1.0,
        latency_allowance_s: float = 0.05,
        retries: int = 1,
        inter_char_timeout_s: float | None = None,
        echo: bool = False,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.retries = retries
        self._link = SerialLink(
            url,
            baud,
            time_scale=time_scale,
            latency_allowance_s=latency_allowance_s,
            inter_char_timeout_s=inter_char_timeout_s,
            echo=echo,
        )
        self._fcb: dict[int, bool] = {}
        #: number of requests written since open (probes, reads, resets...)
        self.requests_sent = 0

    # --- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> Master:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._link.close()

    # --- properties ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._link.url

    @property
    def baud(self) -> int:
        return self._link.baud

    @property
    def time_scale(self) -> float:
        return self._link.time_scale

    @property
    def transcript(self) -> list[TranscriptEntry]:
        """Every frame sent and received, with µs timestamps and reply latency."""
        return self._link.transcript

    @property
    def link(self) -> SerialLink:
        return self._link

    def reply_timeout_s(self) -> float:
        """Longest wait for a reply: EN 13757-2 window max (scaled) + latency allowance."""
        return self._link.reply_timeout_s()

    # --- low level -------------------------------------------------------------------------------
    def transact(
        self,
        frame_or_bytes: Frame | bytes,
        *,
        expect_reply: bool = True,
        parity: str | None = None,
        listen_until_window_end: bool = False,
        note: str = "",
        frame_pause_s: float | None = None,
        end_silence_s: float | None = None,
    ) -> Reply:
        """Send one request and collect what comes back, without interpretation or retries.

        With ``expect_reply`` a silent reply window raises :class:`NoReply`; a garbled reply is returned
        (``reply.frame is None``, ``reply.problem`` says why) for the caller to judge. Without it, the full
        window is waited and whatever came (possibly nothing) is returned: use it to show a slave stays
        silent.
        ``parity`` ("E"/"N"/"O") sends this request with another parity to test a slave's parity check;
        ``note`` goes into the transcript beside the request. ``frame_pause_s`` is how long a reply frame
        still incomplete may pause before it is taken as cut off (default: the end-of-reply silence); a
        test of the gaps inside a frame gives more, so that a pause is measured rather than a frame lost.
        ``end_silence_s`` is how long the line must stay silent after a complete frame before the reply is
        taken as ended (default: the end-of-reply silence; 0 returns as soon as the frame is complete).
        """
        data = frame_or_bytes if isinstance(frame_or_bytes, bytes | bytearray) else encode(frame_or_bytes)
        data = bytes(data)
        end = self._link.send(data, parity=parity, note=note)
        self.requests_sent += 1
        listen_until = None
        if listen_until_window_end or not expect_reply:
            listen_until = end + self._link.reply_timeout_s()
        reply = self._link.receive(
            data, end, listen_until=listen_until, silence_s=end_silence_s, incomplete_silence_s=frame_pause_s
        )
        if not expect_reply:
            # the whole window must have passed before silence (or a late answer) is established
            remaining = end + self._link.reply_timeout_s() - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
            return reply
        if reply.empty:
            raise NoReply(self._no_reply_message(data, "a reply"), sent=data)
        return reply

    def send_raw(self, request: RawRequest | bytes, *, expect: RawExpect = "reply") -> Reply:
        """Send bytes no operation of this master would send (reserved addresses, broken L field,
        checksum or stop byte: see :mod:`harness.master.raw`), once, without retries or interpretation.

        The transcript marks the request as raw and, for a :class:`RawRequest` with a reason, as
        deliberately malformed with the rule it breaks. ``expect="reply"`` raises :class:`NoReply` on a
        silent window; ``expect="silence"`` waits the whole EN 13757-2 reply window and returns whatever
        came (possibly nothing) for the test to judge.
        """
        if expect not in ("reply", "silence"):
            raise ValueError(f"expect must be 'reply' or 'silence', got {expect!r}")
        raw = request if isinstance(request, RawRequest) else RawRequest(bytes(request))
        if not raw.data:
            raise ValueError("a raw request needs at least one byte")
        return self.transact(raw.data, expect_reply=expect == "reply", note=raw.note())

    def _window_text(self) -> str:
        lo, hi = self._link.window_s()
        scale = f", time scale {self.time_scale:g}" if self.time_scale != 1.0 else ""
        return (
            f"{(hi + self._link.latency_allowance_s) * 1000:.1f} ms at {self.baud} Bd "
            f"(EN 13757-2 reply window {hi * 1000:.1f} ms + {self._link.latency_allowance_s * 1000:.0f} ms "
            f"latency allowance{scale})"
        )

    def _no_reply_message(self, sent: bytes, expected: str, address: int | None = None) -> str:
        try:
            from harness.mbus import decode

            what = describe_frame(decode(sent))
        except Exception:  # noqa: BLE001 - only for the message text
            what = "request"
        to = f" from {_who(address)}" if address is not None else ""
        return (
            f"no reply{to} within {self._window_text()}: sent {what} [{_hex(sent)}], expected {expected}; "
            "check wiring and bus power, the address, and that master and slave use the same baud (8E1)"
        )

    def _garbled_message(self, reply: Reply, expected: str, address: int | None, *, collision: bool) -> str:
        to = f" from {_who(address)}" if address is not None else ""
        hint = (
            "more than one slave answered (duplicate primary address or several slaves match the select)"
            if collision
            else "check parity (8E1), baud, line noise and bus load, and that no two slaves share the "
            "address; "
            "a slave sending a bad checksum or parity is non-conforming"
        )
        lat = f" after {reply.latency_s * 1000:.1f} ms" if reply.latency_s is not None else ""
        return (
            f"garbled reply{to}{lat}: sent [{_hex(reply.request)}], expected {expected}, "
            f"got [{_hex(reply.data)}] ({reply.problem}); {hint}"
        )

    def _exchange(
        self,
        frame: Frame,
        expected: str,
        address: int | None,
        *,
        accept: Callable[[Frame], bool],
        collision_likely: bool = False,
    ) -> Reply:
        """Send with retries until a valid reply ``accept`` likes; raise the last error otherwise."""
        data = encode(frame)
        last: Exception | None = None
        for _attempt in range(self.retries + 1):
            end = self._link.send(data)
            self.requests_sent += 1
            reply = self._link.receive(data, end)
            if reply.empty:
                last = NoReply(self._no_reply_message(data, expected, address), sent=data)
                continue
            if not reply.ok or reply.frame is None:
                collision = collision_likely or reply.frames_seen > 1
                cls = CollisionError if collision else LineError
                last = cls(self._garbled_message(reply, expected, address, collision=collision), reply=reply)
                continue
            if not accept(reply.frame):
                raise UnexpectedReply(
                    f"unexpected reply from {_who(address) if address is not None else 'the bus'}: sent "
                    f"[{_hex(data)}], expected {expected}, "
                    f"got {describe_frame(reply.frame)} [{_hex(reply.data)}]; "
                    "check the slave's link layer against EN 13757-2",
                    reply=reply,
                )
            return reply
        assert last is not None
        raise last

    def _expect_ack(self, frame: Frame, what: str, address: int) -> None:
        self._exchange(frame, f"E5 (ack) to {what}", address, accept=lambda f: isinstance(f, AckFrame))

    # --- operations ------------------------------------------------------------------------------
    def link_reset(self, address: int) -> None:
        """SND_NKE: reset the slave's link layer (FCB state, telegram sequence); expects E5 (EN 13757-2)."""
        self._expect_ack(ShortFrame(c=SND_NKE, a=address), "SND_NKE", address)
        self._fcb[address] = True

    def _next_fcb(self, address: int) -> bool:
        return self._fcb.get(address, True)

    def request_ud2(self, address: int, *, fcb: bool) -> LongFrame:
        """One REQ_UD2 with FCV set and the given FCB; returns the RSP_UD long frame (EN 13757-2)."""
        c = REQ_UD2 | C_FCV | (C_FCB if fcb else 0)
        reply = self._exchange(
            ShortFrame(c=c, a=address),
            "RSP_UD (long frame) to REQ_UD2",
            address,
            accept=lambda f: isinstance(f, LongFrame),
        )
        assert isinstance(reply.frame, LongFrame)
        return reply.frame

    def read(
        self,
        address: int,
        *,
        reset: bool = True,
        max_telegrams: int = MAX_TELEGRAMS,
        upto: int | None = None,
    ) -> list[LongFrame]:
        """Read all telegrams of a slave: REQ_UD2, toggling FCB while the telegram ends with DIF 1F.

        With ``reset`` a SND_NKE starts the read-out at the first telegram (not for address 253: SND_NKE
        there deselects the slave, EN 13757-3). A lost or garbled telegram is requested again with the
        same FCB, which asks the slave to repeat it (EN 13757-2 FCB rules). ``upto``: stop after that many
        telegrams (a read-out's first ones, from a SND_NKE: so only with ``reset`` at a primary address);
        the rest stays unread until the next SND_NKE restarts the read-out.
        """
        if upto is not None and (upto < 1 or not reset or address == ADDR_SELECTED):
            raise ValueError(
                f"upto={upto}: a read-out's first telegrams are read from a SND_NKE at a primary address "
                "(reset=True, address 0..250), upto >= 1"
            )
        if reset and address != ADDR_SELECTED:
            self.link_reset(address)
        telegrams: list[LongFrame] = []
        fcb = self._next_fcb(address)
        while True:
            frame = self.request_ud2(address, fcb=fcb)
            telegrams.append(frame)
            fcb = not fcb
            self._fcb[address] = fcb
            if not frame.more_records_follow or len(telegrams) == upto:
                return telegrams
            if len(telegrams) >= max_telegrams:
                raise UnexpectedReply(
                    f"{_who(address)} still signals more records (DIF 1F) after {len(telegrams)} telegrams; "
                    "expected the last telegram to end without DIF 1F; check the slave's FCB handling"
                )

    def req_ud1(self, address: int) -> Frame:
        """REQ_UD1 (class 1 / alarm data): E5 when the slave has no alarm, else RSP_UD (EN 13757-2)."""
        fcb = self._next_fcb(address)
        c = REQ_UD1 | C_FCV | (C_FCB if fcb else 0)
        reply = self._exchange(
            ShortFrame(c=c, a=address),
            "E5 or RSP_UD to REQ_UD1",
            address,
            accept=lambda f: isinstance(f, AckFrame | LongFrame),
        )
        self._fcb[address] = not fcb
        assert reply.frame is not None
        return reply.frame

    def select(self, addr: SecondaryAddress) -> bool:
        """Select a slave by secondary address (SND_UD to 253, CI 52, wildcards allowed; EN 13757-3).

        True when a slave acknowledged; False when none answered. Raises :class:`CollisionError` when
        several slaves answered at once (the wildcard matches more than one).
        """
        frame = LongFrame(c=SND_UD, a=ADDR_SELECTED, ci=CI_SELECT, select=addr)
        try:
            self._exchange(
                frame,
                f"E5 (ack) from a slave matching {addr.id}",
                ADDR_SELECTED,
                accept=lambda f: isinstance(f, AckFrame),
                collision_likely=True,
            )
        except NoReply:
            return False
        self._fcb[ADDR_SELECTED] = True
        return True

    def deselect(self) -> None:
        """Deselect the selected slave: SND_NKE to 253 (EN 13757-3). Silence is fine: nothing was selected."""
        data = encode(ShortFrame(c=SND_NKE, a=ADDR_SELECTED))
        self.transact(data, expect_reply=False)

    def read_selected(self) -> list[LongFrame]:
        """Read all telegrams of the slave selected by secondary address (address 253); the select
        itself restarts its FCB sequence."""
        return self.read(ADDR_SELECTED, reset=False)

    def set_primary_address(self, address: int, new_address: int) -> None:
        """SND_UD CI 51 with record ``01 7A nn`` (EN 13757-3 bus address); expects E5."""
        if not 0 <= new_address <= 250:
            raise ValueError(f"new primary address must be 0..250 (EN 13757-2), got {new_address}")
        frame = LongFrame(c=SND_UD, a=address, ci=CI_DATA_SEND, data=bytes([0x01, 0x7A, new_address]))
        self._expect_ack(frame, f"set primary address {new_address}", address)
        if address in self._fcb:
            self._fcb[new_address] = self._fcb.pop(address)

    def change_baud(self, address: int, new_baud: int) -> None:
        """Switch slave and master to ``new_baud``: control frame CI B8..BF at the OLD rate, the slave
        acknowledges with E5 at the old rate, then the local port switches (EN 13757-3 CI B8-BF)."""
        if new_baud not in CI_BY_BAUD:
            raise ValueError(f"baud {new_baud} has no CI code; allowed: {sorted(CI_BY_BAUD)} (EN 13757-3)")
        frame = ControlFrame(c=SND_UD, a=address, ci=CI_BY_BAUD[new_baud])
        if address == ADDR_BROADCAST_NO_REPLY:
            self.transact(encode(frame), expect_reply=False)
        else:
            self._expect_ack(frame, f"change baud to {new_baud}", address)
        self._link.set_baud(new_baud)

    def application_reset(self, address: int) -> None:
        """SND_UD with CI 50 (application reset, EN 13757-3); expects E5."""
        self._expect_ack(
            ControlFrame(c=SND_UD, a=address, ci=CI_APPLICATION_RESET), "application reset", address
        )

    def scan_primary(
        self, addresses: Iterable[int] = range(0, 251), *, progress: Callable[[int, bool], None] | None = None
    ) -> list[int]:
        """Primary addresses that acknowledge SND_NKE. A garbled answer (two slaves on one address) counts
        as present: something is there. Each empty address costs one full reply window (EN 13757-2)."""
        found: list[int] = []
        for address in addresses:
            if not 0 <= address <= 250:
                raise ValueError(f"primary scan covers 0..250 (EN 13757-2), got {address}")
            present = True
            try:
                self._exchange(
                    ShortFrame(c=SND_NKE, a=address),
                    "E5 (ack) to SND_NKE",
                    address,
                    accept=lambda f: isinstance(f, AckFrame),
                )
            except NoReply:
                present = False
            except (LineError, UnexpectedReply):
                present = True
            if present:
                found.append(address)
                self._fcb[address] = True
            if progress is not None:
                progress(address, present)
        return found

    def search_secondary(
        self,
        *,
        manufacturer: str | None = None,
        version: int | None = None,
        medium: int | None = None,
        progress: ProgressFn | None = None,
    ) -> SearchResult:
        """Find every slave by secondary address (EN 13757-3 wildcard select); see
        :func:`harness.master.search.search_secondary`. Returns a list of :class:`LongHeader` (a
        :class:`SearchResult` also carrying ``duplicates``, ``probes``, ``silent``, ``reads``,
        ``elapsed_s``)."""
        return search_secondary(
            self, manufacturer=manufacturer, version=version, medium=medium, progress=progress
        )


__all__ = ["Master", "c_name"]
