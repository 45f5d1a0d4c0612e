"""pytest plugin of the conformance suite: options, markers, requirement traceability, evidence, Allure.

Loaded from the repository's ``conftest.py`` (or ``-p harness.pytest_plugin``). It only writes evidence
when ``--evidence-dir`` is given, and only reports requirement coverage when the run is a suite run
(evidence dir given, or items collected under ``testcases/``), so the harness's own self-tests under
``tests/`` run untouched.

Run folder written per :mod:`harness.evidence`: ``run.json`` (rewritten as rig and DUT become known, and
at the end), ``measurements.jsonl`` (flushed as taken), ``tests.jsonl`` (one line per test as it ends),
``requirements.json``, ``transcripts/<slug>.jsonl``; plus ``timing.json`` (wall time and mandated waits)
and ``coverage.json`` (traceability both ways).

Verdicts: each test's outcome is recorded with who a stop is charged to (``TestResult.error_kind``: the bench,
the harness, or none = the module; :func:`error_kind`), selected tests the run never reached are recorded as
"not run", and the run verdict in ``run.json`` comes from the one rule, :mod:`harness.verdict`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness import __version__, interrupts
from harness import verdict as verdict_rule
from harness.assumptions import ASSUMPTIONS_FILE, AssumptionLedger, assumption_ledger
from harness.evidence import (
    MEASUREMENTS_FILE,
    REQUIREMENTS_FILE,
    TESTS_FILE,
    TRANSCRIPTS_DIR,
    DutInfo,
    ErrorKind,
    Measurement,
    Outcome,
    RigInfo,
    RunInfo,
    TestResult,
    TranscriptEntry,
    append_jsonl,
    slug,
    write_run_info,
)
from harness.measure import Recorder, critical_path_s, describe, recording
from harness.requirements import (
    Catalogue,
    CatalogueError,
    Coverage,
    assumed_paths,
    coverage,
    load_catalogue,
    requirement_verdicts,
)

DEFAULT_RIG = "rigs/sim.yaml"
TIMING_FILE = "timing.json"
COVERAGE_FILE = "coverage.json"
CAPABILITY_MARKER = "needs"


@dataclass
class _TestRecord:
    reports: dict[str, pytest.TestReport] = field(default_factory=dict)
    recorder: Recorder | None = None
    started: float = 0.0
    #: phase -> who an exception of that phase is charged to (harness.verdict: bench, harness, module)
    error_kinds: dict[str, ErrorKind] = field(default_factory=dict)
    #: an exception that left the test protocol (pytest.exit from a fixture, Ctrl-C) and its kind
    aborted: str | None = None
    aborted_kind: ErrorKind | None = None
    interrupted: bool = False
    #: the DUT station seen at the end of setup and its reopen count then (a reopen mid-test is a bench error)
    station: Any = None
    station_reopens: int = 0


class SuiteState:
    """Per-session state of the plugin, reachable from fixtures with :func:`suite_state`."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        root = Path(str(config.rootpath))
        self.rootpath = root
        rig_opt = config.getoption("cmi_rig")
        self.rig_path = Path(rig_opt) if Path(rig_opt).is_absolute() else root / rig_opt
        profile = config.getoption("cmi_dut_profile")
        self.profile_path: Path | None = Path(profile).resolve() if profile else None
        self.faults: list[str] = list(config.getoption("cmi_faults") or [])
        self.nightly: bool = bool(config.getoption("cmi_nightly"))
        self.time_scale_override: float | None = config.getoption("cmi_time_scale")
        self.supply_step_v: float = float(config.getoption("cmi_supply_step"))
        cat = config.getoption("cmi_requirements")
        try:
            self.catalogue: Catalogue = load_catalogue(Path(cat) if cat else None)
        except CatalogueError as exc:
            raise pytest.UsageError(str(exc)) from None
        evidence = config.getoption("cmi_evidence_dir")
        self.run_dir: Path | None = Path(evidence).resolve() if evidence else None
        self.cited: dict[str, list[str]] = {}
        self.tests: dict[str, _TestRecord] = {}
        self.results: list[TestResult] = []
        self.measurements: list[Measurement] = []
        self.mandated_waits_s: dict[str, float] = {}
        self.lane_waits_s: dict[tuple[str, str], float] = {}
        #: each test's mandated waits and their critical path (standard s), for the per-test time table
        self.test_waits_s: dict[str, dict[str, float]] = {}
        self.suite_items = False
        self.t0 = time.monotonic()
        self.time_scale: float = 1.0
        self.run_info: RunInfo | None = None
        self.interrupted = False  #: Ctrl-C or SIGTERM reached pytest
        if self.run_dir is not None:
            self._open_run_dir(config)

    # --- run folder --------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """True for a suite run: evidence is written or conformance test cases were collected."""
        return self.run_dir is not None or self.suite_items

    def _open_run_dir(self, config: pytest.Config) -> None:
        assert self.run_dir is not None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / TRANSCRIPTS_DIR).mkdir(exist_ok=True)
        assumed = self._assumed()
        reqs = [r.as_evidence(assumed.get(r.id, ())).model_dump() for r in self.catalogue.requirements]
        (self.run_dir / REQUIREMENTS_FILE).write_text(json.dumps(reqs, indent=2), encoding="utf-8")
        self.run_info = RunInfo(
            run_id=self.run_dir.name,
            started=datetime.now(UTC).isoformat(timespec="seconds"),
            rig=RigInfo(
                name=self.rig_path.stem,
                file=self._rel(self.rig_path),
                simulated=declared_simulated(self.rig_path),
                faults=self.faults,
            ),
            dut=DutInfo(
                profile=str(self.profile_path) if self.profile_path else None,
                serial=config.getoption("cmi_dut_serial"),
            ),
            harness_version=__version__,
            git_commit=_git_commit(self.rootpath),
            operator=config.getoption("cmi_operator"),
            ambient=parse_ambient(config.getoption("cmi_ambient")),
            nightly=self.nightly,
            command=[self._rel_arg(arg) for arg in config.invocation_params.args],
            typed_command=config.getoption("cmi_typed_command"),
        )
        write_run_info(self.run_dir, self.run_info)
        ledger = self._ledger()
        (self.run_dir / ASSUMPTIONS_FILE).write_text(ledger.model_dump_json(indent=2), encoding="utf-8")

    def _ledger(self) -> AssumptionLedger:
        """The shipped profile's assumptions the profile in force overrode, confirmed or keeps."""
        from harness.datafile import read_yaml_mapping
        from harness.profile import SHIPPED_PROFILE, ProfileError

        def read(path: Path) -> dict[str, Any]:
            return read_yaml_mapping(
                path, what="device profile", error=ProfileError, hint="check --dut-profile"
            )

        try:
            shipped = read(SHIPPED_PROFILE)
            in_force = read(self.profile_path) if self.profile_path else shipped
        except ProfileError as exc:
            raise pytest.UsageError(str(exc)) from None
        name = None
        if self.profile_path is not None:  # the evidence names no folder of the machine
            rel = self._rel(self.profile_path)
            name = self.profile_path.name if Path(rel).is_absolute() else rel
        return assumption_ledger(shipped, in_force, profile=name)

    def _assumed(self) -> dict[str, list[str]]:
        """Requirement id -> its ``assumes`` paths the device profile in force marks ``assumption: true``."""
        wanted = [r for r in self.catalogue.requirements if r.assumes]
        if not wanted:
            return {}
        from harness.datafile import read_yaml_mapping
        from harness.profile import SHIPPED_PROFILE, ProfileError

        path = self.profile_path or SHIPPED_PROFILE
        try:
            profile = read_yaml_mapping(
                path, what="device profile", error=ProfileError, hint="check --dut-profile"
            )
            return {r.id: assumed_paths(profile, r.assumes) for r in wanted}
        except (ProfileError, CatalogueError) as exc:
            raise pytest.UsageError(str(exc)) from None

    def _rel_arg(self, arg: str) -> str:
        """The argument with the checkout's folder left out: evidence names no path of the machine."""
        root = f"{self.rootpath.resolve()}/"
        return arg.replace(root, "")

    def _rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.rootpath.resolve()))
        except ValueError:
            return str(path)

    def set_rig(self, rig: RigInfo) -> None:
        """Record the rig's identity (instruments, port, faults) once the bench is open."""
        if self.run_info is not None and self.run_dir is not None:
            self.run_info = self.run_info.model_copy(update={"rig": rig})
            write_run_info(self.run_dir, self.run_info)

    def set_dut(self, dut: DutInfo) -> None:
        """Record the DUT's identity once read (the label serial from the command line is kept)."""
        if self.run_info is not None and self.run_dir is not None:
            if dut.serial is None and self.run_info.dut.serial is not None:
                dut = dut.model_copy(update={"serial": self.run_info.dut.serial})
            self.run_info = self.run_info.model_copy(update={"dut": dut})
            write_run_info(self.run_dir, self.run_info)

    def set_ambient(self, **values: str) -> None:
        if self.run_info is not None and self.run_dir is not None:
            ambient = {**self.run_info.ambient, **values}
            self.run_info = self.run_info.model_copy(update={"ambient": ambient})
            write_run_info(self.run_dir, self.run_info)

    def record_measurement(self, m: Measurement) -> None:
        self.measurements.append(m)
        if self.run_dir is not None:
            append_jsonl(self.run_dir / MEASUREMENTS_FILE, m)

    def record_transcript(
        self, nodeid: str, entries: Iterable[TranscriptEntry], *, title: str = "transcript"
    ) -> None:
        """Store a test's telegram transcript (jsonl in the run folder) and attach it to Allure."""
        entries = list(entries)
        if not entries:
            return
        if self.run_dir is not None:
            path = self.run_dir / TRANSCRIPTS_DIR / f"{slug(nodeid)}.jsonl"
            for e in entries:
                append_jsonl(path, e)
        _allure_attach(format_transcript(entries), f"M-Bus {title}", "text/plain", "txt")


