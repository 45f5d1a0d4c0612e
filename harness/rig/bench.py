"""The bench a test drives: instruments of one rig, connected, limited, interlocked and always left safe.

``open_bench(rig)`` takes the rig lock (real rigs), starts the emulator and the simulated SCPI servers
(simulated rigs), connects every instrument, puts the bench in its safe state and returns a :class:`Bench`.
Closing it (the ``with`` block, :meth:`Bench.close` or interpreter exit) restores the safe state — supply off,
AC source off, relays open — then disconnects, stops the simulation, releases the lock. SIGINT, SIGTERM and
SIGHUP make every open bench safe at once and halt it (nothing is energised again), then interrupt the run
(:mod:`harness.interrupts`).
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from harness import interrupts
from harness.evidence import Instrument, RigInfo
from harness.instruments import (
    InstrumentError,
    InstrumentUnreachable,
    InterlockError,
    LimitError,
    MainsInterlock,
    ScpiAcSource,
    ScpiDmm,
    ScpiPowerSupply,
    ScpiRelayCard,
    SupplyLimits,
)
from harness.instruments.dmms import Keysight34401A
from harness.instruments.registry import supply_outputs
from harness.instruments.scpi import ScpiInstrument
from harness.instruments.serial_port import LowLatencyError, set_low_latency
from harness.instruments.sim import SimBench, SimWiring
from harness.instruments.visa import open_resource
from harness.interrupts import GuardedResource
from harness.interrupts import Terminated as Terminated  # re-exported: what a signal raises
from harness.physics import BenchPhysics, MeterMains, RedLed, ReferenceMeterReadout
from harness.rig.capabilities import CAPABILITIES as CAPABILITIES  # re-exported
from harness.rig.capabilities import capabilities_of
from harness.rig.config import (
    LABGRID_MBUS_URL,
    InstrumentConfig,
    LabgridPlaceConfig,
    RigConfig,
    calibration_problems,
    supply_range_problem,
)
from harness.rig.lock import RigLock

Polarity = Literal["+", "-"]


class BenchError(Exception):
    """The bench cannot do what was asked (missing capability, configuration conflict, cleanup failure)."""


class CapabilityMissing(BenchError):
    """The rig has no instrument or wiring for this; tests skip with this message."""


class CalibrationWarning(UserWarning):
    """An instrument's calibration has expired or is not recorded."""


class LockRecovered(UserWarning):
    """The rig lock was left by a run that crashed or was SIGKILLed; the bench was taken over safely."""


class BenchHalted(BenchError):
    """A signal ended the run: the bench was made safe and switches nothing on again."""


