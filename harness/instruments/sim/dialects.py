"""Simulated instruments that speak one model's dialect, so ``rigs/sim-<model>.yaml`` runs each real driver.

Each class accepts the commands the model's programming manual documents for what the harness does (the
same sources as the driver's docstring) and answers any other header with -113 "Undefined header", as the
instrument would: a driver that sent another model's command fails its check on the simulated bench too.
Per-output ratings come from the same registry tables as the drivers: they are data-sheet values, not the
judged behaviour (the DUT is the emulator; the instruments are the bench).
"""

from __future__ import annotations

from harness.instruments.registry import ac_ranges, supply_outputs
from harness.instruments.sim.instruments import (
    SimAcSource,
    SimDmm,
    SimPowerSupply,
    SimRelayCard,
    SupplyOutput,
)
from harness.instruments.sim.scpi_server import (
    ERR_DATA_OUT_OF_RANGE,
    ERR_ILLEGAL_PARAMETER,
    ScpiCommandError,
    SimInstrument,
    nr3,
    parse_number,
    parse_switch,
)
from harness.instruments.supply import OutputSpec


def _first(params: list[str]) -> str:
    if not params:
        raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
    return params[0]


# -- supplies ---------------------------------------------------------------------------------------
class SimRatedSupply(SimPowerSupply):
    """A supply whose outputs have the model's ratings; CV/CC from the current limit and the load."""

    def __init__(self, idn: str, ratings: tuple[OutputSpec, ...]) -> None:
        self.ratings = ratings
        super().__init__(idn, outputs=len(ratings))

    def rating(self, index: int) -> tuple[float, float, float]:
        spec = self.ratings[index]
        return spec.max_volts, spec.max_current_a, spec.max_ovp_volts or spec.max_volts


class SimE36300(SimRatedSupply):
    """E36300: generic OVP (``VOLT:PROT``, always armed), ``OUTP``, ISUM status registers."""


class SimDP800(SimRatedSupply):
    """DP800: OVP is ``OUTP:OVP:VAL`` + ``OUTP:OVP ON|OFF`` (off after ``*RST``), mode from ``OUTP:MODE?``."""

    def __init__(self, idn: str, ratings: tuple[OutputSpec, ...]) -> None:
        super().__init__(idn, ratings)
        self.drop("VOLT:PROT", "VOLT:PROT?", "VOLT:PROT:TRIP?", "VOLT:PROT:CLE")
        self.drop(*(f"STAT:QUES:INST:ISUM{n}:COND?" for n in range(1, len(ratings) + 1)))
        self.add("OUTPut:OVP:VALue", self._ovp)
        self.add("OUTPut:OVP:VALue?", lambda _: nr3(self.out.ovp_volts))
        self.add("OUTPut:OVP[:STATe]", self._ovp_state)
        self.add("OUTPut:OVP[:STATe]?", lambda _: "ON" if self.out.ovp_enabled else "OFF")
        self.add("OUTPut:OVP:QUEStion?", lambda _: "YES" if self.out.ovp_tripped else "NO")
        self.add("OUTPut:OVP:CLEar", self._ovp_clear)
        self.add("OUTPut:MODE?", lambda _: self._mode())

    def new_output(self) -> SupplyOutput:
        return SupplyOutput(ovp_enabled=False)

    def _ovp_state(self, params: list[str]) -> None:
        self.out.ovp_enabled = parse_switch(_first(params))
        self._check_ovp()
        self.changed()

    def _mode(self) -> str:
        if not self.driving():
            return "UR"
        return "CC" if self.current_limited(self.selected) else "CV"


class SimHMP(SimRatedSupply):
    """HMP: a channel drives only with ``OUTP:SEL`` and the master ``OUTP:GEN`` on; no plain ``OUTP``."""

    def __init__(self, idn: str, ratings: tuple[OutputSpec, ...]) -> None:
        super().__init__(idn, ratings)
        self.general = False
        self.drop("OUTP", "OUTP?")
        self.add("OUTPut:SELect", self._outp)
        self.add("OUTPut:SELect?", lambda _: "1" if self.out.on else "0")
        self.add("OUTPut:GENeral", self._general)
        self.add("OUTPut:GENeral?", lambda _: "1" if self.general else "0")

    def driving(self, index: int | None = None) -> bool:
        return self.general and super().driving(index)

    def reset(self) -> None:
        super().reset()
        self.general = False

    def _general(self, params: list[str]) -> None:
        self.general = parse_switch(_first(params))
        self.changed()


class SimNGE100(SimRatedSupply):
    """NGE100: ``VOLT:PROT:LEV`` and ``VOLT:PROT:STAT`` (off after ``*RST``), ``OUTP``, ISUM registers."""

    def __init__(self, idn: str, ratings: tuple[OutputSpec, ...]) -> None:
        super().__init__(idn, ratings)
        self.add("[SOURce:]VOLTage:PROTection:STATe", self._ovp_state)
        self.add("[SOURce:]VOLTage:PROTection:STATe?", lambda _: "1" if self.out.ovp_enabled else "0")

    def new_output(self) -> SupplyOutput:
        return SupplyOutput(ovp_enabled=False)

    def _ovp_state(self, params: list[str]) -> None:
        self.out.ovp_enabled = parse_switch(_first(params))
        self._check_ovp()
        self.changed()


