"""The run in progress, read from its run folder the way the report reads a finished one (layout in
:mod:`harness.evidence`): a run folder whose ``run.json`` has no finish time is still running.

Progress is the number of tests in ``tests.jsonl`` against the number pytest collected when the run recorded
it (an integer ``collected`` in ``run.json``), else against the number of tests of the previous run on the
same rig (marked as an estimate). The current test is the test of the newest measurement that has not finished
yet. Lines that do not parse (a line being written right now) are skipped and counted, never fatal.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from harness.evidence import (
    MEASUREMENTS_FILE,
    RUN_FILE,
    TESTS_FILE,
    Measurement,
    RunInfo,
    TestResult,
)

M = TypeVar("M", bound=BaseModel)

#: only the newest run folders (by name, which starts with the start time) are looked at for a live run
SCAN_NEWEST = 50
#: a run whose folder has not changed for this long is shown as possibly dead (the longest mandated wait
#: of the suite, a rate-input detection at full time scale, is well under a minute)
STALE_AFTER_S = 15 * 60.0
LAST_MEASUREMENTS = 12
LAST_TESTS = 8


@dataclass
class Progress:
    done: int
    total: int | None
    total_source: str  #: "collected" (recorded by the run), "previous run" (estimate) or "unknown"

    @property
    def percent(self) -> float | None:
        if not self.total:
            return None
        return min(100.0, 100.0 * self.done / self.total)


@dataclass
class LiveRun:
    run_dir: Path
    info: RunInfo
    progress: Progress
    outcomes: dict[str, int]
    current_test: str | None
    next_expected: str | None  #: when between tests: the next test in the previous run's order
    last_finished: list[TestResult]  #: newest first
    last_measurements: list[Measurement]  #: newest first
    elapsed_s: float | None
    idle_s: float  #: seconds since anything in the run folder last changed
    unreadable_lines: int = 0
    other_unfinished: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return self.idle_s > STALE_AFTER_S


def _read_tolerant(path: Path, model: type[M]) -> tuple[list[M], int]:
    """Records of a JSON-lines file and the number of lines that did not parse."""
    records: list[M] = []
    bad = 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records, 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            records.append(model.model_validate_json(line))
        except ValidationError:
            bad += 1
    return records, bad


def _run_info(run_dir: Path) -> tuple[RunInfo, dict[str, object]] | None:
    try:
        raw = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        return RunInfo.model_validate(raw), raw
    except (OSError, ValueError, ValidationError):
        return None


def unfinished_runs(reports_dir: Path) -> list[Path]:
    """Run folders under ``reports_dir`` without a finish time, newest first (by start time, then name)."""
    if not reports_dir.is_dir():
        return []
    folders = sorted((d for d in reports_dir.iterdir() if (d / RUN_FILE).is_file()), reverse=True)
    found: list[tuple[str, str, Path]] = []
    for d in folders[:SCAN_NEWEST]:
        read = _run_info(d)
        if read is not None and read[0].finished is None:
            found.append((read[0].started, d.name, d))
    return [d for _, _, d in sorted(found, reverse=True)]


def previous_run(reports_dir: Path, rig: str, *, before: Path) -> Path | None:
    """The newest finished run folder of ``rig`` older than ``before`` (for the expected test count)."""
    candidates = sorted(
        (
            d
            for d in reports_dir.iterdir()
            if d.name < before.name and d.name.endswith(f"-{rig}") and (d / TESTS_FILE).is_file()
        ),
        reverse=True,
    )
    for d in candidates[:SCAN_NEWEST]:
        read = _run_info(d)
        if read is not None and read[0].finished is not None:
            return d
    return None


def _idle_s(run_dir: Path, now: float) -> float:
    newest = 0.0
    for path in (run_dir / RUN_FILE, run_dir / TESTS_FILE, run_dir / MEASUREMENTS_FILE):
        try:
            newest = max(newest, path.stat().st_mtime)
        except FileNotFoundError:
            continue
    return max(0.0, now - newest)


def _elapsed_s(started: str, now: float) -> float | None:
    try:
        t0 = datetime.fromisoformat(started)
    except ValueError:
        return None
    if t0.tzinfo is None:
        t0 = t0.replace(tzinfo=UTC)
    return max(0.0, now - t0.timestamp())


def read_live_run(run_dir: Path, *, reports_dir: Path, now: float | None = None) -> LiveRun | None:
    """The state of the run in ``run_dir``; None when its ``run.json`` cannot be read."""
    now = time.time() if now is None else now
    read = _run_info(run_dir)
    if read is None:
        return None
    info, raw = read
    tests, bad_tests = _read_tolerant(run_dir / TESTS_FILE, TestResult)
    measurements, bad_meas = _read_tolerant(run_dir / MEASUREMENTS_FILE, Measurement)
    finished = {t.nodeid for t in tests}

    previous_order: list[str] = []
    collected = raw.get("collected")
    if isinstance(collected, int) and not isinstance(collected, bool) and collected > 0:
        progress = Progress(len(tests), collected, "collected")
    else:
        progress = Progress(len(tests), None, "unknown")
    prev = previous_run(reports_dir, info.rig.name, before=run_dir) if reports_dir.is_dir() else None
    if prev is not None:
        previous_order = [t.nodeid for t in _read_tolerant(prev / TESTS_FILE, TestResult)[0]]
        if progress.total is None and previous_order:
            progress = Progress(len(tests), max(len(previous_order), len(tests)), "previous run")

    current = next((m.test for m in reversed(measurements) if m.test not in finished), None)
    next_expected = None
    if current is None and info.finished is None:
        next_expected = next((n for n in previous_order if n not in finished), None)

    outcomes: dict[str, int] = {}
    for t in tests:
        outcomes[t.outcome] = outcomes.get(t.outcome, 0) + 1
    return LiveRun(
        run_dir=run_dir,
        info=info,
        progress=progress,
        outcomes=outcomes,
        current_test=current,
        next_expected=next_expected,
        last_finished=list(reversed(tests[-LAST_TESTS:])),
        last_measurements=list(reversed(measurements[-LAST_MEASUREMENTS:])),
        elapsed_s=_elapsed_s(info.started, now),
        idle_s=_idle_s(run_dir, now),
        unreadable_lines=bad_tests + bad_meas,
    )
