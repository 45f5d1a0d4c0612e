"""Rig reservation across machines through a labgrid coordinator (a "place" per rig).

A lab that runs labgrid already has a coordinator that knows who holds which place. A rig file may name one::

    labgrid:
      coordinator: lab-coordinator:20408   # HOST:PORT
      place: cmi-rig-a
      on_busy: refuse                      # or: wait (up to wait_s seconds)
      wait_s: 600

``cmi-hil run`` then acquires the place before it touches the bench and releases it on every exit path. The
local flock (:mod:`harness.rig.lock`) stays: it guards the bench against two processes on one host, the
place guards it against two hosts. The coordinator is reached with labgrid's own client (``labgrid-client``,
from the ``labgrid`` package), so the reservation is the one labgrid users see with ``labgrid-client who``.

The place can also carry the rig's M-Bus port: an exporter publishing a ``NetworkSerialPort`` (RFC 2217) in
the place's match; :meth:`LabgridPlace.serial_url` gives its ``rfc2217://host:port`` once it is acquired.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

#: seconds one labgrid-client call may take (it retries its connection internally)
CLIENT_TIMEOUT_S = 30.0
#: seconds between two acquire attempts while waiting for a busy place
WAIT_POLL_S = 2.0


class PlaceError(Exception):
    """The place could not be reserved or released; the message says why and what to do."""


class PlaceBusy(PlaceError):
    """Someone else holds the place (``holder`` names them as the coordinator does, e.g. ``host/user``)."""

    def __init__(self, message: str, holder: str | None) -> None:
        super().__init__(message)
        self.holder = holder


class CoordinatorUnreachable(PlaceError):
    """No labgrid coordinator answers at the configured address: a bench problem, not a module failure."""


@dataclass(frozen=True)
class PlaceSettings:
    """The rig file's ``labgrid:`` block (validated by :mod:`harness.rig.config`)."""

    coordinator: str
    place: str
    on_busy: Literal["refuse", "wait"] = "refuse"
    wait_s: float = 600.0


def labgrid_client() -> str:
    """Path of ``labgrid-client``: beside this interpreter (a venv) or on PATH."""
    beside = Path(sys.executable).with_name("labgrid-client")
    if beside.exists():
        return str(beside)
    found = shutil.which("labgrid-client")
    if found is None:
        raise PlaceError(
            "the rig file names a labgrid place but labgrid-client is not installed; "
            "install labgrid (pip install labgrid) in the harness's environment"
        )
    return found


_HELD_BY = re.compile(r"already acquired by (\S+?)\.?(?:\s|$)")
_ACQUIRED_RESOURCE = re.compile(r"^Acquired resource '([^']+)' \(([^)]+)\):\s*$")


