"""The master port served over RFC 2217 (pyserial's ``PortManager``), as ser2net shares a USB M-Bus master.

:class:`VirtualPort` is the serial-port-like object the PortManager configures: the baud, data bits, parity
and stop bits a client sets become the master's UART format on the emulated line, so a client at the wrong
setting produces (and reads) garbage exactly as on a real wire.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

import serial
from serial.rfc2217 import PortManager

from harness.emulator.bus import Bus, MasterPort
from harness.emulator.tcp_port import accept_clients, close_endpoint, listen
from harness.emulator.wire import CharFormat


class VirtualPort:
    """Serial-port stand-in for PortManager; settings are applied to the bus master port."""

    def __init__(self, port: MasterPort, before_change: Callable[[], None] | None = None) -> None:
        self._port = port
        #: called before a setting changes, so bytes received ahead of the change leave at the old format
        self._before_change = before_change
        self.xonxoff = False
        self.rtscts = False
        self.dtr = True
        self.rts = True
        self.break_condition = False
        self.cts = True
        self.dsr = True
        self.ri = False
        self.cd = True

    def _set(self, **changes: object) -> None:
        if self._before_change is not None:
            self._before_change()
        f = self._port.fmt
        values = {
            "baud": f.baud,
            "bytesize": f.bytesize,
            "parity": f.parity,
            "stopbits": f.stopbits,
            **changes,
        }
        self._port.fmt = CharFormat(**values)  # type: ignore[arg-type]

    @property
    def baudrate(self) -> int:
        return self._port.fmt.baud

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"baud rate must be a positive integer, got {value!r}")
        self._set(baud=value)

    @property
    def bytesize(self) -> int:
        return self._port.fmt.bytesize

    @bytesize.setter
    def bytesize(self, value: int) -> None:
        if value not in serial.Serial.BYTESIZES:
            raise ValueError(f"data bits must be one of {serial.Serial.BYTESIZES}, got {value!r}")
        self._set(bytesize=value)

    @property
    def parity(self) -> str:
        return self._port.fmt.parity

    @parity.setter
    def parity(self, value: str) -> None:
        if value not in serial.Serial.PARITIES:
            raise ValueError(f"parity must be one of {serial.Serial.PARITIES}, got {value!r}")
        self._set(parity=value)

    @property
    def stopbits(self) -> float:
        return self._port.fmt.stopbits

    @stopbits.setter
    def stopbits(self, value: float) -> None:
        if value not in serial.Serial.STOPBITS:
            raise ValueError(f"stop bits must be one of {serial.Serial.STOPBITS}, got {value!r}")
        self._set(stopbits=value)

    def reset_input_buffer(self) -> None:
        """Nothing is buffered on the server side: bytes go to the client as the wire delivers them."""

    def reset_output_buffer(self) -> None:
        """Bytes from the client go on the wire at once; nothing to purge."""


class _Connection:
    """Thread-safe writer PortManager and the bus share."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            self.sock.sendall(data)


class Rfc2217Server:
    """RFC 2217 server on 127.0.0.1 for the master port; one client at a time (a newer one takes over).

    ``echo``: the client reads back what it sends, as through a level converter that echoes."""

    def __init__(
        self,
        bus: Bus,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        initial: CharFormat | None = None,
        echo: bool = False,
    ) -> None:
        self.bus = bus
        self.master_port = MasterPort("rfc2217", initial or CharFormat(2400), echo=echo)
        bus.add_port(self.master_port)
        self._listener = listen(host, port, what="RFC 2217 endpoint")
        self.host, self.port = self._listener.getsockname()[:2]
        self._stopped = threading.Event()
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._accept_thread = threading.Thread(target=self._accept_loop, name="rfc2217-accept", daemon=True)
        self._accept_thread.start()

    @property
    def url(self) -> str:
        return f"rfc2217://{self.host}:{self.port}"

    def _accept_loop(self) -> None:
        accept_clients(self._listener, self._stopped, self._take)

    def _take(self, sock: socket.socket) -> None:
        """A new client takes the port over: older connections are shut down."""
        with self._lock:
            for old in self._clients:
                with contextlib.suppress(OSError):
                    old.shutdown(socket.SHUT_RDWR)
            self._clients.append(sock)
            t = threading.Thread(target=self._serve, args=(sock,), name="rfc2217-client", daemon=True)
            self._threads = [th for th in self._threads if th.is_alive()]
            self._threads.append(t)
        t.start()

    def _serve(self, sock: socket.socket) -> None:
        conn = _Connection(sock)
        pending = bytearray()
        arrival = time.monotonic()

        def flush() -> None:
            # data and option changes share the TCP stream: data before a change goes out at the old format
            if pending:
                self.bus.master_write(self.master_port, bytes(pending), arrival)
                pending.clear()

        vport = VirtualPort(self.master_port, before_change=flush)
        manager = PortManager(vport, conn)

        def sink(data: bytes) -> None:
            conn.write(b"".join(manager.escape(data)))

        self.master_port.sink = sink
        try:
            while not self._stopped.is_set():
                try:
                    data = sock.recv(4096)
                except OSError:
                    break
                if not data:
                    break
                arrival = time.monotonic()
                for chunk in manager.filter(data):
                    pending.extend(chunk)
                flush()
        finally:
            if self.master_port.sink is sink:
                self.master_port.sink = None
            with self._lock:
                if sock in self._clients:
                    self._clients.remove(sock)
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self) -> None:
        with self._lock:
            clients = list(self._clients)
        close_endpoint(self._listener, self._stopped, clients, [self._accept_thread, *self._threads])
        self.bus.remove_port(self.master_port)
