"""Reference emulator: E350 meter + CMi1020 module + M-Bus line, served on real endpoints.

    with start_emulator(EmulatorOptions(powered=True)) as emu:
        url = emu.endpoints["mbus"]          # rfc2217://127.0.0.1:PORT, 8E1 at 2400 Bd
        # with tcp_port=0: emu.endpoints["tcp"] is tcp://127.0.0.1:PORT (raw bytes, pyserial socket://)
        # with monitor_port=0: emu.endpoints["monitor"] is tcp://127.0.0.1:PORT (listen-only bus monitor)
        emu.physics.set_bus_voltage(-30.0)   # BenchPhysics for the simulated instruments

The bus starts unpowered (0 V) unless ``powered=True`` (+36 V). Faults apply to the DUT (first slave) only.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from types import TracebackType

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.emulator.bus import Bus, TimingRecord
from harness.emulator.clock import ScaledClock
from harness.emulator.faults import FAULTS, FaultInfo, UnknownFaultError, validate_faults
from harness.emulator.meter import MeterSnapshot
from harness.emulator.module import Cmi1020
from harness.emulator.monitor_port import MonitorPort
from harness.emulator.physics import EmulatorPhysics
from harness.emulator.rfc2217_server import Rfc2217Server
from harness.emulator.tcp_port import EndpointError, TcpPort
from harness.emulator.wire import CharFormat
from harness.profile import DeviceProfile, load_profile

__all__ = [
    "FAULTS",
    "Emulator",
    "EmulatorOptions",
    "EndpointError",
    "FaultInfo",
    "TimingRecord",
    "UnknownFaultError",
    "start_emulator",
]

MAX_SLAVES = 250
POWERED_VOLTS = 36.0  #: nominal M-Bus mark level (domain.md section 2)


class EmulatorOptions(BaseModel):
    """How to start the emulator (contracts: harness.emulator)."""

    model_config = ConfigDict(extra="forbid")

    profile: Path | None = None
    faults: list[str] = Field(default_factory=list)
    extra_slaves: int = Field(default=0, ge=0, le=MAX_SLAVES - 1)
    slave_ids: list[str] | None = None
    time_scale: float = Field(default=1.0, gt=0, le=100)
    seed: int = 0
    pty: bool = False
    #: raw TCP endpoint (transparent M-Bus gateway) on this port of 127.0.0.1; 0 = any free port
    tcp_port: int | None = Field(default=None, ge=0, le=65535)
    #: listen-only bus monitor (raw TCP, 8E1 at the profile's default baud) on this port; 0 = any free port
    monitor_port: int | None = Field(default=None, ge=0, le=65535)
    #: the monitor's UART rate (a sniffer is set to one rate); None = the profile's default baud
    monitor_baud: int | None = Field(default=None, gt=0)
    powered: bool = False
    #: the master endpoints echo the master's own bytes, as a half-duplex level converter does
    echo: bool = False

    @field_validator("faults")
    @classmethod
    def _faults(cls, v: list[str]) -> list[str]:
        validate_faults(v)
        return v

    @field_validator("slave_ids")
    @classmethod
    def _ids(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            bad = [i for i in v if not re.fullmatch(r"\d{8}", i)]
            if bad:
                raise ValueError(f"slave ids must be 8 decimal digits, got {bad}")
        return v

    @model_validator(mode="after")
    def _count(self) -> EmulatorOptions:
        if self.slave_ids is not None:
            if self.extra_slaves not in (0, len(self.slave_ids)):
                raise ValueError(
                    f"extra_slaves={self.extra_slaves} but {len(self.slave_ids)} slave_ids given; "
                    "give one id per extra slave or leave extra_slaves at 0"
                )
            if len(self.slave_ids) > MAX_SLAVES - 1:
                raise ValueError(
                    f"at most {MAX_SLAVES - 1} extra slaves (M-Bus primary addresses 1-250 and the DUT)"
                )
        return self

    @property
    def extra_count(self) -> int:
        return len(self.slave_ids) if self.slave_ids is not None else self.extra_slaves


def _generated_ids(n: int, seed: int, taken: str) -> list[str]:
    rng = random.Random(seed)
    ids: set[str] = set()
    while len(ids) < n:
        cand = f"{rng.randrange(10_000_000, 100_000_000):08d}"
        if cand != taken:
            ids.add(cand)
    return sorted(ids)


class Emulator:
    """A running emulator: endpoints, physics, the DUT and every slave on the line."""

    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        self.profile: DeviceProfile = load_profile(options.profile)
        self.faults = validate_faults(options.faults)
        self.clock = ScaledClock(options.time_scale)
        dut = Cmi1020(
            self.profile,
            index=0,
            ident=self.profile.identity.id,
            clock=self.clock,
            faults=self.faults,
            seed=options.seed,
        )
        ids = (
            options.slave_ids
            if options.slave_ids is not None
            else _generated_ids(options.extra_slaves, options.seed, self.profile.identity.id)
        )
        extras = []
        for k, ident in enumerate(ids, start=1):
            slave = Cmi1020(self.profile, index=k, ident=ident, clock=self.clock, seed=options.seed)
            slave.primary_address = k  # extra slaves come configured at 1..n
            extras.append(slave)
        self.slaves: list[Cmi1020] = [dut, *extras]
        self.bus = Bus(self.slaves, self.clock)
        self.physics = EmulatorPhysics(self.bus, dut, self.clock)
        self._server = Rfc2217Server(
            self.bus, initial=CharFormat(self.profile.link.default_baud), echo=options.echo
        )
        self.endpoints: dict[str, str] = {"mbus": self._server.url}
        self._tcp: TcpPort | None = None
        self._monitor: MonitorPort | None = None
        try:
            if options.tcp_port is not None:
                self._tcp = TcpPort(
                    self.bus, baud=self.profile.link.default_baud, port=options.tcp_port, echo=options.echo
                )
                self.endpoints["tcp"] = self._tcp.url
            if options.monitor_port is not None:
                baud = options.monitor_baud or self.profile.link.default_baud
                self._monitor = MonitorPort(self.bus, baud=baud, port=options.monitor_port)
                self.endpoints["monitor"] = self._monitor.url
        except OSError:  # EndpointError: leave nothing running behind the error
            if self._tcp is not None:
                self._tcp.stop()
            self._server.stop()
            self.bus.stop()
            raise
        self._pty = None
        if options.pty:
            from harness.emulator.pty_port import PtyPort

            self._pty = PtyPort(
                self.bus, initial=CharFormat(self.profile.link.default_baud), echo=options.echo
            )
            self.endpoints["pty"] = self._pty.path
        if options.powered:
            self.physics.set_bus_voltage(POWERED_VOLTS)
            for slave in self.slaves:  # powered from the start: already past its startup time
                slave.assume_started()
        self._stopped = False

    @property
    def dut(self) -> Cmi1020:
        return self.slaves[0]

    def meter_snapshot(self) -> MeterSnapshot:
        """The DUT's E350 registers now (energy integrated up to this instant), for the oracle."""
        with self.bus.lock:
            self.dut.sync(self.clock.now_s())
            return self.dut.meter.snapshot()

    @property
    def time_scale(self) -> float:
        return self.clock.time_scale

    @property
    def timing_log(self) -> list[TimingRecord]:
        """Emulator-side timestamps of the latest exchanges (end of request, start/end of reply)."""
        return list(self.bus.timing_log)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        if self._tcp is not None:
            self._tcp.stop()
        if self._monitor is not None:
            self._monitor.stop()
        if self._pty is not None:
            self._pty.stop()
        self.bus.stop()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_emulator(options: EmulatorOptions | None = None) -> Emulator:
    """Start the emulator and its endpoints; they accept connections when this returns."""
    return Emulator(options or EmulatorOptions())
