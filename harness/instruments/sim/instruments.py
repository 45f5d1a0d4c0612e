"""Simulated bench instruments: the SCPI subset the drivers use, with the state a real instrument keeps.

Outputs are not computed here: each instrument calls :meth:`SimInstrument.changed` after a command and the
bench wiring (:mod:`harness.instruments.sim.bench`) turns the new state into physics.
Readings (DMM, supply ``MEAS:CURR?``) come from a callable the wiring provides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.instruments.scpi import OVERLOAD
from harness.instruments.sim.scpi_server import (
    ERR_ILLEGAL_PARAMETER,
    ERR_MISSING_PARAMETER,
    ERR_SETTINGS_CONFLICT,
    ScpiCommandError,
    SimInstrument,
    nr3,
    parse_channel_list,
    parse_number,
    parse_switch,
)
from harness.instruments.supply import ISUM_CC_BIT, ISUM_CV_BIT


def _first(params: list[str]) -> str:
    if not params:
        raise ScpiCommandError(ERR_MISSING_PARAMETER)
    return params[0]


@dataclass
class SupplyOutput:
    volts: float = 0.0
    current_limit_a: float = 0.1
    ovp_volts: float = 66.0
    on: bool = False
    ovp_tripped: bool = False
    ovp_enabled: bool = True  # models whose OVP can be switched off start with it off after *RST


class SimPowerSupply(SimInstrument):
    """Multi-output supply (``INST:NSEL``, ``VOLT``, ``CURR``, ``VOLT:PROT``, ``OUTP``, ``MEAS:VOLT?/CURR?``).

    Ranges are those of a 60 V / 1 A output (Rigol DP821A CH1, instruments.md 1). Exceeding the OVP level
    with the output on trips it off, as a real supply does.
    """

    max_volts = 60.0
    max_current_a = 1.0
    max_ovp_volts = 66.0

    def __init__(self, idn: str, *, outputs: int = 2) -> None:
        super().__init__(idn)
        self.outputs = [self.new_output() for _ in range(outputs)]
        self.selected = 0
        self.output_current_a: Callable[[int], float] = lambda index: 0.0
        self.add("INSTrument[:SELect]", self._select_name)
        self.add("INSTrument:NSELect", self._nsel)
        self.add("INSTrument:NSELect?", lambda _: str(self.selected + 1))
        self.add("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]", self._volt)
        self.add("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]?", lambda _: nr3(self.out.volts))
        self.add("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]", self._curr)
        self.add("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]?", lambda _: nr3(self.out.current_limit_a))
        self.add("[SOURce:]VOLTage:PROTection[:LEVel]", self._ovp)
        self.add("[SOURce:]VOLTage:PROTection[:LEVel]?", lambda _: nr3(self.out.ovp_volts))
        self.add("[SOURce:]VOLTage:PROTection:TRIPped?", lambda _: "1" if self.out.ovp_tripped else "0")
        self.add("[SOURce:]VOLTage:PROTection:CLEar", self._ovp_clear)
        self.add("OUTPut[:STATe]", self._outp)
        self.add("OUTPut[:STATe]?", lambda _: "1" if self.out.on else "0")
        self.add("MEASure[:SCALar]:VOLTage[:DC]?", lambda _: nr3(self.out.volts if self.driving() else 0.0))
        self.add("MEASure[:SCALar]:CURRent[:DC]?", lambda _: nr3(self.output_current_a(self.selected)))
        self._add_isum_registers()

    @property
    def out(self) -> SupplyOutput:
        return self.outputs[self.selected]

    def current_limited(self, index: int) -> bool:
        out = self.outputs[index]
        return self.driving(index) and abs(self.output_current_a(index)) >= out.current_limit_a * 0.999

    def isum_condition(self, index: int) -> str:
        """``STAT:QUES:INST:ISUM<n>:COND?``: bit 0 CC, bit 1 CV, 0 with the output off."""
        if not self.driving(index):
            return "0"
        return str(ISUM_CC_BIT if self.current_limited(index) else ISUM_CV_BIT)

    def _add_isum_registers(self) -> None:
        for n in range(1, len(self.outputs) + 1):
            self.add(f"STATus:QUEStionable:INSTrument:ISUMmary{n}:CONDition?", self._isum_handler(n - 1))

    def _isum_handler(self, index: int) -> Callable[[list[str]], str]:
        return lambda _: self.isum_condition(index)

    def driving(self, index: int | None = None) -> bool:
        """Whether output ``index`` (default: the selected one) puts its voltage on its terminals."""
        return self.outputs[self.selected if index is None else index].on

    def rating(self, index: int) -> tuple[float, float, float]:
        """Max volts, max current and max OVP level of output ``index`` (one rating for all here)."""
        return self.max_volts, self.max_current_a, self.max_ovp_volts

    def new_output(self) -> SupplyOutput:
        """An output's state after ``*RST``."""
        return SupplyOutput()

    def reset(self) -> None:
        self.outputs = [self.new_output() for _ in self.outputs]
        self.selected = 0

    def _select_name(self, params: list[str]) -> None:
        name = _first(params).upper()
        if not name.startswith(("CH", "OUT")) or not name[-1].isdigit():
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        self._nsel([name[-1]])

    def _nsel(self, params: list[str]) -> None:
        self.selected = int(parse_number(_first(params), minimum=1, maximum=len(self.outputs))) - 1

    def _volt(self, params: list[str]) -> None:
        self.out.volts = parse_number(
            _first(params), minimum=0.0, maximum=self.rating(self.selected)[0], default=0.0
        )
        self._check_ovp()
        self.changed()

    def _curr(self, params: list[str]) -> None:
        self.out.current_limit_a = parse_number(
            _first(params), minimum=0.0, maximum=self.rating(self.selected)[1]
        )

    def _ovp(self, params: list[str]) -> None:
        self.out.ovp_volts = parse_number(_first(params), minimum=0.0, maximum=self.rating(self.selected)[2])
        self._check_ovp()
        self.changed()

    def _ovp_clear(self, _: list[str]) -> None:
        self.out.ovp_tripped = False

    def _outp(self, params: list[str]) -> None:
        on = parse_switch(_first(params))
        if on and self.out.ovp_tripped:
            raise ScpiCommandError(ERR_SETTINGS_CONFLICT)  # a tripped output stays off until VOLT:PROT:CLE
        self.out.on = on
        self._check_ovp()
        self.changed()

    def _check_ovp(self) -> None:
        if self.out.on and self.out.ovp_enabled and self.out.volts > self.out.ovp_volts:
            self.out.on = False
            self.out.ovp_tripped = True


