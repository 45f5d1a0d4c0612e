"""Bench instrument drivers over pyvisa (pyvisa-py backend by default), declared as SCPI
properties with units and limits.

Driver names used in rig files map to classes in :data:`DRIVERS`.
"""

from __future__ import annotations

from harness.instruments.ac_source import ScpiAcSource
from harness.instruments.dmm import ScpiDmm
from harness.instruments.errors import (
    InstrumentError,
    InstrumentUnreachable,
    InterlockError,
    LimitError,
    ScpiError,
)
from harness.instruments.interlock import ELV_LIMIT_VAC, MainsInterlock
from harness.instruments.protocols import AcSource, Multimeter, PowerSupply, SwitchCard
from harness.instruments.registry import DRIVER_REGISTRY, DriverEntry, driver_problem, drivers_for
from harness.instruments.relay import ScpiRelayCard
from harness.instruments.supply import OutputSpec, ScpiPowerSupply, SupplyLimits

#: Driver name in a rig file -> (role, class); the full entries are in :data:`DRIVER_REGISTRY`.
DRIVERS: dict[str, tuple[str, type]] = {name: (e.role, e.cls) for name, e in DRIVER_REGISTRY.items()}

__all__ = [
    "DRIVERS",
    "DRIVER_REGISTRY",
    "DriverEntry",
    "OutputSpec",
    "driver_problem",
    "drivers_for",
    "ELV_LIMIT_VAC",
    "AcSource",
    "InstrumentError",
    "InstrumentUnreachable",
    "InterlockError",
    "LimitError",
    "MainsInterlock",
    "Multimeter",
    "PowerSupply",
    "ScpiAcSource",
    "ScpiDmm",
    "ScpiError",
    "ScpiPowerSupply",
    "ScpiRelayCard",
    "SupplyLimits",
    "SwitchCard",
]
