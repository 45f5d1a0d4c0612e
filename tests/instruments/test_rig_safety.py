"""Safety on every exit: SIGINT and SIGTERM in a subprocess leave the bench safe; the rig lock is exclusive,
released on exit and recovered after a crash; an unreachable instrument is named with what to check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from harness.instruments import InstrumentUnreachable
from harness.rig import (
    BenchError,
    CalibrationWarning,
    RigBusy,
    RigConfig,
    RigLock,
    load_rig,
    open_bench,
)

from .conftest import REPO, SIM_RIG, FakePhysics

CHILD = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {tests!r})
    from instruments.conftest import FakePhysics
    from harness.rig import load_rig, open_bench
    physics = FakePhysics()
    try:
        with open_bench(load_rig({rig!r}), physics=physics) as bench:
            bench.power_dut(36.0, "-")
            bench.set_rate_input(4, 230.0)
            print("READY", json.dumps({{"bus": physics.bus_voltage(), "vac": physics.vac}}), flush=True)
            time.sleep(30)
    finally:
        print("FINAL", json.dumps({{"bus": physics.bus_voltage(), "vac": physics.vac}}), flush=True)
    """
)


@pytest.fixture
def lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CMI_HIL_LOCK_DIR", str(tmp_path / "locks"))
    return tmp_path / "locks"


def run_child_until_ready(code: str) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.startswith("READY"):
        child.kill()
        raise AssertionError(f"child did not start: {line!r} {child.communicate()[1]}")
    return child, line


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_leaves_the_bench_safe(signum: int) -> None:
    child, ready = run_child_until_ready(CHILD.format(tests=str(REPO / "tests"), rig=str(SIM_RIG)))
    try:
        assert json.loads(ready.split(" ", 1)[1]) == {
            "bus": -36.0,
            "vac": {"1": 0, "2": 0, "3": 0, "4": 230.0},
        }
        child.send_signal(signum)
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    final = next(line for line in out.splitlines() if line.startswith("FINAL"))
    state = json.loads(final.split(" ", 1)[1])
    assert state == {"bus": 0.0, "vac": {"1": 0.0, "2": 0.0, "3": 0.0, "4": 0.0}}, err
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err or "Terminated" in err


@pytest.fixture
def exclusive_rig(sim_rig: RigConfig, lock_dir: Path) -> RigConfig:
    return sim_rig.model_copy(update={"exclusive": True})


def test_second_open_of_a_rig_in_use_is_refused(exclusive_rig: RigConfig) -> None:
    busy = rf"rig 'sim' is in use by pid {os.getpid()}"
    with open_bench(exclusive_rig, physics=FakePhysics()), pytest.raises(RigBusy, match=busy):
        open_bench(exclusive_rig, physics=FakePhysics())
    with open_bench(exclusive_rig, physics=FakePhysics()) as bench:  # released on exit
        assert not bench.closed


def test_lock_is_recovered_after_the_holder_crashes(lock_dir: Path) -> None:
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from harness.rig import RigLock
        RigLock("crashy", directory=Path({str(lock_dir)!r})).acquire()
        print("READY", flush=True)
        time.sleep(30)
        """
    )
    child, _ = run_child_until_ready(code)
    try:
        with pytest.raises(RigBusy, match=f"pid {child.pid}"):
            RigLock("crashy", directory=lock_dir).acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    with RigLock("crashy", directory=lock_dir) as lock:
        assert lock.held


def unreachable_rig(tmp_path: Path) -> Path:
    with socket_port() as port:
        pass  # the port is closed again: nothing listens there
    data = {
        "name": "bench7",
        "instruments": {
            "supply": {
                "resource": f"TCPIP::127.0.0.1::{port}::SOCKET",
                "timeout_s": 1.0,
                "certificate": "CAL-TEST-0001",
            }
        },
        "mbus": {"url": "loop://"},
    }
    path = tmp_path / "bench7.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class socket_port:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_unreachable_instrument_names_rig_instrument_address_and_what_to_check(
    tmp_path: Path, lock_dir: Path
) -> None:
    path = unreachable_rig(tmp_path)
    rig = load_rig(path)
    with (
        pytest.warns(CalibrationWarning, match="no calibration_due"),
        pytest.raises(InstrumentUnreachable) as info,
    ):
        open_bench(rig)
    message = str(info.value)
    address = rig.instruments.supply.resource  # type: ignore[union-attr]
    for part in ("rig 'bench7'", str(path), "instrument 'supply'", address, "ping 127.0.0.1", "resource"):
        assert part in message
    with RigLock("bench7") as lock:  # a failed open released the rig
        assert lock.held


def test_strict_certification_refuses_missing_or_expired_calibration(tmp_path: Path, lock_dir: Path) -> None:
    rig = load_rig(unreachable_rig(tmp_path))
    with pytest.raises(BenchError, match="strict certification run refused: supply: no calibration_due"):
        open_bench(rig, strict_calibration=True)


def test_close_reports_an_instrument_it_could_not_make_safe(sim_rig: RigConfig) -> None:
    physics = FakePhysics()
    bench = open_bench(sim_rig, physics=physics)
    bench.power_dut(30.0)
    assert bench.sim is not None
    bench.sim.servers["ac_source"].stop()  # the AC source "loses power" mid-run
    with pytest.raises(BenchError, match="safe state NOT fully restored .* ac_source"):
        bench.close()
    assert physics.bus_voltage() == 0.0  # the supply was still switched off
    assert bench.sim.servers == {}


def test_a_bench_never_closed_is_made_safe_at_interpreter_exit() -> None:
    code = textwrap.dedent(
        f"""
        import atexit, json

        class Physics:  # the least BenchPhysics the bench needs (the fixtures' module imports harness.rig)
            volts = 0.0
            def set_bus_voltage(self, volts): self.volts = volts
            def bus_voltage(self): return self.volts
            def bus_current_a(self): return 0.0
            def set_rate_input_vac(self, index, vac): pass

        physics = Physics()
        # registered before harness.rig is imported, so it runs after the bench's own exit handler (LIFO)
        atexit.register(lambda: print("FINAL", json.dumps({{"bus": physics.bus_voltage()}}), flush=True))
        from harness.rig import load_rig, open_bench
        bench = open_bench(load_rig({str(SIM_RIG)!r}), physics=physics)
        bench.power_dut(36.0)
        print("POWERED", physics.bus_voltage(), flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert "POWERED 36.0" in done.stdout, done.stderr
    assert 'FINAL {"bus": 0.0}' in done.stdout, done.stderr
