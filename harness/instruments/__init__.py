"""Bench instrument drivers over pyvisa (pyvisa-py backend), declared as SCPI
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
from harness.instruments.relay import ScpiRelayCard
from harness.instruments.supply import ScpiPowerSupply, SupplyLimits

#: Driver name in a rig file -> (role, class).
DRIVERS: dict[str, tuple[str, type]] = {
    "scpi-psu": ("supply", ScpiPowerSupply),
    "scpi-dmm": ("dmm", ScpiDmm),
    "scpi-relay": ("relays", ScpiRelayCard),
    "scpi-ac": ("ac_source", ScpiAcSource),
}

__all__ = [
    "DRIVERS",
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
