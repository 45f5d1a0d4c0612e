"""Reply timing of the reference emulator against the EN 13757-2 window, measured from the master side.

Run:  python tests/benchmarks/bench_emulator.py [--samples 20]

For 2400 and 300 Bd, a pyserial client on the emulator's RFC 2217 endpoint (real time, time scale 1.0) sends
SND_NKE and REQ_UD2 and timestamps the first reply byte. The master-side latency estimate is
first byte received - (write returned + request wire time) - one character time (the first byte is only
complete one character after its start bit). The emulator's own timestamps (end of request -> start bit)
(scheduled start bit + how late its scheduler handed the byte over) are printed beside it, so the loopback
path's share is visible. Window: 11 bit times .. 330 bit times + 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

import serial

from harness.emulator import EmulatorOptions, start_emulator
from harness.mbus import encode
from harness.mbus.model import REQ_UD2, SND_NKE, SND_UD, ControlFrame, ShortFrame
from harness.mbus.timing import reply_window


def _read_reply(port: serial.SerialBase, timeout_s: float, gap_s: float) -> tuple[bytes, float | None]:
    data = bytearray()
    first: float | None = None
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        now = time.monotonic()
        if (last is None and now > deadline) or (last is not None and now - last > gap_s):
            return bytes(data), first
        chunk = port.read(512)
        if chunk:
            if first is None:
                first = time.monotonic()
            last = time.monotonic()
            data += chunk
        else:
            time.sleep(0.0002)


def measure(baud: int, samples: int) -> list[tuple[str, list[float], list[float]]]:
    out = []
    with start_emulator(EmulatorOptions(powered=True, time_scale=1.0)) as emu:
        port = serial.serial_for_url(emu.endpoints["mbus"], baudrate=2400, parity="E", timeout=0)
        try:
            if baud != 2400:
                port.write(encode(ControlFrame(c=SND_UD, a=0, ci={300: 0xB8}[baud])))
                reply, _ = _read_reply(port, 0.5, 0.05)
                assert reply == b"\xe5", f"baud switch not acknowledged: {reply.hex()}"
                port.baudrate = baud
            char_s = 11 / baud
            for name, request in (
                ("SND_NKE", encode(ShortFrame(c=SND_NKE, a=0))),
                ("REQ_UD2", encode(ShortFrame(c=REQ_UD2, a=0))),
            ):
                master: list[float] = []
                emulator: list[float] = []
                for _ in range(samples):
                    port.read(port.in_waiting)
                    port.write(request)
                    t_written = time.monotonic()
                    reply, first = _read_reply(port, 2.0, max(6 * char_s, 0.03))
                    assert reply and first is not None, f"no reply to {name} at {baud} Bd"
                    end_of_request = t_written + len(request) * char_s
                    master.append(first - end_of_request - char_s)
                    rec = emu.timing_log[-1]
                    late = rec.sent_late_s or 0.0
                    emulator.append(rec.reply_delay_s + late)  # scheduled delay + scheduler lateness
                    time.sleep(0.02)
                out.append((name, master, emulator))
        finally:
            port.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    print(
        f"{'baud':>5} {'request':8} {'window ms':>16} {'emulator ms (min/med/max)':>27} "
        f"{'master ms (min/med/max)':>25} {'margin to max':>13}"
    )
    for baud in (2400, 300):
        lo, hi = reply_window(baud)
        for name, master, emulator in measure(baud, args.samples):

            def fmt(v: list[float]) -> str:
                return f"{min(v) * 1e3:7.2f}/{statistics.median(v) * 1e3:7.2f}/{max(v) * 1e3:7.2f}"

            margin = (hi - max(master)) / hi
            print(
                f"{baud:>5} {name:8} {lo * 1e3:7.2f}..{hi * 1e3:7.2f} {fmt(emulator):>27} {fmt(master):>25} "
                f"{margin:12.0%}"
            )


if __name__ == "__main__":
    main()
