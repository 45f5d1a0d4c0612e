"""DMMs per model: the differences from the Truevolt dialect of :class:`ScpiDmm`.

Sources: Keysight 34401A User's Guide, chapter "Remote Interface Reference" (``CONFigure:CURRent:DC``,
``SENSe:CURRent:DC:NPLCycles`` with 0.02/0.2/1/10/100, ``SYSTem:REMote`` needed over RS-232);
Keithley 2000 User's Manual, "SCPI Signal Oriented Measurement Commands / SENSe subsystem"
(``:SENS:FUNC 'CURR:DC'``, ``:SENS:CURR:DC:RANG``, ``:SENS:CURR:DC:NPLC`` 0.01-10); Keithley DMM6500
Reference Manual, "SCPI command reference: SENSe1 subsystem" and "*LANG" (``:SENS:FUNC "CURR:DC"``,
``:SENS:CURR:RANG``, ``:SENS:CURR:NPLC`` 0.0005-15; the unit must be in the SCPI command set) and its
"DIGitize subsystem" / "TRACe subsystem" for timed current samples (``:DIG:FUNC "CURR"``, ``:DIG:CURR:SRAT``
1 kS/s-1 MS/s, ``:DIG:COUN``, ``:TRAC:TRIG:DIG``, ``:TRAC:ACT?``, ``:TRAC:DATA?``).
"""

from __future__ import annotations

from typing import Any

from harness.instruments.dmm import ScpiDmm
from harness.instruments.errors import InstrumentError
from harness.instruments.scpi import Resource, format_number

#: Truevolt models with the sample timer (``SAMP:SOUR TIM``): Truevolt guide, SAMPle:SOURce
TIMED_SAMPLING_MODELS = ("34465A", "34470A")


class KeysightTruevolt(ScpiDmm):
    """Keysight 34460A/34461A/34465A/34470A: the base dialect; ``*RST`` then ``*OPC?`` before use."""

    reset_timeout_s = 5.0

    @classmethod
    def sampling_problem(cls, model: str | None) -> str | None:
        if model is None or any(m in model.upper() for m in TIMED_SAMPLING_MODELS):
            return None
        return (
            f"the {model} has no sample timer (SAMP:SOUR TIM is a 34465A/34470A command, Truevolt guide "
            "'SAMPle:SOURce'); timed current sampling needs a 34465A/34470A or another sampling instrument"
        )


def _no_sampling(model: str) -> str:
    return (
        f"this driver does not drive timed sampling on the {model}; use a DMM with a sample timer or "
        "digitizer (Keysight 34465A/34470A, driver keysight-truevolt) for current_sampling"
    )


class Keysight34401A(ScpiDmm):
    """Keysight/Agilent 34401A: Truevolt-compatible commands, fewer ranges and NPLC settings.

    Over RS-232 the 34401A takes commands only in remote (``SYST:REM``); on GPIB the bus puts it in remote
    and the command is an error, so it is sent for ``ASRL`` resources only.
    """

    ranges_a = (10e-3, 100e-3, 1.0, 3.0)
    nplc_values = (0.02, 0.2, 1.0, 10.0, 100.0)
    reset_timeout_s = 5.0

    @classmethod
    def sampling_problem(cls, model: str | None) -> str | None:
        return _no_sampling("34401A")  # readings paced by trigger delay only, 512-reading memory

    def __init__(self, resource: Resource, *, serial_interface: bool = False, **kwargs: Any) -> None:
        super().__init__(resource, **kwargs)
        if serial_interface:
            self.remote_command = "SYST:REM"
            self.local_command = "SYST:LOC"


class Keithley2000(ScpiDmm):
    """Keithley 2000: the SENSe subsystem with a quoted function name, ranges 10 mA-3 A, NPLC 0.01-10."""

    ranges_a = (10e-3, 100e-3, 1.0, 3.0)
    nplc_values = None
    nplc_span = (0.01, 10.0)
    reset_timeout_s = 5.0

    @classmethod
    def sampling_problem(cls, model: str | None) -> str | None:
        return _no_sampling("Keithley 2000")

    def function_commands(self, range_a: float, nplc: float) -> list[str]:
        return [
            "SENS:FUNC 'CURR:DC'",
            f"SENS:CURR:DC:RANG {format_number(range_a)}",
            f"SENS:CURR:DC:NPLC {format_number(nplc)}",
        ]


class KeithleyDMM6500(ScpiDmm):
    """Keithley DMM6500 in the SCPI command set; a unit in TSP (or an emulation set) is refused.

    ``*LANG?`` must answer ``SCPI``: a unit left in TSP rejects every SCPI command, and changing the command
    set needs a reboot (instruments.md 2 and 5.8). Ranges 10 uA-3 A (front terminals), NPLC 0.0005-15.
    """

    ranges_a = (10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 3.0)
    nplc_values = None
    nplc_span = (0.0005, 15.0)
    reset_timeout_s = 10.0

    #: digitize sample rates 1 kS/s .. 1 MS/s (Reference Manual, ":DIGitize:<function>:SRATe")
    sample_interval_span_s = (1e-6, 1e-3)
    #: the reading buffer a capture fills (Reference Manual, "Reading buffers": defbuffer1 holds 100 000)
    buffer = "defbuffer1"
    sampling_trigger_command = ':TRAC:TRIG:DIG "defbuffer1"'
    sampling_count_query = ':TRAC:ACT? "defbuffer1"'

    @classmethod
    def sampling_problem(cls, model: str | None) -> str | None:
        return None

    def sampling_commands(self, range_a: float, count: int, interval_s: float) -> list[str]:
        """Digitize current (Reference Manual, "DIGitize subsystem"): the function, a fixed range, the sample
        rate with the aperture it allows, the count; the buffer emptied. ``:TRAC:TRIG:DIG`` starts it."""
        return [
            ':DIG:FUNC "CURR"',
            f":DIG:CURR:RANG {format_number(range_a)}",
            f":DIG:CURR:SRAT {round(1 / interval_s)}",
            ":DIG:CURR:APER AUTO",
            f":DIG:COUN {count}",
            f':TRAC:CLE "{self.buffer}"',
        ]

    def samples_query(self, count: int) -> str:
        return f':TRAC:DATA? 1, {count}, "{self.buffer}", READ'

    def take_control(self) -> None:
        language = self.query("*LANG?").strip().upper()
        if language != "SCPI":
            raise InstrumentError(
                f"{self.name}: the DMM6500 answers *LANG? with {language!r}; the harness speaks its SCPI "
                "command set only. On the instrument: MENU > System > Settings > Command Set > SCPI, then "
                "reboot it (the change takes effect at power-up), and run again"
            )
        super().take_control()

    def function_commands(self, range_a: float, nplc: float) -> list[str]:
        return [
            'SENS:FUNC "CURR:DC"',
            f"SENS:CURR:RANG {format_number(range_a)}",
            f"SENS:CURR:NPLC {format_number(nplc)}",
        ]
