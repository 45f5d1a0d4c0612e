"""End of a run: Allure metadata, evidence report (HTML + PDF), results database, nightly comparison and,
last, the SHA-256 manifest that seals the run folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from harness.evidence import RUN_FILE
from harness.report.allure import attach_plots, write_allure_metadata
from harness.report.manifest import SealHistory, sha256_file, write_manifest
from harness.report.matrix import build_matrix
from harness.report.plots import report_figures
from harness.report.render import ReportError, write_report
from harness.report.rundata import RunData, RunFolderError, load_run
from harness.results import (
    ResultsDbError,
    Seal,
    compare_with_history,
    db_url_for,
    open_db,
    record_seal,
    seal_history,
    sealer,
    store_run,
)
from harness.results.trend import Comparison, Finding

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_EVIDENCE_INCOMPLETE = 2
#: why a folder is sealed when nobody says otherwise: the end of `cmi-hil run`
RUN_SEAL_REASON = "sealed at the end of the run"

#: the pieces of evidence finalize_run writes, in the order it writes them (the manifest seals the rest)
ALLURE_METADATA = "Allure environment and categories"
DB_ROW = "results database row"
REPORT = "report.html and report.pdf"
MANIFEST = "manifest.json"
EVIDENCE_STEPS = (ALLURE_METADATA, DB_ROW, REPORT, MANIFEST)


def not_written(written: list[str]) -> list[str]:
    """The pieces of :data:`EVIDENCE_STEPS` missing from ``written`` (an aborted finalization)."""
    return [step for step in EVIDENCE_STEPS if step not in written]


def default_db_for(run_dir: Path) -> Path:
    """The results database beside the run folders: reports/results.sqlite for reports/<run>/."""
    return Path(run_dir).resolve().parent / "results.sqlite"


def _shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by open_db; show it as given
        return url


def store_run_data(engine: Engine, run: RunData) -> None:
    """Store a loaded run (identity, tests, measurements, requirement verdicts) in the results database."""
    matrix = build_matrix(
        run.requirements, run.tests, run.measurements, simulated_bench=run.info.rig.simulated
    )
    verdicts: dict[str, tuple[str, list[str]]] = {
        row.id: (row.verdict, [t.nodeid for t in row.tests]) for row in matrix.rows
    }
    verdicts.update({r.id: ("not covered", []) for r in matrix.uncovered})
    verdicts.update({r.id: ("external", []) for r in matrix.external})
    store_run(
        engine,
        run.info,
        run.tests,
        run.measurements,
        verdicts,
        run_dir=run.run_dir,
        interrupted=run_interrupted(run),
    )


def run_interrupted(run: RunData) -> bool:
    """run.json ``interrupted`` (a signal stopped the run); False when the key is absent."""
    value = getattr(run.info, "interrupted", None)
    if value is None:  # a RunInfo without the field drops the key: read it from the file itself
        try:
            value = json.loads((run.run_dir / RUN_FILE).read_text(encoding="utf-8")).get("interrupted")
        except (OSError, ValueError, AttributeError):
            value = None
    return bool(value)


def _store(run: RunData, db_url: str, out: TextIO) -> tuple[Comparison, list[Seal]]:
    engine = open_db(db_url)
    try:
        store_run_data(engine, run)
        print(f"results db: run {run.info.run_id} stored in {_shown_url(db_url)}", file=out)
        return compare_with_history(engine, run.info.run_id), seal_history(engine, run.info.run_id) or []
    finally:
        engine.dispose()


def seal(
    run_dir: Path, run_id: str, db_url: str | None, out: TextIO, *, reason: str = RUN_SEAL_REASON
) -> bool:
    """Write manifest.json (last) and append it to the run's seal history in the results database
    (with ``reason``, user@host and the time); False if not recorded."""
    who = sealer()
    manifest = write_manifest(run_dir, run_id=run_id, reason=reason, sealed_by=who)
    digest = sha256_file(manifest)
    print(f"manifest: {manifest} sha256 {digest}", file=out)
    if db_url is None:
        return False
    try:
        engine = open_db(db_url)
        try:
            recorded = record_seal(
                engine,
                run_id,
                manifest_json=manifest.read_text(encoding="utf-8"),
                reason=reason,
                sealed_by=who,
            )
        finally:
            engine.dispose()
    except (ResultsDbError, SQLAlchemyError, LookupError) as exc:
        print(f"cmi-hil: seal not recorded in the results database: {exc}", file=sys.stderr)
        return False
    print(f"results db: seal {recorded.seq} of run {run_id} recorded ({reason})", file=out)
    return True


def finalize_run(
    run_dir: Path,
    *,
    db_url: str | None = None,
    nightly: bool = False,
    out: TextIO | None = None,
    seal_reason: str = RUN_SEAL_REASON,
    written: list[str] | None = None,
) -> int:
    """Render report.html and report.pdf, write Allure environment/categories, store the run in the results
    database (``db_url``: any SQLAlchemy URL or file path; default results.sqlite beside the run folder),
    compare it with earlier runs on the same rig, and write manifest.json last, appending it to the run's
    seal history with ``seal_reason``.

    Returns 0; 1 when ``nightly`` and the comparison found a regression (new failing requirement, drifted
    measurement, markedly slower test); 2 when part of the evidence could not be written (the rest is kept
    and the error printed). ``written`` (when given) receives each of :data:`EVIDENCE_STEPS` once it is
    complete, so a caller whose finalization was interrupted can say what is missing.
    """
    out = out or sys.stdout
    written = written if written is not None else []
    run_dir = Path(run_dir)
    try:
        run = load_run(run_dir)
    except RunFolderError as exc:
        print(f"cmi-hil: cannot finalize: {exc}", file=sys.stderr)
        return EXIT_EVIDENCE_INCOMPLETE
    status = EXIT_OK
    for problem in run.problems:
        print(f"cmi-hil: evidence problem: {problem}", file=sys.stderr)

    write_allure_metadata(run_dir, run.info)
    written.append(ALLURE_METADATA)

    url: str | None = db_url_for(db_url if db_url is not None else default_db_for(run_dir))
    findings: list[Finding] = []
    seals: list[Seal] = []
    try:
        comparison, seals = _store(run, str(url), out)
        written.append(DB_ROW)
        findings = comparison.findings
        note = comparison.note()
    except (ResultsDbError, LookupError, SQLAlchemyError) as exc:
        note = f"Results database not updated: {exc}"
        print(f"cmi-hil: {note}", file=sys.stderr)
        status = EXIT_EVIDENCE_INCOMPLETE
        url = None

    try:
        figures = report_figures(run.measurements)
        attach_plots(run_dir, figures, run.measurements)
        history = SealHistory(seals, reason=seal_reason, recorded=url is not None)
        html_path, pdf_path = write_report(run, findings, note, figures, seal_history=history)
        print(f"report: {html_path}", file=out)
        print(f"report: {pdf_path}", file=out)
        written.append(REPORT)
    except (ReportError, OSError) as exc:
        print(f"cmi-hil: report not complete: {exc}", file=sys.stderr)
        status = EXIT_EVIDENCE_INCOMPLETE
    except Exception as exc:  # a rendering bug must not cost the run its manifest and database entry
        print(
            f"cmi-hil: report not complete: {exc.__class__.__name__}: {exc} (a harness error; the run's "
            "data is intact and `cmi-hil report` can render it again)",
            file=sys.stderr,
        )
        status = EXIT_EVIDENCE_INCOMPLETE

    sealed = seal(run_dir, run.info.run_id, url, out, reason=seal_reason)
    written.append(MANIFEST)
    if not sealed and url is not None:
        status = EXIT_EVIDENCE_INCOMPLETE

    print(note, file=out)
    for f in findings:
        print(f"  REGRESSION {f.kind}: {f.subject}: {f.detail}", file=out)
    if nightly and findings and status == EXIT_OK:
        status = EXIT_REGRESSION
    return status
