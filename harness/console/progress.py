"""Live progress of a conformance run on the console, and one line per failure.

A pytest plugin, switched on with ``--progress`` (``cmi-hil run`` does). It replaces pytest's dots with:

- on a terminal: one live line (rich) with the requirement and test now running, n/N, elapsed time, the ETA
  and the wait in progress ("waiting 5.0 s detection time, input 3"); finished tests scroll above it;
- elsewhere (CI logs, pipes): plain lines, one per finished test and one per long wait, so a log never stays
  silent for the length of a mandated wait.

A failure is one line: requirement, test, the failing measurement (value ± uncertainty against its limit)
or the assertion's first line, and the transcript file. The full pytest report goes to ``failures.log`` in the
run folder. The ETA comes from the durations of the previous run on the same rig (``--progress-history``),
and from the mean duration so far for tests that run was missing.

Waits announce themselves with :func:`waiting` (fixtures call it around every sleep the standard forces).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from harness.console.capture import mirror
from harness.console.history import history_durations, latest_run_of_rig
from harness.evidence import TRANSCRIPTS_DIR, Measurement, slug

FAILURES_LOG = "failures.log"
#: waits at least this long (wall seconds) get their own line in plain (non-terminal) output
PLAIN_WAIT_LINE_S = 2.0

_active: ProgressReporter | None = None


@contextlib.contextmanager
def waiting(description: str, seconds: float) -> Iterator[None]:
    """Show ``description`` as the wait in progress for the next ``seconds`` (wall time) of the test."""
    reporter = _active
    if reporter is None or seconds <= 0:
        yield
        return
    reporter.wait_started(description, seconds)
    try:
        yield
    finally:
        reporter.wait_ended()


def format_duration(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a non-negative duration; ``--:--`` when unknown."""
    if seconds != seconds or seconds < 0:  # NaN or negative
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def estimate_remaining(remaining: list[str], history: dict[str, float], done_durations: list[float]) -> float:
    """Seconds left: each remaining test's previous duration, else the mean of the tests finished so far.

    NaN when nothing is known yet (no history and no finished test).
    """
    known = [history[n] for n in remaining if n in history]
    unknown = len(remaining) - len(known)
    if unknown:
        pool = done_durations or list(history.values())
        if not pool:
            return float("nan")
        return sum(known) + unknown * (sum(pool) / len(pool))
    return sum(known)


def short_test_name(nodeid: str) -> str:
    """``test_link_layer.py::test_x[2400]`` from ``testcases/test_link_layer.py::test_x[2400]``."""
    path, _, rest = nodeid.partition("::")
    return f"{Path(path).name}::{rest}" if rest else Path(path).name


def failed_measurement_line(measurements: list[Measurement]) -> str | None:
    """The first failing measurement as ``name = value ± u unit, limit ...``; None when none failed."""
    for m in measurements:
        if m.verdict != "fail":
            continue
        unit = f" {m.unit}" if m.unit and m.unit != "1" else ""
        limits = []
        if m.low is not None:
            limits.append(f">= {m.low:g}{unit}")
        if m.high is not None:
            limits.append(f"<= {m.high:g}{unit}")
        limit = " and ".join(limits) or "no limit"
        return f"{m.name} = {m.value:g} ± {m.uncertainty:g}{unit}, limit {limit}"
    return None


@dataclass
class _Line:
    """What the live line shows."""

    n: int = 0
    total: int = 0
    nodeid: str = ""
    requirements: tuple[str, ...] = ()
    wait: str | None = None
    wait_until: float = 0.0
    done_durations: list[float] = field(default_factory=list)


