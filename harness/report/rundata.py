"""Read a run folder (layout in :mod:`harness.evidence`) into one object the report, the manifest and
the results database work from. Reading never throws away evidence: a line that does not parse (an
interrupted run, a hand edit) is reported as a problem and the rest is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from harness import evidence
from harness.assumptions import ASSUMPTIONS_FILE, AssumptionLedger
from harness.evidence import Measurement, Requirement, RunInfo, TestResult, TranscriptEntry

M = TypeVar("M", bound=BaseModel)

#: written by the suite's pytest plugin: wall time, time scale and the waits the standard forces
TIMING_FILE = "timing.json"


class RunFolderError(ValueError):
    """The folder is not a readable run folder; the message says what was expected and what to do."""


@dataclass
class RunData:
    """Everything a run recorded, as evidence records."""

    run_dir: Path
    info: RunInfo
    measurements: list[Measurement] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    #: transcript file stem (``evidence.slug(nodeid)``) -> entries, in file order
    transcripts: dict[str, list[TranscriptEntry]] = field(default_factory=dict)
    #: lines or files that could not be read, as "file:line: reason"
    problems: list[str] = field(default_factory=list)
    #: the suite's timing.json (wall time, time scale, mandated waits), when present
    timing: dict[str, Any] = field(default_factory=dict)
    #: device-profile assumptions overridden / confirmed / in force (harness.assumptions), when recorded
    assumptions: AssumptionLedger | None = None

    def test_for_transcript(self, stem: str) -> str:
        """The test node id a transcript file belongs to (its stem when no test matches)."""
        for test in self.tests:
            if evidence.slug(test.nodeid) == stem:
                return test.nodeid
        for m in self.measurements:
            if evidence.slug(m.test) == stem:
                return m.test
        return stem


def _read_jsonl(path: Path, model: type[M], problems: list[str], run_dir: Path) -> list[M]:
    records: list[M] = []
    if not path.exists():
        return records
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                records.append(model.model_validate_json(line))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ())) or "line"
                problems.append(f"{path.relative_to(run_dir)}:{number}: {where}: {first.get('msg')}")
    return records


def load_run(run_dir: Path) -> RunData:
    """Load a run folder written by the suite.

    Raises :class:`RunFolderError` when ``run.json`` is missing or invalid (nothing identifies the run);
    anything else that cannot be read is listed in :attr:`RunData.problems`.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(
            f"{run_dir}: no such run folder; expected a folder under reports/ written by "
            "`cmi-hil run` (reports/<YYYYmmdd-HHMMSS>-<rig>/)"
        )
    run_file = run_dir / evidence.RUN_FILE
    if not run_file.exists():
        raise RunFolderError(
            f"{run_dir}: no {evidence.RUN_FILE}; this is not a run folder written by "
            "`cmi-hil run` (or the run died before it started); pass the run folder itself"
        )
    try:
        info = evidence.read_run_info(run_dir)
    except (ValidationError, json.JSONDecodeError) as exc:
        raise RunFolderError(
            f"{run_file}: not a valid run record ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}); restore it from the run or re-run"
        ) from exc
    problems: list[str] = []
    data = RunData(run_dir=run_dir, info=info, problems=problems)
    data.measurements = _read_jsonl(run_dir / evidence.MEASUREMENTS_FILE, Measurement, problems, run_dir)
    data.tests = _read_jsonl(run_dir / evidence.TESTS_FILE, TestResult, problems, run_dir)
    req_file = run_dir / evidence.REQUIREMENTS_FILE
    if req_file.exists():
        try:
            data.requirements = TypeAdapter(list[Requirement]).validate_json(req_file.read_bytes())
        except ValidationError as exc:
            problems.append(f"{evidence.REQUIREMENTS_FILE}: {str(exc).splitlines()[0]}")
    else:
        problems.append(f"{evidence.REQUIREMENTS_FILE}: missing; requirement coverage cannot be shown")
    timing_file = run_dir / TIMING_FILE
    if timing_file.exists():
        try:
            data.timing = dict(json.loads(timing_file.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            problems.append(f"{TIMING_FILE}: {exc}")
    ledger_file = run_dir / ASSUMPTIONS_FILE
    if ledger_file.exists():
        try:
            data.assumptions = AssumptionLedger.model_validate_json(ledger_file.read_bytes())
        except ValidationError as exc:
            problems.append(f"{ASSUMPTIONS_FILE}: {str(exc).splitlines()[0]}")
    tdir = run_dir / evidence.TRANSCRIPTS_DIR
    if tdir.is_dir():
        for path in sorted(tdir.glob("*.jsonl")):
            data.transcripts[path.stem] = _read_jsonl(path, TranscriptEntry, problems, run_dir)
    return data