class Bench:
    """One opened rig. Use :func:`open_bench` to create it."""

    def __init__(self, rig: RigConfig) -> None:
        self.rig = rig
        self.supply: ScpiPowerSupply | None = None
        self.dmm: ScpiDmm | None = None
        self.relays: ScpiRelayCard | None = None
        self.ac_source: ScpiAcSource | None = None
        self.mbus_url: str = rig.mbus.url
        self.mbus_baud: int = rig.mbus.baud
        #: the adapter echoes the master's own bytes (rig file mbus.echo): the master must drop that echo
        self.mbus_echo: bool = rig.mbus.echo
        #: what low-latency mode did on the adapter (rig file mbus.low_latency), None when not asked for
        self.mbus_low_latency: str | None = None
        #: pyserial URL of the bus monitor (rig file mbus.monitor; resolved on a simulated bench), or None
        self.monitor_url: str | None = rig.mbus.monitor.url if rig.mbus.monitor is not None else None
        self.emulator: Any = None
        self.physics: BenchPhysics | None = None
        #: the meter's own registers read beside the module (simulated bench: its meter model), or None
        self.reference_meter: ReferenceMeterReadout | None = None
        self.sim: SimBench | None = None
        self.time_scale: float = 1.0
        self.resources: dict[str, str] = {}
        self.faults: list[str] = []
        self.interlock = MainsInterlock(
            rig.rate_input_channels.values(),
            rig.mains_channels,
            elv_limit_vac=rig.limits.elv_limit_vac,
            ac_source_present=rig.instruments.ac_source is not None,
        )
        self.polarity: Polarity | None = None  # None = path state unknown
        self.rate_levels_vac: dict[int, float] = {}
        self.closed = False
        #: set by a signal (harness.interrupts): the bench was made safe and energises nothing again
        self.halted = False
        self._signals_installed = False
        self._lock: RigLock | None = None
        self._cleanups: list[Callable[[], None]] = []

    # -- capabilities ----------------------------------------------------------------------------
    @property
    def capabilities(self) -> set[str]:
        """The rule of :mod:`harness.rig.capabilities` applied to the instruments this bench connected."""
        connected = [
            role
            for role, driver in (
                ("supply", self.supply),
                ("dmm", self.dmm),
                ("relays", self.relays),
                ("ac_source", self.ac_source),
            )
            if driver is not None
        ]
        return capabilities_of(
            self.rig,
            connected,
            emulated_dut=self.physics is not None,
            emulated_meter=self.emulator is not None,
        )

    def require(self, capability: str) -> None:
        if capability not in self.capabilities:
            why = supply_range_problem(self.rig) if capability == "supply_range" else None
            raise CapabilityMissing(
                f"rig {self.rig.name!r} has no {capability!r} capability "
                + (f"({why}) " if why else "")
                + f"(it has: {', '.join(sorted(self.capabilities)) or 'none'}); "
                + f"see {self.rig.describe_source()}"
            )

    # -- supply ----------------------------------------------------------------------------------
    def _wired_outputs(self) -> list[int]:
        assert self.rig.instruments.supply is not None
        outputs = [self.rig.instruments.supply.output]
        negative = self.rig.wiring.polarity.negative_output
        if self.rig.wiring.polarity.method == "supply_channel" and negative is not None:
            outputs.append(negative)
        return outputs

    def _set_polarity_path(self, polarity: Polarity) -> None:
        """Switch the polarity path with every wired output off (never hot-switch the DUT)."""
        assert self.supply is not None
        for output in self._wired_outputs():
            self.supply.set_output(False, channel=output)
        # Instruments run in parallel: the output must be off before any relay moves.
        self._sync(self.supply, context="switching the supply off before the polarity path")
        wiring = self.rig.wiring.polarity
        if wiring.method == "relay_dpdt":
            assert self.relays is not None and wiring.relay_channels is not None
            if polarity == "-":
                self.relays.close_channels(wiring.relay_channels)
            else:
                self.relays.open_channels(wiring.relay_channels)
            self._sync(self.relays, context=f"switching the polarity path to {polarity}")
            self.sleep(wiring.switch_settle_s)
        self.polarity = polarity

    def power_dut(self, volts: float, polarity: Polarity = "+") -> None:
        """Supply the M-Bus slave terminals with ``volts`` DC, ``+`` normal or ``-`` reversed polarity.

        Product sheet: nominal 21-42 VDC, independent of wiring polarity. Limits are checked first.
        """
        self.require("supply")
        self._refuse_if_halted(f"power the DUT at {volts!r} V")
        assert self.supply is not None and self.rig.instruments.supply is not None
        if polarity not in ("+", "-"):
            raise LimitError(f"polarity must be '+' or '-', got {polarity!r}")
        if polarity == "-":
            self.require("polarity")
        limit = self.rig.limits.max_supply_volts
        if isinstance(volts, bool) or not isinstance(volts, int | float) or not 0.0 <= volts <= limit:
            raise LimitError(
                f"power_dut: {volts!r} V is outside 0..{limit:g} V (rig limit limits.max_supply_volts in "
                f"{self.rig.describe_source()}); nothing was sent"
            )
        if polarity != self.polarity:
            self._set_polarity_path(polarity)
        output = self.rig.instruments.supply.output
        if polarity == "-" and self.rig.wiring.polarity.method == "supply_channel":
            assert self.rig.wiring.polarity.negative_output is not None
            output = self.rig.wiring.polarity.negative_output
        self.supply.apply(float(volts), self.rig.limits.current_limit_a, channel=output)
        self.supply.set_output(True, channel=output)
        self._sync(self.supply, self.relays, context=f"powering the DUT at {volts:g} V ({polarity})")

    def power_off(self) -> None:
        """Every wired supply output off."""
        if self.supply is None:
            return
        for output in self._wired_outputs():
            self.supply.set_output(False, channel=output)
        self._sync(self.supply, context="switching the supply off")

    # -- rate inputs -----------------------------------------------------------------------------
    def set_rate_input(self, index: int, vac: float) -> None:
        """Put ``vac`` V rms (50 Hz) on rate input ``index`` through its relay channel; 0 disconnects it.

        Product sheet: rate input low < 24 VAC, high > 24 VAC, max 230 VAC. Levels above the extra-low-
        voltage class (50 VAC) only reach inputs declared ``mains: true``. The rig has one AC source, so
        inputs that are on at the same time share one level.
        """
        self.require("ac_source")
        if vac != 0:
            self._refuse_if_halted(f"put {vac!r} VAC on rate input {index}")
        assert self.ac_source is not None and self.relays is not None
        channel = self._rate_channel(index)
        self._check_rate_level("set_rate_input", vac, {index: channel}, zero_ok=True)
        others = {i: v for i, v in self.rate_levels_vac.items() if v > 0 and i != index}
        if vac > 0 and others and any(v != vac for v in others.values()):
            raise BenchError(
                f"rate input {index} cannot be set to {vac:g} VAC while input(s) {sorted(others)} carry "
                f"{sorted(set(others.values()))} VAC: the rig has one AC source. Clear them first"
            )
        if vac == 0.0:
            self.relays.open_channels([channel])
            self._sync(self.relays, context=f"disconnecting rate input {index}")
            self.rate_levels_vac[index] = 0.0
            if not others:
                self.ac_source.set_output(False)
                self.ac_source.set_level(0.0)
            self._sync(self.relays, self.ac_source, context=f"disconnecting rate input {index}")
            return
        if not others:
            # Each step completes (error queue read) before the next instrument acts.
            self.relays.open_channels([channel])
            self._sync(self.relays, context=f"opening rate input {index}")
            self.ac_source.set_level(float(vac))
            self.ac_source.set_output(True)
            self._sync(self.ac_source, context=f"setting the AC source to {vac:g} VAC")
        self.relays.close_channels([channel])
        self.rate_levels_vac[index] = float(vac)
        self._sync(self.relays, self.ac_source, context=f"putting {vac:g} VAC on rate input {index}")
        self.sleep(self.rig.wiring.relay_settle_s)

    def set_rate_input_level(self, vac: float) -> None:
        """Step the AC source to ``vac`` V rms for the rate inputs connected now, their relays left closed.

        A programmable AC source steps its output while it is on (instruments.md section 4, ``VOLT <rms>``),
        so every connected input goes to the new level at once and none sees 0 V in between, as when the
        control voltage driving a rate input sags or rises. Clearing the inputs and applying the new level
        would give each input a low of its own first. The rate-input limit and the mains interlock of
        :meth:`set_rate_input` hold for every connected input, checked before anything is sent; 0 V is no
        level here (disconnect with :meth:`set_rate_input` or :meth:`clear_rate_inputs`).
        """
        self.require("ac_source")
        self._refuse_if_halted(f"change the rate-input level to {vac!r} VAC")
        assert self.ac_source is not None
        connected = sorted(i for i, v in self.rate_levels_vac.items() if v > 0)
        if not connected:
            raise BenchError(
                f"set_rate_input_level: no rate input is connected to the AC source, so there is no level "
                f"to change to {vac!r} VAC; connect inputs with set_rate_input(index, vac) first. "
                "Nothing was sent"
            )
        channels = {index: self._rate_channel(index) for index in connected}
        self._check_rate_level("set_rate_input_level", vac, channels, zero_ok=False)
        self.ac_source.set_level(float(vac))
        for index in connected:
            self.rate_levels_vac[index] = float(vac)
        self._sync(self.ac_source, context=f"changing rate input(s) {connected} to {vac:g} VAC")

    def _rate_channel(self, index: int) -> int:
        """The relay channel of rate input ``index``; refuses an input the rig file does not wire."""
        channels = self.rig.rate_input_channels
        if index not in channels:
            raise LimitError(
                f"rate input {index} is not wired on rig {self.rig.name!r} (wired: {sorted(channels)}); "
                f"see wiring.rate_inputs in {self.rig.describe_source()}"
            )
        return channels[index]

    def _check_rate_level(self, action: str, vac: float, channels: dict[int, int], *, zero_ok: bool) -> None:
        """Refuse a level outside the rig's rate-input limit (0 only when ``zero_ok``: it disconnects), or
        above the extra-low-voltage class on any of ``channels`` (input -> relay channel) not declared
        ``mains: true`` (product sheet: rate input max 230 VAC; architecture.md 'Safety first')."""
        limit = self.rig.limits.max_rate_input_vac
        number = not isinstance(vac, bool) and isinstance(vac, int | float)
        if not number or not 0.0 <= vac <= limit:
            raise LimitError(
                f"{action}: {vac!r} VAC is outside 0..{limit:g} VAC (rig limit limits.max_rate_input_vac); "
                "nothing was sent"
            )
        if vac == 0.0 and not zero_ok:
            raise LimitError(
                f"{action}: 0 VAC is no level to change to; disconnect inputs with set_rate_input(index, 0) "
                "or clear_rate_inputs(). Nothing was sent"
            )
        for index, channel in sorted(channels.items()):
            if vac > self.rig.limits.elv_limit_vac and channel not in self.rig.mains_channels:
                raise InterlockError(
                    f"interlock: {vac:g} VAC is above the {self.rig.limits.elv_limit_vac:g} VAC "
                    "extra-low-voltage class "
                    f"and rate input {index} (channel {channel}) is not declared `mains: true` in "
                    f"{self.rig.describe_source()}; nothing was sent"
                )

    def clear_rate_inputs(self) -> None:
        """AC source off and level 0, every rate-input channel open."""
        if self.ac_source is not None:
            self.ac_source.set_output(False)
            self.ac_source.set_level(0.0)  # reads the error queue: the output is off before relays move
        if self.relays is not None and self.rig.rate_input_channels:
            self.relays.open_channels(self.rig.rate_input_channels.values())
        self.rate_levels_vac = {}
        self._sync(self.relays, self.ac_source, context="clearing the rate inputs")

    def _sync(self, *drivers: ScpiInstrument | None, context: str) -> None:
        """Read each instrument's error queue: the reply also proves every command before it was executed."""
        for driver in drivers:
            if driver is not None:
                driver.check_errors(context)

    # -- user interface ----------------------------------------------------------------------------
    def press_button(self) -> None:
        """Press and release the module's push button (product sheet, user interface)."""
        self.require("button")
        self._refuse_if_halted("press the button")
        if self.physics is not None:
            self.physics.press_button()
            return
        assert self.relays is not None and self.rig.wiring.button_channel is not None
        self.relays.close_channels([self.rig.wiring.button_channel])
        try:
            self._sync(self.relays, context="pressing the button")  # held only once really closed
            self.sleep(self.rig.wiring.button_press_s)
        finally:
            self.relays.open_channels([self.rig.wiring.button_channel])
            self._sync(self.relays, context="releasing the button")

    # -- the meter's own mains ---------------------------------------------------------------------
    def set_meter_mains(self, on: bool) -> None:
        """Mains to the E350 on or interrupted (capability ``meter_mains``): a meter power failure (C.7.0).

        ``wiring.meter_mains`` ``via: relay``: the channel's normally-closed contact is in the mains feed, so
        closing it is the outage; ``via: ac_source``: the AC source's output feeds the meter.
        """
        self.require("meter_mains")
        if on:
            self._refuse_if_halted("restore the meter's mains")
        if isinstance(self.physics, MeterMains):  # the simulated bench's meter model
            self.physics.set_meter_mains(on)
            return
        mains = self.rig.wiring.meter_mains
        if mains is None:
            raise BenchError(
                f"rig {self.rig.name!r} ({self.rig.describe_source()}): no wiring.meter_mains and no meter "
                "model to switch the meter's mains; declare wiring.meter_mains or run without the tests "
                "needing it"
            )
        if mains.via == "ac_source":
            assert self.ac_source is not None
            self.ac_source.set_output(on)
            self._sync(self.ac_source, context=f"meter mains {'on' if on else 'off'}")
            return
        assert self.relays is not None and mains.channel is not None
        if on:
            self.relays.open_channels([mains.channel])
        else:
            self.relays.close_channels([mains.channel])
        self._sync(self.relays, context=f"meter mains {'on' if on else 'off'}")

    def led_on(self) -> bool:
        """Green LED, communication with meter (product sheet, user interface)."""
        self.require("led")
        assert self.physics is not None
        return bool(self.physics.led_on())

    def red_led_on(self) -> bool:
        """Red LED (sibling CMi1020W manual: meter id missing, failed rate change), by the LED sensor."""
        self.require("led")
        if not isinstance(self.physics, RedLed):
            raise BenchError(f"rig {self.rig.name!r}: the LED sensor of this bench sees no red LED")
        return bool(self.physics.red_led_on())

    # -- measurement -------------------------------------------------------------------------------
    def bus_current_a(self) -> float:
        """Bus current through the DMM (A). EN 13757-2: one unit load is at most 1.5 mA."""
        self.require("dmm")
        assert self.dmm is not None
        value = self.dmm.read_current_a()
        if value in (float("inf"), float("-inf")):
            raise InstrumentError(
                f"dmm overload on the {self.dmm.range_a:g} A range (bus current above 120 % of range); "
                "choose a larger dmm.range_a in the rig file or check the bus for a short"
            )
        return value

    def dmm_uncertainty_a(self, reading_a: float) -> float:
        """± uncertainty of a DMM current reading from the rig's accuracy budget."""
        accuracy = self.rig.uncertainty.dmm
        range_a = self.dmm.range_a if self.dmm is not None else 0.0
        return abs(reading_a) * accuracy.percent_of_reading / 100 + range_a * accuracy.percent_of_range / 100

    def sleep(self, seconds: float) -> None:
        """A wall-clock wait for instrument settling (not scaled: the instruments are real sockets)."""
        if seconds > 0:
            time.sleep(seconds)

    # -- evidence ----------------------------------------------------------------------------------
    def instruments_info(self) -> list[Instrument]:
        info = []
        for role, cfg in self.rig.instruments.items():
            driver = getattr(self, role)
            info.append(
                Instrument(
                    name=cfg.model or role,
                    role=role,
                    resource=self.resources.get(role, cfg.resource),
                    idn=driver.idn if driver is not None else None,
                    serial=cfg.serial or _idn_serial(driver),
                    calibration_due=cfg.calibration_due.isoformat() if cfg.calibration_due else None,
                    certificate=cfg.certificate,
                )
            )
        return info

    def rig_info(self) -> RigInfo:
        return RigInfo(
            name=self.rig.name,
            file=str(self.rig.source or ""),
            simulated=self.rig.simulated,
            instruments=self.instruments_info(),
            mbus_port=self.mbus_url,
            faults=list(self.faults),
        )

    # -- safety ------------------------------------------------------------------------------------
    def _refuse_if_halted(self, action: str) -> None:
        if self.halted:
            record = interrupts.record()
            why = f"{record.signal_name} at {record.received}" if record else "a signal"
            raise BenchHalted(
                f"rig {self.rig.name!r} was halted by {why}: it was made safe and will not {action}; "
                "start a new run"
            )

    def halt(self) -> None:
        """Safe state now, and refuse to energise anything afterwards (a signal ended the run)."""
        self.halted = True
        if not self.closed:
            self.safe_state()

    def safe_state(self) -> None:
        """Supply off, AC source off, relays open: every step is tried even if one fails."""
        failures: list[str] = []
        steps: list[tuple[str, Callable[[], None]]] = []
        if self.supply is not None:
            steps.append(("supply", self.supply.safe_state))
        if self.ac_source is not None:
            steps.append(("ac_source", self.ac_source.safe_state))
        if self.relays is not None:
            steps.append(("relays", self.relays.safe_state))
        for role, step in steps:
            try:
                step()
                getattr(self, role).check_errors("safe state")
            except Exception as exc:  # keep going: the other outputs must still be made safe
                failures.append(f"{role}: {exc}")
        self.rate_levels_vac = {}
        self.polarity = "+" if self.relays is not None or self.supply is not None else None
        if failures:
            raise BenchError(
                "safe state NOT fully restored on rig "
                f"{self.rig.name!r}: {'; '.join(failures)}. Switch the failed instruments off by hand"
            )

    def close(self) -> None:
        """Safe state, disconnect, stop the simulation, release the lock. Idempotent."""
        if self.closed:
            return
        self.closed = True
        error: BaseException | None = None
        try:
            self.safe_state()
        except BaseException as exc:  # still disconnect and release below
            error = exc
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception as exc:
                print(f"cmi-hil: bench cleanup: {exc}", file=sys.stderr)
        self._cleanups = []
        _unregister(self)
        if error is not None:
            raise error

    def __enter__(self) -> Bench:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except Exception as cleanup_error:  # report, but let the original exception through
            print(f"cmi-hil: {cleanup_error}", file=sys.stderr)


