"""Simulated bench instruments: real SCPI servers on 127.0.0.1 coupled to the emulator's bench physics."""

from __future__ import annotations

from harness.instruments.sim.bench import SimBench, SimWiring
from harness.instruments.sim.scpi_server import ScpiServer, SimInstrument

__all__ = ["ScpiServer", "SimBench", "SimInstrument", "SimWiring"]
