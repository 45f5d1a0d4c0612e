"""``cmi-hil rig calibrate``: the M-Bus adapter path's round-trip latency (known slave or loopback plug).

Without a bus monitor the master only sees when its own request left the serial port and when the first reply
byte came back. The difference from the reply delay a reference slave declares in its device profile
(``link.reply_delay_bit_times`` / ``link.reply_delay_extra_s``, which must lie inside the EN 13757-2 reply
window of 11..330 bit times + 50 ms) is what the adapter path adds: USB latency timer, level converter,
RFC 2217/TCP hops, scheduler. Its largest observed value, rounded up to a whole millisecond, is the
``uncertainty.latency_allowance_s`` the rig file should carry.

With a loopback plug instead of the bus (TX wired to RX at the adapter's far end), each request comes back as
its own echo: the time from its last bit leaving the line to its last byte coming back is the round trip of
the path, with no slave in it (nominal 0).

Nothing is written unless asked: :func:`set_latency_allowance` edits only that one value of the rig file,
keeping every comment and the layout, and re-reads the result to prove nothing else changed.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.master import Master, MasterError, SerialLink, wire_time_s
from harness.mbus import ShortFrame, encode
from harness.mbus.model import C_FCB, C_FCV, REQ_UD2, SND_NKE

#: upper bound of ``uncertainty.latency_allowance_s`` in the rig-file schema (harness.rig.config.Uncertainty)
MAX_ALLOWANCE_S = 2.0
#: reply timeout of the calibration master beyond the EN 13757-2 window: a slow path is measured, not lost
MEASURE_ALLOWANCE_S = 0.5
FIELD = "latency_allowance_s"


class CalibrationError(Exception):
    """The calibration could not be made (no reply from the reference slave, bad arguments, rig file form)."""


@dataclass(frozen=True)
class LatencyCalibration:
    """Excess latency of each exchange: reply delay seen by the master minus the profile's nominal delay."""

    excess_s: tuple[float, ...]
    nominal_s: float
    exchanges: int
    no_reply: int
    address: int | None  #: the reference slave; None for a loopback plug
    baud: int

    @property
    def median_s(self) -> float:
        return statistics.median(self.excess_s)

    @property
    def p95_s(self) -> float:
        if len(self.excess_s) < 2:
            return self.excess_s[0]
        return statistics.quantiles(self.excess_s, n=20, method="inclusive")[18]

    @property
    def max_s(self) -> float:
        return max(self.excess_s)

    @property
    def allowance_s(self) -> float:
        """Rig-file value: the largest excess seen, rounded up to whole ms, at least 1 ms."""
        return max(0.001, math.ceil(round(self.max_s * 1000.0, 6)) / 1000.0)


def _requests(address: int) -> list[tuple[str, bytes]]:
    """SND_NKE (resets the FCB) then REQ_UD2 with FCB set: each answered by a slave (EN 13757-2)."""
    return [
        ("SND_NKE", encode(ShortFrame(c=SND_NKE, a=address))),
        ("REQ_UD2", encode(ShortFrame(c=REQ_UD2 | C_FCV | C_FCB, a=address))),
    ]


def measure_latency(master: Master, *, address: int, nominal_s: float, count: int) -> LatencyCalibration:
    """``count`` exchanges (alternating SND_NKE / REQ_UD2) with the slave at ``address``.

    ``nominal_s`` is the reference slave's declared reply delay on this line (already scaled on a simulated
    bench). An exchange without reply is counted, not measured; none answering is a :class:`CalibrationError`.
    """
    if count < 1:
        raise CalibrationError(f"--count must be at least 1, got {count}")
    excess: list[float] = []
    silent = 0
    for index in range(count):
        _name, request = _requests(address)[index % 2]
        try:
            reply = master.transact(request, expect_reply=True)
        except MasterError:
            silent += 1
            continue
        if reply.latency_s is not None:
            excess.append(max(0.0, reply.latency_s - nominal_s))
    if not excess:
        raise CalibrationError(
            f"no reply from primary address {address} at {master.baud} Bd in {count} exchange(s): the "
            "reference slave must be powered, wired and at that address (--address); check mbus.url and baud"
        )
    return LatencyCalibration(tuple(excess), nominal_s, count, silent, address, master.baud)