class ProgressReporter:
    """The ``--progress`` plugin object (see the module docstring)."""

    def __init__(self, config: pytest.Config, out: IO[str], *, live: bool, history: dict[str, float]) -> None:
        self.config = config
        self.out = out
        self.live_mode = live
        self.history = history
        self.items: list[str] = []
        self.requirements: dict[str, tuple[str, ...]] = {}
        self.t0 = time.monotonic()
        self.line = _Line()
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self._failed_whens: dict[str, str] = {}
        self._live: Any = None
        self._console: Any = None
        if live:
            from rich.console import Console

            self._console = Console(file=out, highlight=False, soft_wrap=False)

    # --- the line -------------------------------------------------------------------------------------
    def status_text(self) -> str:
        ln = self.line
        elapsed = time.monotonic() - self.t0
        done = ln.n - 1 if ln.nodeid else ln.n
        remaining = self.items[max(done, 0) :]
        eta = estimate_remaining(remaining, self.history, ln.done_durations)
        req = ",".join(ln.requirements) or "-"
        text = (
            f"[{ln.n}/{ln.total}] {req} {short_test_name(ln.nodeid)} | elapsed {format_duration(elapsed)}"
            f" | ETA {format_duration(eta)}"
        )
        if ln.wait:
            left = max(0.0, ln.wait_until - time.monotonic())
            text += f" | {ln.wait} ({left:.1f} s left)"
        return text

    def _print(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text, markup=False)
        else:
            self.out.write(text + "\n")
            self.out.flush()
        mirror(text)  # the run folder's console.log, when `cmi-hil run` keeps one

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    # --- waits ----------------------------------------------------------------------------------------
    def wait_started(self, description: str, seconds: float) -> None:
        with self._lock:
            self.line.wait = f"waiting {seconds:.1f} s {description}"
            self.line.wait_until = time.monotonic() + seconds
            if not self.live_mode and seconds >= PLAIN_WAIT_LINE_S:
                self._print(f"        {short_test_name(self.line.nodeid)}: {self.line.wait}")
            self._refresh()

    def wait_ended(self) -> None:
        with self._lock:
            self.line.wait = None
            self._refresh()

    # --- pytest hooks ---------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        """Keep pytest's outcome categories (its final counts) but drop its dots and words."""
        result = yield
        if isinstance(result, tuple) and len(result) == 3:
            return result[0], "", ""
        return result

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from harness.pytest_plugin import requirement_ids

        self.items = [item.nodeid for item in session.items]
        self.requirements = {item.nodeid: tuple(requirement_ids(item)) for item in session.items}
        self.line.total = len(self.items)
        if self.live_mode and self.items:
            from rich.live import Live
            from rich.text import Text

            self._live = Live(
                console=self._console,
                refresh_per_second=4,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
                get_renderable=lambda: Text(self.status_text(), no_wrap=True, overflow="ellipsis"),
            )
            self._live.start()

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        with self._lock:
            self.line.n += 1
            self.line.nodeid = nodeid
            self.line.requirements = self.requirements.get(nodeid, ())
            self.line.wait = None
            self._started[nodeid] = time.monotonic()
            self._refresh()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """The failure's full traceback (from the test's own frame on) goes to the run folder's log."""
        report = yield
        excinfo = call.excinfo
        if report.failed and excinfo is not None:
            path = Path(str(item.path))
            text = excinfo.getrepr(
                style="long", chain=True, tbfilter=lambda ei: ei.traceback.cut(path=path).filter(ei)
            )
            self._log_failure(report, str(text))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.nodeid not in self._failed_whens:
            self._failed_whens[report.nodeid] = report.when or "call"
        if report.when != "teardown":
            return
        with self._lock:
            duration = time.monotonic() - self._started.get(report.nodeid, time.monotonic())
            self.line.done_durations.append(duration)
            outcome = self._outcome_word(report.nodeid)
            self._print_finished(report, outcome, duration)
            self.line.nodeid = ""
            self._refresh()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.stop()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.stop()

    def stop(self) -> None:
        global _active
        if self._live is not None:
            self._live.stop()
            self._live = None
        if _active is self:
            _active = None

    # --- output ---------------------------------------------------------------------------------------
    def _outcome_word(self, nodeid: str) -> str:
        from harness.pytest_plugin import suite_state

        when = self._failed_whens.get(nodeid)
        if when == "call":
            return "FAIL"
        if when is not None:
            return "ERROR"
        record = suite_state(self.config).tests.get(nodeid)
        reports = record.reports if record is not None else {}
        if any(r.skipped for r in reports.values()):
            return "SKIP"
        return "PASS"

    def _print_finished(self, report: pytest.TestReport, outcome: str, duration: float) -> None:
        n, total = self.line.n, self.line.total
        width = len(str(total))
        req = ",".join(self.requirements.get(report.nodeid, ())) or "-"
        line = (
            f"[{n:>{width}}/{total}] {format_duration(time.monotonic() - self.t0):>5} {outcome:<5} "
            f"{req} {short_test_name(report.nodeid)} ({duration:.1f} s)"
        )
        if outcome in ("FAIL", "ERROR"):
            line += "\n        " + self._failure_summary(report.nodeid)
        self._print(line)

    def _failure_summary(self, nodeid: str) -> str:
        from harness.pytest_plugin import suite_state

        state = suite_state(self.config)
        record = state.tests.get(nodeid)
        measurements = list(record.recorder.measurements) if record and record.recorder else []
        what = failed_measurement_line(measurements)
        if what is None and record is not None:
            failed = next((r for r in record.reports.values() if r.failed), None)
            crash = getattr(failed.longrepr, "reprcrash", None) if failed is not None else None
            text = str(crash.message) if crash is not None else (str(failed.longrepr) if failed else "")
            what = text.strip().splitlines()[0] if text.strip() else "failed"
        parts = [what or "failed"]
        if state.run_dir is not None:
            transcript = state.run_dir / TRANSCRIPTS_DIR / f"{slug(nodeid)}.jsonl"
            if transcript.exists():
                parts.append(f"transcript {transcript.relative_to(state.run_dir)}")
            parts.append(f"details {FAILURES_LOG}")
        return "; ".join(parts)

    def _log_failure(self, report: pytest.TestReport, traceback: str) -> None:
        from harness.pytest_plugin import suite_state

        run_dir = suite_state(self.config).run_dir
        if run_dir is None:
            return
        with (run_dir / FAILURES_LOG).open("a", encoding="utf-8") as fh:
            fh.write(f"===== {report.nodeid} ({report.when}) =====\n{traceback}\n\n")