def _idn_serial(driver: ScpiInstrument | None) -> str | None:
    if driver is None or not driver.idn:
        return None
    fields = driver.idn_fields
    return fields[2] if len(fields) > 2 else None


# -- signals and exit ------------------------------------------------------------------------------
#: Strong references: a bench dropped without close() must still be made safe at exit.
_open_benches: set[Bench] = set()
_registry_lock = threading.Lock()
_atexit_registered = False


def _halt_open_benches() -> None:
    """Safety action of a signal: every open bench safe at once, then halted."""
    for bench in list(_open_benches):
        try:
            bench.halt()
        except Exception as exc:  # the other benches must still be made safe
            print(f"cmi-hil: SAFETY: {exc}", file=sys.stderr, flush=True)


def _register(bench: Bench) -> None:
    global _atexit_registered
    with _registry_lock:
        _open_benches.add(bench)
        if not _atexit_registered:
            # Registered after pyvisa's ResourceManager exists, so it runs before pyvisa closes its sessions.
            atexit.register(_close_open_benches)
            _atexit_registered = True
    interrupts.add_safety_action(_halt_open_benches)
    bench._signals_installed = interrupts.install()


def _unregister(bench: Bench) -> None:
    with _registry_lock:
        _open_benches.discard(bench)
        last = not _open_benches
    if last:
        interrupts.remove_safety_action(_halt_open_benches)
    if bench._signals_installed:
        bench._signals_installed = False
        interrupts.uninstall()