def measure_loopback(link: SerialLink, *, count: int, timeout_s: float = 1.0) -> LatencyCalibration:
    """``count`` SND_NKE frames through a loopback plug: last echoed byte minus last bit sent, each."""
    if count < 1:
        raise CalibrationError(f"--count must be at least 1, got {count}")
    request = _requests(0)[0][1]
    excess: list[float] = []
    silent = 0
    port = link.port
    for _ in range(count):
        link.drain_stray()
        started = time.monotonic()
        port.write(request)
        port.flush()
        sent_end = started + wire_time_s(len(request), link.baud)
        echoed = b""
        last = started
        while len(echoed) < len(request) and time.monotonic() < sent_end + timeout_s:
            chunk = port.read(len(request) - len(echoed))
            if chunk:
                echoed += chunk
                last = time.monotonic()
        if echoed != request:
            silent += 1
            continue
        excess.append(max(0.0, last - sent_end))
    if not excess:
        raise CalibrationError(
            f"no echo of {count} frame(s) within {timeout_s:g} s: is the loopback plug (TX to RX) on the "
            "adapter's bus side, and mbus.url the adapter it is on?"
        )
    return LatencyCalibration(tuple(excess), 0.0, count, silent, None, link.baud)


def format_calibration(result: LatencyCalibration, rig_name: str, source: str) -> str:
    ms = 1000.0
    if result.address is None:
        method = f"loopback plug, {result.baud} Bd"
        what = f"  {result.exchanges} SND_NKE frame(s) echoed, {result.no_reply} lost"
    else:
        method = f"known slave at primary address {result.address}, {result.baud} Bd"
        what = (
            f"  nominal reply delay (device profile): {result.nominal_s * ms:.1f} ms; "
            f"{result.exchanges} exchange(s) SND_NKE/REQ_UD2, {result.no_reply} without reply"
        )
    return "\n".join(
        [
            f"latency calibration of rig {rig_name} ({source}): {method}",
            what,
            f"  excess latency of the adapter path: median {result.median_s * ms:.2f} ms, "
            f"p95 {result.p95_s * ms:.2f} ms, max {result.max_s * ms:.2f} ms "
            f"({len(result.excess_s)} sample(s))",
            "  rig-file value (largest excess rounded up to whole ms):",
            f"    uncertainty:\n      {FIELD}: {result.allowance_s:g}",
        ]
    )


_BLOCK = re.compile(r"^uncertainty:\s*(#.*)?$")
_LINE = re.compile(rf"^(\s+{FIELD}:[ \t]*)([^\s#]+)(.*)$", re.DOTALL)


def _loader() -> type[yaml.SafeLoader]:
    from harness.rig.config import _RigLoader

    return _RigLoader


def set_latency_allowance(text: str, value_s: float) -> str | None:
    """``text`` with only ``uncertainty.latency_allowance_s`` changed (comments kept), or None when the
    field is not written as its own line in a block ``uncertainty:`` mapping (then paste the printed line)."""
    lines = text.splitlines(keepends=True)
    inside = False
    for index, line in enumerate(lines):
        if _BLOCK.match(line):
            inside = True
            continue
        if inside and line.strip() and not line[0].isspace():
            return None  # the next top-level key: the field is not there
        match = _LINE.match(line) if inside else None
        if match:
            lines[index] = f"{match.group(1)}{value_s:g}{match.group(3)}"
            edited = "".join(lines)
            _check_only_field_changed(text, edited, value_s)
            return edited
    return None


def _check_only_field_changed(before: str, after: str, value_s: float) -> None:
    old: Any = yaml.load(before, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    new: Any = yaml.load(after, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    if not isinstance(new, dict) or new.get("uncertainty", {}).get(FIELD) != value_s:
        raise CalibrationError(f"editing {FIELD} did not give the value {value_s:g}; edit the file by hand")
    old["uncertainty"][FIELD] = value_s
    if old != new:
        raise CalibrationError(f"editing {FIELD} would change other fields; edit the file by hand")


def write_allowance(path: Path, value_s: float) -> bool:
    """Write ``value_s`` into the rig file at ``path``; False when the field line is not found."""
    if not 0 <= value_s <= MAX_ALLOWANCE_S:
        raise CalibrationError(
            f"measured allowance {value_s:g} s is outside 0..{MAX_ALLOWANCE_S:g} s the rig file allows: "
            "the adapter path is too slow for M-Bus timing; use another adapter or a local serial port"
        )
    text = path.read_text(encoding="utf-8")
    edited = set_latency_allowance(text, value_s)
    if edited is None:
        return False
    temporary = path.with_name(f".{path.name}.calibrate")
    temporary.write_text(edited, encoding="utf-8")
    os.replace(temporary, path)
    return True
