"""Raw-byte master for the emulator self-tests, and request builders (encoded with the harness codec)."""

from __future__ import annotations

import time

import serial

from harness.emulator import Emulator
from harness.emulator.oracle import Oracle
from harness.mbus import decode, encode
from harness.mbus.model import (
    CI_DATA_SEND,
    CI_SELECT,
    REQ_UD2,
    SND_NKE,
    SND_UD,
    ControlFrame,
    LongFrame,
    MBusError,
    SecondaryAddress,
    ShortFrame,
)
from harness.mbus.records import describe
from harness.mbus.timing import reply_window

ACK = b"\xe5"

#: emulator timers run 10x faster in most tests (reply windows, wire time, detection time)
SCALE = 0.1
#: loopback TCP + thread scheduling allowance on the master side
ALLOWANCE_S = 0.05
#: wall seconds a long frame whose L field announces more bytes may wait for its next byte: a reader or
#: emulator thread held up mid-frame on a loaded machine must not cut the frame in two
INCOMPLETE_FRAME_WAIT_S = 0.5


def frame_incomplete(data: bytes | bytearray) -> bool:
    """A long/control frame (68 L L 68 ...) with fewer bytes than its L field announces (EN 13757-2)."""
    return len(data) >= 2 and data[0] == 0x68 and len(data) < data[1] + 6


class RawLink:
    """A master that writes raw bytes and reads whatever the line returns, timing the first byte."""

    def __init__(self, url: str, *, baud: int = 2400, parity: str = "E", time_scale: float = SCALE) -> None:
        self.port = serial.serial_for_url(url, baudrate=baud, parity=parity, timeout=0)
        self.time_scale = time_scale
        self.last_latency_s: float | None = None

    @property
    def baud(self) -> int:
        return int(self.port.baudrate)

    def set_format(self, *, baud: int | None = None, parity: str | None = None) -> None:
        if baud is not None:
            self.port.baudrate = baud
        if parity is not None:
            self.port.parity = parity

    def char_time_s(self) -> float:
        return 11 / self.baud * self.time_scale

    def exchange(self, request: bytes, *, window_factor: float = 1.5) -> bytes:
        """Send ``request``; collect the reply until the line is silent. Records the start-bit latency."""
        self.port.read(
            self.port.in_waiting
        )  # drop stale bytes locally (an RFC 2217 purge costs a round trip)
        self.port.write(request)
        t_written = time.monotonic()
        end_of_request = t_written + len(request) * self.char_time_s()
        _, max_s = reply_window(self.baud)
        deadline = end_of_request + max_s * self.time_scale * window_factor + ALLOWANCE_S
        data = bytearray()
        self.last_latency_s = None
        gap_s = max(6 * self.char_time_s(), 0.03)
        last_rx = None
        while True:
            now = time.monotonic()
            if last_rx is None and now > deadline:
                break
            if last_rx is not None and now - last_rx > (
                INCOMPLETE_FRAME_WAIT_S if frame_incomplete(data) else gap_s
            ):
                break
            chunk = self.port.read(256)
            if chunk:
                if last_rx is None:
                    # first byte complete = reply start bit + one character time
                    latency_wall = time.monotonic() - end_of_request - self.char_time_s()
                    self.last_latency_s = latency_wall / self.time_scale
                last_rx = time.monotonic()
                data += chunk
            else:
                time.sleep(0.0005)
        return bytes(data)

    def close(self) -> None:
        # pyserial's rfc2217 close() sleeps 0.3 s after joining its reader "for quick reconnects"; the
        # emulator needs no such pause, so join the reader here and let close() skip it
        reader = self.port._thread
        self.port._thread = None
        self.port.close()
        if reader is not None:
            reader.join(2)


def power_cycle(emu: Emulator, volts: float = 36.0) -> None:
    """Bus supply off and on again, then wait the module's startup time (device profile, EN 13757-2:2018
    4.2.2.11) before the caller talks to it."""
    emu.physics.set_bus_voltage(0.0)
    emu.physics.set_bus_voltage(volts)
    wait_startup(emu)


def wait_startup(emu: Emulator) -> None:
    """After a power-up: the module's startup time from the device profile, scaled."""
    time.sleep(emu.profile.startup.typical_s * emu.time_scale)


def snd_nke(a: int) -> bytes:
    return encode(ShortFrame(c=SND_NKE, a=a))


def req_ud2(a: int, fcb: int = 0) -> bytes:
    return encode(ShortFrame(c=REQ_UD2 | (0x20 if fcb else 0), a=a))


def select(
    ident: str, manufacturer: str | None = None, version: int | None = None, medium: int | None = None
) -> bytes:
    sel = SecondaryAddress(id=ident, manufacturer=manufacturer, version=version, medium=medium)
    return encode(LongFrame(c=SND_UD, a=253, ci=CI_SELECT, select=sel))


def set_address(a: int, new: int) -> bytes:
    return encode(LongFrame(c=SND_UD, a=a, ci=CI_DATA_SEND, data=bytes([0x01, 0x7A, new])))


def baud_switch(a: int, ci: int) -> bytes:
    return encode(ControlFrame(c=SND_UD, a=a, ci=ci))


def rsp(data: bytes) -> LongFrame:
    try:
        frame = decode(data)
    except MBusError as exc:
        raise AssertionError(f"reply does not decode: {exc} ({data.hex(' ')})") from None
    assert isinstance(frame, LongFrame), f"expected RSP_UD, got {data.hex(' ')}"
    return frame


def read_all(link: RawLink, address: int = 0) -> list[LongFrame]:
    assert link.exchange(snd_nke(address)) == ACK
    frames = [rsp(link.exchange(req_ud2(address, fcb=0)))]
    while frames[-1].more_records_follow and len(frames) < 5:
        frames.append(rsp(link.exchange(req_ud2(address, fcb=len(frames) % 2))))
    return frames


def read_register(emu: Emulator, link: RawLink, name: str) -> float | int | str | None:
    """Decoded value of one profile register, found by its DIF/DIFE/VIF/VIFE in the read-out; a status
    word's field (e.g. ``active_tariff`` in C.5.0) by its name, decoded from the word."""
    field = emu.profile.status_field(name)
    if field is not None:
        word = read_register(emu, link, field[0].name)
        assert isinstance(word, int), f"status word {field[0].name}={word!r}"
        return field[1].decode(word)
    want = Oracle(emu.profile).expected_record(name, 0)
    assert link.exchange(snd_nke(0)) == ACK
    for index in range(emu.profile.telegram_count):
        request = req_ud2(0, fcb=index % 2)
        # a REQ_UD2 that got no byte at all (a loaded host) is sent again with the same FCB, which asks for
        # the same telegram (EN 13757-2), as a master does; a reply that came but is wrong still fails
        frame = rsp(link.exchange(request) or link.exchange(request))
        for rec in frame.records:
            if (rec.dif, rec.dife, rec.vif, rec.vife) == (want.dif, want.dife, want.vif, want.vife):
                return describe(rec).value
        if not frame.more_records_follow:
            break
    raise AssertionError(f"register {name} not in the read-out")
