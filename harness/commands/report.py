"""`cmi-hil report RUN_DIR [--allure] [--db URL] [--force --reason TEXT]`: render a run's evidence report
again.

Writes report.html, report.pdf, Allure environment and categories, stores the run in the results
database and writes the manifest last, appending a seal to the run's seal history (the earlier seals
stay: `cmi-hil verify` checks against the original). A folder whose evidence data no longer matches its
manifest is refused (re-sealing it would certify altered data) unless --force is given with --reason,
which is kept with the new seal.
Exit status: 0 rendered; 1 refused or Allure rendering failed; 2 evidence incomplete or usage error;
3 Allure CLI missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.report.allure import render_allure
from harness.report.finalize import default_db_for, finalize_run, seal
from harness.report.manifest import ManifestError, is_report_output, verify_manifest
from harness.report.rundata import RunFolderError, load_run
from harness.results import db_url_for

RERENDER_REASON = "report re-rendered; evidence data matched the manifest"
ALLURE_REASON = "Allure HTML report added to the folder"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render a run's evidence report (HTML + PDF), manifest and results-database entry",
        description="Render report.html and report.pdf of a run folder, store the run in the results "
        "database and seal the folder with manifest.json (a new seal in the run's seal history). "
        "--allure also renders the Allure HTML report.",
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
        "--force",
        action="store_true",
        help="re-seal even if the evidence data was altered (needs --reason; the original seal stays)",
    )
    parser.add_argument(
        "--reason", metavar="TEXT", help="why the folder is re-sealed; kept in the seal history"
    )
    parser.set_defaults(func=run)


def _altered_inputs(run_dir: Path) -> list[str]:
    try:
        check = verify_manifest(run_dir)
    except ManifestError:
        return []  # never sealed (or manifest unreadable): nothing to protect yet
    touched = check.changed + check.missing + check.added
    return [rel for rel in touched if not is_report_output(rel)]


def _listing(files: list[str]) -> str:
    return ", ".join(files[:5]) + (" ..." if len(files) > 5 else "")


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    reason: str | None = args.reason.strip() if args.reason else None
    if args.force and not reason:
        print(
            "cmi-hil report: --force re-seals evidence whose data may have changed and needs "
            '--reason TEXT saying why (e.g. --reason "run.json operator name corrected"); the reason is '
            "kept with the new seal, and the original seal stays",
            file=sys.stderr,
        )
        return 2
    try:
        load_run(run_dir)
    except RunFolderError as exc:
        print(f"cmi-hil report: {exc}", file=sys.stderr)
        return 2
    altered = _altered_inputs(run_dir)
    if altered and not args.force:
        print(
            f"cmi-hil report: the evidence data of {run_dir} no longer matches its manifest "
            f"({_listing(altered)}); re-rendering would seal altered data. Run `cmi-hil verify "
            f"{run_dir}` to see what changed, or pass --force --reason TEXT to re-seal it anyway "
            "(the original seal stays and verify keeps reporting the change).",
            file=sys.stderr,
        )
        return 1
    if altered:
        seal_reason = f"re-sealed with altered evidence data ({_listing(altered)}): {reason}"
    else:
        seal_reason = f"{RERENDER_REASON}: {reason}" if reason else RERENDER_REASON
    status = finalize_run(run_dir, db_url=args.db, seal_reason=seal_reason)
    if args.allure:
        allure_status, message = render_allure(run_dir)
        print(
            message if allure_status == 0 else f"cmi-hil report: {message}",
            file=sys.stdout if allure_status == 0 else sys.stderr,
        )
        # the Allure report is sealed too (or its absence, when rendering failed and left none)
        db_url = db_url_for(args.db if args.db is not None else default_db_for(run_dir))
        why = ALLURE_REASON if allure_status == 0 else f"Allure HTML report not rendered: {message}"
        seal(run_dir, load_run(run_dir).info.run_id, db_url, sys.stdout, reason=why)
        status = status or allure_status
    return status
