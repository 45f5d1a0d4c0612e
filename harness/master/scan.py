"""Primary address scan (EN 13757-2 SND_NKE to 0..250) that misses no slave on a noisy line.

A slave acknowledges SND_NKE with E5 within the EN 13757-2 reply window (11 bit times .. 330 bit times +
50 ms); an empty address costs that whole window, which is what bounds a scan's time. This scan:

* probes each address once and waits the window plus the rig's latency allowance, never less (a slower
  timeout would be a guess, not the standard);
* repeats a garbled answer at once (up to ``GARBLE_REPEATS`` times): line noise on one reply gives a clean
  E5 on the repeat, two slaves on one address stay garbled and are reported as a collision;
* takes bytes found waiting before a request (a late answer to the previous address) and replies close to
  the timeout as evidence: the previous address is probed again, and the allowance widened as in
  :mod:`harness.master.search`;
* then takes a second look where the first one can have missed a slave. Line noise can erase a reply
  without a trace (the request destroyed before the slave read it, or the current pulses of a one-byte E5
  masked): one look per address misses each slave with the probability of a lost reply (0.1 -> 65 %
  chance to miss one of ten), and only another request can find it. ``confirm`` chooses that request:

  - ``"secondary"`` (default): one pass of the secondary search (EN 13757-3 wildcard selects,
    :func:`harness.master.search.search_secondary`) finds the slaves by identification number; a wildcard
    select reaches many addresses in one reply window, so this costs some tens of windows instead of one
    per silent address. Each slave's RSP_UD names its primary address in the A field (EN 13757-2); an
    address the scan found silent but a slave answers with is probed again by SND_NKE (its E5 is the
    evidence, the A field only says where to look). A slave is then missed only when noise erases both
    its SND_NKE answer and its secondary-search answer (0.1 x 0.1 per slave at 1-in-10 loss). Where the
    search cannot place every slave it found (a duplicate or unreadable id, an A field outside 0..250) or
    does not converge, the scan falls back to ``"silent"``. A slave without secondary addressing is not
    covered by this second look: on such a bus use ``"silent"``. The search must place a slave at every
    address the scan found; where it does not, noise erased one of its answers too: the slave there is
    read by its primary address and the search looks again at the silent mask its id falls in.
  - ``"silent"``: every silent address is probed a second time (libmbus's ``-r 1``): a miss needs two
    lost replies at the same address; costs one more window per empty address.
  - ``"none"``: one look per address (``confirm_silent=False`` says the same).

Compared with libmbus's ``mbus-serial-scan`` (one ping per address by default, a fixed 0.3 s timeout at
2400 Bd), the first pass is faster (window + allowance instead of 0.3 s per empty address); that bounds
the ratio of one pass at (request + window + allowance) / (request + 0.3 s) = 0.68 at 2400 Bd with a
10 ms allowance, and any second look adds to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from harness.master.link import Reply
from harness.master.search import SearchNotConverging, SearchResult, search_secondary
from harness.mbus import LongFrame, LongHeader, ShortFrame, encode
from harness.mbus.model import REQ_UD2, SND_NKE

if TYPE_CHECKING:
    from harness.master.master import Master

MAX_PRIMARY = 250  #: highest primary address a slave can have (EN 13757-2; 251..255 are reserved)
GARBLE_REPEATS = 2  #: repeats of a garbled answer before it is taken as two slaves on one address

Presence = Literal["empty", "present", "collision"]
#: how the scan takes its second look (see the module docstring)
ConfirmMode = Literal["secondary", "silent", "none"]
CONFIRM_MODES: tuple[ConfirmMode, ...] = ("secondary", "silent", "none")
#: SND_NKE looks at an address the secondary search placed a slave at, before it is given up
HINT_LOOKS = 2
ScanProgressFn = Callable[[int, Presence], None]


@dataclass
class ScanResult:
    """Addresses found (sorted), those where more than one slave answers, and the cost of the scan.

    ``probes`` counts SND_NKE sent, ``silent`` those that got no answer, ``repeats`` the garbled answers
    asked again, ``confirmed`` the second looks at silent addresses, ``late`` the answers found waiting
    before a later request, ``elapsed_s`` the wall time, ``allowance_s`` the latency allowance at the end.
    ``confirm`` is the second look taken (``"silent"`` also after a secondary confirmation fell back, with
    the reason in ``fallback``); ``search`` the confirming secondary search (its own probes and reads);
    ``unconfirmed`` addresses a slave named in its RSP_UD but that never acknowledged SND_NKE there;
    ``reads`` the REQ_UD2 sent to identify a slave the scan found and the search missed.
    """

    addresses: list[int] = field(default_factory=list)
    collisions: list[int] = field(default_factory=list)
    probes: int = 0
    silent: int = 0
    repeats: int = 0
    confirmed: int = 0
    late: int = 0
    elapsed_s: float = 0.0
    allowance_s: float = 0.0
    strategy: str = "ours"
    confirm: ConfirmMode = "none"
    fallback: str = ""
    search: SearchResult | None = None
    unconfirmed: list[int] = field(default_factory=list)
    probes_secondary: int = 0  #: selects and reads the confirming secondary search sent
    reads: int = 0  #: REQ_UD2 to a found address whose slave the confirming search had missed


def _ping(master: Master, address: int, result: ScanResult) -> tuple[Reply, bool]:
    """One SND_NKE; returns the reply and whether bytes were waiting before it (a late answer)."""
    link = master.link
    data = encode(ShortFrame(c=SND_NKE, a=address))
    end = link.send(data)
    master.requests_sent += 1
    result.probes += 1
    stray = bool(link.last_stray)
    reply = link.receive(data, end)
    if reply.empty:
        result.silent += 1
    elif reply.latency_s is not None:
        timeout = link.reply_timeout_s()
        if reply.latency_s > 0.75 * timeout:  # the path is slower than the allowance: widen it
            link.latency_allowance_s += 1.5 * reply.latency_s - timeout
    return reply, stray


def _probe(master: Master, address: int, result: ScanResult) -> tuple[Presence, bool]:
    reply, stray = _ping(master, address, result)
    garbled = False
    for _ in range(GARBLE_REPEATS):
        if reply.empty or reply.is_ack:
            break
        garbled = True
        result.repeats += 1
        reply, late = _ping(master, address, result)
        stray = stray or late
    if reply.is_ack:
        return "present", stray
    if reply.empty:
        # garbled, then silent on the repeat: something did answer there
        return ("present" if garbled else "empty"), stray
    return "collision", stray


def scan_primary(
    master: Master,
    addresses: Iterable[int] = range(0, MAX_PRIMARY + 1),
    *,
    confirm: ConfirmMode = "secondary",
    confirm_silent: bool = True,
    progress: ScanProgressFn | None = None,
) -> ScanResult:
    """Find the primary addresses that acknowledge SND_NKE (see the module docstring).

    ``confirm`` chooses the second look (``"secondary"``, ``"silent"``, ``"none"``);
    ``confirm_silent=False`` means ``"none"`` whatever ``confirm`` says.
    """
    order = list(addresses)
    bad = [a for a in order if not 0 <= a <= MAX_PRIMARY]
    if bad:
        raise ValueError(f"primary scan covers 0..{MAX_PRIMARY} (EN 13757-2), got {bad}")
    if confirm not in CONFIRM_MODES:
        raise ValueError(f"confirm must be one of {', '.join(CONFIRM_MODES)}, got {confirm!r}")
    mode: ConfirmMode = confirm if confirm_silent else "none"
    result = ScanResult(confirm=mode)
    link = master.link
    allowance_s = link.latency_allowance_s
    t0 = time.monotonic()
    silent: list[int] = []
    suspects: list[int] = []
    found: set[int] = set()

    def record(address: int, presence: Presence) -> None:
        if presence != "empty":
            found.add(address)
            if presence == "collision" and address not in result.collisions:
                result.collisions.append(address)
        if progress is not None:
            progress(address, presence)

    previous: int | None = None
    for address in order:
        presence, stray = _probe(master, address, result)
        if stray and previous is not None and previous not in found:
            result.late += 1
            suspects.append(previous)
        record(address, presence)
        if presence == "empty":
            silent.append(address)
        previous = address
    time.sleep(master.reply_timeout_s())  # a late answer to the very last probe
    if link.drain_stray() and previous is not None and previous not in found:
        result.late += 1
        suspects.append(previous)
    hinted: list[int] = []
    if mode == "secondary":
        hinted = _placed_by_search(master, order, found, result)
        if result.fallback:
            mode = result.confirm = "silent"
    again = [a for a in silent if a not in found] if mode == "silent" else []
    again += [a for a in suspects + hinted if a not in again and a not in found]
    for address in again:
        result.confirmed += 1
        looks = HINT_LOOKS if address in hinted else 1
        seen: Presence = "empty"
        for _ in range(looks):
            seen, _ = _probe(master, address, result)
            if seen != "empty":
                record(address, seen)
                break
        if seen == "empty" and address in hinted:
            result.unconfirmed.append(address)
    result.addresses = sorted(found)
    result.collisions.sort()
    result.allowance_s = link.latency_allowance_s
    link.latency_allowance_s = allowance_s
    result.elapsed_s = time.monotonic() - t0
    return result


def _placed_by_search(master: Master, order: list[int], found: set[int], result: ScanResult) -> list[int]:
    """One pass of the secondary search; the scanned addresses its slaves answer with that the scan missed.

    The two methods check each other: a search that does not place a slave at every address the scan
    found has itself lost an answer to noise. The slave at such an address is read (REQ_UD2 to its
    primary address); its id names the silent mask that hid it, and the search takes its second look
    at that mask only (at every silent mask when the slave cannot be read). Sets ``result.fallback``
    when a slave it found cannot be placed (a duplicate or unreadable id, an A field outside 0..250:
    EN 13757-2 primary addresses) or the search does not converge: the scan then looks at every silent
    address again instead.
    """
    scanned = set(order)

    def missing_ids(search: SearchResult) -> list[str] | None:
        """Ids of slaves the scan found that the search missed (None: not all can be read)."""
        if search.duplicates or search.unreadable:
            return []  # ids without a readable header cannot be placed: the scan falls back anyway
        placed = {search.reply_addresses.get(h.id) for h in search}
        known = set(search.ids())
        missing: list[str] = []
        for address in sorted(found - placed):
            ident = _read_id(master, address, result)
            if ident is None:
                return None
            if ident not in known:
                missing.append(ident)
        return missing

    try:
        search = search_secondary(master, confirm_silent=False, recheck=missing_ids)
    except SearchNotConverging as exc:
        result.fallback = f"secondary search did not converge ({', '.join(exc.masks)})"
        return []
    result.search = search
    result.probes_secondary = search.requests
    if search.duplicates or search.unreadable:
        result.fallback = "secondary search found ids it cannot place: " + ", ".join(
            search.duplicates + search.unreadable
        )
        return []
    hinted: list[int] = []
    for header in search:
        a = search.reply_addresses.get(header.id)
        if a is None or not 0 <= a <= MAX_PRIMARY:
            result.fallback = f"slave {header.id} answers with A field {a}, not a primary address"
            return []
        if a in scanned and a not in found and a not in hinted:
            hinted.append(a)
    return hinted


def _read_id(master: Master, address: int, result: ScanResult) -> str | None:
    """Identification number of the slave at ``address`` (REQ_UD2, EN 13757-2; RSP_UD long header,
    EN 13757-3), asked up to ``HINT_LOOKS`` times; None when no readable header comes."""
    link = master.link
    data = encode(ShortFrame(c=REQ_UD2, a=address))
    for _ in range(HINT_LOOKS):
        end = link.send(data)
        master.requests_sent += 1
        result.reads += 1
        reply = link.receive(data, end)
        frame = reply.frame
        if reply.ok and isinstance(frame, LongFrame) and isinstance(frame.header, LongHeader):
            return frame.header.id
    return None


# --- libmbus baseline ------------------------------------------------------------------------------
#: libmbus's serial read timeout at 2400 Bd as measured on its mbus-serial-scan (VTIME, from the last byte)
LIBMBUS_TIMEOUT_2400_S = 0.3


def scan_libmbus(
    master: Master, addresses: Iterable[int] = range(0, MAX_PRIMARY + 1), *, retries: int = 0
) -> ScanResult:
    """Baseline: libmbus's ``mbus-serial-scan`` strategy over the same transport.

    One SND_NKE per address, repeated ``retries`` times on silence only (libmbus ``-r``, default 0), a
    fixed timeout of 0.3 s at 2400 Bd (scaled with the master's time scale) instead of the EN 13757-2
    window; an answer that is not a clean E5 counts as a collision, not a slave.
    """
    result = ScanResult(strategy="libmbus")
    link = master.link
    timeout_s = LIBMBUS_TIMEOUT_2400_S * (2400 / link.baud) * link.time_scale
    t0 = time.monotonic()
    for address in addresses:
        data = encode(ShortFrame(c=SND_NKE, a=address))
        reply = Reply(request=data)
        for _attempt in range(retries + 1):
            end = link.send(data)
            master.requests_sent += 1
            result.probes += 1
            reply = link.receive(data, end, timeout_s=timeout_s)
            if not reply.empty:
                break
            result.silent += 1
        if reply.is_ack:
            result.addresses.append(address)
        elif not reply.empty:
            result.collisions.append(address)
    result.elapsed_s = time.monotonic() - t0
    result.allowance_s = link.latency_allowance_s
    return result
