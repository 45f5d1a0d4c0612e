"""Options for opening the M-Bus master's serial port with pyserial.

A local port (``/dev/ttyUSB0``, ``COM3``) is opened with ``exclusive=True`` (POSIX ``flock``; pyserial
``Serial(exclusive=...)``), so a second program on the same adapter fails at open instead of interleaving
bytes with the run. URL ports (``rfc2217://``, ``socket://``, ``loop://``) do not take the option: the
server (ser2net, the emulator) owns the device.
"""

from __future__ import annotations

from typing import Any


def is_local_port(url: str) -> bool:
    """True for a device path or COM name, False for a pyserial URL handler (``scheme://...``)."""
    return "://" not in url


def port_options(url: str) -> dict[str, Any]:
    """Extra keyword arguments for ``serial.serial_for_url(url, ...)``."""
    return {"exclusive": True} if is_local_port(url) else {}
