"""M-Bus master over any pyserial URL (EN 13757-2 link layer, EN 13757-3 addressing).

Public API: :class:`Master`, :func:`reply_window`, :class:`Reply`, the errors (:class:`MasterError`,
:class:`NoReply`, :class:`CollisionError`, :class:`LineError`), and the secondary search
(:func:`search_secondary`, :func:`search_libmbus` baseline, :class:`SearchResult`, :class:`ProbeEvent`).
"""

from harness.master.errors import CollisionError, LineError, MasterError, NoReply, PortError, UnexpectedReply
from harness.master.link import EchoMismatch, Reply, SerialLink
from harness.master.master import Master
from harness.master.raw import RawRequest
from harness.master.search import ProbeEvent, SearchResult, search_libmbus, search_secondary, stderr_progress
from harness.mbus.timing import char_time_s, reply_window, wire_time_s

__all__ = [
    "CollisionError",
    "EchoMismatch",
    "LineError",
    "Master",
    "MasterError",
    "NoReply",
    "PortError",
    "ProbeEvent",
    "RawRequest",
    "Reply",
    "SearchResult",
    "SerialLink",
    "UnexpectedReply",
    "char_time_s",
    "reply_window",
    "search_libmbus",
    "search_secondary",
    "stderr_progress",
    "wire_time_s",
]
