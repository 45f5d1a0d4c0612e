"""Secondary address search (EN 13757-3 secondary addressing with wildcards).

A probe is a select (SND_UD to 253, CI 52) whose identification number has ``F`` wildcards. Every slave
matching the mask answers E5: none answers (silence for the whole EN 13757-2 reply window), one answers
(an E5), or several answer at once (garbled bytes: a collision, so the search must narrow the mask).
A silent probe costs a full reply window; that is the cost this module minimises.

Two strategies share the same transport so they can be compared in one run:

* :func:`search_secondary` (ours): one all-wildcard probe first (a bus with one slave costs one probe),
  then splits colliding masks position by position in :data:`DEFAULT_ORDER`: the hundreds digit of the
  id first, then tens and units, then the leading digits. Ids on one bus are mostly serial numbers from a
  few production batches, so they share their leading digits: leaving those positions as wildcards
  costs nothing, while splitting on them (as libmbus does first) costs nine silent probes each. An E5 is
  taken after two character times of silence instead of the whole window; the REQ_UD2 that reads the
  header (needed anyway) listens through its whole window, so a second, slower responder still shows up
  as a collision and is never lost; an E5 without a readable header is probed again listening through
  the whole select window. A parent that collided and whose other nine children were silent holds
  >= 2 slaves in the last child, which is split without probing it. No retries on silence: the wait is
  already the standard's maximum plus a latency allowance. All 8 digits fixed and still a collision:
  a duplicate id; one clean E5 but never an intact RSP_UD: an unreadable slave. A path slower than the
  allowance (USB, network, a loaded host) must not hide slaves: stray bytes before a request, an E5 no
  slave stands behind, or a collision without two slaves in its subtree make the preceding silent masks
  suspect, and they are searched again at the end; a reply close to the timeout widens the allowance.
  Line noise: a garbled answer to a select is asked again once before the mask is split (a real collision
  stays garbled), a damaged or missing RSP_UD after a clean E5 is asked again with the same REQ_UD2 (the
  slave stays selected, so the select is not repeated), and with ``confirm_silent`` every silent mask gets a
  second look at the end (noise can erase an E5 without a trace; only a second look finds that slave:
  skipping the children of a collision two found slaves explain was tried and missed a third slave).
  A search still splitting after ``max_probes`` selects stops with :class:`SearchNotConverging`.
* :func:`search_libmbus` (baseline): a re-implementation of libmbus's ``mbus_scan_2nd_address_range``
  strategy: digits 0-9 at position 0, descend to the next position on collision; every silent probe is
  repeated once (libmbus's default ``max_search_retry = 1``); after an E5 and after the RSP_UD the line is
  "purged" by waiting for more frames until a full timeout passes. None of our recovery is added to it.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from harness.master.errors import MasterError
from harness.master.link import Reply
from harness.mbus import LongFrame, LongHeader, SecondaryAddress, ShortFrame, encode
from harness.mbus.model import ADDR_SELECTED, C_FCB, C_FCV, CI_SELECT, REQ_UD2, SND_UD
from harness.mbus.timing import char_time_s

if TYPE_CHECKING:
    from harness.master.master import Master

ID_DIGITS = 8
#: split order of the id positions (0 = most significant printed digit); see the module docstring
DEFAULT_ORDER: tuple[int, ...] = (5, 6, 7, 4, 3, 2, 1, 0)
#: selects after which a search still splitting collisions gives up (a 250-slave bus needs ~1500)
DEFAULT_MAX_PROBES = 4000

Outcome = Literal["empty", "single", "collision", "unreadable"]


@dataclass
class ProbeEvent:
    """Progress report: one probe done."""

    mask: str
    outcome: Outcome
    probes: int
    found: int
    header: LongHeader | None = None


ProgressFn = Callable[[ProbeEvent], None]


class SearchResult(list[LongHeader]):
    """The slaves found (long headers, as read with REQ_UD2), plus the search's cost and anomalies.

    ``duplicates`` lists ids that more than one slave answers to (all 8 digits fixed and still a
    collision; their headers cannot be read). ``unreadable`` lists ids whose slave acknowledges the
    select but whose RSP_UD never arrives intact (no header to report). ``probes`` counts select
    telegrams sent, ``silent`` those that got no answer, ``reads`` the REQ_UD2 sent to identify
    slaves, ``elapsed_s`` the wall time.
    """

    def __init__(self) -> None:
        super().__init__()
        self.duplicates: list[str] = []
        self.unreadable: list[str] = []
        #: latency allowance at the end of the search (widened when replies came close to the timeout)
        self.allowance_s = 0.0
        self.probes = 0
        self.silent = 0
        self.reads = 0
        self.elapsed_s = 0.0
        self.strategy = ""
        #: garbled answers asked again before splitting; silent masks looked at a second time
        self.repeats = 0
        self.confirmed = 0
        #: A field of each found slave's RSP_UD, by id: the primary address it answers with (EN 13757-2)
        self.reply_addresses: dict[str, int] = {}

    @property
    def requests(self) -> int:
        return self.probes + self.reads

    def ids(self) -> list[str]:
        return sorted(h.id for h in self)


@dataclass
class _Ctx:
    master: Master
    manufacturer: str | None
    version: int | None
    medium: int | None
    progress: ProgressFn | None
    result: SearchResult = field(default_factory=SearchResult)
    seen: set[str] = field(default_factory=set)
    #: the latest masks that got no answer; re-probed if a late answer shows up afterwards
    recent_silent: deque[str] = field(default_factory=lambda: deque(maxlen=2))
    suspects: list[str] = field(default_factory=list)
    widened: bool = False
    #: every mask that got no answer, in order (the confirmation pass looks at each once more)
    silent_masks: list[str] = field(default_factory=list)
    #: masks that collided and are being split (the recursion path): unresolved if the search gives up
    open_masks: list[str] = field(default_factory=list)
    max_probes: int = 0
    #: A field of the latest RSP_UD read per id (copied to the result when the slave is found)
    reply_a: dict[str, int] = field(default_factory=dict)

    def anomaly(self) -> None:
        """A late or unexplained answer: the latest silent masks may have hidden a slow slave."""
        for mask in self.recent_silent:
            if mask not in self.suspects:
                self.suspects.append(mask)
        self.recent_silent.clear()

    def address(self, mask: str) -> SecondaryAddress:
        return SecondaryAddress(
            id=mask, manufacturer=self.manufacturer, version=self.version, medium=self.medium
        )

    def report(self, mask: str, outcome: Outcome, header: LongHeader | None = None) -> None:
        if self.progress is not None:
            self.progress(ProbeEvent(mask, outcome, self.result.probes, len(self.result), header))

    def found(self, header: LongHeader) -> None:
        key = f"{header.id}/{header.manufacturer}/{header.version}/{header.medium}"
        if key not in self.seen:
            self.seen.add(key)
            self.result.append(header)
            if header.id in self.reply_a:
                self.result.reply_addresses[header.id] = self.reply_a[header.id]


def _matches(mask: str, ident: str) -> bool:
    return len(ident) == len(mask) and all(
        m in ("F", "f") or m == c for m, c in zip(mask, ident, strict=True)
    )


def _short_silence_s(ctx: _Ctx) -> float:
    """After a complete E5 or RSP_UD: two character times. A slower second responder is still caught:
    by the header read, which listens through its whole reply window."""
    link = ctx.master.link
    return 2 * char_time_s(link.baud) * link.time_scale


def _send_select(
    ctx: _Ctx, mask: str, *, listen_until_window_end: bool, silence_s: float | None = None
) -> Reply:
    m = ctx.master
    if ctx.max_probes and ctx.result.probes >= ctx.max_probes:
        raise SearchNotConverging(ctx, mask)
    data = encode(LongFrame(c=SND_UD, a=ADDR_SELECTED, ci=CI_SELECT, select=ctx.address(mask)))
    end = m.link.send(data)
    m.requests_sent += 1
    ctx.result.probes += 1
    until = end + m.reply_timeout_s() if listen_until_window_end else None
    if m.link.last_stray:
        ctx.anomaly()
    reply = m.link.receive(data, end, listen_until=until, silence_s=silence_s)
    if reply.empty:
        ctx.result.silent += 1
        ctx.recent_silent.append(mask)
        ctx.silent_masks.append(mask)
    elif ctx.result.strategy == "ours" and _check_latency(ctx, reply):
        ctx.suspects.append(mask)  # what came may belong to an earlier probe: this one is unknown too
    return reply


def _check_latency(ctx: _Ctx, reply: Reply) -> bool:
    """Watch reply latencies; True when the reply began too early to answer this request.

    A reply cannot start before 11 bit times (EN 13757-2): earlier bytes are a late answer to an
    earlier request, so the latest silent probes are suspect. A reply close to the timeout means the
    path (USB, network, a loaded emulator) is slower than the allowance: the allowance is widened so
    that the longest latency seen stays at two thirds of the timeout, and recent silences are suspect.
    """
    link = ctx.master.link
    latency = reply.latency_s
    if latency is None:
        return False
    if latency < link.window_s()[0] - 0.001:
        ctx.anomaly()
        return True
    timeout = link.reply_timeout_s()
    if latency > 0.75 * timeout:
        link.latency_allowance_s += 1.5 * latency - timeout
        ctx.widened = True
        ctx.anomaly()
    return False


def _read_header(
    ctx: _Ctx, c: int = REQ_UD2, silence_s: float | None = None
) -> tuple[Reply, LongHeader | None]:
    """REQ_UD2 to 253, listening through the whole reply window so a second responder is seen."""
    m = ctx.master
    data = encode(ShortFrame(c=c, a=ADDR_SELECTED))
    end = m.link.send(data)
    m.requests_sent += 1
    ctx.result.reads += 1
    if m.link.last_stray:
        ctx.anomaly()
    reply = m.link.receive(data, end, listen_until=end + m.reply_timeout_s(), silence_s=silence_s)
    if not reply.empty:
        _check_latency(ctx, reply)
    header = None
    if reply.ok and isinstance(reply.frame, LongFrame) and isinstance(reply.frame.header, LongHeader):
        header = reply.frame.header
        ctx.reply_a[header.id] = reply.frame.a
    return reply, header


# --- ours ------------------------------------------------------------------------------------------
def _probe_fast(ctx: _Ctx, mask: str, *, careful: bool = False) -> tuple[Outcome, LongHeader | None]:
    """Probe ``mask``; identify a single responder by reading its header.

    The fast path stops listening at the first clean E5; the REQ_UD2 read listens through the window and
    exposes a second responder. Anything inconsistent (E5 but no header, header not matching the mask) is
    probed again ``careful``-ly: listening through the select's whole window.
    """
    short = None if careful else _short_silence_s(ctx)
    reply = _send_select(ctx, mask, listen_until_window_end=careful, silence_s=short)
    if reply.empty:
        return "empty", None
    if not reply.is_ack and not careful:
        # line noise on one E5 reads like a collision; asking again (one short exchange) is far cheaper
        # than splitting the mask into ten, and a real collision stays garbled
        ctx.result.repeats += 1
        reply = _send_select(ctx, mask, listen_until_window_end=False, silence_s=short)
        if reply.empty:
            # garbled, then silent: someone is there and the repeat was lost: look once more, carefully
            return _probe_fast(ctx, mask, careful=True)
    if not reply.is_ack:
        return "collision", None
    read, header = _read_header(ctx, silence_s=short)
    if header is None and not careful and (read.empty or (not read.ok and read.frames_seen <= 1)):
        # one telegram that arrived damaged (checksum, parity) or not at all after a clean E5: line noise
        # on the reply is the likely cause. Only the disturbed query is repeated: the slave that
        # acknowledged the select stays selected (EN 13757-3) and answers the same REQ_UD2 again
        # (EN 13757-2, FCB unchanged); selecting again would cost one more select and its window
        ctx.result.repeats += 1
        read, header = _read_header(ctx, silence_s=short)
    if header is not None and _matches(mask, header.id):
        return "single", header
    if read.empty:
        # an E5 nobody stands behind: possibly the late answer to an earlier, "silent" probe
        ctx.anomaly()
    if careful:
        # one clean E5 in the whole window, yet no readable header: one slave that cannot be read
        # (bad checksum, no RSP_UD) - or two answering in perfect step; the caller descends to tell
        return "unreadable", None
    if not read.empty and (not read.ok or read.frames_seen > 1):
        return "collision", None
    return _probe_fast(ctx, mask, careful=True)


def search_secondary(
    master: Master,
    *,
    manufacturer: str | None = None,
    version: int | None = None,
    medium: int | None = None,
    order: Sequence[int] = DEFAULT_ORDER,
    progress: ProgressFn | None = None,
    confirm_silent: bool = True,
    max_probes: int = DEFAULT_MAX_PROBES,
    recheck: Callable[[SearchResult], Sequence[str] | None] | None = None,
) -> SearchResult:
    """Find every slave on the bus by secondary address (our strategy; see module docstring).

    Returns the long headers read from each slave (sorted by id) with the cost of the search. Slaves
    sharing an id are listed in ``result.duplicates``. ``manufacturer``/``version``/``medium`` restrict
    the search (``None`` = wildcard, EN 13757-3). With ``confirm_silent`` every mask that got no answer is
    probed once more at the end: line noise can erase an E5 without a trace, and only a second look
    finds that slave. A search still splitting collisions after ``max_probes`` selects raises
    :class:`SearchNotConverging` naming the masks it could not resolve. A caller that knows slaves the
    search must find (the primary scan, :mod:`harness.master.scan`) passes ``recheck``: without
    ``confirm_silent`` it is called after the first pass and returns the ids it knows are on the bus but
    missing from the result (evidence that noise erased an answer the first pass needed); only the
    silent masks matching those ids get their second look (``None``: every silent mask does).
    """
    if sorted(order) != list(range(ID_DIGITS)):
        raise ValueError(f"order must be a permutation of 0..7, got {list(order)}")
    if max_probes < 1:
        raise ValueError(f"max_probes must be >= 1, got {max_probes}")
    ctx = _Ctx(master, manufacturer, version, medium, progress)
    ctx.max_probes = max_probes
    ctx.result.strategy = "ours"
    allowance_s = master.link.latency_allowance_s
    t0 = time.monotonic()
    root = "F" * ID_DIGITS
    outcome, header = _probe_fast(ctx, root)
    ctx.report(root, outcome, header)
    if outcome == "single" and header is not None:
        ctx.found(header)
    elif outcome in ("collision", "unreadable"):
        _split_fast(ctx, root, order)
    _recheck_suspects(ctx, order)
    if confirm_silent:
        _confirm_silent(ctx, order)
    elif recheck is not None:
        missing = recheck(ctx.result)
        if missing is None or missing:
            _confirm_silent(ctx, order, only=missing)
    ctx.result.allowance_s = master.link.latency_allowance_s
    master.link.latency_allowance_s = allowance_s
    ctx.result.sort(key=lambda h: (h.id, h.manufacturer, h.version, h.medium))
    ctx.result.elapsed_s = time.monotonic() - t0
    return ctx.result


def _recheck_suspects(ctx: _Ctx, order: Sequence[int]) -> None:
    """Search again, listening through whole windows, the masks a late answer may have hidden."""
    link = ctx.master.link
    time.sleep(ctx.master.reply_timeout_s())  # a late answer to the very last probe
    if link.drain_stray():
        ctx.anomaly()
    while ctx.suspects:
        mask = ctx.suspects.pop(0)
        outcome, header = _probe_fast(ctx, mask, careful=True)
        ctx.report(mask, outcome, header)
        if outcome == "single" and header is not None:
            ctx.found(header)
        elif outcome in ("collision", "unreadable"):
            _split_fast(ctx, mask, order)


def _confirm_silent(ctx: _Ctx, order: Sequence[int], only: Sequence[str] | None = None) -> None:
    """Look once more at every mask that was silent (and still holds no slave found since); with
    ``only``, at those of them matching one of these ids."""
    done: set[str] = set()
    for mask in list(ctx.silent_masks):
        if mask in done or any(_matches(mask, h.id) for h in ctx.result):
            continue
        if only is not None and not any(_matches(mask, ident) for ident in only):
            continue
        done.add(mask)
        ctx.result.confirmed += 1
        outcome, header = _probe_fast(ctx, mask)
        ctx.report(mask, outcome, header)
        if outcome == "single" and header is not None:
            ctx.found(header)
        elif outcome in ("collision", "unreadable"):
            _split_fast(ctx, mask, order)


def _split_fast(ctx: _Ctx, mask: str, order: Sequence[int], *, inferred: bool = False) -> None:
    ctx.open_masks.append(mask)
    try:
        _split_children(ctx, mask, order, inferred)
    finally:
        ctx.open_masks.pop()


def _split_children(ctx: _Ctx, mask: str, order: Sequence[int], inferred: bool) -> None:
    free = [p for p in order if mask[p] == "F"]
    if not free:
        # all digits fixed and still more than one answer: confirm, listening through the window
        outcome, header = _probe_fast(ctx, mask, careful=True)
        ctx.report(mask, outcome, header)
        if outcome == "collision" and mask not in ctx.result.duplicates:
            ctx.result.duplicates.append(mask)
        elif outcome == "unreadable" and mask not in ctx.result.unreadable:
            ctx.result.unreadable.append(mask)
        elif outcome == "single" and header is not None:
            ctx.found(header)
        return
    pos = free[0]
    outcomes: list[Outcome] = []
    for digit in "0123456789":
        child = mask[:pos] + digit + mask[pos + 1 :]
        if digit == "9" and all(o == "empty" for o in outcomes) and not inferred:
            # the parent collided and nine children were silent: this one holds >= 2 slaves. Not twice in
            # a row: when the parent itself was only inferred, a reply lost to noise may have emptied it
            _split_fast(ctx, child, order, inferred=True)
            continue
        silent_before = list(ctx.recent_silent)
        outcome, header = _probe_fast(ctx, child)
        outcomes.append(outcome)
        ctx.report(child, outcome, header)
        if outcome == "single" and header is not None:
            ctx.found(header)
        elif outcome in ("collision", "unreadable"):
            count_before = _accounted(ctx)
            _split_fast(ctx, child, order)
            if outcome == "collision" and _accounted(ctx) - count_before < 2:
                # a collision no two slaves stand behind: late bytes of an earlier probe were mixed in
                for suspect in silent_before:
                    if suspect not in ctx.suspects:
                        ctx.suspects.append(suspect)


class SearchNotConverging(MasterError):
    """The search kept meeting collisions it could not resolve within its probe budget.

    ``masks`` are the collided masks still being split (outermost first); ``found`` the slaves found so far.
    """

    def __init__(self, ctx: _Ctx, probing: str) -> None:
        self.masks = list(ctx.open_masks) or [probing]
        self.found = list(ctx.result)
        super().__init__(
            f"secondary search did not converge after {ctx.result.probes} selects "
            f"({len(self.found)} slave(s) found): garbled answers kept coming for the masks "
            f"{', '.join(self.masks)}; expected each split to end in clean E5s or silence (EN 13757-3). "
            "Check the line for noise or a slave that babbles or answers every select, then search again"
        )


def _accounted(ctx: _Ctx) -> int:
    """Slaves accounted for so far (a duplicate id stands for at least two)."""
    r = ctx.result
    return len(r) + 2 * len(r.duplicates) + len(r.unreadable)


# --- libmbus baseline ------------------------------------------------------------------------------
LIBMBUS_MAX_SEARCH_RETRY = 1  #: libmbus default (mbus_context_serial)


def _purge(ctx: _Ctx) -> bool:
    """Read frames until a full timeout passes; True when anything came (libmbus treats it as collision)."""
    m = ctx.master
    received = False
    while True:
        now = time.monotonic()
        reply = m.link.receive(b"", now)
        if reply.empty:
            return received
        received = True


def _probe_libmbus(ctx: _Ctx, mask: str) -> tuple[Outcome, LongHeader | None]:
    outcome: Outcome = "empty"
    for _attempt in range(LIBMBUS_MAX_SEARCH_RETRY + 1):
        reply = _send_select(ctx, mask, listen_until_window_end=False)
        if reply.empty:
            outcome = "empty"
            continue
        if not reply.is_ack:
            _purge(ctx)
            return "collision", None
        if _purge(ctx):
            return "collision", None
        read, header = _read_header_libmbus(ctx)
        if read.empty:
            return "empty", None
        if not read.ok:
            _purge(ctx)
            return "collision", None
        if _purge(ctx):
            return "collision", None
        if header is None:
            return "empty", None
        return "single", header
    return outcome, None


def _read_header_libmbus(ctx: _Ctx) -> tuple[Reply, LongHeader | None]:
    m = ctx.master
    data = encode(ShortFrame(c=REQ_UD2 | C_FCV | C_FCB, a=ADDR_SELECTED))
    end = m.link.send(data)
    m.requests_sent += 1
    ctx.result.reads += 1
    reply = m.link.receive(data, end)
    header = None
    if reply.ok and isinstance(reply.frame, LongFrame) and isinstance(reply.frame.header, LongHeader):
        header = reply.frame.header
    return reply, header


def search_libmbus(
    master: Master,
    *,
    manufacturer: str | None = None,
    version: int | None = None,
    medium: int | None = None,
    progress: ProgressFn | None = None,
) -> SearchResult:
    """Baseline: libmbus's secondary scan strategy over the same transport (see module docstring).

    Where libmbus would go on descending into the manufacturer/version/medium nibbles after a collision
    on a fully fixed id, this stops and reports a duplicate (the model's select cannot express nibble
    wildcards there; continuing would only cost libmbus more).
    """
    ctx = _Ctx(master, manufacturer, version, medium, progress)
    ctx.result.strategy = "libmbus"
    allowance_s = master.link.latency_allowance_s
    t0 = time.monotonic()
    _scan_libmbus(ctx, 0, "F" * ID_DIGITS)
    ctx.result.allowance_s = master.link.latency_allowance_s
    master.link.latency_allowance_s = allowance_s
    ctx.result.sort(key=lambda h: (h.id, h.manufacturer, h.version, h.medium))
    ctx.result.elapsed_s = time.monotonic() - t0
    return ctx.result


def _scan_libmbus(ctx: _Ctx, pos: int, mask: str) -> None:
    if pos >= ID_DIGITS:
        if mask not in ctx.result.duplicates:
            ctx.result.duplicates.append(mask)
        return
    for digit in "0123456789":
        child = mask[:pos] + digit + mask[pos + 1 :]
        outcome, header = _probe_libmbus(ctx, child)
        ctx.report(child, outcome, header)
        if outcome == "single" and header is not None:
            ctx.found(header)
        elif outcome == "collision":
            _scan_libmbus(ctx, pos + 1, child)


def stderr_progress(prefix: str = "search") -> ProgressFn:
    """A progress callback printing one updating line on stderr."""

    def show(ev: ProbeEvent) -> None:
        extra = f" -> {ev.header.id} {ev.header.manufacturer}" if ev.header is not None else ""
        sys.stderr.write(
            f"\r{prefix}: probe {ev.probes:4d} mask {ev.mask} {ev.outcome:9s} found {ev.found:3d}{extra}   "
        )
        if ev.header is not None:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