class SimDmm(SimInstrument):
    """DC-current DMM (``CONF:CURR:DC``, ``CURR:DC:RANG``, ``CURR:DC:NPLC``, ``READ?``, ``MEAS:CURR:DC?``).

    Readings above 120 % of the fixed range read as overload (9.9E37), as on the Truevolt family.
    Timed sampling as on a 34465A (Truevolt guide, SAMPle/TRIGger subsystems): ``TRIG:SOUR BUS``,
    ``SAMP:SOUR TIM``, ``SAMP:TIM``, ``SAMP:COUN``, ``INIT`` waits for ``*TRG``; then a thread of the
    instrument takes ``SAMP:COUN`` readings of the bus current at its own timer's instants, ``DATA:POIN?``
    counts them and ``FETC?`` returns them (waiting for the capture to end, as the instrument does).
    ``CONF`` and ``*RST`` end the mode (one sample, immediate trigger).
    """

    ranges_a: tuple[float, ...] = (100e-6, 1e-3, 10e-3, 100e-3, 1.0, 3.0)
    nplc_values: tuple[float, ...] = (0.02, 0.06, 0.2, 1.0, 10.0, 100.0)
    #: reading memory (34465A without the MEM option)
    max_samples = 50_000
    #: power-line frequency the integration time refers to (Hz)
    line_hz = 50.0

    def __init__(self, idn: str) -> None:
        super().__init__(idn)
        self.function = "VOLT"
        self.range_a = 0.1
        self.nplc = 10.0
        self.reading_a: Callable[[], float] = lambda: 0.0
        self._readings: list[float] = []
        self._readings_lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._preset_trigger()
        self.add("CONFigure:CURRent[:DC]", self._conf_current)
        self.add("CONFigure?", lambda _: f'"{self.function} {nr3(self.range_a)},{nr3(self.range_a * 1e-6)}"')
        self.add("[SENSe:]CURRent[:DC]:RANGe[:UPPer]", self._range)
        self.add("[SENSe:]CURRent[:DC]:RANGe[:UPPer]?", lambda _: nr3(self.range_a))
        self.add("[SENSe:]CURRent[:DC]:NPLCycles", self._nplc)
        self.add("[SENSe:]CURRent[:DC]:NPLCycles?", lambda _: nr3(self.nplc))
        self.add("READ?", lambda _: self._read())
        self.add("MEASure:CURRent[:DC]?", self._measure)
        self.add("TRIGger:SOURce", self._trigger_source)
        self.add("TRIGger:SOURce?", lambda _: self.trigger_source)
        self.add("TRIGger:COUNt", self._trigger_count)
        self.add("SAMPle:SOURce", self._sample_source)
        self.add("SAMPle:SOURce?", lambda _: self.sample_source)
        self.add("SAMPle:TIMer", self._sample_timer)
        self.add("SAMPle:TIMer?", lambda _: nr3(self.sample_timer_s))
        self.add("SAMPle:COUNt", self._sample_count)
        self.add("SAMPle:COUNt?", lambda _: str(self.sample_count))
        self.add("INITiate[:IMMediate]", self._initiate)
        self.add("*TRG", self._bus_trigger)
        self.add("ABORt", lambda _: self._abort())
        self.add("DATA:POINts?", lambda _: str(self._taken()))
        self.add("FETCh?", lambda _: self._fetch())

    def _preset_trigger(self) -> None:
        self.trigger_source = "IMM"
        self.sample_source = "IMM"
        self.sample_timer_s = 0.001
        self.sample_count = 1
        self.waiting_for_trigger = False

    def reset(self) -> None:
        self._abort()
        self.function, self.range_a, self.nplc = "VOLT", 0.1, 10.0
        self._preset_trigger()

    def _pick_range(self, text: str) -> float:
        word = text.strip().upper()
        if word in ("", "DEF", "AUTO"):
            return 0.1
        value = parse_number(word, minimum=0.0, maximum=self.ranges_a[-1])
        return next(r for r in self.ranges_a if value <= r * 1.0000001)

    def _conf_current(self, params: list[str]) -> None:
        self._abort()
        self._preset_trigger()  # CONFigure presets one sample on an immediate trigger
        self.function = "CURR"
        self.range_a = self._pick_range(params[0] if params else "")

    def _range(self, params: list[str]) -> None:
        self.range_a = self._pick_range(_first(params))

    def _nplc(self, params: list[str]) -> None:
        value = parse_number(_first(params), minimum=0.02, maximum=100.0)
        if value not in self.nplc_values:
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        self.nplc = value

    def _reading(self) -> float:
        value = self.reading_a() if self.function == "CURR" else 0.0  # voltage: only the shunt's burden
        if abs(value) > 1.2 * self.range_a:
            return OVERLOAD if value >= 0 else -OVERLOAD
        return value

    def _read(self) -> str:
        return nr3(self._reading())

    def _measure(self, params: list[str]) -> str:
        self._conf_current(params)
        return self._read()

    # -- timed sampling ------------------------------------------------------------------------------
    def _trigger_source(self, params: list[str]) -> None:
        word = _first(params).upper()
        source = {"IMM": "IMM", "IMMEDIATE": "IMM", "BUS": "BUS", "EXT": "EXT", "EXTERNAL": "EXT"}.get(word)
        if source is None:
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        self.trigger_source = source

    def _trigger_count(self, params: list[str]) -> None:
        if parse_number(_first(params), minimum=1, maximum=1e6) != 1:
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)  # the simulation takes one trigger per capture

    def _sample_source(self, params: list[str]) -> None:
        word = _first(params).upper()
        source = {"IMM": "IMM", "IMMEDIATE": "IMM", "TIM": "TIM", "TIMER": "TIM"}.get(word)
        if source is None:
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        self.sample_source = source

    def _sample_timer(self, params: list[str]) -> None:
        self.sample_timer_s = parse_number(_first(params), minimum=20e-6, maximum=3600.0)

    def _sample_count(self, params: list[str]) -> None:
        self.sample_count = int(parse_number(_first(params), minimum=1, maximum=self.max_samples))

    def _initiate(self, _: list[str]) -> None:
        if self.function != "CURR":
            raise ScpiCommandError(ERR_SETTINGS_CONFLICT)
        self._abort()
        self._reset_readings()
        if self.trigger_source == "IMM":
            self._start_capture()
        else:
            self.waiting_for_trigger = True

    def _bus_trigger(self, _: list[str]) -> None:
        if self.waiting_for_trigger and self.trigger_source == "BUS":
            self._start_capture()

    def _interval_s(self) -> float:
        if self.sample_source == "TIM":
            return self.sample_timer_s
        return self.nplc / self.line_hz  # back to back: one integration time per reading

    def _start_capture(self) -> None:
        self.waiting_for_trigger = False
        self._stop.clear()
        count, interval = self.sample_count, self._interval_s()
        self._thread = threading.Thread(
            target=self._capture, args=(count, interval), daemon=True, name="sim-dmm-capture"
        )
        self._thread.start()

    def _capture(self, count: int, interval_s: float) -> None:
        """Take ``count`` readings at the instrument's timer instants (late when the host is busy)."""
        t0 = time.monotonic()
        for k in range(count):
            delay = t0 + k * interval_s - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if self._stop.is_set():
                break
            value = self._reading()
            with self._readings_lock:
                self._readings.append(value)
        self._done.set()

    def _abort(self) -> None:
        self.waiting_for_trigger = False
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    def _reset_readings(self) -> None:
        with self._readings_lock:
            self._readings = []
        self._done.clear()

    def _readings_now(self) -> list[float]:
        with self._readings_lock:
            return list(self._readings)

    def _taken(self) -> int:
        with self._readings_lock:
            return len(self._readings)

    def _fetch(self) -> str:
        if self._thread is not None:
            self._done.wait(timeout=self.sample_count * self._interval_s() + 2.0)
        with self._readings_lock:
            readings = list(self._readings)
        if not readings:
            raise ScpiCommandError((-230, "Data corrupt or stale"))  # nothing measured since INIT
        return ",".join(nr3(v) for v in readings)


