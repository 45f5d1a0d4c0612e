"""`cmi-hil verify RUN_DIR [--db URL]`: check a run folder against the seal it got when the run ended.

With a results database (default: results.sqlite beside the run folder) holding the run's seal
history, the evidence data is checked against the ORIGINAL seal, so data altered and then re-sealed
(`cmi-hil report --force`) still shows as "altered after sealing"; every later seal is listed as
"re-sealed on DATE: REASON", and the rendered report is checked against the latest seal. Without a
database (or without seals of this run in it) the folder is checked against its manifest.json alone,
which a re-seal replaces; the output says so.

Exit status: 0 when the folder is the sealed evidence; 1 when a file changed, is missing or was added,
or the manifest is not one the database recorded; 2 when nothing can be read to check against.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from harness.evidence import MANIFEST_FILE, RUN_FILE
from harness.report.finalize import default_db_for
from harness.report.manifest import (
    ManifestCheck,
    ManifestError,
    SealCheck,
    check_against_seals,
    sha256_file,
    verify_manifest,
)
from harness.results import ResultsDbError, Seal, db_url_for, open_db, seal_history


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a run folder against its original seal (results database) or its manifest",
        description="Check every file of a run folder against the run's original seal in the results "
        "database (or, without one, against manifest.json) and name each file changed, missing or added. "
        "Exit 0: intact; 1: altered; 2: nothing readable to check against.",
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="run folder, e.g. reports/20261124-101500-sim"
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="results database holding the seal history (default: results.sqlite beside the run folder)",
    )
    parser.set_defaults(func=run)


def _run_id(run_dir: Path) -> str:
    """The run id as the manifest, else run.json, names it; else the folder's name."""
    for name in (MANIFEST_FILE, RUN_FILE):
        try:
            value = json.loads((run_dir / name).read_text(encoding="utf-8")).get("run_id")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, str) and value:
            return value
    return run_dir.resolve().name


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # shown as given; open_db reports what is wrong with it
        return url


def _seals(run_dir: Path, db: str | None) -> tuple[list[Seal] | None, str]:
    """(the run's seals, original first, or None; where they came from, or why there are none)."""
    target = db if db is not None else str(default_db_for(run_dir))
    if "://" not in target and not Path(target).exists():
        return None, f"no results database at {target}"
    url = db_url_for(target)
    run_id = _run_id(run_dir)
    try:
        engine = open_db(url, create=False)
        try:
            seals = seal_history(engine, run_id)
        finally:
            engine.dispose()
    except (ResultsDbError, SQLAlchemyError) as exc:
        return None, f"results database not readable ({exc})"
    if not seals:
        return None, f"run {run_id} has no seal in {_shown(url)}"
    return seals, _shown(url)


def _when(seal: Seal) -> str:
    return seal.sealed_at.replace("T", " ")


def _history_lines(seals: list[Seal]) -> list[str]:
    lines = []
    for s in seals:
        verb = "sealed" if s.seq == 1 else "re-sealed"
        lines.append(f"{verb} on {_when(s)}: {s.reason} (seal {s.seq}, by {s.sealed_by or 'unknown'})")
    return lines


def _print_differences(check: ManifestCheck, against: str) -> None:
    for rel in check.changed:
        print(f"CHANGED  {rel}  (SHA-256 differs from {against})")
    for rel in check.missing:
        print(f"MISSING  {rel}  (listed in {against}, not in the folder)")
    for rel in check.added:
        print(f"ADDED    {rel}  (in the folder, not in {against})")


def _counts(check: ManifestCheck) -> str:
    return f"{len(check.changed)} changed, {len(check.missing)} missing, {len(check.added)} added"


def _verify_against_seals(run_dir: Path, seals: list[Seal], source: str) -> int:
    result: SealCheck = check_against_seals(run_dir, seals)
    original = result.original
    for line in _history_lines(seals):
        print(line)
    if original.seq in result.tampered_seals:
        against = "manifest.json" if result.reference is None else f"seal {result.reference.seq}"
        print(f"note: the original seal's stored manifest was altered in {source}; checked against {against}")
    elif result.reference is None:
        print(
            f"note: the original seal of {_when(original)} (release 0.1.0) recorded only the manifest's "
            "digest: files checked against manifest.json, manifest.json against that digest"
        )
        against = "manifest.json"
    elif result.reference is not original:
        against = f"seal {result.reference.seq} of {_when(result.reference)}"
        print(
            f"note: the original seal of {_when(original)} (release 0.1.0) recorded only the manifest's "
            f"digest: evidence data checked against {against}, the earliest with per-file digests"
        )
    else:
        against = f"the original seal of {_when(original)}"
    _print_differences(result.data, against)
    if result.outputs.changed or result.outputs.missing or result.outputs.added:
        latest = seals[-1]
        _print_differences(result.outputs, f"the latest seal ({latest.seq}, {_when(latest)})")
    for seq in result.tampered_seals:
        print(f"TAMPERED seal {seq}: its stored manifest no longer hashes to the digest recorded with it")
    if result.manifest_recorded is False:
        actual = sha256_file(run_dir / MANIFEST_FILE)
        print(
            f"MANIFEST manifest.json (sha256 {actual}) is none of the {len(seals)} seal(s) recorded in "
            f"{source}: the folder was re-sealed after the run outside cmi-hil"
        )
    elif result.manifest_recorded is None:
        print(f"note: {run_dir} has no manifest.json; checked against the seals in {source} alone")
    if result.ok:
        since = f"; re-sealed {len(result.resealed)} time(s) since (above)" if result.resealed else ""
        files = f"{result.data.checked} evidence files in {run_dir}"
        print(f"OK: {files} match {against} recorded in {source}{since}")
        return 0
    later = f"; the {len(result.resealed)} later seal(s) above do not certify it" if result.resealed else ""
    if not result.data.ok:
        print(f"FAILED: altered after sealing: {_counts(result.data)} against {against}{later}")
    elif result.manifest_recorded is False:
        print(f"FAILED: altered after sealing: manifest.json was replaced outside cmi-hil{later}")
    elif result.tampered_seals:
        print(f"FAILED: the seal history in {source} was altered; nothing can be verified against it")
    else:
        print(f"FAILED: the rendered report changed after the latest seal ({_counts(result.outputs)})")
    return 1


def _verify_against_manifest(run_dir: Path, why: str) -> int:
    print(
        f"note: {why}; checked against manifest.json alone, so a re-sealed folder would not show "
        "(pass --db URL to check against the original seal)"
    )
    try:
        check = verify_manifest(run_dir)
    except ManifestError as exc:
        print(f"cmi-hil verify: {exc}", file=sys.stderr)
        return 2
    _print_differences(check, "the manifest")
    if check.ok:
        print(f"OK: {check.checked} files in {run_dir} match manifest.json (SHA-256)")
        return 0
    print(f"FAILED: {_counts(check)} in {run_dir}; this folder is not the evidence the run sealed")
    return 1


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        print(f"cmi-hil verify: {run_dir}: no such folder; pass a run folder under reports/", file=sys.stderr)
        return 2
    seals, source = _seals(run_dir, args.db)
    if seals is None:
        return _verify_against_manifest(run_dir, source)
    return _verify_against_seals(run_dir, seals, source)
