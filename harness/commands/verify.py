"""`cmi-hil verify RUN_DIR`: check every file of a run folder against its SHA-256 manifest.

Exit status: 0 when every file matches; 1 when a file changed, is missing or was added; 2 when the
folder or its manifest cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.report.manifest import ManifestError, verify_manifest


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
    parser.set_defaults(func=run)


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
    if check.ok:
        print(f"OK: {check.checked} files in {run_dir} match manifest.json (SHA-256)")
        return 0
    print(
        f"FAILED: {len(check.changed)} changed, {len(check.missing)} missing, {len(check.added)} added "
        f"in {run_dir}; this folder is not the evidence the run sealed"
    )
    return 1
