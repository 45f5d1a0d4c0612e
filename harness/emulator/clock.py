"""The emulator's clock: real time scaled by the time scale, plus any explicit advance.

``time_scale`` 0.1 makes every emulated timer (reply delay, wire time, detection time, energy) run 10x faster
in wall time; ``advance_s`` jumps emulated time forward without waiting (used for energy and detection tests).
"""

from __future__ import annotations

import threading
import time


class ScaledClock:
    """Emulated seconds since start: (wall seconds / time_scale) + advanced seconds."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0 (1.0 = real time, 0.1 = 10x faster), got {time_scale}")
        self.time_scale = time_scale
        self._t0 = time.monotonic()
        self._advanced_s = 0.0
        self._lock = threading.Lock()

    def now_s(self) -> float:
        with self._lock:
            return (time.monotonic() - self._t0) / self.time_scale + self._advanced_s

    def at_wall(self, wall_monotonic: float) -> float:
        """Emulated time corresponding to a wall-clock (time.monotonic) instant."""
        with self._lock:
            return (wall_monotonic - self._t0) / self.time_scale + self._advanced_s

    def advance_s(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; got advance of {seconds} s")
        with self._lock:
            self._advanced_s += seconds

    def wall_s(self, emulated_s: float) -> float:
        """Wall-clock duration of an emulated duration."""
        return emulated_s * self.time_scale