def _close_open_benches() -> None:
    for bench in list(_open_benches):
        with contextlib.suppress(BaseException):
            bench.close()


def close_open_benches() -> list[str]:
    """Make safe and close every bench still open (a run that ended abnormally); the problems met."""
    problems: list[str] = []
    for bench in list(_open_benches):
        try:
            bench.close()
        except BaseException as exc:  # report each bench, close the others
            problems.append(f"rig {bench.rig.name!r}: {exc}")
    return problems


# -- opening -------------------------------------------------------------------------------------
def _unreachable(rig: RigConfig, role: str, address: str, exc: BaseException) -> InstrumentUnreachable:
    hint = "check that it is powered, cabled and on the network, and that no other program holds it"
    if address.startswith("TCPIP"):
        host = address.split("::")[1] if "::" in address else address
        hint = f"check power and network (ping {host}), address and port, and that no other program holds it"
    elif address.startswith(("USB", "GPIB", "ASRL")):
        hint = "check the cable, the VISA address (pyvisa-shell: list) and access rights to the device"
    return InstrumentUnreachable(
        f"rig {rig.name!r} ({rig.describe_source()}): instrument {role!r} at {address} "
        f"did not answer: {exc}. "
        f"{hint.capitalize()}; fix instruments.{role}.resource if the address is wrong"
    )


