"""The bus monitor endpoint: a listen-only receiver on the emulated line, served as raw TCP.

A lab wires an M-Bus sniffer (a second receiver on the two bus wires, e.g. a level converter's receive
path into its own USB serial adapter) to see the line itself: the master's requests and the slaves'
replies, one clock, no master-side latency. This endpoint is that receiver: every character the line
carries reaches each connected client when its stop bit ends on the emulated line, read by a UART at
8E1 (EN 13757-2) and the emulator's configured baud.

Why raw TCP and not RFC 2217: a sniffer only receives, so there is nothing to negotiate, and the raw
socket is the shortest path from the line to the client's timestamp (no telnet escaping, no client-side
reader thread and queue as in pyserial's ``rfc2217://``), which keeps the monitor's resolution small.
pyserial opens it as ``socket://HOST:PORT``. The cost: the sniffer's UART is set to one rate, like a real
sniffer configured for one baud (``EmulatorOptions.monitor_baud``, default the profile's default baud);
at any other rate on the line the monitor reads garbage, as a real one would.

Bytes a client sends are discarded: the monitor never drives the line. Several clients may listen at
once; a client sees only what the line carries once it is connected.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from harness.emulator.bus import Bus, MasterPort
from harness.emulator.tcp_port import accept_clients, close_endpoint, listen
from harness.emulator.wire import CharFormat


class MonitorPort:
    """Listen-only raw TCP endpoint ``tcp://host:port``; its receiver reads the line at 8E1 and ``baud``."""

    def __init__(self, bus: Bus, *, baud: int, host: str = "127.0.0.1", port: int = 0) -> None:
        self.bus = bus
        self._listener = listen(host, port, what="bus monitor endpoint", option="monitor_port")
        self.host, self.port = self._listener.getsockname()[:2]
        self._lock = threading.Lock()
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self.receiver = MasterPort("monitor", CharFormat(baud, 8, "E", 1), self._broadcast)
        bus.add_monitor(self.receiver)
        self._accept_thread = threading.Thread(target=self._accept_loop, name="mbus-monitor", daemon=True)
        self._accept_thread.start()

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def _broadcast(self, data: bytes) -> None:
        with self._lock:
            clients = list(self._clients)
        for sock in clients:
            try:
                sock.sendall(data)
            except OSError:
                self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._clients:
                self._clients.remove(sock)
        with contextlib.suppress(OSError):
            sock.close()

    def _accept_loop(self) -> None:
        accept_clients(self._listener, self._stopped, self._take)

    def _take(self, sock: socket.socket) -> None:
        """Every client listens: add it to those the line's bytes go to."""
        t = threading.Thread(target=self._drain, args=(sock,), name="mbus-monitor-client", daemon=True)
        with self._lock:
            self._clients.append(sock)
            self._threads = [th for th in self._threads if th.is_alive()]
            self._threads.append(t)
        t.start()

    def _drain(self, sock: socket.socket) -> None:
        """Read and discard what the client sends, so its close is noticed."""
        while not self._stopped.is_set():
            try:
                if not sock.recv(4096):
                    break
            except OSError:
                break
        self._drop(sock)

    def stop(self) -> None:
        self.bus.remove_monitor(self.receiver)
        with self._lock:
            clients = list(self._clients)
        close_endpoint(self._listener, self._stopped, clients, [self._accept_thread, *self._threads])
