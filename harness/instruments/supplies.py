"""DC supplies per model family: one small class each, the differences from :class:`ScpiPowerSupply` only.

Sources (instruments.md section 1 and its tags): Keysight E36300 Series Programming Guide (E36311-90008),
"SCPI command reference: OUTPut, SOURce:VOLTage:PROTection, STATus:QUEStionable:INSTrument"; Rigol DP800
Programming Guide, "OUTPut Commands" (``:OUTPut:OVP``, ``:OUTPut:MODE?``); Rohde & Schwarz HMP Series
User Manual, "Remote control commands" (``OUTPut:SELect``, ``OUTPut:GENeral``, ``VOLTage:PROTection``);
Rohde & Schwarz NGE100 User Manual, "Remote commands" (``VOLTage:PROTection:STATe``). Output ratings are
the data-sheet values quoted in instruments.md 1. Facts that instruments.md marks **unconfirmed** are
marked so here and listed in docs/bench-bring-up.md for checking on the real unit.
"""

from __future__ import annotations

from harness.instruments.scpi import Control, InRange, format_bool, parse_bool
from harness.instruments.supply import OutputSpec, RegulationMode, ScpiPowerSupply


def _ovp_control(command: str) -> Control[float]:
    """The OVP level of the selected output under the model's command (bounded like the base's)."""
    return Control(
        f"{command}?",
        f"{command} {{}}",
        "over-voltage protection level of the selected output",
        unit="V",
        validator=InRange(lambda s: s.ovp_bounds()),
    )


class KeysightE36300(ScpiPowerSupply):
    """Keysight E36311A/E36312A/E36313A and EDU36311A.

    E36300 Programming Guide: ``INST:NSEL``, ``VOLT``, ``CURR``, ``OUTP``, ``VOLT:PROT`` (OVP is always
    armed on this family, there is no state command), CV/CC from ``STAT:QUES:INST:ISUM<n>:COND?`` bit 1/0,
    ``SYST:REM`` / ``SYST:LOC`` for the front-panel lock.
    """

    remote_command = "SYST:REM"
    local_command = "SYST:LOC"
    reset_timeout_s = 5.0
    #: Highest programmable values: 25.75 V on the 25 V outputs per libsigrok's profile (instruments.md 1
    #: [lsg]); the 6 V output and the OVP maxima by the same ~3 % / ~10 % margins are **unconfirmed**.
    MODELS: dict[str, tuple[OutputSpec, ...]] = {
        "E36312A": (
            OutputSpec(6.18, 5.15, 6.6),
            OutputSpec(25.75, 1.03, 27.5),
            OutputSpec(25.75, 1.03, 27.5),
        ),
        "E36313A": (
            OutputSpec(6.18, 10.3, 6.6),
            OutputSpec(25.75, 2.06, 27.5),
            OutputSpec(25.75, 2.06, 27.5),
        ),
        "E36311A": (
            OutputSpec(6.18, 5.15, 6.6),
            OutputSpec(25.75, 1.03, 27.5),
            OutputSpec(25.75, 1.03, 27.5, negative=True),
        ),
        # EDU36311A: 6 V/5 A, 30 V/1 A, -30 V/1 A (data sheet; OVP ranges unconfirmed: set at the rating)
        "EDU36311A": (
            OutputSpec(6.0, 5.0, 6.0),
            OutputSpec(30.0, 1.0, 30.0),
            OutputSpec(30.0, 1.0, 30.0, negative=True),
        ),
    }


