"""Render the evidence report: one self-contained HTML file (CSS inline, plots as base64 PNG) and a
PDF of the same template made with xhtml2pdf (pure Python; the template keeps to the CSS it renders).
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import matplotlib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from harness import evidence
from harness import verdict as verdict_rule
from harness.evidence import Instrument
from harness.report import plots, units
from harness.report.manifest import SealHistory
from harness.report.matrix import Matrix, build_matrix, run_verdict
from harness.report.rundata import RunData
from harness.report.transcripts import DecodedEntry, decode_entry
from harness.results.trend import Finding

TEMPLATES = Path(__file__).with_name("templates")
#: EN 13757-3 medium codes seen on this product line
MEDIUM_NAMES = {0x00: "other", 0x02: "electricity", 0x03: "gas", 0x04: "heat", 0x07: "water"}
#: the appendix file the full decoded transcripts go to (a report of 50 pages of frames helps nobody sign)
TRANSCRIPTS_APPENDIX = "transcripts.html"
#: what harness.measure.verdict_of does, said the way ILAC G8:2019 names decision rules
DECISION_RULE = (
    "value \u00b1 U entirely inside the limits passes, entirely outside fails; a \u00b1 U band that "
    "straddles a limit is inconclusive and leaves its requirement not verified. That is guarded acceptance "
    "and guarded rejection with a guard band w = U (ILAC G8:2019, non-binary rule), not simple acceptance. "
    "U is the rig file's uncertainty budget used as stated, as a bound: the harness applies no coverage "
    "factor and the budgets state none (DMM \u00b1(% of reading + % of range) from the instrument's "
    "accuracy specification; the latency allowance for latency seen by the master; the polling step for "
    "rate-input detection)."
)
_DATA_FILES = (evidence.RUN_FILE, evidence.TESTS_FILE, evidence.MEASUREMENTS_FILE, evidence.REQUIREMENTS_FILE)


class ReportError(RuntimeError):
    """The report could not be rendered; the message says which part and why."""


@dataclass
class TranscriptBlock:
    nodeid: str
    stem: str
    failed: bool
    total: int
    entries: list[DecodedEntry] = field(default_factory=list)


@pass_context
def _breakable(ctx: Context, text: object) -> Markup:
    """Escape, and in HTML allow line breaks after path and node-id separators (zero-width space). The PDF
    gets the text unchanged: its cells split over-long words themselves (``overflow-wrap: anywhere``)."""
    s = str(escape(str(text)))
    if not ctx.get("pdf"):
        for sep in ("::", "/", "[", ","):
            s = s.replace(sep, sep + "\u200b")
    return Markup(s)


def _when(iso: str | None) -> str:
    """ISO 8601 timestamp shown to the second: '2026-11-24 10:00:00+00:00'."""
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).isoformat(sep=" ", timespec="seconds")
    except ValueError:
        return iso


def _calibration_state(inst: Instrument, on: date) -> str:
    if not inst.calibration_due:
        return "missing"
    try:
        due = date.fromisoformat(inst.calibration_due[:10])
    except ValueError:
        return "unreadable"
    return "overdue" if due < on else "valid"


def _png_data_uri(png: bytes | None) -> str | None:
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _transcript_blocks(run: RunData, *, decode: bool = True) -> list[TranscriptBlock]:
    """One block per transcript file, failing tests' first; ``decode`` fills in every frame (the appendix
    file), otherwise only the counts are kept (the report names the appendix)."""
    failed = {t.nodeid for t in run.tests if verdict_rule.test_verdict(t) in ("fail", "error")}
    blocks = []
    for stem, entries in run.transcripts.items():
        nodeid = run.test_for_transcript(stem)
        block = TranscriptBlock(nodeid, stem, nodeid in failed, len(entries))
        if decode:
            block.entries = [decode_entry(e) for e in entries]
        blocks.append(block)
    blocks.sort(key=lambda b: (not b.failed, b.nodeid))  # failing tests' telegrams first
    return blocks


def document_id(run: RunData) -> str:
    """The report's document id: one per run, on every page."""
    return f"CMI-HIL-{run.info.run_id}"


def command_text(run: RunData) -> str:
    """The cmi-hil command as typed; the pytest arguments when the run did not record it."""
    typed = getattr(run.info, "typed_command", None)
    return typed or " ".join(run.info.command) or "-"


def _run_date(run: RunData) -> date:
    try:
        return datetime.fromisoformat(run.info.started).date()
    except ValueError:
        return date.today()


