"""The master port as a pseudo-terminal, for third-party masters that only open a tty device.

The program opens ``PtyPort.path`` and sets the baud with termios as on a USB adapter; the baud is read back
from the tty before each write reaches the line, so a wrong baud garbles characters as on a wire. A Linux pty
does not keep the parity flags, so characters through the pty are always taken as 8E1 (use the RFC 2217
endpoint to exercise parity errors).
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
import threading
import time
import tty

from harness.emulator.bus import Bus, MasterPort
from harness.emulator.wire import CharFormat

_SPEEDS = {getattr(termios, f"B{b}"): b for b in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400)}


def _format_of(fd: int, fallback: CharFormat) -> CharFormat:
    """UART format of the tty: its baud, 8E1 (a pty has no parity to read back)."""
    try:
        attrs = termios.tcgetattr(fd)
    except termios.error:
        return fallback
    baud = _SPEEDS.get(attrs[5], fallback.baud)
    return CharFormat(baud, 8, "E", 1)


class PtyPort:
    """A pty whose slave side is the M-Bus master port; starts at 8E1 and ``initial``'s baud."""

    def __init__(self, bus: Bus, *, initial: CharFormat) -> None:
        self.bus = bus
        self._master_fd, self._slave_fd = os.openpty()
        self.path = os.ttyname(self._slave_fd)
        tty.setraw(self._slave_fd)
        attrs = termios.tcgetattr(self._slave_fd)
        speed = next(k for k, v in _SPEEDS.items() if v == initial.baud)
        attrs[2] = (attrs[2] & ~termios.CSIZE) | termios.CS8 | termios.PARENB
        attrs[4] = attrs[5] = speed
        termios.tcsetattr(self._slave_fd, termios.TCSANOW, attrs)
        self.port = MasterPort("pty", initial, self._write)
        bus.add_port(self.port)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mbus-pty", daemon=True)
        self._thread.start()

    def _write(self, data: bytes) -> None:
        os.write(self._master_fd, data)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            ready, _, _ = select.select([self._master_fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self._master_fd, 4096)
            except OSError:
                time.sleep(0.05)  # no process has the tty open: wait for one
                continue
            self.port.fmt = _format_of(self._slave_fd, self.port.fmt)
            self.bus.master_write(self.port, data)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)
        self.bus.remove_port(self.port)
        for fd in (self._master_fd, self._slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
