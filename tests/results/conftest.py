"""Results-database self-tests: a real PostgreSQL server (Debian's ``postgresql`` package) started for
the session on a free loopback port in a temporary folder, and the same tests on SQLite.

``initdb`` refuses to run as root: as root (here and in CI) the server runs as the ``postgres`` system
user (``runuser -u postgres --``) in a folder it owns. Without the server binaries the PostgreSQL tests
are skipped with the reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
START_TIMEOUT_S = 60


def _pg_bin() -> Path | None:
    """The newest PostgreSQL server bin folder with initdb and pg_ctl."""
    found = [p for p in Path("/").glob(PG_BIN_GLOB.lstrip("/")) if (p / "initdb").exists()]
    found = [p for p in found if (p / "pg_ctl").exists()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PgServer:
    port: int
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the session, torn down after (skipped where the binaries are absent)."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip(
            f"PostgreSQL server binaries not found ({PG_BIN_GLOB}/initdb); "
            "on Debian: apt-get install -y postgresql"
        )
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="cmi-hil-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres system user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root and there is no 'postgres' system user to run initdb as")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"

    def pg(*args: str, timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=timeout)

    init = pg(
        *(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"),
        *("--encoding=UTF8", "--no-locale", "--no-sync"),
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr or init.stdout}")
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
    start = pg(*pg_ctl, "-l", str(log), "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start")
    if start.returncode != 0:
        text = log.read_text() if log.exists() else start.stderr
        pg(*pg_ctl, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start on port {port}: {text[-2000:]}")
    try:
        yield PgServer(port)
    finally:
        pg(*pg_ctl, "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database on the session's server; dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.execute(f"CREATE DATABASE {name}")
    yield pg_server.url(name)
    pg_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on an embedded SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'results.sqlite'}"
    return str(request.getfixturevalue("pg_url"))