# -- DMMs -------------------------------------------------------------------------------------------------
class Sim34401A(SimDmm):
    """34401A: Truevolt commands, ranges 10 mA-3 A, NPLC 0.02/0.2/1/10/100."""

    ranges_a = (10e-3, 100e-3, 1.0, 3.0)
    nplc_values = (0.02, 0.2, 1.0, 10.0, 100.0)

    def __init__(self, idn: str) -> None:
        super().__init__(idn)
        self.drop("SAMP:SOUR", "SAMP:SOUR?", "SAMP:TIM", "SAMP:TIM?")  # no sample timer on the 34401A


class SimKeithley(SimDmm):
    """Keithley 2000 / DMM6500: ``SENS:FUNC "CURR:DC"`` (quoted), ``SENS:CURR[:DC]:RANG|NPLC``; no CONF."""

    nplc_span = (0.01, 10.0)

    def __init__(self, idn: str, *, language: str | None = None) -> None:
        super().__init__(idn)
        self.drop("CONF:CURR:DC", "CONF?", "MEAS:CURR:DC?", "CURR:DC:NPLC", "CURR:DC:NPLC?", "CURR:DC:RANG")
        self.add("SENSe:FUNCtion[:ON]", self._function)
        self.add("SENSe:CURRent[:DC]:RANGe[:UPPer]", self._range)
        self.add("SENSe:CURRent[:DC]:RANGe[:UPPer]?", lambda _: nr3(self.range_a))
        self.add("SENSe:CURRent[:DC]:NPLCycles", self._nplc_span)
        self.add("SENSe:CURRent[:DC]:NPLCycles?", lambda _: nr3(self.nplc))
        self.language = language
        if language is not None:
            self.add("*LANG?", lambda _: self.language)

    def _function(self, params: list[str]) -> None:
        name = _first(params).strip().strip("'\"").upper()
        if name not in ("CURR:DC", "CURRENT:DC", "CURR", "CURRENT"):
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        self.function = "CURR"

    def _nplc_span(self, params: list[str]) -> None:
        low, high = self.nplc_span
        self.nplc = parse_number(_first(params), minimum=low, maximum=high)

    def handle_line(self, line: str) -> str | None:
        if self.language not in (None, "SCPI") and not line.strip().startswith("*"):
            with self.lock:  # a DMM6500 in TSP answers SCPI headers with an error only
                self.log.append(line)
                self.push_error((-285, "TSP syntax error"))
            return None
        return super().handle_line(line)


class SimDMM6500(SimKeithley):
    """DMM6500: also the digitize function into a reading buffer (Reference Manual, "DIGitize subsystem",
    "TRACe subsystem"): ``:DIG:FUNC "CURR"``, ``:DIG:CURR:RANG|SRAT|APER``, ``:DIG:COUN``, ``:TRAC:CLE``,
    ``:TRAC:TRIG:DIG`` starts the readings at the sample rate, ``:TRAC:ACT?`` counts them and
    ``:TRAC:DATA? 1, n, "<buffer>", READ`` returns them; no Truevolt sample-timer commands."""

    ranges_a = (10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 3.0)
    nplc_span = (0.0005, 15.0)
    buffers = ("defbuffer1", "defbuffer2")

    def __init__(self, idn: str, *, language: str = "SCPI") -> None:
        super().__init__(idn, language=language)
        self.drop("SAMP:SOUR", "SAMP:SOUR?", "SAMP:TIM", "SAMP:TIM?", "SAMP:COUN", "SAMP:COUN?")
        self.drop("TRIG:SOUR", "TRIG:SOUR?", "TRIG:COUN", "INIT", "*TRG", "DATA:POIN?", "FETC?")
        self.add("DIGitize:FUNCtion[:ON]", self._dig_function)
        self.add("DIGitize:CURRent:RANGe[:UPPer]", self._range)
        self.add("DIGitize:CURRent:SRATe", self._dig_rate)
        self.add("DIGitize:CURRent:APERture", lambda _: None)  # AUTO: the simulation samples instantly
        self.add("DIGitize:COUNt", self._sample_count)
        self.add("TRACe:CLEar", lambda p: self._buffer(p) and None)
        self.add("TRACe:TRIGger:DIGitize", self._dig_trigger)
        self.add("TRACe:ACTual?", lambda p: self._buffer(p) and str(self._taken()))
        self.add("TRACe:DATA?", self._trace_data)

    def _buffer(self, params: list[str]) -> str:
        name = (params[-1] if params else "defbuffer1").strip().strip("'\"")
        if name not in self.buffers:
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        return name

    def _dig_function(self, params: list[str]) -> None:
        if _first(params).strip().strip("'\"").upper() not in ("CURR", "CURRENT"):
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        self.function = "CURR"

    def _dig_rate(self, params: list[str]) -> None:
        rate = parse_number(_first(params), minimum=1000, maximum=1_000_000)
        self.sample_source, self.sample_timer_s = "TIM", 1.0 / rate

    def _dig_trigger(self, params: list[str]) -> None:
        self._buffer(params)
        self._abort()
        self._reset_readings()
        self._start_capture()

    def _trace_data(self, params: list[str]) -> str:
        if len(params) < 3:
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        first = int(parse_number(params[0], minimum=1, maximum=self.max_samples))
        last = int(parse_number(params[1], minimum=first, maximum=self.max_samples))
        self._buffer(params[2:3])
        readings = self._readings_now()
        if last > len(readings):
            raise ScpiCommandError(ERR_DATA_OUT_OF_RANGE)  # past the readings the buffer holds
        return ",".join(nr3(v) for v in readings[first - 1 : last])