def declared_simulated(rig_path: Path) -> bool:
    """The rig file's ``simulated`` flag: it alone decides whether the evidence says "simulated bench"
    (an unreadable rig file is not claimed to be simulated; the run stops on it with its message)."""
    try:
        from harness.rig import load_rig

        return bool(load_rig(rig_path).simulated)
    except Exception:  # the rig fixture reports the rig file's problem
        return False


def format_transcript(entries: Iterable[TranscriptEntry]) -> str:
    """Human-readable transcript: time, direction, latency, bytes, decoded summary."""
    lines = []
    for e in entries:
        lat = f" +{e.latency_ms:.2f}ms" if e.latency_ms is not None else ""
        lines.append(f"{e.t_us / 1e6:10.6f} {e.direction}{lat}  {e.data}  | {e.summary}")
    return "\n".join(lines)


_STATE_KEY = pytest.StashKey[SuiteState]()


_AMBIENT_KINDS = (("°C", "temperature"), ("%RH", "humidity"), ("hPa", "pressure"))


def parse_ambient(text: str | None) -> dict[str, str]:
    """``"23 °C, 45 %RH"`` -> ``{"temperature": "23 °C", "humidity": "45 %RH"}``; other parts are notes."""
    if not text:
        return {}
    found: dict[str, str] = {}
    for n, part in enumerate(p.strip() for p in text.split(",") if p.strip()):
        kind = next((name for unit, name in _AMBIENT_KINDS if part.endswith(unit)), None)
        found[kind or f"note {n + 1}"] = part
    return found


