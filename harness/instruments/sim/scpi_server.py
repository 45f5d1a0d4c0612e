"""A real SCPI server over TCP (raw socket, ``\\n`` terminated), as LXI instruments serve on port 5025.

Each simulated instrument is a :class:`SimInstrument` (a command tree and an error queue) served by a
:class:`ScpiServer` on 127.0.0.1 at an ephemeral port, so drivers reach it through pyvisa exactly like a lab
instrument (``TCPIP::127.0.0.1::PORT::SOCKET``). Headers follow SCPI-99 rules: short or long mnemonic form,
case-insensitive, optional nodes in brackets, several commands per line separated by ``;``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Handler = Callable[[list[str]], str | None]

# SCPI-99 standard error numbers used by the simulated instruments.
ERR_UNDEFINED_HEADER = (-113, "Undefined header")
ERR_MISSING_PARAMETER = (-109, "Missing parameter")
ERR_DATA_OUT_OF_RANGE = (-222, "Data out of range")
ERR_ILLEGAL_PARAMETER = (-224, "Illegal parameter value")
ERR_DATA_TYPE = (-104, "Data type error")
ERR_QUEUE_OVERFLOW = (-350, "Queue overflow")
ERR_SETTINGS_CONFLICT = (-221, "Settings conflict")
ERROR_QUEUE_DEPTH = 20


class ScpiCommandError(Exception):
    """Raised by a command handler; the code and message go to the error queue."""

    def __init__(self, error: tuple[int, str]) -> None:
        super().__init__(error[1])
        self.error = error


def _mnemonic(token: str) -> str:
    """``VOLTage`` accepts ``VOLT`` and ``VOLTAGE`` (the upper-case letters are the short form)."""
    short = "".join(ch for ch in token if ch.isupper() or ch.isdigit() or ch == "*")
    long = token.upper()
    forms = sorted({re.escape(short), re.escape(long)}, key=len, reverse=True)
    return "(?:" + "|".join(forms) + ")"


def header_regex(pattern: str) -> re.Pattern[str]:
    """Compile a header pattern like ``[SOURce:]VOLTage[:LEVel]:PROTection?``."""
    query = pattern.endswith("?")
    out = []
    for optional, token in re.findall(r"(\[?)(:?[A-Za-z*][A-Za-z0-9]*:?)\]?", pattern.rstrip("?")):
        name = token.strip(":")
        part = (":" if token.startswith(":") else "") + _mnemonic(name) + (":" if token.endswith(":") else "")
        out.append(f"(?:{part})?" if optional else part)
    return re.compile("^:?" + "".join(out) + (r"\?" if query else "") + "$")


def split_params(text: str) -> list[str]:
    """Split parameters on commas outside parentheses and quotes (channel lists hold commas)."""
    params: list[str] = []
    depth, quoted = 0, False
    current: list[str] = []
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            params.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        params.append("".join(current).strip())
    return params


def parse_channel_list(text: str) -> list[int]:
    """``(@101,103:105)`` -> [101, 103, 104, 105]."""
    match = re.fullmatch(r"\(@([0-9,:\s]+)\)", text.strip())
    if not match:
        raise ScpiCommandError(ERR_DATA_TYPE)
    channels: list[int] = []
    for part in match.group(1).split(","):
        first, _, last = part.strip().partition(":")
        start = int(first)
        stop = int(last) if last else start
        channels.extend(range(start, stop + 1))
    return channels


def parse_number(text: str, *, minimum: float, maximum: float, default: float | None = None) -> float:
    """<NRf> with MIN/MAX/DEF keywords; out of range is error -222."""
    word = text.strip().upper()
    if word in ("MIN", "MINIMUM"):
        return minimum
    if word in ("MAX", "MAXIMUM"):
        return maximum
    if word in ("DEF", "DEFAULT") and default is not None:
        return default
    try:
        value = float(word)
    except ValueError:
        raise ScpiCommandError(ERR_DATA_TYPE) from None
    if not minimum <= value <= maximum:
        raise ScpiCommandError(ERR_DATA_OUT_OF_RANGE)
    return value


def parse_switch(text: str) -> bool:
    word = text.strip().upper()
    if word in ("ON", "1"):
        return True
    if word in ("OFF", "0"):
        return False
    raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)


def nr3(value: float) -> str:
    return f"{value:+.9E}"


@dataclass
class _Command:
    regex: re.Pattern[str]
    handler: Handler


class SimInstrument:
    """Command tree, IEEE 488.2 common commands and a SCPI error queue; subclasses add their commands."""

    def __init__(self, idn: str) -> None:
        self.idn = idn
        self.lock = threading.RLock()
        self.errors: deque[tuple[int, str]] = deque()
        self.commands: list[_Command] = []
        self.log: list[str] = []  # every line received, for tests and debugging
        self.add("*IDN?", lambda _: self.idn)
        self.add("*RST", lambda _: self._reset())
        self.add("*CLS", lambda _: self.errors.clear())
        self.add("*OPC?", lambda _: "1")
        self.add("*OPC", lambda _: None)
        self.add("*ESR?", lambda _: "0")
        self.add("SYSTem:ERRor[:NEXT]?", lambda _: self._next_error())
        self.add("SYSTem:REMote", lambda _: None)
        self.add("SYSTem:LOCal", lambda _: None)

    def add(self, pattern: str, handler: Handler) -> None:
        self.commands.append(_Command(header_regex(pattern), handler))

    def drop(self, *headers: str) -> None:
        """Remove the commands that answer these example headers (a model dialect without them: -113)."""
        self.commands = [c for c in self.commands if not any(c.regex.match(h.upper()) for h in headers)]

    def push_error(self, error: tuple[int, str]) -> None:
        if len(self.errors) >= ERROR_QUEUE_DEPTH - 1:
            if self.errors and self.errors[-1] != ERR_QUEUE_OVERFLOW:
                self.errors.append(ERR_QUEUE_OVERFLOW)
            return
        self.errors.append(error)

    def _next_error(self) -> str:
        if not self.errors:
            return '+0,"No error"'
        code, message = self.errors.popleft()
        return f'{code:+d},"{message}"'

    def _reset(self) -> None:
        self.reset()
        self.changed()

    def reset(self) -> None:
        """Instrument state after ``*RST`` (override)."""

    def changed(self) -> None:
        """Called after any command that may change outputs (the bench wiring overrides it)."""

    def handle_line(self, line: str) -> str | None:
        """Execute one program message; return the response message or None when nothing is to be sent."""
        replies: list[str] = []
        with self.lock:
            self.log.append(line)
            for unit in (part.strip() for part in line.split(";")):
                if not unit:
                    continue
                header, _, rest = unit.partition(" ")
                header = header.strip().upper()
                for command in self.commands:
                    if command.regex.match(header):
                        try:
                            reply = command.handler(split_params(rest))
                        except ScpiCommandError as exc:
                            self.push_error(exc.error)
                            reply = None
                        except (ValueError, IndexError):
                            self.push_error(ERR_ILLEGAL_PARAMETER if rest.strip() else ERR_MISSING_PARAMETER)
                            reply = None
                        if reply is not None:
                            replies.append(reply)
                        break
                else:
                    self.push_error(ERR_UNDEFINED_HEADER)
        return ";".join(replies) if replies else None


class _ConnectionHandler(socketserver.StreamRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        self.server.track(self.request, add=True)
        try:
            for raw in self.rfile:
                line = raw.decode("ascii", errors="replace").strip("\r\n")
                reply = self.server.instrument.handle_line(line)
                if reply is not None:
                    self.wfile.write(reply.encode("ascii") + b"\n")
                    self.wfile.flush()
        except (ConnectionError, OSError):
            pass
        finally:
            self.server.track(self.request, add=False)


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, instrument: SimInstrument) -> None:
        super().__init__(("127.0.0.1", 0), _ConnectionHandler)
        self.instrument = instrument
        self._clients: set[socket.socket] = set()
        self._clients_lock = threading.Lock()

    def track(self, sock: socket.socket, *, add: bool) -> None:
        with self._clients_lock:
            (self._clients.add if add else self._clients.discard)(sock)

    def close_clients(self) -> None:
        with self._clients_lock:
            for sock in list(self._clients):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class ScpiServer:
    """Serve one :class:`SimInstrument` on 127.0.0.1 at an ephemeral port until :meth:`stop`."""

    def __init__(self, instrument: SimInstrument) -> None:
        self.instrument = instrument
        self._server = _TcpServer(instrument)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"scpi-sim-{self.port}",
        )
        self._thread.start()

    @property
    def resource(self) -> str:
        """The VISA resource string a driver opens."""
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_clients()
        self._server.server_close()
        self._thread.join(timeout=2.0)

    def __enter__(self) -> ScpiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
