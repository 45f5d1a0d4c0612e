"""Queries the dashboard needs that :mod:`harness.results` does not offer: runs by rig and date, one run's
requirement verdicts, tests and measurements. SELECTs only, over the models of :mod:`harness.results.schema`.

Columns are selected by name (never whole rows), so a database written by a newer harness with extra
columns reads just as well.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from harness.evidence import Measurement
from harness.results.schema import MeasurementRow, RequirementRow, RunRow, SealRow, TestRow


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs list."""

    run_id: str
    rig: str
    started: str  #: ISO 8601
    finished: str | None
    duration_s: float | None
    verdict: str | None  #: pass / fail / incomplete; None while unknown
    faults: list[str]
    nightly: bool
    dut_id: str | None
    operator: str | None
    outcomes: dict[str, int] = field(default_factory=dict)  #: test outcome -> count

    @property
    def day(self) -> str:
        """The run's date (UTC, as recorded), ``YYYY-MM-DD``."""
        return self.started[:10]


@dataclass(frozen=True)
class RequirementVerdict:
    requirement: str
    verdict: str
    tests: list[str]


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest class

    nodeid: str
    outcome: str
    duration_s: float
    requirements: list[str]
    message: str | None


@dataclass
class RunDetail:
    summary: RunSummary
    rig_file: str
    simulated: bool
    harness_version: str
    git_commit: str | None
    dut_firmware: str | None
    manifest_sha256: str | None
    requirements: list[RequirementVerdict]
    tests: list[TestOutcome]
    measurements: list[Measurement]


_SUMMARY_COLUMNS = (
    RunRow.pk,
    RunRow.run_id,
    RunRow.rig,
    RunRow.started,
    RunRow.finished,
    RunRow.duration_s,
    RunRow.verdict,
    RunRow.faults,
    RunRow.nightly,
    RunRow.dut_id,
    RunRow.operator,
)


def _split(text: str | None) -> list[str]:
    return [part for part in (text or "").split(",") if part]


def _summary(row: Any, outcomes: dict[str, int]) -> RunSummary:
    return RunSummary(
        run_id=row.run_id,
        rig=row.rig,
        started=row.started,
        finished=row.finished,
        duration_s=row.duration_s,
        verdict=row.verdict,
        faults=_split(row.faults),
        nightly=bool(row.nightly),
        dut_id=row.dut_id,
        operator=row.operator,
        outcomes=outcomes,
    )


def _outcome_counts(session: Session, pks: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, Counter[str]] = {}
    if not pks:
        return {}
    query = (
        select(TestRow.run_pk, TestRow.outcome, func.count())
        .where(TestRow.run_pk.in_(pks))
        .group_by(TestRow.run_pk, TestRow.outcome)
    )
    for run_pk, outcome, n in session.execute(query):
        counts.setdefault(run_pk, Counter())[outcome] = n
    return {pk: dict(c) for pk, c in counts.items()}


def rigs(engine: Engine) -> list[str]:
    """Every rig that stored a run, sorted."""
    with Session(engine) as session:
        return list(session.scalars(select(RunRow.rig).distinct().order_by(RunRow.rig)))


def count_runs(engine: Engine, *, rig: str | None = None, day: str | None = None) -> int:
    query = select(func.count()).select_from(RunRow)
    if rig is not None:
        query = query.where(RunRow.rig == rig)
    if day is not None:
        query = query.where(RunRow.started.startswith(day))
    with Session(engine) as session:
        return int(session.scalar(query) or 0)


def list_runs(
    engine: Engine, *, rig: str | None = None, day: str | None = None, limit: int = 200
) -> list[RunSummary]:
    """Runs, newest first, optionally of one rig and/or one date (``YYYY-MM-DD``), at most ``limit``."""
    query = select(*_SUMMARY_COLUMNS).order_by(RunRow.started.desc(), RunRow.run_id.desc()).limit(limit)
    if rig is not None:
        query = query.where(RunRow.rig == rig)
    if day is not None:
        query = query.where(RunRow.started.startswith(day))
    with Session(engine) as session:
        rows = session.execute(query).all()
        counts = _outcome_counts(session, [r.pk for r in rows])
    return [_summary(r, counts.get(r.pk, {})) for r in rows]


