"""AC sources per model: command forms, ranges and reset time that differ from :class:`ScpiAcSource`.

Sources: Keysight AC6800B Series Operating and Service Guide, "SCPI programming reference: SOURce:VOLTage
(incl. :RANGe), SOURce:FREQuency, OUTPut" (ranges 155 V / 310 V on the B models, 135 V / 270 V on the
older AC6800A; instruments.md 4 [AC68-v], [AC68-ds]); Chroma 61500 Series User's Manual, "Remote
operation: SOURce subsystem" (``:SOUR:VOLT:AC``, ``:SOUR:FREQ``, ``:OUTP``; ranges 150 V / 300 V;
``*RST`` needs about 7 s [C615]). The parameter form of the range commands is **unconfirmed** in the
sources read (instruments.md 4): check it on the unit before a certified run (docs/bench-bring-up.md).
"""

from __future__ import annotations

from harness.instruments.ac_source import ScpiAcSource
from harness.instruments.scpi import Bounds, Control, InRange


class KeysightAC6800(ScpiAcSource):
    """Keysight AC6801B-AC6804B: ``VOLT``, ``FREQ``, ``OUTP``, range ``VOLT:RANG 155|310``."""

    ranges_vac = (155.0, 310.0)
    range_command = "VOLT:RANG {}"
    reset_timeout_s = 5.0
    MODELS: dict[str, tuple[float, ...]] = {
        "AC6801B": (155.0, 310.0),
        "AC6802B": (155.0, 310.0),
        "AC6803B": (155.0, 310.0),
        "AC6804B": (155.0, 310.0),
        "AC6801A": (135.0, 270.0),
        "AC6802A": (135.0, 270.0),
        "AC6803A": (135.0, 270.0),
        "AC6804A": (135.0, 270.0),
    }


class Chroma61500(ScpiAcSource):
    """Chroma 61501-61512 / 61600: ``SOUR:VOLT:AC``, ``SOUR:FREQ``, range ``SOUR:VOLT:RANG LOW|HIGH``.

    ``*RST`` takes about 7 s (61500) before ``*OPC?`` answers, so the reset waits up to 10 s; ``SYST:REM``
    locks the front panel and ``SYST:LOC`` hands it back (libsigrok's 61604 profile).
    """

    ranges_vac = (150.0, 300.0)
    range_command = "SOUR:VOLT:RANG {}"
    remote_command = "SYST:REM"
    local_command = "SYST:LOC"
    reset_timeout_s = 10.0
    MODELS: dict[str, tuple[float, ...]] = {
        name: (150.0, 300.0)
        for name in ("61501", "61502", "61503", "61504", "61505", "61511", "61512", "61604")
    }

    voltage_vac: Control[float] = Control(
        "SOUR:VOLT:AC?",
        "SOUR:VOLT:AC {}",
        "output voltage, V rms",
        unit="V",
        validator=InRange(lambda s: Bounds(0.0, s.max_vac, "rig limit limits.max_rate_input_vac")),
    )
    frequency_hz: Control[float] = Control(
        "SOUR:FREQ?",
        "SOUR:FREQ {}",
        "output frequency",
        unit="Hz",
        validator=InRange(Bounds(45.0, 65.0, "mains frequencies")),
    )

    def range_argument(self, range_vac: float) -> str:
        return "LOW" if range_vac == self.ranges_vac[0] else "HIGH"