class SimRelayCard(SimInstrument):
    """Actuator card, Form C channels ``slot*100 + 1..20`` (``ROUT:CLOS``, ``ROUT:OPEN``, ``ROUT:CLOS?``)."""

    def __init__(self, idn: str, *, slot: int = 1, count: int = 20, channel_digits: int = 2) -> None:
        super().__init__(idn)
        self.valid = {slot * 10**channel_digits + n for n in range(1, count + 1)}
        self.closed: set[int] = set()
        self.add("ROUTe:CLOSe", self._close)
        self.add(
            "ROUTe:CLOSe?", lambda p: ",".join("1" if c in self.closed else "0" for c in self._channels(p))
        )
        self.add("ROUTe:OPEN", self._open)
        self.add(
            "ROUTe:OPEN?", lambda p: ",".join("0" if c in self.closed else "1" for c in self._channels(p))
        )
        self.add("ROUTe:OPEN:ALL", self._open_all)

    def reset(self) -> None:
        self.closed.clear()

    def _channels(self, params: list[str]) -> list[int]:
        channels = parse_channel_list(_first(params))
        if any(c not in self.valid for c in channels):
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        return channels

    def _close(self, params: list[str]) -> None:
        self.closed.update(self._channels(params))
        self.changed()

    def _open(self, params: list[str]) -> None:
        self.closed.difference_update(self._channels(params))
        self.changed()

    def _open_all(self, _: list[str]) -> None:
        self.closed.clear()
        self.changed()


