"""`cmi-hil serve [--db URL] [--reports-dir D] [--host H] [--port P]`: the lab's dashboard.

A read-only web application (:mod:`harness.dashboard`, Starlette under uvicorn) over the results database and
the run folders: runs by rig and date, a run's requirement matrix and measurements with its sealed report,
trends per measurement with limits, and the run in progress. It binds to 127.0.0.1 unless told otherwise:
the dashboard has no login, so binding to the lab network is a decision to make with ``--host``.
Exit status: 0 after Ctrl-C; 2 for a bad argument, a ``--db`` that can never work (not a URL, a driver
not installed) or a port that cannot be bound. A database that is missing or unreachable for now is not
fatal: its pages say what to do, and the live view works without it.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from pathlib import Path
from typing import Any

from harness.commands.trend import default_db
from harness.results import DEFAULT_DB_FILE, ResultsDbError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
REPO_REPORTS = Path(__file__).resolve().parents[2] / "reports"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="the lab's dashboard: runs, requirement matrices, trends, the run in progress (read-only)",
        description="Serve a read-only dashboard over the results database and the run folders. "
        "Binds to 127.0.0.1 by default; it has no login, so think before --host 0.0.0.0.",
    )
    p.add_argument("--db", metavar="URL", help=f"results database URL or file (default {DEFAULT_DB_FILE})")
    p.add_argument(
        "--reports-dir", type=Path, default=None, help="folder of the run folders (default: reports/)"
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.set_defaults(func=serve_command)


def default_reports_dir() -> Path:
    """reports/ here, else the one `cmi-hil run` writes into beside the repository."""
    here = Path("reports")
    return here if here.is_dir() or not REPO_REPORTS.is_dir() else REPO_REPORTS


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served (None when it can): checked before uvicorn starts, so the
    operator reads one line instead of a server log."""
    if not 0 < port < 65536:
        return f"port {port} is out of range; expected 1..65535 (default {DEFAULT_PORT})"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"host {host!r} cannot be resolved ({exc.strerror}); expected an address such as 127.0.0.1"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is in use; stop what uses it or pass another --port"
            return f"cannot bind {host}:{port}: {exc.strerror}; pass another --host or --port"
    return None


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    from harness.dashboard import create_app
    from harness.dashboard.db import DatabaseConfigError

    reports_dir: Path = args.reports_dir if args.reports_dir is not None else default_reports_dir()
    db = args.db if args.db is not None else str(default_db())
    problem = port_problem(args.host, args.port)
    if problem is not None:
        print(f"cmi-hil serve: {problem}", file=sys.stderr)
        return 2
    try:
        app = create_app(db, reports_dir)
    except ResultsDbError as exc:
        print(f"cmi-hil serve: {exc}", file=sys.stderr)
        return 2
    settings = app.state.settings
    try:
        settings.db.engine()
    except DatabaseConfigError as exc:  # cannot get better by waiting: say so now
        print(f"cmi-hil serve: {exc}", file=sys.stderr)
        return 2
    except ResultsDbError as exc:  # the pages say the same; the dashboard still serves the live view
        print(f"cmi-hil serve: warning: {exc}", file=sys.stderr)
    if not reports_dir.is_dir():
        print(
            f"cmi-hil serve: warning: no reports folder {reports_dir}; reports and the live view "
            "need the folder `cmi-hil run` writes to (--reports-dir)",
            file=sys.stderr,
        )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"cmi-hil serve: warning: binding {args.host}: anyone who reaches it can read the results "
            "(the dashboard has no login)",
            file=sys.stderr,
        )
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"dashboard: http://{shown}:{args.port}/  (database {settings.db.target.display}, "
        f"run folders {reports_dir}); Ctrl-C stops it",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "port_problem", "register", "serve_command"]