class LabgridPlace:
    """One labgrid place, acquired and released through the coordinator."""

    def __init__(
        self, settings: PlaceSettings, *, client: str | None = None, identity: dict[str, str] | None = None
    ) -> None:
        """``identity`` overrides labgrid's user and host (``LG_USERNAME``, ``LG_HOSTNAME``)."""
        self.settings = settings
        self._client = client
        self._env = {**os.environ, **(identity or {})}
        self.acquired = False

    # --- client calls ---------------------------------------------------------------------------------
    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [
            self._client or labgrid_client(),
            "-x",
            self.settings.coordinator,
            "-p",
            self.settings.place,
            *args,
        ]
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, env=self._env, check=False
            )
        except subprocess.TimeoutExpired:
            raise CoordinatorUnreachable(
                self._unreachable(f"no answer within {CLIENT_TIMEOUT_S:g} s")
            ) from None

    def _unreachable(self, detail: str) -> str:
        return (
            f"labgrid coordinator {self.settings.coordinator} is not reachable ({detail}); check that "
            "labgrid-coordinator runs there and the rig file's labgrid.coordinator (HOST:PORT)"
        )

    def _fail(self, action: str, proc: subprocess.CompletedProcess[str]) -> PlaceError:
        text = (proc.stderr + proc.stdout).strip()
        if "Could not connect to coordinator" in text or "coordinator is unavailable" in text:
            return CoordinatorUnreachable(self._unreachable(text.splitlines()[-1] if text else "no answer"))
        if "matches nothing" in text:
            return PlaceError(
                f"labgrid place {self.settings.place!r} does not exist on coordinator "
                f"{self.settings.coordinator}; create it (labgrid-client -p {self.settings.place} create) "
                "or correct labgrid.place in the rig file"
            )
        held = _HELD_BY.search(text)
        if held:
            holder = held.group(1)
            return PlaceBusy(
                f"labgrid place {self.settings.place!r} is held by {holder}; the rig is in use. Wait for it "
                f"to be released (labgrid-client -p {self.settings.place} who) or set labgrid.on_busy: wait",
                holder,
            )
        if "You have already acquired" in text:
            return PlaceBusy(
                f"labgrid place {self.settings.place!r} is already held by this user on this host "
                "(another run of this rig is in progress, or an earlier one did not release it: "
                f"labgrid-client -p {self.settings.place} release)",
                "this user",
            )
        return PlaceError(
            f"labgrid-client {action} {self.settings.place!r} failed: {text or proc.returncode}"
        )

    # --- reservation ----------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Reserve the place; wait for it if the rig file says so, else refuse at once when it is held."""
        deadline = time.monotonic() + (self.settings.wait_s if self.settings.on_busy == "wait" else 0.0)
        while True:
            proc = self._run("acquire")
            if proc.returncode == 0:
                self.acquired = True
                return
            error = self._fail("acquire", proc)
            if not isinstance(error, PlaceBusy) or time.monotonic() >= deadline:
                if isinstance(error, PlaceBusy) and self.settings.on_busy == "wait":
                    raise PlaceBusy(f"{error} (waited {self.settings.wait_s:g} s)", error.holder)
                raise error
            time.sleep(WAIT_POLL_S)

    def release(self) -> None:
        """Give the place back (no-op when not acquired)."""
        if not self.acquired:
            return
        proc = self._run("release")
        if proc.returncode != 0:
            raise self._fail("release", proc)
        self.acquired = False

    def resources(self) -> dict[str, dict[str, Any]]:
        """The place's acquired resources by class name, with their parameters (``labgrid-client show``)."""
        proc = self._run("show")
        if proc.returncode != 0:
            raise self._fail("show", proc)
        return parse_acquired_resources(proc.stdout)

    def serial_url(self) -> str:
        """``rfc2217://host:port`` of the place's NetworkSerialPort (the rig's M-Bus master port)."""
        port = self.resources().get("NetworkSerialPort")
        if port is None:
            raise PlaceError(
                f"labgrid place {self.settings.place!r} has no NetworkSerialPort among its acquired "
                "resources; add the exporter's serial port to the place (labgrid-client add-match)"
            )
        params = port.get("params", {})
        protocol = params.get("protocol", "rfc2217")
        if protocol != "rfc2217":
            raise PlaceError(
                f"the place's NetworkSerialPort uses {protocol!r}; the M-Bus master needs rfc2217"
            )
        return f"rfc2217://{params['host']}:{int(params['port'])}"

    def __enter__(self) -> LabgridPlace:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def parse_acquired_resources(show_output: str) -> dict[str, dict[str, Any]]:
    """The "Acquired resource 'NAME' (PATH):" blocks of ``labgrid-client show``, keyed by resource class."""
    found: dict[str, dict[str, Any]] = {}
    lines = show_output.splitlines()
    i = 0
    while i < len(lines):
        head = _ACQUIRED_RESOURCE.match(lines[i])
        i += 1
        if head is None:
            continue
        body: list[str] = []
        while i < len(lines) and lines[i].startswith(" "):
            body.append(lines[i])
            i += 1
        try:
            value = ast.literal_eval("\n".join(body).strip())
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, dict):
            found[str(value.get("cls", head.group(1)))] = value
    return found


__all__ = [
    "CoordinatorUnreachable",
    "LabgridPlace",
    "PlaceBusy",
    "PlaceError",
    "PlaceSettings",
    "parse_acquired_resources",
]
