"""The master port as a pseudo-terminal, for third-party masters that only open a tty device.

The program opens ``PtyPort.path`` and sets the baud with termios as on a USB adapter; the baud is read back
from the tty before each write reaches the line, so a wrong baud garbles characters as on a wire.

Limitation: a Linux pty does not keep the parity flags (PARENB/PARODD read back cleared), so characters
through the pty are always taken as 8E1 (use the RFC 2217 endpoint to exercise parity errors), and a master
that checks the termios it set, as libmbus's ``mbus-serial-*`` tools do, refuses the pty ("Failed to set baud
rate"). Such masters use the raw TCP endpoint (:mod:`harness.emulator.tcp_port`) instead.

No stale traffic: the emulator keeps no file descriptor of the tty's slave side open, so the kernel reports a
hang-up on the master side whenever no program has the tty open. Bus bytes are dropped while nobody has it
open, and whatever the last program left unread is flushed when it closes the tty and again before the
first request of the next program reaches the bus. A program that reopens the tty within one poll period
(:data:`POLL_S`) of another closing it may still see bytes that one left unread before its first request.
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
import threading
import tty

from harness.emulator.bus import Bus, MasterPort
from harness.emulator.wire import CharFormat

_SPEEDS = {getattr(termios, f"B{b}"): b for b in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400)}

#: how often the port looks whether a program has the tty open (while none has, nothing wakes the poll)
POLL_S = 0.01


def _format_of(fd: int, fallback: CharFormat) -> CharFormat:
    """UART format of the tty (the master side reads the slave side's termios on Linux): baud, 8E1."""
    try:
        attrs = termios.tcgetattr(fd)
    except termios.error:
        return fallback
    baud = _SPEEDS.get(attrs[5], fallback.baud)
    return CharFormat(baud, 8, "E", 1)


class PtyPort:
    """A pty whose slave side is the M-Bus master port; starts at 8E1 and ``initial``'s baud.

    ``echo``: the program reads back what it writes, as through a level converter that echoes."""

    def __init__(self, bus: Bus, *, initial: CharFormat, echo: bool = False) -> None:
        self.bus = bus
        self._master_fd, slave_fd = os.openpty()
        self.path = os.ttyname(slave_fd)
        try:
            tty.setraw(slave_fd)
            attrs = termios.tcgetattr(slave_fd)
            speed = next(k for k, v in _SPEEDS.items() if v == initial.baud)
            attrs[2] = (attrs[2] & ~termios.CSIZE) | termios.CS8 | termios.PARENB
            attrs[4] = attrs[5] = speed
            termios.tcsetattr(slave_fd, termios.TCSANOW, attrs)
        finally:
            os.close(slave_fd)  # settings stay with the pty while its master side is open
        self._poll = select.poll()
        self._poll.register(self._master_fd, select.POLLIN)
        self._write_lock = threading.Lock()
        self._client_present = False
        self.port = MasterPort("pty", initial, self._write, echo=echo)
        bus.add_port(self.port)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mbus-pty", daemon=True)
        self._thread.start()

    def _opened_by_a_program(self) -> bool:
        """True while some program has the tty open (no hang-up on the master side)."""
        probe = select.poll()  # one poll object per thread: the loop's own may be waiting right now
        probe.register(self._master_fd, 0)
        return not any(ev & select.POLLHUP for _, ev in probe.poll(0))

    def _drop_unread(self) -> None:
        """Discard what the bus sent that no program read (the slave side's input queue)."""
        with contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                termios.tcflush(fd, termios.TCIFLUSH)
            finally:
                os.close(fd)

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            if self._opened_by_a_program():
                os.write(self._master_fd, data)
            # else: nobody listens; the bytes are gone as on a wire with no master attached

    def _loop(self) -> None:
        while not self._stopped.is_set():
            events = self._poll.poll(POLL_S * 1000)
            hung_up = any(ev & select.POLLHUP for _, ev in events)
            readable = any(ev & select.POLLIN for _, ev in events)
            with self._write_lock:
                if hung_up and self._client_present:
                    self._client_present = False
                    self._drop_unread()  # the program closed the tty: what it left unread is stale
                elif not hung_up and not self._client_present:
                    self._client_present = True
                    self._drop_unread()  # a new program: nothing from before its time
            if hung_up and not readable:
                self._stopped.wait(POLL_S)  # a hung-up master side polls ready at once
                continue
            if not readable:
                continue
            try:
                data = os.read(self._master_fd, 4096)
            except OSError:
                continue
            self.port.fmt = _format_of(self._master_fd, self.port.fmt)
            self.bus.master_write(self.port, data)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)
        self.bus.remove_port(self.port)
        with contextlib.suppress(OSError):
            os.close(self._master_fd)
