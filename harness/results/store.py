"""Open the results database and store runs in it.

SQLite (the default, a file under reports/) is made safe for several runs writing at once: WAL journal,
a busy timeout, write transactions that take the lock up front (BEGIN IMMEDIATE) and a bounded retry.
PostgreSQL (the lab database: ``postgresql://user@host/db``, driven by psycopg 3) brings its own locking
and gets the same retry. Opening a database upgrades its schema to the newest Alembic revision.
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
from harness.results.migrate import SchemaError, upgrade
from harness.results.schema import MeasurementRow, RequirementRow, RunRow, TestRow

T = TypeVar("T")

DEFAULT_DB_FILE = Path("reports") / "results.sqlite"
BUSY_TIMEOUT_S = 30.0
RETRY_DEADLINE_S = 120.0
_PG_SCHEMES = ("postgresql", "postgres")
#: test outcomes that executed on the bench (a skipped test did not); a run with none is no trend baseline
EXECUTED_OUTCOMES = ("passed", "failed", "error")


class ResultsDbError(RuntimeError):
    """The results database cannot be opened or written; the message says what to do."""


def db_url_for(value: str | Path | None, *, default_file: Path = DEFAULT_DB_FILE) -> str:
    """SQLAlchemy URL from ``--db``: a URL as is, a plain path as a SQLite file, None as the default file."""
    if value is None:
        value = default_file
    text = str(value)
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme in _PG_SCHEMES:
            return f"postgresql+psycopg://{rest}"  # psycopg 3 is the PostgreSQL driver the harness ships
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
    """Engine for the results database at ``url`` (see :func:`db_url_for`), its schema upgraded to the
    newest revision. ``create=False``: a database without the results tables is refused, not created."""
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
            "as sqlite:///reports/results.sqlite or postgresql://user@host/lab, "
            "or a file path"
        ) from exc
    except ModuleNotFoundError as exc:
        raise ResultsDbError(
            f"results database URL {full!r} needs the Python driver {exc.name!r}; "
            f"install it (pip install {exc.name}) or use a SQLite file path"
        ) from exc
    if is_sqlite:
        _sqlite_pragmas(engine)
    shown = parsed.render_as_string(hide_password=True)
    try:
        if not create and not with_retry(lambda: inspect(engine).has_table("runs"), what=f"reading {shown}"):
            raise ResultsDbError(f"{shown} holds no results tables; runs are stored by `cmi-hil run`")
        with_retry(lambda: upgrade(engine), what=f"upgrading the schema of {shown}")
    except SchemaError as exc:
        engine.dispose()
        raise ResultsDbError(str(exc)) from exc
    except ResultsDbError:
        engine.dispose()
        raise
    return engine


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


def _run_values(info: RunInfo, run_dir: Path | None, *, interrupted: bool, tests_executed: int) -> dict:
    return {
        "run_id": info.run_id,
        "rig": info.rig.name,
        "rig_file": info.rig.file,
        "simulated": info.rig.simulated,
        "faults": ",".join(sorted(info.rig.faults)),
        "instruments_json": json.dumps([i.model_dump() for i in info.rig.instruments]),
        "started": info.started,
        "finished": info.finished,
        "duration_s": info.duration_s,
        "verdict": info.verdict,
        "nightly": info.nightly,
        "dut_id": info.dut.id,
        "dut_manufacturer": info.dut.manufacturer,
        "dut_version": info.dut.version,
        "dut_medium": info.dut.medium,
        "dut_firmware": info.dut.firmware,
        "harness_version": info.harness_version,
        "git_commit": info.git_commit,
        "operator": info.operator,
        "run_dir": str(run_dir) if run_dir is not None else None,
        "interrupted": interrupted,
        "tests_executed": tests_executed,
    }


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
    interrupted: bool | None = None,
) -> None:
    """Store one run in one transaction. Storing a run id again replaces its tests, measurements and
    verdicts and updates its row in place, so the run's seal history (:mod:`harness.results.seals`) stays.

    ``requirement_verdicts``: requirement id -> (verdict, node ids of the tests that cite it).
    ``interrupted``: the run was stopped by a signal; None reads ``info.interrupted`` (False if absent).
    """
    tests = list(tests)
    measurements = list(measurements)
    values = _run_values(
        info,
        run_dir,
        interrupted=bool(getattr(info, "interrupted", False)) if interrupted is None else interrupted,
        tests_executed=sum(1 for t in tests if t.outcome in EXECUTED_OUTCOMES),
    )

    def write() -> None:
        with Session(engine) as session, session.begin():
            pk = session.scalar(select(RunRow.pk).where(RunRow.run_id == info.run_id).with_for_update())
            if pk is None:
                row = RunRow(**values)
                session.add(row)
                session.flush()
                pk = row.pk
            else:
                for table in (TestRow, MeasurementRow, RequirementRow):
                    session.execute(delete(table).where(table.run_pk == pk))
                session.execute(update(RunRow).where(RunRow.pk == pk).values(**values))
            session.add_all(
                TestRow(
                    run_pk=pk,
                    nodeid=t.nodeid,
                    outcome=t.outcome,
                    duration_s=t.duration_s,
                    requirements=",".join(t.requirements),
                    message=t.message,
                )
                for t in tests
            )
            session.add_all(
                MeasurementRow(
                    run_pk=pk,
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
            )
            session.add_all(
                RequirementRow(run_pk=pk, requirement=rid, verdict=verdict, tests=",".join(nodeids))
                for rid, (verdict, nodeids) in sorted(requirement_verdicts.items())
            )

    with_retry(write, what=f"storing run {info.run_id}")
