"""SCPI DMM for the M-Bus bus current (1.5 mA per unit load, ~20 mA while a slave sends).

Truevolt subset (34461A/34465A, instruments.md 2): ``CONF:CURR:DC <range>`` fixes the range (autorange would
switch between 1.5 mA and 20 mA and give one stale reading), ``CURR:DC:NPLC`` sets the integration time,
``READ?`` triggers and returns one reading; an overload reads 9.9E37 and is returned as infinity.
"""

from __future__ import annotations

from harness.instruments.scpi import Control, OneOf, Resource, ScpiInstrument, format_number, parse_float

#: DC current ranges of the Truevolt family (A).
DC_CURRENT_RANGES_A = (100e-6, 1e-3, 10e-3, 100e-3, 1.0, 3.0)
#: Integration times in power-line cycles (34465A without the DIG option).
NPLC_VALUES = (0.02, 0.06, 0.2, 1.0, 10.0, 100.0)


class ScpiDmm(ScpiInstrument):
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
        OneOf(DC_CURRENT_RANGES_A)(self, "range_a", range_a, "A")
        OneOf(NPLC_VALUES)(self, "nplc", nplc, "PLC")
        self.range_a = range_a
        self.nplc_default = nplc

    def configure(self) -> None:
        self.configure_dc_current(self.range_a, self.nplc_default)

    def configure_dc_current(self, range_a: float, nplc: float) -> None:
        OneOf(DC_CURRENT_RANGES_A)(self, "range_a", range_a, "A")
        OneOf(NPLC_VALUES)(self, "nplc", nplc, "PLC")
        self.write(f"CONF:CURR:DC {format_number(range_a)}")
        self.nplc = nplc
        self.range_a = range_a
        self.check_errors(f"configuring DC current, range {range_a:g} A, {nplc:g} NPLC")

    def read_current_a(self) -> float:
        """One triggered reading (A); +/-inf on overload."""
        return parse_float(self.query("READ?"))

    def safe_state(self) -> None:
        """A DMM has no output; nothing to switch off."""
