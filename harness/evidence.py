"""Evidence of a run, as data: what the suite writes and what reports, manifests and the results
database read. One place defines the layout so writer and readers cannot drift apart.

Layout of a run folder ``reports/<YYYYmmdd-HHMMSS>-<rig>/``::

    run.json                 RunInfo: identity of run, rig, DUT, harness; verdict; timing
    measurements.jsonl       one Measurement per line, in the order taken
    tests.jsonl              one TestResult per line
    requirements.json        the requirement catalogue used by the run (list of Requirement)
    transcripts/<slug>.jsonl one TranscriptEntry per line, per test (slug = test node id made file-safe)
    allure-results/          allure-pytest output
    report.html, report.pdf  rendered evidence report
    manifest.json            SHA-256 of every artefact (written last)

Well-known measurement names used by the plots (conditions in ``Measurement.conditions``):
``quiescent_current`` (A; conditions ``supply_v``, ``polarity`` "+"/"-"), ``reply_latency`` (s; ``baud``),
``rate_detection_time`` (s; ``input``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

Verdict = Literal["pass", "fail", "inconclusive"]
#: "interrupted": the test started and was stopped (Ctrl-C, SIGTERM, the bench closed under it);
#: "not run": collected and selected, but the run ended before it started
Outcome = Literal["passed", "failed", "skipped", "error", "interrupted", "not run"]
#: who an error is charged to: the bench (instrument, serial line, rig lock, emulator) or the harness itself
ErrorKind = Literal["bench", "harness"]

RUN_FILE = "run.json"
MEASUREMENTS_FILE = "measurements.jsonl"
TESTS_FILE = "tests.jsonl"
REQUIREMENTS_FILE = "requirements.json"
TRANSCRIPTS_DIR = "transcripts"
ALLURE_DIR = "allure-results"
MANIFEST_FILE = "manifest.json"


class Instrument(BaseModel):
    name: str
    role: str
    resource: str
    idn: str | None = None
    serial: str | None = None
    calibration_due: str | None = None  # ISO date


class RigInfo(BaseModel):
    name: str
    file: str
    simulated: bool
    instruments: list[Instrument] = Field(default_factory=list)
    mbus_port: str | None = None
    faults: list[str] = Field(default_factory=list)


class DutInfo(BaseModel):
    id: str | None = None
    manufacturer: str | None = None
    version: int | None = None
    medium: int | None = None
    firmware: str | None = None
    profile: str | None = None
    serial: str | None = None  # from the DUT's label (--dut-serial), not from the telegram


class RunInfo(BaseModel):
    run_id: str
    started: str  # ISO 8601
    finished: str | None = None
    duration_s: float | None = None
    verdict: Literal["pass", "fail", "error", "incomplete"] | None = None  #: harness.verdict.run_verdict
    #: why the run got its verdict; for ERROR the bench/harness cause, shown on page 1 of the report
    verdict_reason: str | None = None
    #: a signal (SIGINT, SIGTERM, SIGHUP) ended the run: tests not run or cut short, or evidence unfinished
    interrupted: bool = False
    #: name of that signal ("SIGINT"), None when the run was not interrupted
    signal: str | None = None
    rig: RigInfo
    dut: DutInfo = Field(default_factory=DutInfo)
    harness_version: str
    git_commit: str | None = None
    operator: str | None = None
    ambient: dict[str, str] = Field(default_factory=dict)
    nightly: bool = False
    command: list[str] = Field(default_factory=list)
    typed_command: str | None = None  # the cmi-hil command line as the user typed it
    collected: int | None = None  # tests selected for the run (progress n/N of a run in progress)


class Measurement(BaseModel):
    test: str  # pytest node id
    name: str
    value: float | None
    unit: str
    low: float | None = None
    high: float | None = None
    uncertainty: float = 0.0
    verdict: Verdict
    requirement: str | None = None
    timestamp: str  # ISO 8601
    conditions: dict[str, Any] = Field(default_factory=dict)


class TestResult(BaseModel):
    nodeid: str
    outcome: Outcome
    duration_s: float
    requirements: list[str] = Field(default_factory=list)
    message: str | None = None
    #: set when the test was stopped by a bench or harness problem rather than judged (harness.verdict)
    error_kind: ErrorKind | None = None


class Requirement(BaseModel):
    id: str
    text: str
    source: str
    method: str
    area: str | None = None
    #: only the simulated bench can decide it (e.g. values against the meter model)
    simulated_only: bool = False
    #: dotted device-profile paths its expectation rests on, and those of them marked
    #: ``assumption: true`` in the profile in force for the run
    assumes: list[str] = Field(default_factory=list)
    assumed: list[str] = Field(default_factory=list)


class TranscriptEntry(BaseModel):
    direction: Literal["tx", "rx"]
    t_us: int  # microseconds since the transcript started
    data: str  # hex bytes, space separated
    summary: str
    latency_ms: float | None = None  # for rx: from end of the request to the first byte


def slug(nodeid: str) -> str:
    """File-safe name for a test node id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


def append_jsonl(path: Path, model: BaseModel) -> None:
    """Append one record and flush it, so an interrupted run keeps what was recorded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(model.model_dump_json() + "\n")
        f.flush()


def read_jsonl(path: Path, model: type[BaseModel]) -> Iterator[Any]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield model.model_validate_json(line)


def write_run_info(run_dir: Path, info: RunInfo) -> None:
    (run_dir / RUN_FILE).write_text(info.model_dump_json(indent=2), encoding="utf-8")


def read_run_info(run_dir: Path) -> RunInfo:
    return RunInfo.model_validate(json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8")))
