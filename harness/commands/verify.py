"""`cmi-hil verify RUN_DIR [--db URL]`: check every file of a run folder against its SHA-256 manifest,
and the manifest itself against the digest the results database recorded when the run was sealed (so
an altered folder re-sealed with a new manifest still shows).

Exit status: 0 when every file matches; 1 when a file changed, is missing or was added, or the manifest
is not the one recorded; 2 when the folder or its manifest cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from harness.report.finalize import default_db_for
from harness.report.manifest import ManifestError, sha256_file, verify_manifest
from harness.report.rundata import RunFolderError, load_run
from harness.results import ResultsDbError, db_url_for, open_db, recorded_manifest


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a run folder against its SHA-256 manifest",
        description="Check every file of a run folder against manifest.json and name each file changed, "
        "missing or added. Exit 0: intact; 1: altered; 2: no readable manifest.",
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="run folder, e.g. reports/20261124-101500-sim"
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="results database to cross-check the manifest (default: beside the run folder)",
    )
    parser.set_defaults(func=run)


def _check_recorded(run_dir: Path, db: str | None) -> tuple[bool, str]:
    """(manifest agrees or cannot be cross-checked, message)."""
    target = db if db is not None else str(default_db_for(run_dir))
    if "://" not in target and not Path(target).exists():
        return True, f"note: no results database at {target}; manifest.json not cross-checked"
    try:
        run_id = load_run(run_dir).info.run_id
        engine = open_db(db_url_for(target), create=False)
        try:
            present, digest = recorded_manifest(engine, run_id)
        finally:
            engine.dispose()
    except (RunFolderError, ResultsDbError, SQLAlchemyError) as exc:
        return True, f"note: manifest.json not cross-checked with the results database ({exc})"
    if not present or digest is None:
        return True, f"note: run {run_id} has no recorded manifest digest in {target}; not cross-checked"
    actual = sha256_file(run_dir / "manifest.json")
    if actual != digest:
        return False, (
            f"MANIFEST manifest.json (sha256 {actual}) is not the manifest recorded in {target} when the run "
            f"was sealed (sha256 {digest}): the folder was re-sealed after the run"
        )
    return True, f"manifest.json matches the digest recorded in {target}"


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        print(f"cmi-hil verify: {run_dir}: no such folder; pass a run folder under reports/", file=sys.stderr)
        return 2
    try:
        check = verify_manifest(run_dir)
    except ManifestError as exc:
        print(f"cmi-hil verify: {exc}", file=sys.stderr)
        return 2
    for rel in check.changed:
        print(f"CHANGED  {rel}  (SHA-256 differs from the manifest)")
    for rel in check.missing:
        print(f"MISSING  {rel}  (listed in the manifest, not in the folder)")
    for rel in check.added:
        print(f"ADDED    {rel}  (in the folder, not in the manifest)")
    recorded_ok, message = _check_recorded(run_dir, args.db)
    print(message)
    if check.ok and recorded_ok:
        print(f"OK: {check.checked} files in {run_dir} match manifest.json (SHA-256)")
        return 0
    if check.ok:
        print(
            f"FAILED: the files match manifest.json, but manifest.json is not the one recorded for {run_dir}"
        )
        return 1
    print(
        f"FAILED: {len(check.changed)} changed, {len(check.missing)} missing, {len(check.added)} added "
        f"in {run_dir}; this folder is not the evidence the run sealed"
    )
    return 1
