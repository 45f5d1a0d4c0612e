"""`cmi-hil trend [--rig R] [--measurement M] [--db URL] [--plot FILE]`: measurement history across runs.

Prints every measurement series (name + conditions) with its usual value and whether the latest run
drifted from it, or with --measurement the run-by-run history of that measurement; then the regression
findings of the latest run on each rig (new failing requirements, drifted measurements, slower tests).
Exit status: 0 nothing flagged; 1 drift or regression flagged; 2 database or usage error.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from harness.report.trend_plot import trend_png, trend_svg
from harness.report.units import si
from harness.results import (
    DEFAULT_DB_FILE,
    ResultsDbError,
    Series,
    TrendPolicy,
    compare_with_history,
    db_url_for,
    latest_run_ids,
    measurement_series,
    open_db,
)
from harness.results.trend import conditions_label


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "trend",
        help="history of measurements across runs; flags drift, new failures, slower tests",
        description="Print the history of measurements across the runs in the results database and flag "
        "drift (latest value beyond median +- k robust standard deviations of earlier runs), newly failing "
        "requirements and tests that got markedly slower. Exit 1 when something is flagged.",
    )
    parser.add_argument("--rig", help="only runs on this rig (name from the rig file)")
    parser.add_argument("--measurement", metavar="M", help="measurement name, e.g. reply_latency")
    parser.add_argument(
        "--db", metavar="URL", help=f"results database URL or file (default {DEFAULT_DB_FILE})"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="write a plot of the history, PNG or SVG by the FILE suffix (needs --measurement)",
    )
    parser.add_argument("--k", type=float, default=TrendPolicy.k, help="drift threshold in robust std devs")
    parser.set_defaults(func=run)


def default_db() -> Path:
    """reports/results.sqlite here, else the one `cmi-hil run` writes beside the repository's run folders."""
    if DEFAULT_DB_FILE.exists():
        return DEFAULT_DB_FILE
    repo_db = Path(__file__).resolve().parents[2] / DEFAULT_DB_FILE
    return repo_db if repo_db.exists() else DEFAULT_DB_FILE


def _conditions(text: str) -> str:
    return conditions_label(text) or "-"


def _status(series: Series, policy: TrendPolicy) -> str:
    result = series.latest_drift(policy)
    if result is None:
        return f"too few runs ({len(series.points)}; need {policy.min_runs + 1})"
    flagged, spread = result
    return "DRIFT" if flagged else "ok"


def _print_history(series: Series, policy: TrendPolicy) -> None:
    print(f"\n{series.name} [{_conditions(series.conditions)}] ({series.unit}), {len(series.points)} run(s)")
    print(f"  {'run':<28} {'started':<26} {'n':>3} {'median':>12} {'min':>12} {'max':>12}  verdicts")
    for p in series.points:
        verdicts = ",".join(sorted(set(p.verdicts)))
        print(
            f"  {p.run_id:<28} {p.started[:25]:<26} {len(p.values):>3} {si(p.median, series.unit):>12} "
            f"{si(min(p.values), series.unit):>12} {si(max(p.values), series.unit):>12}  {verdicts}"
        )
    result = series.latest_drift(policy)
    if result is None:
        print(f"  drift: not judged, {len(series.points)} run(s); needs {policy.min_runs + 1}")
        return
    flagged, spread = result
    relative = series.relative()
    latest = statistics.median(series.points[-1].drift_values(relative))
    what = "deviation from the centre of the limits: " if relative else ""
    print(
        f"  drift: {'DRIFT' if flagged else 'ok'}: {what}latest {si(latest, series.unit)} vs usual "
        f"{si(spread.median, series.unit)}, moved {abs(latest - spread.median) / spread.sigma:.1f} sigma "
        f"(robust sigma {si(spread.sigma, series.unit)}, threshold {policy.k:g} sigma)"
    )


def run(args: argparse.Namespace) -> int:
    if args.plot is not None and not args.measurement:
        print("cmi-hil trend: --plot needs --measurement NAME (one measurement per plot)", file=sys.stderr)
        return 2
    target = str(args.db if args.db is not None else default_db())
    if "://" not in target and not Path(target).exists():
        print(
            f"cmi-hil trend: no results database at {target}; runs are stored there by `cmi-hil run` "
            "(or pass --db URL)",
            file=sys.stderr,
        )
        return 2
    url = db_url_for(target)
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None  # open_db below reports it
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database:  # noqa: SIM102
        if not Path(parsed.database).exists():
            print(
                f"cmi-hil trend: no results database at {parsed.database}; runs are stored there by "
                "`cmi-hil run` (or pass --db URL)",
                file=sys.stderr,
            )
            return 2
    policy = TrendPolicy(k=args.k)
    try:
        engine = open_db(url)
    except ResultsDbError as exc:
        print(f"cmi-hil trend: {exc}", file=sys.stderr)
        return 2
    try:
        series = measurement_series(engine, rig=args.rig, name=args.measurement)
        flagged = False
        if not series:
            what = f"measurement {args.measurement!r}" if args.measurement else "measurements"
            print(
                f"no {what} in {make_url(url).render_as_string(hide_password=True)}"
                + (f" for rig {args.rig}" if args.rig else "")
            )
        elif args.measurement:
            for s in series:
                _print_history(s, policy)
                result = s.latest_drift(policy)
                flagged |= bool(result and result[0])
        else:
            print(f"{'measurement':<24} {'conditions':<28} {'runs':>4} {'latest':>12} {'usual':>12}  status")
            for s in series:
                result = s.latest_drift(policy)
                usual = si(result[1].median, s.unit) if result else "-"
                status = _status(s, policy)
                flagged |= status == "DRIFT"
                print(
                    f"{s.name:<24} {_conditions(s.conditions):<28} {len(s.points):>4} "
                    f"{si(s.points[-1].median, s.unit):>12} {usual:>12}  {status}"
                )
        for rig, run_id in sorted(latest_run_ids(engine, rig=args.rig).items()):
            comparison = compare_with_history(engine, run_id, policy=policy)
            print(f"\nlatest run on rig {rig}: {run_id}: {comparison.note()}")
            for f in comparison.findings:
                print(f"  REGRESSION {f.kind}: {f.subject}: {f.detail}")
            flagged |= bool(comparison.findings)
        if args.plot is not None and series:
            args.plot.parent.mkdir(parents=True, exist_ok=True)
            suffix = f" on rig {args.rig}" if args.rig else ""
            if args.plot.suffix.lower() == ".svg":
                args.plot.write_text(trend_svg(args.measurement, series, title_suffix=suffix) or "")
            else:
                args.plot.write_bytes(trend_png(args.measurement, series, title_suffix=suffix) or b"")
            print(f"\nplot: {args.plot}")
    except ResultsDbError as exc:
        print(f"cmi-hil trend: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 1 if flagged else 0
