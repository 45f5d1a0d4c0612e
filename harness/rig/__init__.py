"""Rigs: validated rig files and the bench opened from them (limits, interlock, safe state, lock)."""

from __future__ import annotations

from harness.rig.bench import (
    CAPABILITIES,
    Bench,
    BenchError,
    BenchHalted,
    CalibrationWarning,
    CapabilityMissing,
    Terminated,
    close_open_benches,
    open_bench,
)
from harness.rig.config import RigConfig, RigFileError, calibration_problems, load_rig
from harness.rig.lock import RigBusy, RigLock

__all__ = [
    "CAPABILITIES",
    "Bench",
    "BenchError",
    "BenchHalted",
    "CalibrationWarning",
    "CapabilityMissing",
    "RigBusy",
    "RigConfig",
    "RigFileError",
    "RigLock",
    "Terminated",
    "calibration_problems",
    "close_open_benches",
    "load_rig",
    "open_bench",
]