def suite_state(config: pytest.Config) -> SuiteState:
    """The plugin's session state (options, catalogue, run folder) for fixtures."""
    return config.stash[_STATE_KEY]


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _allure_attach(body: str, name: str, mime: str, extension: str) -> None:
    try:
        from allure_commons._core import plugin_manager
    except ImportError:  # pragma: no cover
        return
    plugin_manager.hook.attach_data(body=body, name=name, attachment_type=mime, extension=extension)


#: measurement name -> plot of harness.report.plots drawn for it (attached to the test in Allure)
PLOTTED = {
    "quiescent_current": "quiescent_current_plot",
    "reply_latency": "reply_latency_plot",
    "rate_detection_time": "rate_detection_plot",
}


def attach_plots(measurements: list[Measurement]) -> None:
    """Attach the evidence report's plot of a test's well-known measurements to its Allure result."""
    names = {m.name for m in measurements} & PLOTTED.keys()
    if not names:
        return
    try:
        from harness.report import plots
    except ImportError:  # the report package is optional for the suite
        return
    for name in sorted(names):
        try:
            png = getattr(plots, PLOTTED[name])(measurements)
        except Exception:  # a plot is a convenience; the measurements themselves are already recorded
            continue
        if png:
            _allure_attach_bytes(png, f"{name} plot")