def report_context(
    run: RunData,
    findings: list[Finding] | None = None,
    history_note: str | None = None,
    report_figures: list[plots.ReportFigure] | None = None,
    seal_history: SealHistory | None = None,
) -> dict[str, Any]:
    """Everything the template shows, computed from the run data."""
    matrix: Matrix = build_matrix(
        run.requirements, run.tests, run.measurements, simulated_bench=run.info.rig.simulated
    )
    # the one verdict rule, recomputed from the data; RunInfo.interrupted comes with the run lifecycle
    decision = run_verdict(
        matrix, run.tests, run.measurements, interrupted=bool(getattr(run.info, "interrupted", False))
    )
    on = _run_date(run)
    outcomes = {
        o: sum(1 for t in run.tests if t.outcome == o)
        for o in ("passed", "failed", "error", "skipped", "interrupted", "not run")
    }
    outcomes["not judged"] = outcomes["skipped"] + outcomes["interrupted"] + outcomes["not run"]
    # failures first; otherwise grouped by measurement name, in the order taken
    groups = units.group_measurements(run.measurements)
    first_seen = {g.first.name: i for i, g in reversed(list(enumerate(groups)))}
    rank = {"fail": 0, "inconclusive": 1}
    groups = [
        g
        for _, g in sorted(
            enumerate(groups),
            key=lambda ig: (rank.get(ig[1].verdict, 2), first_seen[ig[1].first.name], ig[0]),
        )
    ]
    test_requirements = {t.nodeid: t.requirements for t in run.tests}
    data_files = []
    for rel in _DATA_FILES:
        path = run.run_dir / rel
        if path.exists():
            data_files.append((rel, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size))
    figures = [
        (f.title, f.caption, _png_data_uri(f.png), f.measurement)
        for f in (report_figures if report_figures is not None else plots.report_figures(run.measurements))
    ]
    return {
        "run": run,
        "info": run.info,
        "verdict": decision.verdict,
        "decision": decision,
        "classes": [
            (c, verdict_rule.CLASS_LABELS[c], matrix.count(c)) for c in verdict_rule.REQUIREMENT_CLASSES
        ],
        "test_verdicts": {t.nodeid: verdict_rule.test_verdict(t) for t in run.tests},
        "matrix": matrix,
        "outcomes": outcomes,
        "measurement_groups": groups,
        "test_requirements": test_requirements,
        "partial": decision.partial,
        "instruments": [(i, _calibration_state(i, on)) for i in run.info.rig.instruments],
        "document_id": document_id(run),
        "command_text": command_text(run),
        "decision_rule": DECISION_RULE,
        "medium_name": MEDIUM_NAMES.get(run.info.dut.medium or -1)
        if run.info.dut.medium is not None
        else None,
        "figures": figures,
        "transcripts": _transcript_blocks(run, decode=False),
        "appendix_file": TRANSCRIPTS_APPENDIX,
        "findings": findings or [],
        "history_note": history_note,
        "seal_history": seal_history,
        "data_files": data_files,
        "generated": datetime.now().astimezone().isoformat(timespec="seconds"),
        "units": units,
    }


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["brk"] = _breakable
    env.filters["si"] = units.si
    env.filters["when"] = _when
    return env


def render_html(context: dict[str, Any], *, pdf: bool = False) -> str:
    """The report as HTML; ``pdf=True`` adds what xhtml2pdf uses: page frame, footer, page numbers, font."""
    font_dir = _font_dir()
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            **context,
            pdf=pdf,
            font_regular=(font_dir / "DejaVuSans.ttf").as_posix(),
            font_bold=(font_dir / "DejaVuSans-Bold.ttf").as_posix(),
            font_mono=(font_dir / "DejaVuSansMono.ttf").as_posix(),
        )
    )


def _font_dir() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"  # DejaVu ships with matplotlib: µ, ±, ≤ render


def html_to_pdf(html: str) -> bytes:
    """PDF of the report HTML. The document may read only the font directory and nothing remote."""
    from xhtml2pdf import pisa

    kwargs: dict[str, Any] = {}
    try:
        from xhtml2pdf.config.resources import ResourceAccessPolicy

        kwargs["resource_policy"] = ResourceAccessPolicy(allow_remote=False, base_dir=_font_dir())
    except ImportError:  # older xhtml2pdf without resource policies reads local files freely
        pass
    out = io.BytesIO()
    status = pisa.CreatePDF(src=html, dest=out, encoding="utf-8", **kwargs)
    if status.err:
        raise ReportError(f"PDF rendering failed with {status.err} error(s); the HTML report is still valid")
    return out.getvalue()


def render_transcripts(context: dict[str, Any], run: RunData) -> str:
    """Appendix A as its own HTML file: every frame of every transcript, decoded."""
    return (
        _environment()
        .get_template("transcripts.html.j2")
        .render(**{**context, "transcripts": _transcript_blocks(run)}, pdf=False)
    )


def write_report(
    run: RunData,
    findings: list[Finding] | None = None,
    history_note: str | None = None,
    report_figures: list[plots.ReportFigure] | None = None,
    *,
    seal_history: SealHistory | None = None,
) -> tuple[Path, Path]:
    """Write report.html, report.pdf and the transcript appendix (transcripts.html) into the run folder,
    before the manifest seals it; returns the report's paths."""
    context = report_context(run, findings, history_note, report_figures, seal_history)
    html_path = run.run_dir / "report.html"
    pdf_path = run.run_dir / "report.pdf"
    appendix = run.run_dir / TRANSCRIPTS_APPENDIX
    appendix.write_bytes(render_transcripts(context, run).encode("utf-8"))
    # the signed report names the appendix by its digest too (the manifest seals both afterwards)
    context["data_files"] = [
        *context["data_files"],
        (TRANSCRIPTS_APPENDIX, hashlib.sha256(appendix.read_bytes()).hexdigest(), appendix.stat().st_size),
    ]
    html_path.write_text(render_html(context), encoding="utf-8")
    pdf_path.write_bytes(html_to_pdf(render_html(context, pdf=True)))
    return html_path, pdf_path
