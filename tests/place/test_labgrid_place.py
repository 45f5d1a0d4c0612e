"""Rig reservation through a real labgrid coordinator (and exporter) started on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.rig.place import (
    CoordinatorUnreachable,
    LabgridPlace,
    PlaceBusy,
    PlaceError,
    PlaceSettings,
    parse_acquired_resources,
)

BIN = Path(sys.executable).parent
COORDINATOR = BIN / "labgrid-coordinator"
EXPORTER = BIN / "labgrid-exporter"
CLIENT = BIN / "labgrid-client"
pytestmark = pytest.mark.skipif(
    not (COORDINATOR.exists() and CLIENT.exists()), reason="labgrid is not installed in this environment"
)
OTHER_HOST = {"LG_USERNAME": "nightly", "LG_HOSTNAME": "rig-host-b"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"labgrid-coordinator did not listen on {port}")


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    workdir = tmp_path_factory.mktemp("coordinator")
    proc = subprocess.Popen(
        [str(COORDINATOR), "-l", f"127.0.0.1:{port}"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_listening(port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _client(address: str, place: str, *args: str) -> None:
    subprocess.run(
        [str(CLIENT), "-x", address, "-p", place, *args], check=True, capture_output=True, timeout=30
    )


@pytest.fixture
def place(coordinator: str, request: pytest.FixtureRequest) -> str:
    name = f"cmi-{request.node.name.replace('_', '-')[:40]}"
    _client(coordinator, name, "create")
    return name


def test_a_held_place_is_refused_with_its_holder_then_free_after_release(
    coordinator: str, place: str
) -> None:
    ours = LabgridPlace(PlaceSettings(coordinator=coordinator, place=place), client=str(CLIENT))
    ours.acquire()
    theirs = LabgridPlace(PlaceSettings(coordinator, place), client=str(CLIENT), identity=OTHER_HOST)
    with pytest.raises(PlaceBusy) as busy:
        theirs.acquire()
    assert f"labgrid place '{place}' is held by" in str(busy.value) and busy.value.holder
    again = LabgridPlace(PlaceSettings(coordinator, place), client=str(CLIENT))
    with pytest.raises(PlaceBusy, match="already held by this user on this host"):
        again.acquire()
    ours.release()
    theirs.acquire()
    assert theirs.acquired
    theirs.release()
    ours.release()  # not acquired any more: nothing to do


def test_waiting_for_a_busy_place_acquires_it_once_released(coordinator: str, place: str) -> None:
    holder = LabgridPlace(PlaceSettings(coordinator, place), client=str(CLIENT), identity=OTHER_HOST)
    holder.acquire()
    threading.Timer(3.0, holder.release).start()
    waiter = LabgridPlace(PlaceSettings(coordinator, place, on_busy="wait", wait_s=60.0), client=str(CLIENT))
    t0 = time.monotonic()
    waiter.acquire()
    assert waiter.acquired and time.monotonic() - t0 >= 2.5
    waiter.release()


def test_waiting_gives_up_after_wait_s(coordinator: str, place: str) -> None:
    holder = LabgridPlace(PlaceSettings(coordinator, place), client=str(CLIENT), identity=OTHER_HOST)
    with holder:
        waiter = LabgridPlace(
            PlaceSettings(coordinator, place, on_busy="wait", wait_s=1.0), client=str(CLIENT)
        )
        with pytest.raises(PlaceBusy, match=r"waited 1 s"):
            waiter.acquire()


def test_an_unknown_place_says_how_to_create_it(coordinator: str) -> None:
    with pytest.raises(
        PlaceError, match="does not exist on coordinator .*labgrid-client -p no-such-rig create"
    ):
        LabgridPlace(PlaceSettings(coordinator, "no-such-rig"), client=str(CLIENT)).acquire()


def test_an_unreachable_coordinator_is_a_bench_problem() -> None:
    address = f"127.0.0.1:{_free_port()}"
    with pytest.raises(CoordinatorUnreachable, match=f"labgrid coordinator {address} is not reachable"):
        LabgridPlace(PlaceSettings(address, "cmi-rig"), client=str(CLIENT)).acquire()


@pytest.mark.skipif(not EXPORTER.exists(), reason="labgrid-exporter is not installed")
def test_the_place_carries_the_mbus_port_an_exporter_publishes(
    coordinator: str, place: str, tmp_path: Path
) -> None:
    config = tmp_path / "exporter.yaml"
    config.write_text(
        "cmi-sim:\n  NetworkSerialPort:\n    host: 127.0.0.1\n    port: 40123\n    protocol: rfc2217\n",
        encoding="utf-8",
    )
    exporter = subprocess.Popen(
        [str(EXPORTER), "-c", coordinator, "-n", "sim-bench", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _client(coordinator, place, "add-match", "sim-bench/cmi-sim/*")
        reservation = LabgridPlace(PlaceSettings(coordinator, place), client=str(CLIENT))
        deadline = time.monotonic() + 20
        with reservation:
            while True:  # the exporter registers its resources a moment after it starts
                try:
                    url = reservation.serial_url()
                    break
                except PlaceError:
                    if time.monotonic() > deadline:
                        raise
                    reservation.release()
                    time.sleep(0.5)
                    reservation.acquire()
        assert url == "rfc2217://127.0.0.1:40123"
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)


SHOW = """Place 'rig-a':
  acquired: vm/root
Acquired resource 'NetworkSerialPort' (simhost/cmi-sim/NetworkSerialPort/NetworkSerialPort):
  {'acquired': 'rig-a',
   'cls': 'NetworkSerialPort',
   'params': {'host': '127.0.0.1', 'port': 40123, 'protocol': 'rfc2217'}}
Acquired resource 'mbus-tcp' (simhost/cmi-sim/NetworkService/mbus-tcp):
  {'acquired': 'rig-a', 'cls': 'NetworkService', 'params': {'address': '127.0.0.1'}}
"""


def test_show_output_is_parsed_by_resource_class() -> None:
    found = parse_acquired_resources(SHOW)
    assert set(found) == {"NetworkSerialPort", "NetworkService"}
    assert found["NetworkSerialPort"]["params"]["port"] == 40123
    assert parse_acquired_resources("Place 'x':\n  acquired: None\n") == {}
