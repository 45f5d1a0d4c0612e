"""The master port as a raw TCP socket, as a transparent M-Bus/Ethernet gateway offers it.

A transparent gateway (a "TCP server" mode M-Bus level converter) copies the bytes of one TCP connection to
the bus and the bus's bytes back, with no framing or telnet options: libmbus's ``mbus-tcp-*`` tools and
pyserial's ``socket://`` URL speak it as they are. Its bus side is a UART at a fixed setting, here always
8E1 (EN 13757-2) at the baud the emulator is configured with (the profile's ``link.default_baud``).

A baud switch (CI B8..BF, EN 13757-3) moves the slave, not the gateway: the slave acknowledges at the old
rate and then listens at the new one, so the gateway's further requests reach it at the wrong baud and get
no reply, as with a real gateway configured for one rate. Switch back by a power cycle of the bus or use the
RFC 2217 endpoint, whose client sets the baud.

One client at a time, as on most gateways; a newer connection takes over from an older one. Bytes the bus
carries while no client is connected are dropped, so a client sees only what the bus carries once it is in.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable

from harness.emulator.bus import Bus, MasterPort
from harness.emulator.wire import CharFormat


class EndpointError(OSError):
    """An endpoint cannot be opened (e.g. its TCP port is taken); the message says what to do.

    ``option`` names the :class:`~harness.emulator.EmulatorOptions` field of the endpoint."""

    def __init__(self, message: str, option: str = "tcp_port") -> None:
        super().__init__(message)
        self.option = option


class _Sender:
    """Bus bytes to one connection; the scheduler thread and stop() may both touch it."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def send(self, data: bytes) -> None:
        with self._lock:
            self._sock.sendall(data)


class TcpPort:
    """Raw TCP endpoint ``tcp://host:port`` for the master port; bus side 8E1 at ``baud``.

    ``echo``: the client reads back what it sends, as through a gateway whose converter echoes."""

    def __init__(
        self, bus: Bus, *, baud: int, host: str = "127.0.0.1", port: int = 0, echo: bool = False
    ) -> None:
        self.bus = bus
        self.master_port = MasterPort("tcp", CharFormat(baud, 8, "E", 1), echo=echo)
        self._listener = listen(host, port, what="raw TCP endpoint")
        self.host, self.port = self._listener.getsockname()[:2]
        bus.add_port(self.master_port)
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._client: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._accept_thread = threading.Thread(target=self._accept_loop, name="mbus-tcp-accept", daemon=True)
        self._accept_thread.start()

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def _accept_loop(self) -> None:
        accept_clients(self._listener, self._stopped, self._take)

    def _take(self, sock: socket.socket) -> None:
        """A new client takes the endpoint over from the previous one."""
        with self._lock:
            if self._client is not None:
                with contextlib.suppress(OSError):
                    self._client.shutdown(socket.SHUT_RDWR)
            self._client = sock
            sink = _Sender(sock).send
            self.master_port.sink = sink
            t = threading.Thread(target=self._serve, args=(sock, sink), name="mbus-tcp-client", daemon=True)
            self._threads = [th for th in self._threads if th.is_alive()]
            self._threads.append(t)
        t.start()

    def _serve(self, sock: socket.socket, sink: Callable[[bytes], None]) -> None:
        try:
            while not self._stopped.is_set():
                try:
                    data = sock.recv(4096)
                except OSError:
                    break
                if not data:
                    break
                with self._lock:
                    current = self._client is sock
                if current:  # a connection that was taken over no longer reaches the bus
                    self.bus.master_write(self.master_port, data, time.monotonic())
        finally:
            with self._lock:
                if self._client is sock:
                    self._client = None
                if self.master_port.sink is sink:
                    self.master_port.sink = None
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self) -> None:
        with self._lock:
            clients = [] if self._client is None else [self._client]
            self.master_port.sink = None
        close_endpoint(self._listener, self._stopped, clients, [self._accept_thread, *self._threads])
        self.bus.remove_port(self.master_port)


def listen(host: str, port: int, *, what: str, option: str = "tcp_port") -> socket.socket:
    """A listening socket on ``host:port`` for one of the emulator's TCP endpoints (``what`` names it in
    the error), with a 0.2 s accept timeout so the accept loop notices a stop."""
    try:
        listener = socket.create_server((host, port))
    except OSError as exc:
        raise EndpointError(
            f"cannot listen for the {what} on {host}:{port} "
            f"({os.strerror(exc.errno) if exc.errno else exc}); "
            "choose another port, or 0 for any free one",
            option=option,
        ) from None
    listener.settimeout(0.2)
    return listener


def close_endpoint(
    listener: socket.socket,
    stopped: threading.Event,
    clients: list[socket.socket],
    threads: list[threading.Thread],
) -> None:
    """Stop a TCP endpoint: the accept loop and every client connection end, their threads are joined.
    Shared by the emulator's TCP endpoints."""
    stopped.set()
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
    with contextlib.suppress(OSError):
        listener.close()
    for sock in clients:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    for t in threads:
        t.join(timeout=2)


def accept_clients(
    listener: socket.socket, stopped: threading.Event, on_client: Callable[[socket.socket], None]
) -> None:
    """Accept TCP clients until ``stopped`` (or the listener closes); each, blocking and with TCP_NODELAY
    (a byte leaves at once, as on a wire), goes to ``on_client``. Shared by the emulator's TCP endpoints."""
    while not stopped.is_set():
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        on_client(sock)
