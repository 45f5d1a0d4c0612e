"""Several rigs at once: one ``cmi-hil run`` process per rig, one combined summary.

``cmi-hil run --rig a.yaml --rig b.yaml ...`` hands the rigs to :func:`run_rigs`. Each rig runs in its own
process with its own bench, lock and run folder, exactly as a single-rig run does, so nothing a rig does can
reach another rig's instruments. Their output is interleaved line by line behind a ``[rig]`` prefix.

Exit paths: SIGINT, SIGTERM and SIGHUP received here are forwarded to every rig's process, which makes its
bench safe and seals its evidence as interrupted; this process then waits for all of them (never kills one),
so every rig is left safe. Exit status: the highest of the rigs' statuses.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

#: how a single-rig run names its run folder on its output
_RUN_FOLDER = re.compile(r"run folder (\S+)")
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class RigRun:
    """One rig's process and what it reported."""

    rig: Path
    label: str
    process: subprocess.Popen[str]
    run_dir: Path | None = None
    started: float = 0.0
    finished: float | None = None

    @property
    def verdict(self) -> str:
        """The run folder's verdict (run.json), or why there is none."""
        if self.run_dir is None:
            return "no run folder"
        try:
            info = json.loads((self.run_dir / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "no run.json"
        return str(info.get("verdict") or "unfinished").upper()


def rig_labels(rigs: Sequence[Path]) -> list[str]:
    """Short, distinct labels for the output prefix (file stems, made unique with a counter)."""
    labels: list[str] = []
    for rig in rigs:
        label = rig.stem
        n = 2
        while label in labels:
            label = f"{rig.stem}#{n}"
            n += 1
        labels.append(label)
    return labels


def _pump(run: RigRun, out: IO[str], lock: threading.Lock) -> None:
    assert run.process.stdout is not None
    for line in run.process.stdout:
        if run.run_dir is None:
            found = _RUN_FOLDER.search(line)
            if found:
                run.run_dir = Path(found.group(1).rstrip(",."))
        with lock:
            out.write(f"[{run.label}] {line}")
            out.flush()


def run_rigs(rigs: Sequence[Path], run_args: Sequence[str], *, out: IO[str] | None = None) -> int:
    """Run ``cmi-hil run --rig R <run_args>`` for every rig at once; print a combined summary."""
    out = out or sys.stdout
    lock = threading.Lock()
    runs: list[RigRun] = []
    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        for run in runs:
            if run.process.poll() is None:
                run.process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in _FORWARDED}
    pumps: list[threading.Thread] = []
    try:
        for rig, label in zip(rigs, rig_labels(rigs), strict=True):
            cmd = [sys.executable, "-m", "harness.cli", "run", "--rig", str(rig), *run_args]
            # its own session: a Ctrl-C on the terminal reaches the rigs once, through forward()
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
            run = RigRun(rig=rig, label=label, process=proc, started=time.monotonic())
            runs.append(run)
            pump = threading.Thread(
                target=_pump, args=(run, out, lock), name=f"output of {label}", daemon=True
            )
            pump.start()
            pumps.append(pump)
        for run in runs:
            while True:
                try:
                    run.process.wait()
                    break
                except KeyboardInterrupt:  # a handler was replaced under us; keep waiting, never kill
                    continue
            run.finished = time.monotonic()
        for pump in pumps:
            pump.join(timeout=5)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    out.write(format_summary(runs, interrupted_by=received[0] if received else None))
    out.flush()
    return max((abs(r.process.returncode or 0) for r in runs), default=0)


def format_summary(runs: Sequence[RigRun], *, interrupted_by: int | None = None) -> str:
    """The combined table: rig, verdict, exit status, wall time, run folder."""
    rows = [("rig", "verdict", "exit", "wall", "run folder")]
    for r in runs:
        wall = f"{(r.finished or time.monotonic()) - r.started:.1f} s"
        rc = r.process.returncode
        rows.append((r.label, r.verdict, "-" if rc is None else str(rc), wall, str(r.run_dir or "-")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["", f"{len(runs)} rig(s):"]
    for row in rows:
        lines.append("  ".join(row[i].ljust(widths[i]) for i in range(4)) + "  " + row[4])
    if interrupted_by is not None:
        lines.append(
            f"interrupted by {signal.Signals(interrupted_by).name}: every rig was asked to stop safely"
        )
    return "\n".join(lines) + "\n"


__all__ = ["RigRun", "format_summary", "rig_labels", "run_rigs"]