def _allure_attach_bytes(body: bytes, name: str) -> None:
    try:
        from allure_commons._core import plugin_manager
        from allure_commons.types import AttachmentType
    except ImportError:  # pragma: no cover
        return
    plugin_manager.hook.attach_data(body=body, name=name, attachment_type=AttachmentType.PNG, extension="png")


def _allure_requirement_links(state: SuiteState, ids: list[str]) -> None:
    try:
        import allure
    except ImportError:  # pragma: no cover
        return
    known = state.catalogue.by_id()
    for rid in ids:
        allure.dynamic.link(rid, link_type="tms", name=rid)
        allure.dynamic.story(rid)
        if rid in known:
            allure.dynamic.feature(known[rid].area)


# --- hooks ---------------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cmi-hil", "CMi1020 conformance suite")
    group.addoption("--rig", dest="cmi_rig", default=DEFAULT_RIG, help="rig file (default: %(default)s)")
    group.addoption(
        "--dut-profile",
        dest="cmi_dut_profile",
        default=None,
        help="device profile YAML of the DUT (default: the shipped CMi1020/E350 profile)",
    )
    group.addoption(
        "--fault",
        dest="cmi_faults",
        action="append",
        default=[],
        metavar="NAME",
        help="seed an emulator fault on a simulated rig (repeatable)",
    )
    group.addoption(
        "--evidence-dir",
        dest="cmi_evidence_dir",
        default=None,
        help="write the run folder (run.json, measurements, tests, transcripts) here",
    )
    group.addoption(
        "--requirements",
        dest="cmi_requirements",
        default=None,
        help="requirement catalogue YAML (default: harness/requirements.yaml)",
    )
    group.addoption(
        "--time-scale",
        dest="cmi_time_scale",
        type=float,
        default=None,
        help="simulated rigs: override the emulator's time scale (0.1 = every timer 10x faster)",
    )
    group.addoption(
        "--supply-step",
        dest="cmi_supply_step",
        type=float,
        default=3.0,
        help="step of the 21-42 V supply sweep in volts (default: %(default)s)",
    )
    group.addoption(
        "--nightly",
        dest="cmi_nightly",
        action="store_true",
        default=False,
        help="mark the run as a nightly run (operator prompts are skipped)",
    )
    group.addoption("--operator", dest="cmi_operator", default=None, help="who runs the test (in the report)")
    group.addoption(
        "--ambient",
        dest="cmi_ambient",
        default=None,
        metavar="TEXT",
        help='ambient conditions, e.g. "23 °C, 45 %%RH, 1013 hPa" (in the report)',
    )
    group.addoption(
        "--dut-serial", dest="cmi_dut_serial", default=None, help="serial number on the DUT label"
    )
    group.addoption(
        "--typed-command",
        dest="cmi_typed_command",
        default=None,
        help="the command as the user typed it (cmi-hil run passes its own), shown in the report",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the requirement ids this test verifies")
    config.addinivalue_line(
        "markers",
        f"{CAPABILITY_MARKER}(*capabilities): bench capabilities the test needs "
        "(supply, polarity, dmm, ac_source, mains, button, led, meter_model); "
        "skipped with a reason if absent",
    )
    state = SuiteState(config)
    config.stash[_STATE_KEY] = state
    _CONFIGS.append(config)
    if state.run_dir is not None:  # a suite run: a signal makes the bench safe first (harness.interrupts)
        config.stash[_SIGNALS_KEY] = interrupts.install()


_SIGNALS_KEY = pytest.StashKey[bool]()


def pytest_unconfigure(config: pytest.Config) -> None:
    if config in _CONFIGS:
        _CONFIGS.remove(config)
    if config.stash.get(_SIGNALS_KEY, False):
        interrupts.uninstall()


def requirement_ids(item: pytest.Item) -> list[str]:
    """Requirement ids an item cites (all ``requirement`` markers, in order, without duplicates)."""
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        for arg in mark.args:
            for rid in (arg,) if isinstance(arg, str) else arg:
                if rid not in ids:
                    ids.append(rid)
    return ids


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = suite_state(config)
    testcases = (state.rootpath / "testcases").resolve()
    for item in items:
        state.cited[item.nodeid] = requirement_ids(item)
        if testcases in Path(str(item.path)).resolve().parents:
            state.suite_items = True


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """The number of tests selected goes into run.json at once: a run in progress shows n of N."""
    state = suite_state(session.config)
    if state.run_info is not None and state.run_dir is not None:
        state.run_info = state.run_info.model_copy(update={"collected": len(session.items)})
        write_run_info(state.run_dir, state.run_info)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Deselected tests (``-k``, ``-m``, ``--requirement``) do not count as covering their requirements."""
    if not items:
        return
    state = suite_state(items[0].config)
    for item in items:
        state.cited.pop(item.nodeid, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    state = suite_state(item.config)
    rec = Recorder(
        test=item.nodeid, requirements=tuple(state.cited.get(item.nodeid, ())), sink=state.record_measurement
    )
    record = _TestRecord(recorder=rec, started=time.monotonic())
    state.tests[item.nodeid] = record
    with recording(rec):
        try:
            return (yield)
        except (pytest.exit.Exception, KeyboardInterrupt) as exc:
            # pytest.exit from a fixture (bench refused, rig file unusable) or Ctrl-C/SIGTERM: no report
            # of the phase exists, so keep why the test stopped
            if isinstance(exc, KeyboardInterrupt):
                record.interrupted = state.interrupted = True
            else:
                record.aborted = str(getattr(exc, "msg", exc))
                record.aborted_kind = error_kind(exc) or "harness"
            raise
        finally:
            _finish_test(state, item, record)


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = suite_state(item.config)
    unknown = [rid for rid in state.cited.get(item.nodeid, []) if rid not in state.catalogue.by_id()]
    if unknown:
        pytest.fail(
            f"{item.nodeid} cites unknown requirement id(s) {', '.join(unknown)}; "
            "use an id of harness/requirements.yaml or add the requirement there",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    state = suite_state(item.config)
    _allure_requirement_links(state, state.cited.get(item.nodeid, []))
    try:
        result = yield
    finally:
        rec = state.tests[item.nodeid].recorder
        if rec is not None and rec.measurements and getattr(item.config.option, "allure_report_dir", None):
            attach_plots(rec.measurements)
    if rec is not None and rec.deferred_failures:
        lines = "\n".join(describe(m) for m in rec.deferred_failures)
        raise AssertionError(f"{len(rec.deferred_failures)} measurement(s) failed:\n{lines}")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    state = suite_state(item.config)
    record = state.tests.get(item.nodeid)
    if record is not None:
        record.reports[report.when] = report
        if call.excinfo is not None and report.failed:
            kind = error_kind(call.excinfo.value)
            if kind is not None:
                record.error_kinds[report.when] = kind
        if report.when == "setup":
            funcargs = getattr(item, "funcargs", None) or {}
            record.station = funcargs.get("station")
            record.station_reopens = _reopens(record.station)
    return report


def _reopens(station: Any) -> int:
    count = getattr(station, "reopen_count", 0)
    return count if isinstance(count, int) else 0


#: exception types (module, class name) charged to the bench: instruments, the serial line, the rig lock,
#: the rig file, the bench layer (harness.rig.bench.BenchError); resolved lazily so the plugin imports none
_BENCH_ERRORS = (
    ("harness.instruments.errors", "InstrumentError"),
    ("harness.rig.lock", "RigBusy"),
    ("harness.rig.place", "PlaceError"),
    ("harness.rig.config", "RigFileError"),
    ("harness.rig.bench", "BenchError"),
    ("harness.master.errors", "PortError"),
    ("serial", "SerialException"),
    ("pyvisa.errors", "Error"),
)
#: exception types that are bugs of the harness (never of the module): a wrong call, a missing name
_HARNESS_ERRORS: tuple[type[BaseException], ...] = (
    TypeError,
    AttributeError,
    NameError,
    ImportError,
    NotImplementedError,
    RecursionError,
)


def error_kind(exc: BaseException) -> ErrorKind | None:
    """Who an exception is charged to: "bench" (instrument unreachable, serial line or emulator gone, rig
    lock refused, rig file unusable), "harness" (a bug of the harness, a fixture that does not exist),
    or None: the module (an assertion, a missing or wrong reply). A ``pytest.exit`` is classified by the
    exception it was raised from."""
    import sys

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | BrokenPipeError):
            return "bench"  # the socket of an instrument or of the M-Bus port (RFC 2217) went away
        for module, name in _BENCH_ERRORS:
            cls = getattr(sys.modules.get(module), name, None)
            if isinstance(cls, type) and isinstance(current, cls):
                return "bench"
        if isinstance(current, _HARNESS_ERRORS) or type(current).__name__ == "FixtureLookupError":
            return "harness"
        if not isinstance(current, pytest.exit.Exception):
            return None
        current = current.__cause__ or current.__context__
    return None


def _outcome(record: _TestRecord) -> tuple[Outcome, str | None, ErrorKind | None]:
    """Outcome, message and error kind of a test from its phase reports (harness.verdict judges them)."""
    reports = record.reports
    setup, call, teardown = reports.get("setup"), reports.get("call"), reports.get("teardown")
    for when, rep, failed_as in (
        ("setup", setup, "error"),
        ("call", call, "failed"),
        ("teardown", teardown, "error"),
    ):
        if rep is not None and rep.failed:
            kind = record.error_kinds.get(when)
            return ("error" if kind else failed_as), _message(rep), kind  # type: ignore[return-value]
    if record.aborted is not None:
        return "error", record.aborted, record.aborted_kind
    if record.interrupted:
        return "interrupted", _interrupt_message(), None
    reopened = _reopens(record.station) - record.station_reopens
    if record.station is not None and reopened > 0:
        return (
            "error",
            f"the DUT station was reopened {reopened} time(s) during the test (a fresh bench replaced the "
            "one the test started on): its result does not judge the module",
            "bench",
        )
    for rep in (setup, call):
        if rep is not None and rep.skipped:
            return "skipped", _message(rep), None
    if call is None:
        return "interrupted", _interrupt_message(), None
    return "passed", None, None


def _interrupt_message() -> str:
    signalled = interrupts.record()
    by = signalled.signal_name if signalled else "an interrupt"
    return f"interrupted by {by} before the test finished: not verified"


def _message(rep: pytest.TestReport) -> str | None:
    if rep.skipped and isinstance(rep.longrepr, tuple):
        return str(rep.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(rep.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(rep.longrepr)[:2000] if rep.longrepr else None


def _finish_test(state: SuiteState, item: pytest.Item, record: _TestRecord) -> None:
    outcome, message, charged_to = _outcome(record)
    result = TestResult(
        nodeid=item.nodeid,
        outcome=outcome,
        duration_s=round(time.monotonic() - record.started, 6),
        requirements=state.cited.get(item.nodeid, []),
        message=message,
        error_kind=charged_to,
    )
    state.results.append(result)
    if record.recorder is not None:
        for kind, seconds in record.recorder.mandated_waits_s.items():
            state.mandated_waits_s[kind] = state.mandated_waits_s.get(kind, 0.0) + seconds
        for key, seconds in record.recorder.lane_waits_s.items():
            state.lane_waits_s[key] = state.lane_waits_s.get(key, 0.0) + seconds
        total = sum(record.recorder.mandated_waits_s.values())
        state.test_waits_s[item.nodeid] = {
            "wall_s": result.duration_s,
            "mandated_s": round(total, 6),
            "critical_path_s": round(critical_path_s(total, record.recorder.lane_waits_s), 6),
        }
    if state.run_dir is not None:
        append_jsonl(state.run_dir / TESTS_FILE, result)


def run_decision(state: SuiteState) -> verdict_rule.RunDecision:
    """The run's verdict by the one rule (harness.verdict) from what this session recorded."""
    simulated = state.run_info.rig.simulated if state.run_info is not None else True
    reqs = [r.as_evidence(state._assumed().get(r.id, ())) for r in state.catalogue.requirements]
    classes = {
        rid: v.verdict
        for rid, v in requirement_verdicts(
            reqs, state.results, state.measurements, simulated_bench=simulated
        ).items()
        if v.verdict != "retired"
    }
    interrupted = state.interrupted or bool(getattr(state.run_info, "interrupted", False))
    return verdict_rule.run_verdict(classes, state.results, state.measurements, interrupted=interrupted)


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Ctrl-C or SIGTERM (harness.rig.bench turns it into an interrupt): the run is INCOMPLETE. pytest calls
    this hook for ``pytest.exit`` too; that is a refusal (bench, rig file), not an interruption."""
    if isinstance(excinfo.value, pytest.exit.Exception):
        return
    for config in _CONFIGS:
        suite_state(config).interrupted = True


_CONFIGS: list[pytest.Config] = []


def _record_not_run(session: pytest.Session, state: SuiteState) -> None:
    """Selected tests the run never started, recorded as "not run": their requirements are not verified."""
    done = {r.nodeid for r in state.results}
    for item in getattr(session, "items", []) or []:
        if item.nodeid in done:
            continue
        result = TestResult(
            nodeid=item.nodeid,
            outcome="not run",
            duration_s=0.0,
            requirements=state.cited.get(item.nodeid, []),
            message="the run ended before this test started",
        )
        state.results.append(result)
        if state.run_dir is not None:
            append_jsonl(state.run_dir / TESTS_FILE, result)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Generator[None, object, object]:
    """Write the run's end (before the session's fixtures are torn down); after a signal, a teardown that
    cannot restore the DUT on the halted bench is reported, not raised: the bench is already safe."""
    _write_run_end(session, exitstatus)
    try:
        return (yield)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # pytest.fail in a teardown is an OutcomeException, not an Exception
        if interrupts.record() is None:
            raise
        print(f"cmi-hil: teardown after the interrupt: {exc}", file=sys.stderr)
        return None


def _write_run_end(session: pytest.Session, exitstatus: int) -> None:
    state = suite_state(session.config)
    if state.run_dir is None:
        return
    wall_s = time.monotonic() - state.t0
    signalled = interrupts.record()
    if signalled is not None or exitstatus == pytest.ExitCode.INTERRUPTED:
        state.interrupted = True
    _record_not_run(session, state)
    decision = run_decision(state)
    reason = decision.reason
    if decision.causes:
        reason += ": " + "; ".join(decision.causes)
    if state.run_info is not None:
        state.run_info = state.run_info.model_copy(
            update={
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "duration_s": round(wall_s, 3),
                "verdict": decision.verdict,
                "verdict_reason": reason,
                "interrupted": state.interrupted,
                "signal": signalled.signal_name if signalled else None,
            }
        )
        write_run_info(state.run_dir, state.run_info)
    mandated = sum(state.mandated_waits_s.values())
    critical = critical_path_s(mandated, state.lane_waits_s)
    timing = {
        "wall_s": round(wall_s, 3),
        "time_scale": state.time_scale,
        "mandated_waits_s": {k: round(v, 6) for k, v in sorted(state.mandated_waits_s.items())},
        "mandated_total_s": round(mandated, 6),
        "mandated_total_scaled_s": round(mandated * state.time_scale, 6),
        "ratio_wall_to_mandated": round(wall_s / mandated, 4) if mandated else None,
        "ratio_wall_to_mandated_scaled": round(wall_s / (mandated * state.time_scale), 4)
        if mandated
        else None,
        # waits on independent lanes of one overlap group counted once (harness.measure.critical_path_s)
        "critical_path_s": round(critical, 6),
        "overlap_saved_s": round(mandated - critical, 6),
        "ratio_wall_to_critical_path_scaled": round(wall_s / (critical * state.time_scale), 4)
        if critical
        else None,
        "per_test": state.test_waits_s,
    }
    (state.run_dir / TIMING_FILE).write_text(json.dumps(timing, indent=2), encoding="utf-8")
    cov = coverage(state.catalogue, state.cited)
    (state.run_dir / COVERAGE_FILE).write_text(cov.model_dump_json(indent=2), encoding="utf-8")
    _write_allure_environment(session.config, state)


def _write_allure_environment(config: pytest.Config, state: SuiteState) -> None:
    alluredir = getattr(config.option, "allure_report_dir", None)
    if not alluredir or state.run_info is None:
        return
    info = state.run_info
    props = {
        "rig": info.rig.name,
        "rig.file": info.rig.file,
        "rig.simulated": str(info.rig.simulated).lower(),
        "mbus.port": info.rig.mbus_port or "",
        "faults": ",".join(info.rig.faults) or "none",
        "dut.id": info.dut.id or "",
        "dut.manufacturer": info.dut.manufacturer or "",
        "dut.version": "" if info.dut.version is None else str(info.dut.version),
        "dut.medium": "" if info.dut.medium is None else f"0x{info.dut.medium:02X}",
        "dut.profile": info.dut.profile or "shipped",
        "harness.version": info.harness_version,
        "git.commit": info.git_commit or "",
        "time_scale": str(state.time_scale),
    }
    for inst in info.rig.instruments:
        props[f"instrument.{inst.name}"] = (
            f"{inst.idn or inst.resource} (cal due {inst.calibration_due or '-'})"
        )
    path = Path(alluredir)
    path.mkdir(parents=True, exist_ok=True)
    lines = [f"{k}={_escape_property(v)}" for k, v in props.items()]
    (path / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _escape_property(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", " ")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = suite_state(config)
    if not state.active:
        return
    cov = coverage(state.catalogue, state.cited)
    write_coverage(terminalreporter, cov)
    write_assumptions(terminalreporter, state._ledger())
    info = state.run_info
    if info is not None and info.verdict is not None:
        terminalreporter.section("run verdict")
        terminalreporter.write_line(f"{info.verdict.upper()}: {info.verdict_reason or ''}")


def write_assumptions(tr: Any, ledger: AssumptionLedger) -> None:
    """Which assumed device-profile values the profile in force replaced (old -> new), which remain."""
    tr.section("device-profile assumptions")
    tr.write_line(ledger.summary())
    for o in ledger.overridden:
        tr.write_line(f"  overridden {o.path}: {o.old!r} -> {o.new!r}")
    if ledger.confirmed:
        tr.write_line(f"  confirmed by the profile in force: {', '.join(ledger.confirmed)}")
    tr.write_line(f"  in force: {', '.join(ledger.in_force) or 'none'}")


def write_coverage(tr: Any, cov: Coverage) -> None:
    """Print traceability both ways: requirements with no test, tests with no requirement, unknown ids."""
    tr.section("requirement coverage")
    covered = sum(1 for tests in cov.tests_by_requirement.values() if tests)
    tr.write_line(
        f"{covered} requirement(s) cited by the collected tests; "
        f"{len(cov.external)} verified by external evidence ({', '.join(cov.external) or 'none'})"
    )
    if cov.uncovered:
        tr.write_line(
            f"requirements no collected test covers ({len(cov.uncovered)}): {', '.join(cov.uncovered)}"
        )
    else:
        tr.write_line("every testable requirement is cited by at least one collected test")
    if cov.untraced_tests:
        tr.write_line(f"tests citing no requirement ({len(cov.untraced_tests)}):")
        for test in cov.untraced_tests:
            tr.write_line(f"  {test}")
    for test, ids in cov.unknown_ids.items():
        tr.write_line(f"unknown requirement id(s) {', '.join(ids)} cited by {test}")
