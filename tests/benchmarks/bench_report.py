"""Benchmark: the cost of sealing a run's evidence, each part against a peer measured in the same run.

1. Results database: storing runs with two writer processes at once (WAL, BEGIN IMMEDIATE, retry) against
   one writer storing the same number of runs alone: the ratio is the price of concurrency safety.
2. Report: the PDF (xhtml2pdf) against the HTML (jinja2) of the same run, and the plots against both.

    python tests/benchmarks/bench_report.py [--runs 20] [--measurements 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from conftest import build_run  # noqa: E402  (the report self-tests' realistic run folders)
from harness.report import load_run  # noqa: E402
from harness.report.plots import report_figures  # noqa: E402
from harness.report.render import html_to_pdf, render_html, report_context  # noqa: E402

WRITER = """
import sys
from pathlib import Path
from harness.report import load_run, store_run_data
from harness.results import open_db
engine = open_db(sys.argv[1])
for folder in sys.argv[2:]:
    store_run_data(engine, load_run(Path(folder)))
engine.dispose()
"""


def _writers(url: str, groups: list[list[str]]) -> float:
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, *g]) for g in groups]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("a writer failed")
    return time.perf_counter() - t0


def bench_db(root: Path, runs: int) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    folders = [
        str(build_run(root / "runs", started=t0 + timedelta(hours=i), seed=i)) for i in range(2 * runs)
    ]
    alone = _writers(f"sqlite:///{root / 'alone.sqlite'}", [folders])
    both = _writers(f"sqlite:///{root / 'both.sqlite'}", [folders[:runs], folders[runs:]])
    print(
        f"results db: {2 * runs} runs, one writer {alone:.2f} s, two writers at once {both:.2f} s, "
        f"ratio two/one {both / alone:.2f}"
    )


def bench_render(root: Path, measurements: int) -> None:
    run_dir = build_run(root / "render")
    run = load_run(run_dir)
    base = list(run.measurements)
    run.measurements = [
        m.model_copy(update={"test": f"{m.test}#{i}"})
        for i in range(measurements // len(base) + 1)
        for m in base
    ][:measurements]
    t = time.perf_counter()
    figures = report_figures(run.measurements)
    plots_s = time.perf_counter() - t
    context = report_context(run, report_figures=figures)
    t = time.perf_counter()
    render_html(context)
    html_s = time.perf_counter() - t
    t = time.perf_counter()
    pdf = html_to_pdf(render_html(context, pdf=True))
    pdf_s = time.perf_counter() - t
    print(
        f"report: {len(run.measurements)} measurements; plots {plots_s:.2f} s, HTML {html_s:.3f} s, "
        f"PDF {pdf_s:.2f} s ({len(pdf) // 1024} KiB); ratio PDF/HTML {pdf_s / html_s:.0f}, "
        f"PDF/plots {pdf_s / plots_s:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per writer")
    parser.add_argument("--measurements", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_db(Path(tmp), args.runs)
        bench_render(Path(tmp), args.measurements)


if __name__ == "__main__":
    main()
