"""SCPI DMMs for the M-Bus bus current (1.5 mA per unit load, ~20 mA while a slave sends).

:class:`ScpiDmm` is the Truevolt dialect (34461A/34465A, Keysight Truevolt Series Operating and Service
Guide, "SCPI Programming Reference: CONFigure, SENSe:CURRent, READ?"; instruments.md 2): ``CONF:CURR:DC
<range>`` fixes the range (autorange would switch between 1.5 mA and 20 mA and give one stale reading),
``CURR:DC:NPLC`` sets the integration time, ``READ?`` triggers and returns one reading; an overload reads
9.9E37 and is returned as infinity. Other models (:mod:`harness.instruments.dmms`) change the tables and
:meth:`ScpiDmm.function_commands`.

Timed sampling (rig capability ``current_sampling``, :meth:`ScpiDmm.arm_sampling`) follows the same guide,
"SCPI Programming Reference: SAMPle subsystem, TRIGger subsystem, INITiate, FETCh?, DATA:POINts?": a bus
trigger (``TRIG:SOUR BUS``, released by ``*TRG``) starts ``SAMP:COUN`` readings paced by the sample timer
(``SAMP:SOUR TIM``, ``SAMP:TIM``); ``DATA:POIN?`` counts the readings taken, ``FETC?`` returns them. The
timer source exists on the 34465A/34470A only (QCoDeS ``Keysight_344xxA_submodules``, Sample.source is
34465A/34470A-only); ``CONF`` presets one sample on an immediate trigger again, which ends the mode.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from harness.instruments.errors import InstrumentError, LimitError
from harness.instruments.scpi import Control, OneOf, Resource, ScpiInstrument, format_number, parse_float

#: DC current ranges of the Truevolt family (A).
DC_CURRENT_RANGES_A = (100e-6, 1e-3, 10e-3, 100e-3, 1.0, 3.0)
#: Integration times in power-line cycles (34465A without the DIG option).
NPLC_VALUES = (0.02, 0.06, 0.2, 1.0, 10.0, 100.0)
#: Readings one timed capture may hold (34465A reading memory: 50 000 readings without the MEM option).
MAX_SAMPLES = 50_000
#: Shortest sample interval the harness asks for (s): a 0.02 PLC reading takes 0.4 ms at 50 Hz.
MIN_SAMPLE_INTERVAL_S = 0.001


class ScpiDmm(ScpiInstrument):
    """Truevolt-style SCPI DMM: CONF:CURR:DC <range>, CURR:DC:NPLC, READ? (instruments.md 2)."""

    #: DC current ranges of the model (A).
    ranges_a: Sequence[float] = DC_CURRENT_RANGES_A
    #: Discrete NPLC settings, or None when any value in :attr:`nplc_span` is accepted.
    nplc_values: Sequence[float] | None = NPLC_VALUES
    nplc_span: tuple[float, float] = (0.02, 100.0)

    current_range_a: Control[float] = Control(
        "CURR:DC:RANG?",
        "CURR:DC:RANG {}",
        "fixed DC current range",
        unit="A",
        validator=OneOf(DC_CURRENT_RANGES_A),
    )
    nplc: Control[float] = Control(
        "CURR:DC:NPLC?",
        "CURR:DC:NPLC {}",
        "integration time of DC current",
        unit="PLC",
        validator=OneOf(NPLC_VALUES),
    )

    def __init__(
        self,
        resource: Resource,
        *,
        name: str = "dmm",
        range_a: float = 0.1,
        nplc: float = 1.0,
        write_delay_s: float = 0.0,
    ) -> None:
        super().__init__(resource, name=name, write_delay_s=write_delay_s)
        self.check_setting(range_a, nplc)
        self.range_a = range_a
        #: the range the rig file names: :meth:`configure` (and the end of a capture) return to it
        self.range_default_a = range_a
        self.nplc_default = nplc
        #: the armed capture: (readings, interval s); (0, 0.0) when none is armed
        self._capture: tuple[int, float] = (0, 0.0)

    @classmethod
    def range_problem(cls, range_a: float) -> str | None:
        """None if ``range_a`` is a DC current range of this model, else what is allowed."""
        if range_a in cls.ranges_a:
            return None
        return f"{range_a:g} A is not a DC current range of this model (allowed: {_listed(cls.ranges_a)})"

    @classmethod
    def nplc_problem(cls, nplc: float) -> str | None:
        """None if ``nplc`` is an integration time of this model, else what is allowed."""
        if cls.nplc_values is not None:
            if nplc in cls.nplc_values:
                return None
            return f"{nplc:g} is not supported (allowed: {_listed(cls.nplc_values)})"
        low, high = cls.nplc_span
        if low <= nplc <= high:
            return None
        return f"{nplc:g} is not supported (allowed: {low:g} to {high:g} PLC)"

    def check_setting(self, range_a: float, nplc: float) -> None:
        problem = self.range_problem(range_a) or self.nplc_problem(nplc)
        if problem:
            raise LimitError(f"{self.name}: {problem}; nothing was sent")

    def configure(self) -> None:
        """DC current on the rig file's range and integration time."""
        self.configure_dc_current(self.range_default_a, self.nplc_default)

    def function_commands(self, range_a: float, nplc: float) -> list[str]:
        """Commands that select DC current on a fixed range with the integration time (Truevolt)."""
        return [f"CONF:CURR:DC {format_number(range_a)}", f"CURR:DC:NPLC {format_number(nplc)}"]

    def configure_dc_current(self, range_a: float, nplc: float) -> None:
        self.check_setting(range_a, nplc)
        for command in self.function_commands(range_a, nplc):
            self.write(command)
        self.range_a = range_a
        self.check_errors(f"configuring DC current, range {range_a:g} A, {nplc:g} NPLC")

    def read_current_a(self) -> float:
        """One triggered reading (A); +/-inf on overload."""
        return parse_float(self.query("READ?"))

    # -- timed sampling (rig capability current_sampling) ------------------------------------------
    @classmethod
    def sampling_problem(cls, model: str | None) -> str | None:
        """None if this driver can take timed current samples on ``model``, else why not.

        The generic driver speaks the Truevolt sample-timer commands; a lab declares ``sampling: true`` in
        the rig file only for a model that has them (34465A/34470A)."""
        return None

    def sampling_commands(self, range_a: float, count: int, interval_s: float) -> list[str]:
        """Commands that arm ``count`` readings ``interval_s`` apart on a fixed range, started by ``*TRG``."""
        return [
            *self.function_commands(range_a, self.sampling_nplc),
            "TRIG:SOUR BUS",
            "TRIG:COUN 1",
            "SAMP:SOUR TIM",
            f"SAMP:TIM {format_number(interval_s)}",
            f"SAMP:COUN {count}",
            "INIT",
        ]

    #: integration time of a timed sample: the shortest one every Truevolt model has (PLC)
    sampling_nplc = 0.02
    #: sample intervals the harness asks this model for (s)
    sample_interval_span_s: tuple[float, float] = (MIN_SAMPLE_INTERVAL_S, 1.0)
    #: the trigger that starts an armed capture, the query counting its readings, the one returning them
    sampling_trigger_command = "*TRG"
    sampling_count_query = "DATA:POIN?"

    def samples_query(self, count: int) -> str:
        """The query returning the ``count`` readings of the finished capture."""
        return "FETC?"

    def arm_sampling(self, range_a: float, count: int, interval_s: float) -> None:
        """Arm a capture of ``count`` DC-current readings ``interval_s`` apart; :meth:`trigger_sampling`
        starts it. Refused before anything is sent when the model cannot or the values are out of range."""
        fields = self.idn_fields
        problem = self.sampling_problem(fields[1] if len(fields) > 1 else None) or self.range_problem(range_a)
        if problem is None and not 2 <= count <= MAX_SAMPLES:
            problem = f"sample count {count} is outside 2..{MAX_SAMPLES}"
        shortest, longest = self.sample_interval_span_s
        if problem is None and not (math.isfinite(interval_s) and shortest <= interval_s <= longest):
            problem = f"sample interval {interval_s:g} s is outside {shortest:g}..{longest:g} s"
        if problem:
            raise LimitError(f"{self.name}: {problem}; nothing was sent")
        for command in self.sampling_commands(range_a, count, interval_s):
            self.write(command)
        self.range_a = range_a
        self._capture = (count, interval_s)
        self.check_errors(f"arming {count} samples {interval_s:g} s apart on the {range_a:g} A range")

    def trigger_sampling(self) -> None:
        """Start the armed capture (bus trigger)."""
        self.write(self.sampling_trigger_command)

    def fetch_samples_a(self, *, margin_s: float = 2.0) -> list[float]:
        """Wait until the armed capture is complete, then return its readings (A) in time order.

        Polls the reading count for up to the capture's own duration plus ``margin_s``."""
        count, interval_s = self._capture
        if not count:
            raise InstrumentError(f"{self.name}: no capture armed; call arm_sampling first")
        deadline = time.monotonic() + count * interval_s + margin_s
        taken = 0
        while True:
            taken = int(float(self.query(self.sampling_count_query)))
            if taken >= count or time.monotonic() > deadline:
                break
            time.sleep(min(0.05, max(interval_s, 0.005)))
        if taken < count:
            raise InstrumentError(
                f"{self.name}: the capture holds {taken} of {count} readings after "
                f"{count * interval_s + margin_s:g} s; was the trigger ({self.sampling_trigger_command}) "
                "received? check the DMM's trigger settings and its error queue"
            )
        with self.timeout(5.0):
            reply = self.query(self.samples_query(count))
        return [parse_float(part) for part in reply.split(",") if part.strip()]

    def stop_sampling(self) -> None:
        """Abort any capture and return to single readings on the rig's range (``CONF`` presets them)."""
        self.write("ABOR")
        self._capture = (0, 0.0)
        self.configure()

    def safe_state(self) -> None:
        """A DMM has no output; nothing to switch off."""


def _listed(values: Sequence[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)