def _make_driver(
    bench: Bench, role: str, cfg: InstrumentConfig, resource: Any, address: str
) -> ScpiInstrument:
    """The driver class the rig file's ``driver:`` names, with the model's ratings and the rig's limits."""
    rig = bench.rig
    cls: Any = cfg.driver_class
    common: dict[str, Any] = {"name": role, "write_delay_s": cfg.write_delay_s}
    if role == "supply":
        assert rig.instruments.supply is not None
        limits = SupplyLimits(
            rig.limits.max_supply_volts, rig.limits.current_limit_a, rig.limits.ovp_margin_volts
        )
        return cls(
            resource,
            limits=limits,
            channel_count=rig.instruments.supply.outputs,
            outputs=supply_outputs(cfg.driver, cfg.model),
            **common,
        )
    if role == "dmm":
        assert rig.instruments.dmm is not None
        if issubclass(cls, Keysight34401A):
            common["serial_interface"] = address.upper().startswith("ASRL")
        return cls(resource, range_a=rig.instruments.dmm.range_a, nplc=rig.instruments.dmm.nplc, **common)
    if role == "relays":
        return cls(resource, channels=rig.wiring.relay_channels(), interlock=bench.interlock, **common)
    assert rig.instruments.ac_source is not None
    driver = cls(
        resource,
        max_vac=rig.limits.max_rate_input_vac,
        frequency_hz=rig.instruments.ac_source.frequency_hz,
        interlock=bench.interlock,
        **common,
    )
    driver.ranges_vac = rig.instruments.ac_source.ranges_vac
    return driver


