"""The lab's dashboard: a Starlette application over the results database and the reports folder.

Pages: runs by rig and date with verdicts (``/``), one run's requirement matrix, tests and measurements with a
link to its sealed report (``/runs/{run_id}``), trend plots per measurement with limits (``/trends``,
``/trends/{name}``), the run in progress (``/live``) and the files of run folders (``/reports/{run}/{file}``).
Endpoints that read the database or files are plain functions, which Starlette runs in its thread pool.
Read-only: the database is opened in read-only mode (:mod:`harness.dashboard.db`) and only run-folder files
are served. A database that is missing or unreadable gives a page that says what to do (HTTP 503).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from harness.dashboard import queries
from harness.dashboard.db import DatabaseTarget, open_read_only, target_for
from harness.dashboard.files import RefusedPath, run_file, seal_of
from harness.dashboard.format import FILTERS
from harness.dashboard.live import read_live_run, unfinished_runs
from harness.dashboard.plots import trend_png
from harness.evidence import REQUIREMENTS_FILE, Requirement
from harness.report.units import group_measurements
from harness.results import ResultsDbError, measurement_series

HERE = Path(__file__).parent
#: seconds between reloads of the live view
LIVE_REFRESH_S = 5
RUNS_PAGE = 200
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Database:
    """The results database, opened on first use and again after a failure (a file that appears later)."""

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = open_read_only(self.target)
            return self._engine

    def forget(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None


@dataclass(frozen=True)
class Settings:
    db: Database
    reports_dir: Path


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    settings = _settings(request)
    context.setdefault("db_display", settings.db.target.display)
    context.setdefault("reports_dir", str(settings.reports_dir))
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def _bad_request(what: str) -> HTTPException:
    return HTTPException(400, what)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "")
    if value not in ("", "0", "1", "yes", "no", "true", "false"):
        raise _bad_request(f"query parameter {name}={value!r}: expected 1 or 0")
    return value in ("1", "yes", "true")


def runs_page(request: Request) -> Response:
    settings = _settings(request)
    rig = request.query_params.get("rig") or None
    day = request.query_params.get("day") or None
    if day is not None and not _DAY.match(day):
        raise _bad_request(f"day={day!r}: expected a date YYYY-MM-DD, e.g. day=2026-12-01")
    engine = settings.db.engine()
    all_rigs = queries.rigs(engine)
    runs = queries.list_runs(engine, rig=rig, day=day, limit=RUNS_PAGE)
    total = queries.count_runs(engine, rig=rig, day=day)
    by_day: dict[str, list[queries.RunSummary]] = {}
    for r in runs:
        by_day.setdefault(r.day, []).append(r)
    reports = {r.run_id: _has_file(settings.reports_dir, r.run_id, "report.html") for r in runs}
    return _page(
        request,
        "runs.html",
        rigs=all_rigs,
        rig=rig,
        day=day,
        by_day=by_day,
        shown=len(runs),
        total=total,
        reports=reports,
        unknown_rig=rig is not None and rig not in all_rigs,
    )


def _has_file(reports_dir: Path, run_id: str, name: str) -> bool:
    try:
        run_file(reports_dir, f"{run_id}/{name}")
    except (RefusedPath, FileNotFoundError, OSError):
        return False
    return True


def _catalogue(run_dir: Path) -> dict[str, Requirement]:
    """The requirement catalogue the run used (its requirements.json), by id; empty when unreadable."""
    try:
        reqs = TypeAdapter(list[Requirement]).validate_json((run_dir / REQUIREMENTS_FILE).read_bytes())
    except (OSError, ValidationError):
        return {}
    return {r.id: r for r in reqs}


def run_page(request: Request) -> Response:
    settings = _settings(request)
    run_id = request.path_params["run_id"]
    detail = queries.run_detail(settings.db.engine(), run_id)
    if detail is None:
        raise HTTPException(404, f"run {run_id!r} is not in the results database")
    run_dir = settings.reports_dir / run_id
    folder = run_dir.is_dir() and run_dir.resolve().parent == settings.reports_dir.resolve()
    outcome_by_test = {t.nodeid: t.outcome for t in detail.tests}
    return _page(
        request,
        "run.html",
        run=detail,
        catalogue=_catalogue(run_dir) if folder else {},
        groups=group_measurements(detail.measurements),
        outcome_by_test=outcome_by_test,
        seal=seal_of(run_dir, detail.manifest_sha256) if folder else None,
        files={
            name: folder and _has_file(settings.reports_dir, run_id, name)
            for name in ("report.html", "report.pdf", "manifest.json")
        },
    )


def trends_page(request: Request) -> Response:
    settings = _settings(request)
    rig = request.query_params.get("rig") or None
    faulted = _flag(request, "faulted")
    engine = settings.db.engine()
    return _page(
        request,
        "trends.html",
        rigs=queries.rigs(engine),
        rig=rig,
        faulted=faulted,
        names=queries.measurement_names(engine, rig=rig, include_faulted=faulted),
        query=_query_suffix(rig, faulted),
    )


def _query_suffix(rig: str | None, faulted: bool) -> str:
    params = {k: v for k, v in (("rig", rig), ("faulted", "1" if faulted else None)) if v}
    return f"?{urlencode(params)}" if params else ""


def trend_page(request: Request) -> Response:
    settings = _settings(request)
    name = request.path_params["name"]
    rig = request.query_params.get("rig") or None
    faulted = _flag(request, "faulted")
    series = measurement_series(settings.db.engine(), rig=rig, name=name, include_faulted=faulted)
    if not series:
        raise HTTPException(
            404,
            f"no values of measurement {name!r}"
            + (f" on rig {rig}" if rig else "")
            + ("" if faulted else " in runs without seeded faults (add faulted=1 to include them)"),
        )
    return _page(
        request,
        "trend.html",
        name=name,
        rig=rig,
        faulted=faulted,
        series=series,
        query=_query_suffix(rig, faulted),
    )


def trend_plot(request: Request) -> Response:
    settings = _settings(request)
    name = request.path_params["name"]
    rig = request.query_params.get("rig") or None
    faulted = _flag(request, "faulted")
    series = measurement_series(settings.db.engine(), rig=rig, name=name, include_faulted=faulted)
    suffix = (f" on rig {rig}" if rig else "") + (" (runs with seeded faults included)" if faulted else "")
    png = trend_png(name, series, title_suffix=suffix)
    if png is None:
        raise HTTPException(404, f"no values of measurement {name!r} to plot")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def live_page(request: Request) -> Response:
    settings = _settings(request)
    unfinished = unfinished_runs(settings.reports_dir)
    wanted = request.path_params.get("run_id")
    if wanted is not None:
        run_dir = settings.reports_dir / wanted
        if run_dir not in unfinished:
            raise HTTPException(404, f"run {wanted!r} is not a run in progress under {settings.reports_dir}")
    else:
        run_dir = unfinished[0] if unfinished else None
    live = read_live_run(run_dir, reports_dir=settings.reports_dir) if run_dir is not None else None
    if live is not None:
        live.other_unfinished = [d.name for d in unfinished if d != run_dir]
    return _page(
        request,
        "live.html",
        live=live,
        refresh_s=LIVE_REFRESH_S,
        reports_exists=settings.reports_dir.is_dir(),
    )


def report_file(request: Request) -> Response:
    settings = _settings(request)
    try:
        path = run_file(settings.reports_dir, request.path_params["path"])
    except RefusedPath as exc:
        raise HTTPException(403, f"refused: {exc}") from exc
    except FileNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return FileResponse(path)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {400: "Bad request", 403: "Refused", 404: "Not found"}
    return _page(
        request, "error.html", exc.status_code, title=titles.get(exc.status_code, "Error"), message=exc.detail
    )


async def database_error(request: Request, exc: Exception) -> Response:
    _settings(request).db.forget()
    if isinstance(exc, DBAPIError):
        detail = str(exc.orig or exc).splitlines()[0]
        message = (
            f"reading the results database failed: {detail}; check that it is reachable and "
            "readable, then reload"
        )
    else:
        message = str(exc)
    return _page(
        request,
        "error.html",
        503,
        title="Results database not available",
        message=message,
        database_help=True,
    )


def create_app(db: str | Path, reports_dir: Path) -> Starlette:
    """The dashboard over the results database ``db`` (URL or SQLite file) and the run folders in
    ``reports_dir``. Raises :class:`ResultsDbError` only for a URL that is not a URL at all."""
    settings = Settings(Database(target_for(db)), Path(reports_dir))
    routes = [
        Route("/", runs_page, name="runs"),
        Route("/runs/{run_id}", run_page, name="run"),
        Route("/trends", trends_page, name="trends"),
        Route("/trends/{name}", trend_page, name="trend"),
        Route("/trends/{name}/plot.png", trend_plot, name="trend_plot"),
        Route("/live", live_page, name="live"),
        Route("/live/{run_id}", live_page, name="live_run"),
        Route("/reports/{path:path}", report_file, name="report_file"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: http_error,
            ResultsDbError: database_error,
            DBAPIError: database_error,
        },
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(FILTERS)
    app.state.templates = templates
    app.state.settings = settings
    return app