class SimKeithley2000(SimKeithley):
    ranges_a = (10e-3, 100e-3, 1.0, 3.0)


# -- AC sources -------------------------------------------------------------------------------------------
class SimRangedAcSource(SimAcSource):
    """An AC source with a low and a high range; ``*RST`` selects the low one, a level above it is -222."""

    def __init__(self, idn: str, ranges: tuple[float, ...]) -> None:
        super().__init__(idn)
        self.ranges = ranges
        self.range_vac = ranges[0]

    def reset(self) -> None:
        super().reset()
        self.range_vac = self.ranges[0]

    def set_range(self, range_vac: float) -> None:
        if range_vac not in self.ranges:
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        if self.on:
            raise ScpiCommandError((-221, "Settings conflict"))  # range change with the output on
        self.range_vac = range_vac
        self.vac = min(self.vac, range_vac)

    def _volt(self, params: list[str]) -> None:
        value = parse_number(_first(params), minimum=0.0, maximum=self.max_vac)
        if value > self.range_vac:
            raise ScpiCommandError(ERR_DATA_OUT_OF_RANGE)
        self.vac = value
        self.changed()


class SimAC6800(SimRangedAcSource):
    """AC6800B: ``VOLT``, ``FREQ``, ``OUTP``, ``VOLT:RANG 155|310``."""

    def __init__(self, idn: str, ranges: tuple[float, ...]) -> None:
        super().__init__(idn, ranges)
        self.add(
            "[SOURce:]VOLTage:RANGe[:UPPer]",
            lambda p: self.set_range(parse_number(_first(p), minimum=0.0, maximum=1e3)),
        )
        self.add("[SOURce:]VOLTage:RANGe[:UPPer]?", lambda _: nr3(self.range_vac))


class SimChroma61500(SimRangedAcSource):
    """Chroma 61500: ``SOUR:VOLT:AC``, ``SOUR:FREQ``, ``OUTP``, ``SOUR:VOLT:RANG LOW|HIGH``; no ``VOLT``."""

    def __init__(self, idn: str, ranges: tuple[float, ...]) -> None:
        super().__init__(idn, ranges)
        self.drop("VOLT", "VOLT?")
        self.add("[SOURce:]VOLTage:AC", self._volt)
        self.add("[SOURce:]VOLTage:AC?", lambda _: nr3(self.vac))
        self.add("[SOURce:]VOLTage:RANGe", self._range_word)
        self.add("[SOURce:]VOLTage:RANGe?", lambda _: "LOW" if self.range_vac == self.ranges[0] else "HIGH")

    def _range_word(self, params: list[str]) -> None:
        word = _first(params).upper()
        if word not in ("LOW", "HIGH"):
            raise ScpiCommandError(ERR_ILLEGAL_PARAMETER)
        self.set_range(self.ranges[0] if word == "LOW" else self.ranges[-1])


# -- the factory --------------------------------------------------------------------------------------------
def make_sim_instrument(role: str, driver: str, model: str | None, idn: str) -> SimInstrument | None:
    """The simulated instrument speaking ``driver``'s dialect, or None for the generic one of the role."""
    if driver == "keysight-e36300":
        return SimE36300(idn, _ratings(driver, model))
    if driver == "rigol-dp800":
        return SimDP800(idn, _ratings(driver, model))
    if driver == "rs-hmp":
        return SimHMP(idn, _ratings(driver, model))
    if driver == "rs-nge100":
        return SimNGE100(idn, _ratings(driver, model))
    if driver == "keysight-34401a":
        return Sim34401A(idn)
    if driver == "keithley-2000":
        return SimKeithley2000(idn)
    if driver == "keithley-dmm6500":
        return SimDMM6500(idn)
    if driver == "keysight-34980a":
        return SimRelayCard(idn, slot=1, count=40, channel_digits=3)
    if driver == "keysight-daq970a":
        return SimRelayCard(idn, slot=1, count=20)
    if driver == "keysight-ac6800":
        return SimAC6800(idn, ac_ranges(driver, model))
    if driver == "chroma-61500":
        return SimChroma61500(idn, ac_ranges(driver, model))
    return None


def _ratings(driver: str, model: str | None) -> tuple[OutputSpec, ...]:
    ratings = supply_outputs(driver, model)
    assert ratings is not None, f"{driver}: model {model!r} has no ratings"
    return ratings