def connect_instrument(bench: Bench, role: str, cfg: InstrumentConfig, address: str) -> ScpiInstrument:
    """Open, identify, reset and configure one instrument; unreachable -> a message naming what to check."""
    try:
        resource = GuardedResource(
            open_resource(
                address,
                timeout_s=cfg.timeout_s,
                backend=cfg.visa_backend,
                read_termination=cfg.read_termination,
                write_termination=cfg.write_termination,
            )
        )
    except InstrumentUnreachable as exc:
        raise _unreachable(bench.rig, role, address, exc.__cause__ or exc) from exc
    driver = _make_driver(bench, role, cfg, resource, address)
    try:
        driver.identify()
    except Exception as exc:  # VisaIOError (timeout), OSError (connection reset)
        with contextlib.suppress(Exception):
            driver.resource.close()
        raise _unreachable(bench.rig, role, address, exc) from exc
    try:
        driver.take_control()  # model preconditions (DMM6500 command set), front-panel lock
        if cfg.reset_on_connect:
            driver.reset()
        else:
            driver.write("*CLS")
        driver.configure()
        driver.check_errors("connect and configuration")
    except BaseException:
        with contextlib.suppress(Exception):
            driver.close()
        raise
    return driver


def prepare_low_latency(rig: RigConfig, url: str) -> str:
    """Low-latency mode on the rig's local M-Bus adapter (``mbus.low_latency: true``), or a BenchError."""
    try:
        return set_low_latency(url)
    except LowLatencyError as exc:
        raise BenchError(f"rig {rig.name!r} ({rig.describe_source()}): mbus.low_latency: {exc}") from exc