class RigolDP800(ScpiPowerSupply):
    """Rigol DP832/DP832A/DP821A/DP831A.

    DP800 Programming Guide, OUTPut commands: OVP is ``:OUTP:OVP:VAL <v>`` and is switched on with
    ``:OUTP:OVP ON`` (it can be off); ``:OUTP:MODE?`` answers ``CV``, ``CC`` or ``UR``; ``:SYST:REM`` locks
    the front panel. Sending ``*RST`` as a query hangs the LAN stack (instruments.md 5.2): it is written.
    """

    ovp_v = _ovp_control("OUTP:OVP:VAL")
    ovp_enable_command = "OUTP:OVP ON"
    remote_command = "SYST:REM"
    local_command = "SYST:LOC"
    reset_timeout_s = 5.0
    #: DP821A CH1 60 V / 1 A with OVP up to 66 V (instruments.md 1 [qDP]); the other OVP maxima assume the
    #: same 110 % of the rating and are **unconfirmed**.
    MODELS: dict[str, tuple[OutputSpec, ...]] = {
        "DP832": (OutputSpec(30.0, 3.0, 33.0), OutputSpec(30.0, 3.0, 33.0), OutputSpec(5.0, 3.0, 5.5)),
        "DP832A": (OutputSpec(30.0, 3.0, 33.0), OutputSpec(30.0, 3.0, 33.0), OutputSpec(5.0, 3.0, 5.5)),
        "DP831A": (OutputSpec(8.0, 5.0, 8.8), OutputSpec(30.0, 2.0, 33.0), OutputSpec(30.0, 2.0, 33.0, True)),
        "DP821A": (OutputSpec(60.0, 1.0, 66.0), OutputSpec(8.0, 10.0, 8.8)),
        "DP821": (OutputSpec(60.0, 1.0, 66.0), OutputSpec(8.0, 10.0, 8.8)),
    }

    def regulation_mode(self, *, channel: int = 1) -> RegulationMode:
        """``:OUTP:MODE?`` of the selected output: ``CV``, ``CC`` or ``UR``."""
        self.select(channel)
        if not self.read_output():
            return "off"
        mode = self.query("OUTP:MODE?").strip().upper()
        if mode not in ("CV", "CC", "UR"):
            raise ValueError(f"{self.name}: OUTP:MODE? answered {mode!r}, expected CV, CC or UR")
        return mode  # type: ignore[return-value]


class RohdeSchwarzHMP(ScpiPowerSupply):
    """R&S HMP4040/HMP4030/HMP2030/HMP2020 (HAMEG).

    HMP User Manual, remote commands: a channel drives only when both its ``OUTP:SEL`` and the master
    ``OUTP:GEN`` are on (instruments.md 5.9), so switching on arms the channel and then the master, and
    switching off disarms the channel (the master stays on for the other channels). OVP is
    ``VOLT:PROT:LEV`` and cannot be switched off. CV/CC from ``STAT:QUES:INST:ISUM<n>:COND?``.
    """

    ovp_v = _ovp_control("VOLT:PROT:LEV")
    remote_command = "SYST:REM"
    local_command = "SYST:LOC"
    reset_timeout_s = 5.0
    _HMP = OutputSpec(32.05, 10.0, 32.05)  # 4040: 10 A per channel, 384 W total (OVP range unconfirmed)
    MODELS: dict[str, tuple[OutputSpec, ...]] = {
        "HMP4040": (_HMP,) * 4,
        "HMP4030": (_HMP,) * 3,
        "HMP2030": (OutputSpec(32.05, 5.0, 32.05),) * 3,
        "HMP2020": (OutputSpec(32.05, 10.0, 32.05), OutputSpec(32.05, 5.0, 32.05)),
    }

    def write_output(self, on: bool) -> None:
        self.write(f"OUTP:SEL {format_bool(on)}")
        if on:
            self.write("OUTP:GEN ON")

    def read_output(self) -> bool:
        return parse_bool(self.query("OUTP:SEL?")) and parse_bool(self.query("OUTP:GEN?"))

    def safe_state(self) -> None:
        """Master off first (every channel stops at once), then each channel disarmed at 0 V."""
        self.write("OUTP:GEN OFF")
        super().safe_state()


class RohdeSchwarzNGE100(ScpiPowerSupply):
    """R&S NGE102B/NGE103B.

    NGE100 User Manual, remote commands: ``OUTP ON|OFF`` per selected channel, OVP ``VOLT:PROT:LEV`` and
    ``VOLT:PROT:STAT ON`` (OVP can be off), CV/CC from ``STAT:QUES:INST:ISUM<n>:COND?`` (**unconfirmed**
    for the NGE; the HMP register layout is assumed). No remote command: libsigrok sends none.
    """

    ovp_v = _ovp_control("VOLT:PROT:LEV")
    ovp_enable_command = "VOLT:PROT:STAT ON"
    reset_timeout_s = 5.0
    MODELS: dict[str, tuple[OutputSpec, ...]] = {
        "NGE103B": (OutputSpec(32.0, 3.0, 32.0),) * 3,
        "NGE102B": (OutputSpec(32.0, 3.0, 32.0),) * 2,
    }