class SimAcSource(SimInstrument):
    """AC source, 0-310 V rms high range, 45-65 Hz (``VOLT``, ``FREQ``, ``OUTP``; AC6800B-like)."""

    max_vac = 310.0

    def __init__(self, idn: str) -> None:
        super().__init__(idn)
        self.vac = 0.0
        self.frequency_hz = 50.0
        self.on = False
        self.add("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]", self._volt)
        self.add("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]?", lambda _: nr3(self.vac))
        self.add("[SOURce:]FREQuency[:CW]", self._freq)
        self.add("[SOURce:]FREQuency[:CW]?", lambda _: nr3(self.frequency_hz))
        self.add("OUTPut[:STATe]", self._outp)
        self.add("OUTPut[:STATe]?", lambda _: "1" if self.on else "0")

    def reset(self) -> None:
        self.vac, self.frequency_hz, self.on = 0.0, 50.0, False

    def _volt(self, params: list[str]) -> None:
        self.vac = parse_number(_first(params), minimum=0.0, maximum=self.max_vac)
        self.changed()

    def _freq(self, params: list[str]) -> None:
        self.frequency_hz = parse_number(_first(params), minimum=45.0, maximum=65.0)

    def _outp(self, params: list[str]) -> None:
        self.on = parse_switch(_first(params))
        self.changed()

    @property
    def output_vac(self) -> float:
        return self.vac if self.on else 0.0