def sim_wiring(rig: RigConfig) -> SimWiring:
    """The cables of a simulated bench as the rig file declares them (rate inputs, polarity path, serials)."""
    polarity = rig.wiring.polarity
    supply = rig.instruments.supply
    return SimWiring(
        rate_input_channels=rig.rate_input_channels,
        polarity_method=polarity.method,
        polarity_relays=tuple(polarity.relay_channels or ()),
        positive_output=supply.output if supply else 1,
        negative_output=polarity.negative_output,
        serials={role: cfg.serial for role, cfg in rig.instruments.items() if cfg.serial},
        roles=tuple(role for role, _ in rig.instruments.items()),
        drivers={role: (cfg.driver, cfg.model) for role, cfg in rig.instruments.items()},
        master_fixed_volts=rig.mbus.master_fixed_volts,
    )


def start_simulation(
    bench: Bench, *, faults: list[str] | None, profile: Path | None, physics: BenchPhysics | None
) -> None:
    """Start the emulator (unless physics is given) and the SCPI servers; resolve sim:// placeholders."""
    rig = bench.rig
    settings = rig.emulator
    assert settings is not None
    bench.time_scale = settings.time_scale
    bench.faults = list(settings.faults if faults is None else faults)
    if physics is None:
        try:
            from harness.emulator import EmulatorOptions, start_emulator
        except ImportError as exc:
            raise BenchError(f"simulated rig {rig.name!r} needs harness.emulator: {exc}") from exc
        options = EmulatorOptions(
            profile=profile if profile is not None else settings.profile,
            faults=bench.faults,
            extra_slaves=settings.extra_slaves,
            slave_ids=settings.slave_ids,
            time_scale=settings.time_scale,
            seed=settings.seed,
            echo=rig.mbus.echo,  # a sim rig with mbus.echo: true has an echoing adapter
            monitor_port=0 if rig.mbus.monitor is not None else None,
            monitor_baud=rig.mbus.monitor_baud,
        )
        emulator = start_emulator(options)
        bench._cleanups.append(emulator.stop)
        bench.emulator = emulator
        bench.time_scale = float(getattr(emulator, "time_scale", settings.time_scale))
        bench.mbus_url = emulator.endpoints["mbus"]
        if "monitor" in emulator.endpoints:  # the rig's sim://monitor: the emulator's sniffer endpoint
            bench.monitor_url = emulator.endpoints["monitor"].replace("tcp://", "socket://")
        physics = emulator.physics
        from harness.rig.reference_meter import EmulatedMeterReadout

        bench.reference_meter = EmulatedMeterReadout(emulator)
    bench.physics = physics
    sim = SimBench(physics, sim_wiring(rig))
    bench._cleanups.append(sim.stop)
    bench.sim = sim
    bench.resources.update(sim.resources)


