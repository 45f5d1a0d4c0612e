"""Options for opening the M-Bus master's serial port with pyserial.

A local port (``/dev/ttyUSB0``, ``COM3``) is opened with ``exclusive=True`` (POSIX ``flock``; pyserial
``Serial(exclusive=...)``), so a second program on the same adapter fails at open instead of interleaving
bytes with the run. URL ports (``rfc2217://``, ``socket://``, ``loop://``) do not take the option: the
server (ser2net, the emulator) owns the device.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import serial


def is_local_port(url: str) -> bool:
    """True for a device path or COM name, False for a pyserial URL handler (``scheme://...``)."""
    return "://" not in url


def port_options(url: str) -> dict[str, Any]:
    """Extra keyword arguments for ``serial.serial_for_url(url, ...)``."""
    return {"exclusive": True} if is_local_port(url) else {}


#: sysfs folder of USB serial adapters (Linux usb-serial core; FTDI ftdi_sio exposes ``latency_timer`` there)
USB_SERIAL_SYSFS = Path("/sys/bus/usb-serial/devices")


class LowLatencyError(Exception):
    """Low-latency mode could not be set on the M-Bus adapter; the message says why and what to do."""


def latency_timer_path(device: str, sysfs: Path = USB_SERIAL_SYSFS) -> Path:
    """``latency_timer`` of a USB serial adapter (``/dev/ttyUSB0`` or a ``/dev/serial/by-id`` link)."""
    return sysfs / Path(os.path.realpath(device)).name / "latency_timer"


def set_low_latency(device: str, *, sysfs: Path = USB_SERIAL_SYSFS) -> str:
    """Put a local adapter into low-latency mode; return what was done, or raise :class:`LowLatencyError`.

    Sets ``ASYNC_LOW_LATENCY`` through the ``TIOCSSERIAL`` ioctl (pyserial ``Serial.set_low_latency_mode``,
    Linux only); the FTDI driver (ftdi_sio) then uses a 1 ms latency timer instead of its 16 ms default
    (FTDI AN232B-04, "Data Throughput, Latency and Handshaking", section 3). Where the adapter shows
    ``latency_timer`` in sysfs and it is still above 1 ms, 1 is written there.
    """
    if not is_local_port(device):
        raise LowLatencyError(
            f"low latency applies to a local adapter, not {device!r}: set it on the host serving the port"
        )
    try:
        port = serial.Serial(device, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise LowLatencyError(
            f"cannot open {device} to set low-latency mode: {exc}; check the adapter and that it is free"
        ) from exc
    try:
        port.set_low_latency_mode(True)
    except (NotImplementedError, ValueError, OSError) as exc:
        raise LowLatencyError(
            f"{device}: ASYNC_LOW_LATENCY cannot be set ({exc}); this driver or platform has no low-latency "
            "mode: set mbus.low_latency: false and measure the path with cmi-hil rig calibrate"
        ) from exc
    finally:
        port.close()
    timer = latency_timer_path(device, sysfs)
    if not timer.exists():
        return "ASYNC_LOW_LATENCY set"
    ms: int | str = "?"
    try:
        ms = int(timer.read_text().strip())
        if ms > 1:
            timer.write_text("1")
            ms = 1
    except PermissionError as exc:
        raise LowLatencyError(
            f"{device}: ASYNC_LOW_LATENCY set but {timer} is {ms} ms and not writable ({exc}); write 1 "
            'there as root or add a udev rule (ATTR{latency_timer}="1")'
        ) from exc
    except (OSError, ValueError) as exc:
        raise LowLatencyError(f"{device}: cannot read or set {timer}: {exc}") from exc
    return f"ASYNC_LOW_LATENCY set, latency_timer {ms} ms"