def _terminal_stream() -> IO[str]:
    """A stream on the process's real stdout, which pytest's output capture does not redirect."""
    fd = sys.__stdout__.fileno() if sys.__stdout__ else 1
    return os.fdopen(os.dup(fd), "w", buffering=1, encoding="utf-8")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cmi-hil progress")
    group.addoption(
        "--progress",
        dest="cmi_progress",
        choices=("auto", "live", "plain", "off"),
        default="off",
        help="live progress line (live), one line per test (plain), auto: live on a terminal (default: off)",
    )
    group.addoption(
        "--progress-history",
        dest="cmi_progress_history",
        default=None,
        metavar="RUN_DIR",
        help="a previous run folder of the same rig: its test durations give the ETA",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    global _active
    mode = config.getoption("cmi_progress", "off")
    if mode == "off" or config.pluginmanager.has_plugin("cmi-progress"):
        return
    out = _terminal_stream()
    live = mode == "live" or (mode == "auto" and out.isatty())
    history_dir = config.getoption("cmi_progress_history")
    reporter = ProgressReporter(
        config, out, live=live, history=history_durations(Path(history_dir) if history_dir else None)
    )
    config.pluginmanager.register(reporter, "cmi-progress")
    _active = reporter


__all__ = [
    "FAILURES_LOG",
    "ProgressReporter",
    "estimate_remaining",
    "failed_measurement_line",
    "format_duration",
    "history_durations",
    "latest_run_of_rig",
    "waiting",
]
