"""`cmi-hil report RUN_DIR [--allure] [--db URL] [--force]`: render a run's evidence report again.

Writes report.html, report.pdf, Allure environment and categories, stores the run in the results
database and writes the manifest last. A folder whose evidence data no longer matches its manifest
is refused (re-sealing it would certify altered data) unless --force is given.
Exit status: 0 rendered; 1 refused or Allure rendering failed; 2 evidence incomplete; 3 Allure CLI missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.evidence import ALLURE_DIR
from harness.report.allure import ALLURE_REPORT_DIR, render_allure
from harness.report.finalize import default_db_for, finalize_run, seal
from harness.report.manifest import ManifestError, verify_manifest
from harness.report.rundata import RunFolderError, load_run
from harness.results import db_url_for

#: files the report step itself (re)writes; any other change is a change of the run's evidence
_OUTPUTS = (
    "report.html",
    "report.pdf",
    f"{ALLURE_DIR}/environment.properties",
    f"{ALLURE_DIR}/categories.json",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render a run's evidence report (HTML + PDF), manifest and results-database entry",
        description="Render report.html and report.pdf of a run folder, store the run in the results "
        "database and seal the folder with manifest.json. --allure also renders the Allure HTML report.",
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="run folder, e.g. reports/20261124-101500-sim"
    )
    parser.add_argument(
        "--allure", action="store_true", help="also render allure-report/ with the Allure CLI"
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="results database: SQLAlchemy URL or file (default: results.sqlite beside the run)",
    )
    parser.add_argument(
        "--force", action="store_true", help="re-render even if the evidence data was altered"
    )
    parser.set_defaults(func=run)


def _altered_inputs(run_dir: Path) -> list[str]:
    try:
        check = verify_manifest(run_dir)
    except ManifestError:
        return []  # never sealed (or manifest unreadable): nothing to protect yet
    touched = check.changed + check.missing + check.added
    return [rel for rel in touched if rel not in _OUTPUTS and not rel.startswith(f"{ALLURE_REPORT_DIR}/")]


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    try:
        load_run(run_dir)
    except RunFolderError as exc:
        print(f"cmi-hil report: {exc}", file=sys.stderr)
        return 2
    altered = _altered_inputs(run_dir)
    if altered and not args.force:
        print(
            f"cmi-hil report: the evidence data of {run_dir} no longer matches its manifest "
            f"({', '.join(altered[:5])}{' ...' if len(altered) > 5 else ''}); re-rendering would seal "
            f"altered data. Run `cmi-hil verify {run_dir}` to see what changed, "
            "or pass --force to re-render anyway.",
            file=sys.stderr,
        )
        return 1
    status = finalize_run(run_dir, db_url=args.db)
    if args.allure:
        allure_status, message = render_allure(run_dir)
        print(
            message if allure_status == 0 else f"cmi-hil report: {message}",
            file=sys.stdout if allure_status == 0 else sys.stderr,
        )
        db_url = db_url_for(args.db if args.db is not None else default_db_for(run_dir))
        seal(run_dir, load_run(run_dir).info.run_id, db_url, sys.stdout)  # the Allure report is sealed too
        status = status or allure_status
    return status
