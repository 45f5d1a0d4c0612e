"""Open the results database and store runs in it.

SQLite (the default, a file under reports/) is made safe for several runs writing at once: WAL journal,
a busy timeout, write transactions that take the lock up front (BEGIN IMMEDIATE) and a bounded retry;
other databases (e.g. a lab's PostgreSQL) get their own locking and the same retry.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, delete, event, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session

from harness.evidence import Measurement, RunInfo, TestResult
from harness.results.schema import Base, MeasurementRow, RequirementRow, RunRow, TestRow

T = TypeVar("T")

DEFAULT_DB_FILE = Path("reports") / "results.sqlite"
BUSY_TIMEOUT_S = 30.0
RETRY_DEADLINE_S = 120.0


class ResultsDbError(RuntimeError):
    """The results database cannot be opened or written; the message says what to do."""


def db_url_for(value: str | Path | None, *, default_file: Path = DEFAULT_DB_FILE) -> str:
    """SQLAlchemy URL from ``--db``: a URL as is, a plain path as a SQLite file, None as the default file."""
    if value is None:
        value = default_file
    text = str(value)
    if "://" in text:
        return text
    path = Path(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve().as_posix()}"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the begin hook below open transactions (pysqlite would defer)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock now, not halfway through


def open_db(url: str | Path | None = None, *, create: bool = True) -> Engine:
    """Engine for the results database at ``url`` (see :func:`db_url_for`); creates the tables if needed."""
    full = db_url_for(url)
    try:
        parsed = make_url(full)
        is_sqlite = parsed.get_backend_name() == "sqlite"
        engine = create_engine(
            full, connect_args={"timeout": BUSY_TIMEOUT_S} if is_sqlite else {}, pool_pre_ping=not is_sqlite
        )
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ResultsDbError(
            f"results database URL {full!r} is not usable ({exc}); expected a SQLAlchemy URL such "
            "as sqlite:///reports/results.sqlite or postgresql+psycopg://user@host/lab, "
            "or a file path"
        ) from exc
    except ModuleNotFoundError as exc:
        raise ResultsDbError(
            f"results database URL {full!r} needs the Python driver {exc.name!r}; "
            f"install it (pip install {exc.name}) or use a SQLite file path"
        ) from exc
    if is_sqlite:
        _sqlite_pragmas(engine)
    if create:
        with_retry(lambda: _create_or_upgrade(engine), what=f"creating the tables in {full}")
    return engine


def _create_or_upgrade(engine: Engine) -> None:
    """Create missing tables, and add columns a newer harness defines to tables an older one created
    (all such columns are nullable, so old rows stay valid)."""
    Base.metadata.create_all(engine)
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=engine.dialect)
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")


def record_manifest(engine: Engine, run_id: str, sha256: str) -> None:
    """Record the digest of a run's manifest.json (after it is written, i.e. after :func:`store_run`)."""

    def write() -> None:
        with Session(engine) as session, session.begin():
            session.execute(update(RunRow).where(RunRow.run_id == run_id).values(manifest_sha256=sha256))

    with_retry(write, what=f"recording the manifest of run {run_id}")


def recorded_manifest(engine: Engine, run_id: str) -> tuple[bool, str | None]:
    """(run is in the database, manifest digest recorded for it)."""
    with Session(engine) as session:
        row = session.execute(select(RunRow.manifest_sha256).where(RunRow.run_id == run_id)).first()
    return (row is not None, row[0] if row is not None else None)


def _transient(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(s in text for s in ("locked", "busy", "deadlock", "could not serialize", "already exists"))


def with_retry(fn: Callable[[], T], *, what: str, deadline_s: float = RETRY_DEADLINE_S) -> T:
    """Run ``fn``; retry with jittered backoff while the database reports a lock or busy condition."""
    end = time.monotonic() + deadline_s
    delay = 0.05
    while True:
        try:
            return fn()
        except (OperationalError, DBAPIError) as exc:
            if not _transient(exc) or time.monotonic() > end:
                raise ResultsDbError(
                    f"results database error while {what}: {exc.orig or exc}; "
                    "check the --db URL and that the database is reachable and writable"
                ) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)


def _run_row(info: RunInfo, run_dir: Path | None) -> RunRow:
    return RunRow(
        run_id=info.run_id,
        rig=info.rig.name,
        rig_file=info.rig.file,
        simulated=info.rig.simulated,
        faults=",".join(sorted(info.rig.faults)),
        instruments_json=json.dumps([i.model_dump() for i in info.rig.instruments]),
        started=info.started,
        finished=info.finished,
        duration_s=info.duration_s,
        verdict=info.verdict,
        nightly=info.nightly,
        dut_id=info.dut.id,
        dut_manufacturer=info.dut.manufacturer,
        dut_version=info.dut.version,
        dut_medium=info.dut.medium,
        dut_firmware=info.dut.firmware,
        harness_version=info.harness_version,
        git_commit=info.git_commit,
        operator=info.operator,
        run_dir=str(run_dir) if run_dir is not None else None,
    )


def conditions_key(conditions: Mapping[str, Any]) -> str:
    """Canonical JSON of a measurement's conditions: the same conditions give the same series key."""
    return json.dumps(dict(conditions), sort_keys=True, separators=(",", ":"), default=str)


def store_run(
    engine: Engine,
    info: RunInfo,
    tests: Iterable[TestResult],
    measurements: Iterable[Measurement],
    requirement_verdicts: Mapping[str, tuple[str, list[str]]],
    *,
    run_dir: Path | None = None,
) -> None:
    """Store one run (replacing an earlier copy of the same run id) in one transaction.

    ``requirement_verdicts``: requirement id -> (verdict, node ids of the tests that cite it).
    """
    tests = list(tests)
    measurements = list(measurements)

    def write() -> None:
        with Session(engine) as session, session.begin():
            old = session.scalar(select(RunRow.pk).where(RunRow.run_id == info.run_id))
            if old is not None:
                for table in (TestRow, MeasurementRow, RequirementRow):
                    session.execute(delete(table).where(table.run_pk == old))
                session.execute(delete(RunRow).where(RunRow.pk == old))
            row = _run_row(info, run_dir)
            row.tests = [
                TestRow(
                    nodeid=t.nodeid,
                    outcome=t.outcome,
                    duration_s=t.duration_s,
                    requirements=",".join(t.requirements),
                    message=t.message,
                )
                for t in tests
            ]
            row.measurements = [
                MeasurementRow(
                    test=m.test,
                    name=m.name,
                    conditions=conditions_key(m.conditions),
                    value=m.value,
                    unit=m.unit,
                    low=m.low,
                    high=m.high,
                    uncertainty=m.uncertainty,
                    verdict=m.verdict,
                    requirement=m.requirement,
                    timestamp=m.timestamp,
                )
                for m in measurements
            ]
            row.requirements = [
                RequirementRow(requirement=rid, verdict=verdict, tests=",".join(nodeids))
                for rid, (verdict, nodeids) in sorted(requirement_verdicts.items())
            ]
            session.add(row)

    with_retry(write, what=f"storing run {info.run_id}")
