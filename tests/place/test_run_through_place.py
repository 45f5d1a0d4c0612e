"""The suite run through a labgrid place.

A real coordinator and exporter on loopback publish the M-Bus port of a bench served in its own process
(`cmi-hil simbench`); `cmi-hil run` acquires the place before touching the bench, takes the M-Bus port from
it, releases it at the end, and refuses clearly when someone else holds it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.rig.place import LabgridPlace, PlaceSettings
from tests.place.test_labgrid_place import CLIENT, COORDINATOR, EXPORTER, OTHER_HOST, _client, coordinator

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not (COORDINATOR.exists() and CLIENT.exists() and EXPORTER.exists()), reason="labgrid is not installed"
)
__all__ = ["coordinator"]  # the module-scoped coordinator fixture, shared


@pytest.fixture(scope="module")
def simbench_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("simbench")
    rig = root / "simbench.yaml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "simbench", "--rig-out", str(rig)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("# simbench ready"):
                break
        else:
            raise AssertionError("simbench did not start")
        yield rig
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def place_rig(
    coordinator: str, simbench_rig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A rig file naming a labgrid place whose exported NetworkSerialPort is the simbench's M-Bus port."""
    root = tmp_path_factory.mktemp("place")
    data = yaml.safe_load(simbench_rig.read_text(encoding="utf-8"))
    host, port = data["mbus"]["url"].removeprefix("rfc2217://").rsplit(":", 1)
    exporter_cfg = root / "exporter.yaml"
    exporter_cfg.write_text(
        yaml.safe_dump(
            {"cmi-bench": {"NetworkSerialPort": {"host": host, "port": int(port), "protocol": "rfc2217"}}}
        ),
        encoding="utf-8",
    )
    exporter = subprocess.Popen(
        [str(EXPORTER), "-c", coordinator, "-n", "bench-host", str(exporter_cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _client(coordinator, "cmi-rig-a", "create")
        _client(coordinator, "cmi-rig-a", "add-match", "bench-host/cmi-bench/*")
        data["name"] = "placed"
        data["mbus"]["url"] = "labgrid://place"
        data["labgrid"] = {"coordinator": coordinator, "place": "cmi-rig-a", "on_busy": "refuse"}
        rig = root / "placed.yaml"
        rig.write_text(yaml.safe_dump(data), encoding="utf-8")
        deadline = time.monotonic() + 30
        probe = LabgridPlace(PlaceSettings(coordinator, "cmi-rig-a"), client=str(CLIENT))
        while True:  # the exporter registers its port a moment after it starts
            with probe:
                if "NetworkSerialPort" in probe.resources():
                    break
            if time.monotonic() > deadline:
                raise AssertionError("the exporter's serial port never reached the place")
            time.sleep(0.5)
        yield rig
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)


def _run(rig: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, object] | None]:
    reports = tmp_path / "reports"
    env = {**os.environ, "CMI_HIL_LOCK_DIR": str(tmp_path / "locks")}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--rig", str(rig), "--reports-dir", str(reports)]
        + ["--requirement", "LL-SND-NKE", "--progress", "off"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    infos = sorted(reports.glob("*/run.json"))
    return proc, (json.loads(infos[-1].read_text(encoding="utf-8")) if infos else None)


def test_the_suite_runs_through_the_place_and_releases_it(
    coordinator: str, place_rig: Path, tmp_path: Path
) -> None:
    proc, info = _run(place_rig, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert info is not None and info["verdict"] == "pass"
    other = LabgridPlace(PlaceSettings(coordinator, "cmi-rig-a"), client=str(CLIENT), identity=OTHER_HOST)
    other.acquire()  # released at the end of the run: someone else can take it now
    other.release()


def test_a_run_is_refused_while_someone_else_holds_the_place(
    coordinator: str, place_rig: Path, tmp_path: Path
) -> None:
    with LabgridPlace(PlaceSettings(coordinator, "cmi-rig-a"), client=str(CLIENT), identity=OTHER_HOST):
        proc, info = _run(place_rig, tmp_path)
    text = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 1), text[-3000:]  # a bench problem, not a module failure
    assert "labgrid place 'cmi-rig-a' is held by rig-host-b/nightly" in text
    assert info is not None and info["verdict"] == "error"