def reserve_place(bench: Bench, settings: LabgridPlaceConfig) -> None:
    """Acquire the rig's labgrid place (released when the bench closes); its serial port may be the M-Bus."""
    from harness.rig.place import LabgridPlace, PlaceSettings

    place = LabgridPlace(
        PlaceSettings(settings.coordinator, settings.place, settings.on_busy, settings.wait_s)
    )
    place.acquire()
    bench._cleanups.append(place.release)
    if bench.rig.mbus.url == LABGRID_MBUS_URL:
        bench.mbus_url = place.serial_url()


def open_bench(
    rig: RigConfig,
    *,
    faults: list[str] | None = None,
    profile: Path | None = None,
    physics: BenchPhysics | None = None,
    strict_calibration: bool = False,
) -> Bench:
    """Open a rig: lock, simulation (simulated rigs), instruments, safe state. Use as a context manager.

    ``faults``/``profile`` override the rig's emulator settings (simulated rigs only). ``physics`` replaces
    the emulator by a given BenchPhysics (self-tests of the bench; the M-Bus URL then stays unresolved).
    ``strict_calibration`` (certification runs) refuses expired or missing calibration instead of warning.
    """
    if not rig.simulated and (faults or profile is not None or physics is not None):
        raise BenchError(f"rig {rig.name!r} is a real bench: faults/profile/physics are for simulated rigs")
    record = interrupts.record()
    if record is not None:
        raise BenchHalted(f"rig {rig.name!r} is not opened: the run was ended by {record.signal_name}")
    problems = calibration_problems(rig)
    if problems and strict_calibration:
        raise BenchError("strict certification run refused: " + "; ".join(problems))
    for problem in problems:
        warnings.warn(problem, CalibrationWarning, stacklevel=2)
    bench = Bench(rig)
    try:
        if rig.is_exclusive:
            lock = RigLock(rig.name)
            lock.acquire()
            bench._cleanups.append(lock.release)
            if lock.recovered_from:
                warnings.warn(
                    f"rig {rig.name!r}: lock recovered from {lock.recovered_from.split(':')[0]}, which ended "
                    "without releasing it (crash or SIGKILL); the bench is made safe before anything else",
                    LockRecovered,
                    stacklevel=2,
                )
        if rig.labgrid is not None:  # reserved across machines before anything on the bench is touched
            reserve_place(bench, rig.labgrid)
        if rig.simulated:
            start_simulation(bench, faults=faults, profile=profile, physics=physics)
        for role, cfg in rig.instruments.items():
            address = bench.resources.get(role, cfg.resource)
            bench.resources[role] = address
            driver = connect_instrument(bench, role, cfg, address)
            bench._cleanups.append(driver.close)
            setattr(bench, role, driver)
        if rig.mbus.low_latency:
            bench.mbus_low_latency = prepare_low_latency(rig, bench.mbus_url)
        _register(bench)
        bench.safe_state()
    except BaseException:
        with contextlib.suppress(Exception):
            bench.close()
        raise
    return bench