def _conditions(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {"conditions": text}
    return data if isinstance(data, dict) else {"conditions": data}


def run_detail(engine: Engine, run_id: str) -> RunDetail | None:
    """Everything the database holds about one run; None when the run id is unknown."""
    with Session(engine) as session:
        row = session.execute(
            select(
                *_SUMMARY_COLUMNS,
                RunRow.rig_file,
                RunRow.simulated,
                RunRow.harness_version,
                RunRow.git_commit,
                RunRow.dut_firmware,
            ).where(RunRow.run_id == run_id)
        ).first()
        if row is None:
            return None
        # the newest seal is the one manifest.json in the folder should match (a re-seal appends a row)
        latest_seal = session.execute(
            select(SealRow.manifest_sha256)
            .where(SealRow.run_pk == row.pk)
            .order_by(SealRow.seq.desc())
            .limit(1)
        ).scalar()
        requirements = [
            RequirementVerdict(r.requirement, r.verdict, _split(r.tests))
            for r in session.execute(
                select(RequirementRow.requirement, RequirementRow.verdict, RequirementRow.tests)
                .where(RequirementRow.run_pk == row.pk)
                .order_by(RequirementRow.requirement)
            )
        ]
        tests = [
            TestOutcome(t.nodeid, t.outcome, t.duration_s, _split(t.requirements), t.message)
            for t in session.execute(
                select(
                    TestRow.nodeid, TestRow.outcome, TestRow.duration_s, TestRow.requirements, TestRow.message
                )
                .where(TestRow.run_pk == row.pk)
                .order_by(TestRow.pk)
            )
        ]
        measurements = [
            Measurement(
                test=m.test,
                name=m.name,
                value=m.value,
                unit=m.unit,
                low=m.low,
                high=m.high,
                uncertainty=m.uncertainty,
                verdict=m.verdict,
                requirement=m.requirement,
                timestamp=m.timestamp,
                conditions=_conditions(m.conditions),
            )
            for m in session.execute(
                select(
                    MeasurementRow.test,
                    MeasurementRow.name,
                    MeasurementRow.value,
                    MeasurementRow.unit,
                    MeasurementRow.low,
                    MeasurementRow.high,
                    MeasurementRow.uncertainty,
                    MeasurementRow.verdict,
                    MeasurementRow.requirement,
                    MeasurementRow.timestamp,
                    MeasurementRow.conditions,
                )
                .where(MeasurementRow.run_pk == row.pk)
                .order_by(MeasurementRow.pk)
            )
        ]
        counts = Counter(t.outcome for t in tests)
    return RunDetail(
        summary=_summary(row, dict(counts)),
        rig_file=row.rig_file,
        simulated=bool(row.simulated),
        harness_version=row.harness_version,
        git_commit=row.git_commit,
        dut_firmware=row.dut_firmware,
        manifest_sha256=latest_seal,
        requirements=requirements,
        tests=tests,
        measurements=measurements,
    )


def measurement_names(
    engine: Engine, *, rig: str | None = None, include_faulted: bool = False
) -> list[tuple[str, str, int]]:
    """(measurement name, unit, number of runs that recorded a value), sorted by name; runs with seeded
    faults only with ``include_faulted`` (as :func:`harness.results.measurement_series`)."""
    query = (
        select(
            MeasurementRow.name, func.min(MeasurementRow.unit), func.count(MeasurementRow.run_pk.distinct())
        )
        .join(RunRow, MeasurementRow.run_pk == RunRow.pk)
        .where(MeasurementRow.value.is_not(None))
        .group_by(MeasurementRow.name)
        .order_by(MeasurementRow.name)
    )
    if rig is not None:
        query = query.where(RunRow.rig == rig)
    if not include_faulted:
        query = query.where(RunRow.faults == "")
    with Session(engine) as session:
        return [(name, unit, int(n)) for name, unit, n in session.execute(query)]
