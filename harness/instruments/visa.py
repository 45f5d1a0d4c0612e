"""Opening VISA resources with the pure-Python pyvisa-py backend (``@py``) by default."""

from __future__ import annotations

import functools
from typing import Any

import pyvisa

from harness.instruments.errors import InstrumentUnreachable

DEFAULT_BACKEND = "@py"


@functools.cache
def resource_manager(backend: str = DEFAULT_BACKEND) -> Any:
    """One ResourceManager per backend and process (creating one scans backends and costs ~100 ms)."""
    return pyvisa.ResourceManager(backend)


def open_resource(address: str, *, timeout_s: float = 2.0, backend: str = DEFAULT_BACKEND) -> Any:
    """Open a message-based resource with ``\\n`` terminations.

    A raw ``::SOCKET`` resource has no termination of its own, so without them every query times out
    (instruments.md 5.1); INSTR resources accept the same settings harmlessly.
    """
    try:
        resource = resource_manager(backend).open_resource(address)
    except Exception as exc:  # pyvisa raises VisaIOError, OSError, ValueError by transport
        raise InstrumentUnreachable(f"cannot open VISA resource {address!r}: {exc}") from exc
    resource.read_termination = "\n"
    resource.write_termination = "\n"
    resource.timeout = int(timeout_s * 1000)
    return resource
