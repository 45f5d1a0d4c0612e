"""Opening VISA resources: the pure-Python pyvisa-py backend (``@py``) by default, or ``@ivi`` (the
vendor VISA library installed on the machine: Keysight IO Libraries, NI-VISA, R&S VISA)."""

from __future__ import annotations

import functools
import socket
from typing import Any

import pyvisa

from harness.instruments.errors import InstrumentUnreachable

DEFAULT_BACKEND = "@py"


@functools.cache
def resource_manager(backend: str = DEFAULT_BACKEND) -> Any:
    """One ResourceManager per backend and process (creating one scans backends and costs ~100 ms)."""
    return pyvisa.ResourceManager(backend)


def open_resource(
    address: str,
    *,
    timeout_s: float = 2.0,
    backend: str = DEFAULT_BACKEND,
    read_termination: str = "\n",
    write_termination: str = "\n",
) -> Any:
    """Open a message-based resource with explicit terminations (``\\n`` unless the rig file says otherwise).

    A raw ``::SOCKET`` resource has no termination of its own, so without them every query times out
    (instruments.md 5.1); INSTR resources accept the same settings harmlessly.
    """
    try:
        manager = resource_manager(backend)
    except Exception as exc:  # OSError / ValueError when the backend's VISA library is not installed
        raise InstrumentUnreachable(
            f"VISA backend {backend!r} is not available ({exc}); install the vendor VISA library for @ivi, "
            "or set visa_backend: '@py' in the rig file"
        ) from exc
    try:
        resource = manager.open_resource(address)
    except Exception as exc:  # pyvisa raises VisaIOError, OSError, ValueError by transport
        raise InstrumentUnreachable(f"cannot open VISA resource {address!r}: {exc}") from exc
    resource.read_termination = read_termination
    resource.write_termination = write_termination
    resource.timeout = int(timeout_s * 1000)
    if address.upper().endswith("::SOCKET"):
        _set_nodelay(resource)
    return resource


def _set_nodelay(resource: Any) -> None:
    """Disable Nagle on a raw socket, as VISA's default for VI_ATTR_TCPIP_NODELAY says.

    pyvisa-py 0.8 leaves Nagle on and does not accept the attribute, which costs ~40 ms on every query that
    follows a write (Nagle waits for the peer's delayed ACK), so the socket is set directly.
    """
    try:
        resource.set_visa_attribute(pyvisa.constants.ResourceAttribute.tcpip_nodelay, True)
        return
    except Exception:  # pyvisa-py raises UnknownAttribute for it
        pass
    session = getattr(resource.visalib, "sessions", {}).get(resource.session)
    sock = getattr(session, "interface", None)
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
