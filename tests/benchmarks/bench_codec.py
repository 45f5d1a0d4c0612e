"""Benchmark: full decode of the libmbus corpus with our codec and with pyMeterBus, in the same run.

Full decode = link layer + header + every record's value and unit: ``decode()`` then ``describe()`` of
each record for us, ``meterbus.load()`` then ``.interpreted`` (header and every record) for pyMeterBus.
Both decode the same frames (those pyMeterBus accepts). Prints frames/s of each and the ratio.

    python tests/benchmarks/bench_codec.py [--seconds 1.0] [--rounds 5]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import meterbus

from harness.mbus import LongFrame, decode, describe

CORPUS = Path(__file__).resolve().parents[1] / "data" / "libmbus" / "frames"


def load_corpus() -> list[bytes]:
    return [bytes.fromhex(re.sub(r"\s+", "", p.read_text())) for p in sorted(CORPUS.glob("*.hex"))]


def ours_full(data: bytes) -> object:
    frame = decode(data)
    if isinstance(frame, LongFrame):
        big = frame.ci == 0x76
        return frame.header, [describe(r, big_endian=big) for r in frame.records]
    return frame


def pymeterbus_full(data: bytes) -> object:
    return meterbus.load(data).interpreted


def ours_decode_only(data: bytes) -> object:
    return decode(data)


def _loops_for(fn: Callable[[bytes], object], frames: list[bytes], seconds: float) -> int:
    """Corpus passes that take about ``seconds``."""
    start = time.perf_counter()
    loops = 0
    while time.perf_counter() - start < seconds / 10:
        for f in frames:
            fn(f)
        loops += 1
    return max(1, int(seconds * loops / (time.perf_counter() - start)))


def _rate(fn: Callable[[bytes], object], frames: list[bytes], loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        for f in frames:
            fn(f)
    return loops * len(frames) / (time.perf_counter() - t0)


def compare(
    decoders: dict[str, Callable[[bytes], object]], frames: list[bytes], seconds: float, rounds: int
) -> dict[str, float]:
    """Best frames/s per decoder; rounds interleave the decoders so machine load hits all alike."""
    loops = {name: _loops_for(fn, frames, seconds) for name, fn in decoders.items()}
    best = dict.fromkeys(decoders, 0.0)
    for _ in range(rounds):
        for name, fn in decoders.items():
            best[name] = max(best[name], _rate(fn, frames, loops[name]))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per round and decoder")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per decoder (best is kept)")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    if not corpus:
        print(f"no frames found under {CORPUS}", file=sys.stderr)
        return 2
    frames = []
    for data in corpus:
        try:
            pymeterbus_full(data)
        except Exception:  # pyMeterBus rejects some frames; compare on those both decode
            continue
        ours_full(data)
        frames.append(data)
    print(
        f"corpus: {len(corpus)} libmbus frames, {len(frames)} decoded by both ({sum(map(len, frames))} bytes)"
    )
    rates = compare(
        {"pymeterbus": pymeterbus_full, "ours": ours_full, "link": ours_decode_only},
        frames,
        args.seconds,
        args.rounds,
    )
    pmb, ours, link = rates["pymeterbus"], rates["ours"], rates["link"]
    print(f"pyMeterBus {getattr(meterbus, '__version__', '?')} full decode : {pmb:12,.0f} frames/s")
    print(f"cmi-hil codec full decode      : {ours:12,.0f} frames/s")
    print(f"cmi-hil codec decode() only    : {link:12,.0f} frames/s (records kept structural)")
    print(f"ratio full decode cmi-hil / pyMeterBus: {ours / pmb:.1f}x (goal >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
