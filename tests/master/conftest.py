"""Fixtures for the master's self-tests: the reference emulator over its real RFC 2217 endpoint, and a
scripted slave on a real TCP socket (``socket://``) for replies the emulator never sends on purpose."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from harness.emulator import Emulator
from harness.master import Master

#: timers of scripted slaves run this much faster, like the shared emulators' (tests/conftest.py)
SCALE = 0.1
#: USB/network allowance on loopback (the emulator's own latency is well under a millisecond)
ALLOWANCE_S = 0.05


@pytest.fixture
def make_master() -> Iterator[Callable[..., Master]]:
    opened: list[Master] = []

    def make(emu_or_url: Emulator | str, baud: int = 2400, **kwargs: object) -> Master:
        url = emu_or_url if isinstance(emu_or_url, str) else emu_or_url.endpoints["mbus"]
        scale = kwargs.pop("time_scale", SCALE if isinstance(emu_or_url, str) else emu_or_url.time_scale)
        allowance = kwargs.pop("latency_allowance_s", ALLOWANCE_S)
        m = Master(url, baud, time_scale=scale, latency_allowance_s=allowance, **kwargs)  # type: ignore[arg-type]
        opened.append(m)
        return m

    yield make
    for m in opened:
        m.close()


@pytest.fixture
def emu(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


@pytest.fixture
def master(emu: Emulator, make_master: Callable[..., Master]) -> Master:
    return make_master(emu)


class ScriptedSlave:
    """A TCP endpoint that answers each request with the next scripted reply: ``(delay_s, chunks)``
    where chunks are written with ``gap_s`` between them (None = stay silent)."""

    def __init__(self) -> None:
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(1)
        self.url = f"socket://127.0.0.1:{self._srv.getsockname()[1]}"
        self.script: list[tuple[float, list[bytes], float] | None] = []
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._srv.settimeout(0.2)
        conn = None
        while not self._stop.is_set() and conn is None:
            try:
                conn, _ = self._srv.accept()
            except TimeoutError:
                continue
        if conn is None:
            return
        conn.settimeout(0.05)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(512)
                except TimeoutError:
                    continue
                if not data:
                    return
                self.received.append(data)
                step = self.script.pop(0) if self.script else None
                if step is None:
                    continue
                delay, chunks, gap = step
                time.sleep(delay)
                for i, chunk in enumerate(chunks):
                    if i:
                        time.sleep(gap)
                    conn.sendall(chunk)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._srv.close()


@pytest.fixture
def scripted() -> Iterator[ScriptedSlave]:
    slave = ScriptedSlave()
    yield slave
    slave.stop()
