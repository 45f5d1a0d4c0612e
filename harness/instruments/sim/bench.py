"""The simulated bench: SCPI servers for supply, DMM, relay card and AC source, wired to a BenchPhysics.

The wiring mirrors the cables of a lab bench (architecture.md, "The bench, concretely"):

- supply output -> polarity path -> M-Bus slave terminals: ``physics.set_bus_voltage(+V, -V or 0)``. With a
  DPDT pair of relay channels, both closed = reversed, both open = normal, one of two = open circuit (0 V).
  With a second supply output wired reversed, the bus sees ``V(positive) - V(negative)``; both on at once
  is a short the simulation answers with 0 V.
- DMM in series with the bus: reads ``physics.bus_current_a()``.
- ``bus_supply: {master-fixed: V}``: the master makes V on the bus whatever the supply does (USB masters).
- AC source -> relay channel of rate input *n* -> ``physics.set_rate_input_vac(n, vac)``.

Physics is only told about a change, so a current-limit write does not look like a power cycle to the DUT.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.instruments.registry import DRIVER_REGISTRY
from harness.instruments.sim.dialects import make_sim_instrument
from harness.instruments.sim.instruments import SimAcSource, SimDmm, SimPowerSupply, SimRelayCard
from harness.instruments.sim.scpi_server import ScpiServer, SimInstrument
from harness.physics import BenchPhysics

PolarityMethod = Literal["none", "relay_dpdt", "supply_channel"]
ROLES = ("supply", "dmm", "relays", "ac_source")


@dataclass(frozen=True)
class SimWiring:
    rate_input_channels: dict[int, int] = field(default_factory=dict)  # rate input 1..4 -> relay channel
    polarity_method: PolarityMethod = "none"
    polarity_relays: tuple[int, ...] = ()
    positive_output: int = 1
    negative_output: int | None = None
    serials: dict[str, str] = field(default_factory=dict)  # role -> serial number in *IDN?
    roles: tuple[str, ...] = ROLES  # which instruments this bench has
    drivers: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # role -> (driver, model)
    #: the M-Bus master makes this bus voltage itself (rig file ``bus_supply: {master-fixed: V}``)
    master_fixed_volts: float | None = None


def sim_idn(role: str, serial: str, model: str | None = None) -> str:
    """``*IDN?`` of a simulated instrument: maker ``cmi-hil``, ``SIM-<model>`` so evidence never hides it."""
    generic = {"supply": "SIM-PSU60", "dmm": "SIM-DMM6", "relays": "SIM-RELAY20", "ac_source": "SIM-AC310"}
    name = f"SIM-{model}" if model else generic[role]
    return f"cmi-hil,{name},{serial},1.0"


def _instrument(role: str, wiring: SimWiring, serial: str, generic: Callable[[str], SimInstrument]) -> Any:
    """The instrument of ``role`` in the dialect of the rig file's driver (generic when it names none)."""
    driver, model = wiring.drivers.get(role, ("", None))
    matched = DRIVER_REGISTRY[driver].match_model(model) if driver in DRIVER_REGISTRY else None
    idn = sim_idn(role, serial, matched)
    return make_sim_instrument(role, driver, model, idn) or generic(idn)


class SimBench:
    """Start the SCPI servers of a simulated rig; :attr:`resources` maps role -> VISA resource string."""

    def __init__(self, physics: BenchPhysics, wiring: SimWiring) -> None:
        self.physics = physics
        self.wiring = wiring
        self._lock = threading.Lock()
        self._applied_bus_v: float | None = None
        self._applied_vac: dict[int, float] = {}
        serial = wiring.serials.get
        outputs = max(wiring.positive_output, wiring.negative_output or 1, 1)
        self.supply: SimPowerSupply = _instrument(
            "supply",
            wiring,
            serial("supply", "SIM0001"),
            lambda idn: SimPowerSupply(idn, outputs=max(outputs, 2)),
        )
        self.dmm: SimDmm = _instrument("dmm", wiring, serial("dmm", "SIM0002"), SimDmm)
        self.relays: SimRelayCard = _instrument("relays", wiring, serial("relays", "SIM0003"), SimRelayCard)
        self.ac_source: SimAcSource = _instrument(
            "ac_source", wiring, serial("ac_source", "SIM0004"), SimAcSource
        )
        self.instruments: dict[str, SimInstrument] = {
            "supply": self.supply,
            "dmm": self.dmm,
            "relays": self.relays,
            "ac_source": self.ac_source,
        }
        for instrument in self.instruments.values():
            instrument.changed = self.update  # type: ignore[method-assign]
        self.dmm.reading_a = self.physics.bus_current_a
        self.supply.output_current_a = self._supply_current_a
        self.servers: dict[str, ScpiServer] = {}
        try:
            for role in wiring.roles:
                self.servers[role] = ScpiServer(self.instruments[role])
        except BaseException:
            self.stop()
            raise
        self.update()

    @property
    def resources(self) -> dict[str, str]:
        return {role: server.resource for role, server in self.servers.items()}

    # -- wiring -----------------------------------------------------------------------------------
    def _output_volts(self, output: int) -> float:
        out = self.supply.outputs[output - 1]
        return out.volts if self.supply.driving(output - 1) else 0.0

    def bus_volts(self) -> float:
        """Signed voltage on the M-Bus slave terminals: the master's own, or what the supply path makes."""
        w = self.wiring
        if w.master_fixed_volts is not None:
            return w.master_fixed_volts  # the supply is not what feeds the bus
        if "supply" not in self.servers:
            return 0.0
        volts = self._output_volts(w.positive_output)
        if w.polarity_method == "relay_dpdt":
            closed = [c in self.relays.closed for c in w.polarity_relays]
            if all(closed):
                return -volts
            return volts if not any(closed) else 0.0
        if w.polarity_method == "supply_channel" and w.negative_output is not None:
            negative = self._output_volts(w.negative_output)
            if volts and negative:
                return 0.0
            return volts - negative
        return volts

    def rate_input_vac(self, index: int) -> float:
        channel = self.wiring.rate_input_channels.get(index)
        if channel is None or "ac_source" not in self.servers or channel not in self.relays.closed:
            return 0.0
        return self.ac_source.output_vac

    def _supply_current_a(self, output_index: int) -> float:
        output = output_index + 1
        w = self.wiring
        feeding = output == w.positive_output or (
            w.polarity_method == "supply_channel" and output == w.negative_output
        )
        if w.master_fixed_volts is not None:
            return 0.0
        if not feeding or not self._output_volts(output) or self.bus_volts() == 0.0:
            return 0.0
        return abs(self.physics.bus_current_a())

    def update(self) -> None:
        """Push the instruments' state into physics (called after every state-changing command)."""
        with self._lock:
            volts = self.bus_volts()
            if volts != self._applied_bus_v:
                self.physics.set_bus_voltage(volts)
                self._applied_bus_v = volts
            for index in range(1, 5):
                vac = self.rate_input_vac(index)
                if vac != self._applied_vac.get(index):
                    self.physics.set_rate_input_vac(index, vac)
                    self._applied_vac[index] = vac

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers = {}

    def __enter__(self) -> SimBench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
