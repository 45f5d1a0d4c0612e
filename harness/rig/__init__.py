"""Rigs: validated rig files and the bench opened from them (limits, interlock, safe state, lock)."""

from __future__ import annotations

from harness.rig.bench import (
    CAPABILITIES,
    Bench,
    BenchError,
    CalibrationWarning,
    CapabilityMissing,
    Terminated,
    open_bench,
)
from harness.rig.config import RigConfig, RigFileError, calibration_problems, load_rig
from harness.rig.lock import RigBusy, RigLock

__all__ = [
    "CAPABILITIES",
    "Bench",
    "BenchError",
    "CalibrationWarning",
    "CapabilityMissing",
    "RigBusy",
    "RigConfig",
    "RigFileError",
    "RigLock",
    "Terminated",
    "calibration_problems",
    "load_rig",
    "open_bench",
]
