"""SCPI DMMs for the M-Bus bus current (1.5 mA per unit load, ~20 mA while a slave sends).

:class:`ScpiDmm` is the Truevolt dialect (34461A/34465A, Keysight Truevolt Series Operating and Service
Guide, "SCPI Programming Reference: CONFigure, SENSe:CURRent, READ?"; instruments.md 2): ``CONF:CURR:DC
<range>`` fixes the range (autorange would switch between 1.5 mA and 20 mA and give one stale reading),
``CURR:DC:NPLC`` sets the integration time, ``READ?`` triggers and returns one reading; an overload reads
9.9E37 and is returned as infinity. Other models (:mod:`harness.instruments.dmms`) change the tables and
:meth:`ScpiDmm.function_commands`.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.instruments.errors import LimitError
from harness.instruments.scpi import Control, OneOf, Resource, ScpiInstrument, format_number, parse_float

#: DC current ranges of the Truevolt family (A).
DC_CURRENT_RANGES_A = (100e-6, 1e-3, 10e-3, 100e-3, 1.0, 3.0)
#: Integration times in power-line cycles (34465A without the DIG option).
NPLC_VALUES = (0.02, 0.06, 0.2, 1.0, 10.0, 100.0)


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
        self.nplc_default = nplc

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
        self.configure_dc_current(self.range_a, self.nplc_default)

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

    def safe_state(self) -> None:
        """A DMM has no output; nothing to switch off."""


def _listed(values: Sequence[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)
