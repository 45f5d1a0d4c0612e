"""Read-only access to the results database for the dashboard.

The dashboard never writes: a SQLite file is opened with SQLite's own read-only mode (``mode=ro``), so no
table is created, no journal mode is changed and no lock is taken that would delay a run storing its results;
another database (a lab's PostgreSQL) only ever receives SELECTs from :mod:`harness.dashboard.queries`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from harness.results import ResultsDbError

#: how long a read waits for a writer's lock (a run storing its results) before the page says so
READ_TIMEOUT_S = 10.0


class DatabaseConfigError(ResultsDbError):
    """``--db`` cannot work however long one waits (not a URL, an unknown dialect, a driver not installed)."""


@dataclass(frozen=True)
class DatabaseTarget:
    """What ``--db`` named: the URL to show (password hidden) and, for SQLite, the file."""

    url: str
    display: str
    sqlite_file: Path | None


def target_for(value: str | Path) -> DatabaseTarget:
    """``--db`` value (URL or file path) as a target; a plain path is a SQLite file (never created)."""
    raw = str(value)
    if "://" not in raw:
        path = Path(raw).expanduser().resolve()
        return DatabaseTarget(f"sqlite:///{path.as_posix()}", str(path), path)
    try:
        parsed = make_url(raw)
    except ArgumentError as exc:
        raise DatabaseConfigError(
            f"results database URL {raw!r} is not a SQLAlchemy URL ({exc}); expected e.g. "
            "sqlite:///reports/results.sqlite, postgresql+psycopg://user@host/lab or a file path"
        ) from exc
    sqlite_file = None
    if parsed.get_backend_name() == "sqlite" and parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
        raise DatabaseConfigError(
            f"results database URL {raw!r}: the dashboard reads SQLite files with Python's own sqlite3 "
            "driver only; use sqlite:///path/to/results.sqlite or the file path"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        sqlite_file = Path(str(parsed.database)).expanduser().resolve()
    return DatabaseTarget(raw, parsed.render_as_string(hide_password=True), sqlite_file)


def open_read_only(target: DatabaseTarget) -> Engine:
    """An engine that can only read ``target``; :class:`ResultsDbError` (saying what to do) when it cannot
    be opened: a missing SQLite file, an unknown driver, an unreachable server, not a results database."""
    if target.sqlite_file is not None:
        if not target.sqlite_file.is_file():
            raise ResultsDbError(
                f"no results database at {target.display}; `cmi-hil run` stores every run there "
                "(run the suite once), or start the dashboard with --db pointing at the lab's database"
            )
        uri = f"file:{quote(target.sqlite_file.as_posix())}?mode=ro"
        url = f"sqlite:///{uri}&uri=true"
        connect_args: dict[str, object] = {"timeout": READ_TIMEOUT_S}
    else:
        url, connect_args = target.url, {}
    try:
        engine = create_engine(url, connect_args=connect_args, pool_pre_ping=target.sqlite_file is None)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseConfigError(
            f"results database URL {target.display!r} is not usable ({exc}); expected a SQLAlchemy URL "
            "such as postgresql+psycopg://user@host/lab, or a SQLite file path"
        ) from exc
    except ModuleNotFoundError as exc:
        raise DatabaseConfigError(
            f"results database URL {target.display!r} needs the Python driver {exc.name!r}; "
            f"install it (pip install {exc.name}) or use a SQLite file path"
        ) from exc
    check_readable(engine, target)
    return engine


def check_readable(engine: Engine, target: DatabaseTarget) -> None:
    """Raise :class:`ResultsDbError` unless ``engine`` reaches a results database with a runs table."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM runs LIMIT 1")).all()
    except DBAPIError as exc:
        detail = str(exc.orig or exc).splitlines()[0]
        if "no such table" in detail or "does not exist" in detail:
            raise ResultsDbError(
                f"{target.display} is not a results database (no runs table: {detail}); pass the "
                "database `cmi-hil run --db` writes to (default reports/results.sqlite)"
            ) from exc
        raise ResultsDbError(
            f"cannot read the results database {target.display}: {detail}; check that it exists, "
            "is readable by this user and (for a server) is reachable"
        ) from exc
