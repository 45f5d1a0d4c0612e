"""Every way a `cmi-hil run` can end leaves the bench safe and the evidence whole (issue 12).

The bench is served by `cmi-hil simbench` in a process of its own and declared real in its rig file, so
the instruments outlive the harness and are read the way a lab would read them: over pyvisa, ``READ?``
on the series DMM (bus current), ``OUTP?`` on the AC source, ``ROUT:CLOS?`` on the relay card while the
harness still runs, and every supply output (``INST:NSEL``, ``OUTP?``, ``VOLT?``) once it is gone (the
output selection is shared with the harness, so it is not touched before).

Each test starts `cmi-hil run` in a process group of its own on a subset that keeps the supply at 36 V and
the AC source on every rate input for the detection time, waits until the bench is energised, signals it,
and checks: the bench safe within 2 s of the signal and staying safe; the exit status; run.json
incomplete + interrupted with the signal's name and a finish time; report and manifest present and
`cmi-hil verify` passing; the results-database row; the rig lock free; no process left in the group. The
observed rows are printed as the exit-path table at the end of the module.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main as cli_main
from harness.instruments.visa import open_resource
from harness.report.finalize import MANIFEST, REPORT, not_written
from harness.rig import RigLock

REPO = Path(__file__).resolve().parents[2]
#: supply on at 36 V and 23 VAC (just below the threshold) on every rate input for the detection time
SUBSET = "test_level_just_below_the_threshold_is_low_on_every_input"
#: issue 12: outputs off, relays open and AC source off within 2 s (real time) of the signal
SAFE_WITHIN_S = 2.0
#: bus current above this: the DUT is powered (EN 13757-2 unit load 1.5 mA; the DUT draws about that)
POWERED_ABOVE_A = 0.5e-3
#: bus current below this: nothing powers the DUT
UNPOWERED_BELOW_A = 0.05e-3
POLL_S = 0.02
START_TIMEOUT_S = 120.0
EXIT_TIMEOUT_S = 120.0
#: the harness sees a real bench and runs in real time: the emulator must too for its verdicts to hold
SIMBENCH_TIME_SCALE = 1.0

TABLE: list[dict[str, str]] = []


# -- the bench in its own process -------------------------------------------------------------------
@dataclass
class Live:
    """What the instruments show while a harness may still be connected (no shared setting touched)."""

    bus_current_a: float
    ac_on: bool
    closed: list[int]

    @property
    def safe(self) -> bool:
        return not self.ac_on and not self.closed and abs(self.bus_current_a) < UNPOWERED_BELOW_A

    @property
    def energised(self) -> bool:
        return self.ac_on and bool(self.closed) and self.bus_current_a > POWERED_ABOVE_A


class Instruments:
    """pyvisa sessions to the simbench's instruments, opened the way the harness opens a lab's."""

    def __init__(self, rig_file: Path) -> None:
        data = yaml.safe_load(rig_file.read_text(encoding="utf-8"))
        self.rig_name: str = data["name"]
        self.supply_outputs = int(data["instruments"]["supply"]["outputs"])
        wiring = data["wiring"]
        self.channels = sorted(
            [int(w["channel"]) for w in wiring["rate_inputs"].values()] + wiring["polarity"]["relay_channels"]
        )
        self.sessions = {
            role: open_resource(cfg["resource"], timeout_s=5.0) for role, cfg in data["instruments"].items()
        }

    def query(self, role: str, command: str) -> str:
        session = self.sessions[role]
        session.write(command)
        return str(session.read()).strip()

    def live(self) -> Live:
        states = self.query("relays", f"ROUT:CLOS? (@{','.join(map(str, self.channels))})").split(",")
        return Live(
            bus_current_a=float(self.query("dmm", "READ?")),
            ac_on=self.query("ac_source", "OUTP?") == "1",
            closed=[c for c, s in zip(self.channels, states, strict=True) if s == "1"],
        )

    def supply_outputs_on(self) -> list[int]:
        """Outputs switched on (selects each output: only once no harness is connected)."""
        on = []
        for output in range(1, self.supply_outputs + 1):
            self.sessions["supply"].write(f"INST:NSEL {output}")
            if self.query("supply", "OUTP?") == "1":
                on.append(output)
        return on

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()


@dataclass
class Simbench:
    rig: Path
    lock_dir: Path
    reports: Path
    instruments: Instruments


@pytest.fixture(scope="module")
def simbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simbench]:
    root = tmp_path_factory.mktemp("simbench")
    rig = root / "simbench.yaml"
    log = (root / "simbench.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "simbench", "--rig-out", str(rig)]
        + ["--time-scale", str(SIMBENCH_TIME_SCALE)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("# simbench ready"):
                break
        else:
            raise AssertionError(f"simbench did not start: {(root / 'simbench.log').read_text()}")
        instruments = Instruments(rig)
        try:
            yield Simbench(rig, root / "locks", root / "reports", instruments)
        finally:
            instruments.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module", autouse=True)
def exit_path_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print the observed exit-path table after the module (issue 12, evidence required)."""
    yield
    if not TABLE:
        return
    columns = list(TABLE[0])
    widths = {c: max(len(c), *(len(row[c]) for row in TABLE)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(row[c].ljust(widths[c]) for c in columns) for row in TABLE]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line("exit paths of cmi-hil run (observed):")
            for line in lines:
                reporter.write_line(line)
    out = os.environ.get("CMI_HIL_EXIT_PATH_TABLE")
    if out:
        Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- the harness under test -------------------------------------------------------------------------
@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def out(self) -> str:
        return self.stdout.read_text(encoding="utf-8", errors="replace")

    def err(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def run_dir(self) -> Path:
        match = re.search(r"run folder (\S+)", self.out())
        assert match, f"no run folder announced:\n{self.out()}\n{self.err()}"
        return Path(match.group(1))


def start_run(bench: Simbench, name: str) -> Run:
    stdout, stderr = bench.reports.parent / f"{name}.out", bench.reports.parent / f"{name}.err"
    env = {**os.environ, "CMI_HIL_LOCK_DIR": str(bench.lock_dir), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "harness.cli", "run", "--rig", str(bench.rig), "-k", SUBSET]
    cmd += ["--reports-dir", str(bench.reports)]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=err, env=env, start_new_session=True)
    return Run(proc, stdout, stderr)


def wait_until(bench: Simbench, run: Run, predicate: Any, what: str) -> Live:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if run.proc.poll() is not None:
            raise AssertionError(
                f"the run ended (rc {run.proc.returncode}) before {what}:\n{run.out()[-3000:]}\n{run.err()}"
            )
        live = bench.instruments.live()
        if predicate(live):
            return live
        time.sleep(POLL_S)
    run.proc.kill()
    raise AssertionError(f"{what} not seen within {START_TIMEOUT_S} s:\n{run.err()}")


def send(run: Run, signum: int, target: str) -> float:
    if target == "group":
        os.killpg(run.proc.pid, signum)
    else:
        os.kill(run.proc.pid, signum)
    return time.monotonic()


@dataclass
class Watch:
    safe_after_s: float | None  # None: never seen safe
    reenergised: bool
    returncode: int


def watch_until_exit(bench: Simbench, run: Run, t_signal: float, *, then: Any = None) -> Watch:
    """Poll the instruments until the run exits: when the bench went safe, whether it was energised again.
    ``then(run)`` is called on every poll once the bench is safe (e.g. to send a second signal)."""
    safe_at: float | None = None
    reenergised = False
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    while run.proc.poll() is None and time.monotonic() < deadline:
        live = bench.instruments.live()
        now = time.monotonic()
        if live.safe and safe_at is None:
            safe_at = now
        elif not live.safe and safe_at is not None:
            reenergised = True
        if safe_at is not None and then is not None:
            then(run)
        time.sleep(POLL_S)
    if run.proc.poll() is None:
        run.proc.kill()
        raise AssertionError(f"the run did not exit within {EXIT_TIMEOUT_S} s:\n{run.err()}")
    if safe_at is None and bench.instruments.live().safe:
        safe_at = time.monotonic()
    return Watch(None if safe_at is None else safe_at - t_signal, reenergised, run.proc.returncode)


def processes_in_group(pgid: int) -> list[int]:
    """Processes whose process group is ``pgid`` (/proc/<pid>/stat field 5)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


def db_row(reports: Path, run_id: str) -> dict[str, Any] | None:
    db = reports / "results.sqlite"
    if not db.exists():
        return None
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return dict(row) if row is not None else None


def lock_free(bench: Simbench) -> bool:
    lock = RigLock(bench.instruments.rig_name, directory=bench.lock_dir)
    try:
        lock.acquire()
    except Exception:
        return False
    lock.release()
    return True


def verify_passes(run_dir: Path) -> bool:
    return cli_main(["verify", str(run_dir)]) == 0


def evidence_row(name: str, target: str, watch: Watch, run: Run, bench: Simbench) -> dict[str, Any]:
    """Everything the checks need, observed after the harness is gone."""
    run_dir = run.run_dir()
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    row = db_row(bench.reports, run_dir.name)
    return {
        "run_dir": run_dir,
        "info": info,
        "supply_on": bench.instruments.supply_outputs_on(),
        "live": bench.instruments.live(),
        "report": (run_dir / "report.html").exists() and (run_dir / "report.pdf").exists(),
        "manifest": (run_dir / "manifest.json").exists(),
        "verify": verify_passes(run_dir) if (run_dir / "manifest.json").exists() else False,
        "db": row,
        "lock_free": lock_free(bench),
        "leftovers": processes_in_group(run.proc.pid),
        "name": name,
        "target": target,
        "watch": watch,
    }


def table_row(e: dict[str, Any], *, bench_after: str | None = None, note: str = "") -> None:
    watch: Watch = e["watch"]
    live: Live = e["live"]
    safe = not e["supply_on"] and live.safe
    state = "safe" if safe else f"NOT SAFE (supply {e['supply_on']}, {live})"
    if watch.safe_after_s is not None:
        state += f" {watch.safe_after_s:.2f} s after"
    if watch.reenergised:
        state += ", energised again"
    db = e["db"]
    db_text = (
        "-"
        if db is None
        else f"{db.get('verdict')}" + (f", interrupted={db['interrupted']}" if "interrupted" in db else "")
    )
    TABLE.append(
        {
            "signal": e["name"],
            "target": e["target"],
            "bench after": bench_after or state,
            "exit": str(watch.returncode),
            "verdict": f"{e['info'].get('verdict')} interrupted={e['info'].get('interrupted')}",
            "report": "yes" if e["report"] else "no",
            "manifest": ("verified" if e["verify"] else "yes, verify FAILS") if e["manifest"] else "no",
            "DB row": db_text,
            "lock": "released" if e["lock_free"] else "HELD",
            "leftovers": str(len(e["leftovers"])),
            "note": note,
        }
    )


def assert_safe_and_whole(e: dict[str, Any], signame: str, exit_status: int) -> None:
    watch: Watch = e["watch"]
    assert watch.safe_after_s is not None and watch.safe_after_s <= SAFE_WITHIN_S, (
        f"bench safe {watch.safe_after_s} s after {signame} (limit {SAFE_WITHIN_S} s)"
    )
    assert not watch.reenergised, "the bench was energised again after the signal"
    assert e["supply_on"] == [] and e["live"].safe
    assert watch.returncode == exit_status
    info = e["info"]
    assert info["verdict"] == "incomplete" and info["interrupted"] is True
    assert info["signal"] == signame and info["finished"]
    assert e["lock_free"], "the rig lock is still held"
    assert e["leftovers"] == [], f"processes left behind: {e['leftovers']}"
    assert e["db"] is not None, "no results-database row"
    assert e["db"]["verdict"] == "incomplete"
    if "interrupted" in e["db"]:  # the column comes with the results-database work
        assert e["db"]["interrupted"] in (1, True)


# -- the exit paths ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("signum", "target"),
    [
        (signal.SIGINT, "wrapper"),
        (signal.SIGINT, "group"),
        (signal.SIGTERM, "wrapper"),
        (signal.SIGTERM, "group"),
    ],
    ids=["SIGINT-wrapper", "SIGINT-group", "SIGTERM-wrapper", "SIGTERM-group"],
)
def test_signal_leaves_the_bench_safe_and_the_evidence_whole(
    simbench: Simbench, signum: int, target: str
) -> None:
    name = signal.Signals(signum).name
    run = start_run(simbench, f"{name}-{target}")
    wait_until(simbench, run, lambda live: live.energised, "the bench energised")
    t_signal = send(run, signum, target)
    watch = watch_until_exit(simbench, run, t_signal)
    e = evidence_row(name, target, watch, run, simbench)
    table_row(e)
    assert_safe_and_whole(e, name, 128 + signum)
    assert e["report"] and e["manifest"] and e["verify"]
    tests = (e["run_dir"] / "tests.jsonl").read_text(encoding="utf-8")
    assert f"interrupted by {name}" in tests, "the test cut short is not recorded as interrupted"
    assert "Simulated bench" not in (e["run_dir"] / "report.html").read_text(encoding="utf-8")


def test_second_sigint_during_finalization_keeps_the_bench_safe_and_names_what_is_missing(
    simbench: Simbench,
) -> None:
    run = start_run(simbench, "SIGINT-twice")
    wait_until(simbench, run, lambda live: live.energised, "the bench energised")
    t_signal = send(run, signal.SIGINT, "wrapper")
    sent_second: list[float] = []

    def second_sigint_once_finalizing(r: Run) -> None:
        # print_summary's "tests:" line is printed just before the report is rendered and sealed
        if not sent_second and re.search(r"^tests: ", r.out(), re.MULTILINE):
            sent_second.append(send(r, signal.SIGINT, "wrapper"))

    watch = watch_until_exit(simbench, run, t_signal, then=second_sigint_once_finalizing)
    e = evidence_row("SIGINT x2", "wrapper", watch, run, simbench)
    match = re.search(r"evidence NOT written: (.+?)\. Render", run.err())
    missing = [m.strip() for m in match.group(1).split(",")] if match else []
    table_row(e, note=f"2nd SIGINT in finalization; named missing: {', '.join(missing) or '-'}")
    assert sent_second, "the run never reached finalization"
    assert match, f"the run did not say which evidence was not written:\n{run.err()}"
    assert MANIFEST in missing and not e["manifest"]  # sealed last: an aborted finalization has none
    if REPORT not in missing:
        assert e["report"]
    written = [step for step in not_written([]) if step not in missing]
    if "results database row" in written:
        assert e["db"] is not None
    watch_ok = watch.safe_after_s is not None and watch.safe_after_s <= SAFE_WITHIN_S
    assert watch_ok and not watch.reenergised and e["supply_on"] == [] and e["live"].safe
    assert watch.returncode == 130
    assert e["info"]["interrupted"] is True and e["info"]["verdict"] == "incomplete"
    assert e["lock_free"] and e["leftovers"] == []


def test_sigkill_then_the_next_run_recovers_the_lock_and_safes_the_bench_first_then_sighup(
    simbench: Simbench,
) -> None:
    """SIGKILL cannot be caught: the bench stays energised and the lock file names a dead holder. The next
    run takes the rig and makes the bench safe before its first test energises it; that run is then ended
    by SIGHUP (the terminal went away), which must leave bench and evidence as every other signal does."""
    killed = start_run(simbench, "SIGKILL")
    wait_until(simbench, killed, lambda live: live.energised, "the bench energised")
    os.killpg(killed.proc.pid, signal.SIGKILL)
    killed.proc.wait(timeout=30)
    time.sleep(0.3)
    assert simbench.instruments.live().energised, "after SIGKILL the bench stays as it was"
    assert processes_in_group(killed.proc.pid) == []
    killed_info = json.loads((killed.run_dir() / "run.json").read_text(encoding="utf-8"))
    assert killed_info.get("verdict") is None  # what SIGKILL leaves: a run folder without a verdict

    recovery = start_run(simbench, "SIGHUP-after-SIGKILL")
    t_start = time.monotonic()
    wait_until(simbench, recovery, lambda live: live.safe, "the next run making the bench safe")
    safe_after_start = time.monotonic() - t_start
    # energised (left by the killed run) -> safe -> energised by its own test: safe before the test
    wait_until(simbench, recovery, lambda live: live.energised, "the next run's own test energising")
    TABLE.append(
        {
            "signal": "SIGKILL",
            "target": "group",
            "bench after": f"left ON (uncatchable); next run safe {safe_after_start:.1f} s after its start, "
            "before its first test",
            "exit": str(killed.proc.returncode),
            "verdict": "none (run.json without verdict)",
            "report": "no",
            "manifest": "no",
            "DB row": "-",
            "lock": "recovered by the next run",
            "leftovers": str(len(processes_in_group(killed.proc.pid))),
            "note": "",
        }
    )
    t_signal = send(recovery, signal.SIGHUP, "wrapper")
    watch = watch_until_exit(simbench, recovery, t_signal)
    assert f"lock recovered from pid {killed.proc.pid}" in recovery.out()
    e = evidence_row("SIGHUP", "wrapper", watch, recovery, simbench)
    table_row(e, note="the run after the SIGKILL")
    assert_safe_and_whole(e, "SIGHUP", 128 + signal.SIGHUP)
    assert e["report"] and e["manifest"] and e["verify"]


# -- what the evidence claims about the bench -------------------------------------------------------
def test_the_rig_files_simulated_flag_alone_decides_the_simulated_bench_banner(tmp_path: Path) -> None:
    """A rig declared real whose instruments do not answer is not a simulated bench; a simulated rig is one
    even when no test opened its bench (issue 12)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    real = tmp_path / "bench9.yaml"
    real.write_text(
        yaml.safe_dump(
            {
                "name": "bench9",
                "simulated": False,
                "instruments": {
                    "supply": {"resource": f"TCPIP::127.0.0.1::{closed_port}::SOCKET", "timeout_s": 1.0}
                },
                "mbus": {"url": "loop://"},
            }
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "CMI_HIL_LOCK_DIR": str(tmp_path / "locks")}
    # the simulated rig runs no test (-k matches none): its bench is never opened
    selection = {real: SUBSET, REPO / "rigs" / "sim.yaml": "no_test_has_this_name"}
    runs = {
        rig: subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "run", "--rig", str(rig), "-k", keyword]
            + ["--reports-dir", str(tmp_path / rig.stem)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for rig, keyword in selection.items()
    }
    banners = {}
    for rig, proc in runs.items():
        out, _ = proc.communicate(timeout=EXIT_TIMEOUT_S)
        (run_dir,) = (tmp_path / rig.stem).glob(f"*-{'bench9' if rig == real else 'sim'}")
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        html = (run_dir / "report.html").read_text(encoding="utf-8")
        banners[rig.stem] = (info["rig"]["simulated"], "Simulated bench" in html, proc.returncode, out)
    simulated, banner, rc, out = banners["bench9"]
    assert rc != 0 and "did not answer" in out  # the instruments were unreachable
    assert (simulated, banner) == (False, False)
    simulated, banner, _, _ = banners["sim"]
    assert (simulated, banner) == (True, True)


# -- the signal handling itself (in-process, no bench) ----------------------------------------------
class _Wire:
    """A resource whose reply arrives while a signal comes in (the signal lands mid-exchange)."""

    def __init__(self, events: list[str], signum: int) -> None:
        self.events = events
        self.signum = signum

    def write(self, message: str) -> None:
        self.events.append(f"write {message}")

    def read(self) -> str:
        os.kill(os.getpid(), self.signum)  # delivered before read returns: must wait for the reply
        self.events.append("reply read")
        return "1"

    def close(self) -> None:
        pass


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_mid_query_is_served_after_the_reply_safety_first(signum: int) -> None:
    from harness import interrupts

    events: list[str] = []
    wire = interrupts.GuardedResource(_Wire(events, signum))
    action = lambda: events.append("safe state")  # noqa: E731
    with interrupts.handling():
        interrupts.add_safety_action(action)
        try:
            with pytest.raises(interrupts.Terminated) as info:
                wire.write("OUTP?")
                wire.read()
                events.append("went on after the signal")
            assert info.value.signal_name == signal.Signals(signum).name
            record = interrupts.record()
            assert record is not None and record.signum == signum
            with pytest.raises(interrupts.EvidenceAborted):  # a further signal: safe again, then abort
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
        finally:
            interrupts.remove_safety_action(action)
    assert events == ["write OUTP?", "reply read", "safe state", "safe state"]
    assert interrupts.record() is None  # handlers restored, nothing left armed
    assert interrupts.exit_status(signum) == 128 + signum
