"""Per-model drivers, byte for byte (written from the programming manuals each driver's docstring cites).

Every driver of the registry has its connect sequence pinned here; the model-specific parts (OVP dialect,
output switching, CV/CC readback, ranges, language check, reset timeout, front-panel lock) have their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.instruments import DRIVER_REGISTRY, InstrumentError, LimitError, SupplyLimits
from harness.instruments.ac_source import ScpiAcSource
from harness.instruments.ac_sources import Chroma61500, KeysightAC6800
from harness.instruments.dmm import ScpiDmm
from harness.instruments.dmms import Keithley2000, KeithleyDMM6500, Keysight34401A, KeysightTruevolt
from harness.instruments.registry import ac_ranges, driver_problem, supply_outputs
from harness.instruments.relay import ScpiRelayCard
from harness.instruments.supplies import KeysightE36300, RigolDP800, RohdeSchwarzHMP, RohdeSchwarzNGE100
from harness.instruments.supply import ScpiPowerSupply
from harness.instruments.switches import Keysight34980A, KeysightDAQ970A
from harness.instruments.testing import expected_protocol, timeout_at

LIMITS = SupplyLimits(max_volts=42.0, max_current_a=0.05, ovp_margin_volts=1.0)
NO_ERROR = ("SYST:ERR?", '+0,"No error"')
RESET = [("*RST", None), ("*OPC?", "1"), ("*CLS", None)]


def supply_kwargs(driver: str, model: str | None, channels: int) -> dict[str, Any]:
    return {"limits": LIMITS, "channel_count": channels, "outputs": supply_outputs(driver, model)}


def off_at_zero(channel: int, ovp: list[tuple[str, None]], *, off: str = "OUTP OFF") -> list[Any]:
    return [(f"INST:NSEL {channel}", None), (off, None), ("VOLT 0", None), ("CURR 0.05", None), *ovp]


# -- connect sequence of every registered driver ----------------------------------------------------------
IDN = "VENDOR,MODEL,SN1,1.0"
CONNECT: dict[str, tuple[type, dict[str, Any], list[Any]]] = {
    "scpi-psu": (
        ScpiPowerSupply,
        {"limits": LIMITS},
        [*RESET, *off_at_zero(1, [("VOLT:PROT 43", None)]), NO_ERROR],
    ),
    "keysight-e36300": (
        KeysightE36300,
        supply_kwargs("keysight-e36300", "E36312A", 3),
        [
            ("SYST:REM", None),
            *RESET,
            *off_at_zero(1, [("VOLT:PROT 6.6", None)]),  # 6 V output: OVP capped at its range, not 43 V
            *off_at_zero(2, [("VOLT:PROT 27.5", None)]),
            *off_at_zero(3, [("VOLT:PROT 27.5", None)]),
            NO_ERROR,
        ],
    ),
    "rigol-dp800": (
        RigolDP800,
        supply_kwargs("rigol-dp800", "DP821A", 2),
        [
            ("SYST:REM", None),
            *RESET,
            *off_at_zero(1, [("OUTP:OVP:VAL 43", None), ("OUTP:OVP ON", None)]),
            *off_at_zero(2, [("OUTP:OVP:VAL 8.8", None), ("OUTP:OVP ON", None)]),  # the 8 V channel
            NO_ERROR,
        ],
    ),
    "rs-hmp": (
        RohdeSchwarzHMP,
        supply_kwargs("rs-hmp", "HMP4040", 2),
        [
            ("SYST:REM", None),
            *RESET,
            *off_at_zero(1, [("VOLT:PROT:LEV 32.05", None)], off="OUTP:SEL OFF"),
            *off_at_zero(2, [("VOLT:PROT:LEV 32.05", None)], off="OUTP:SEL OFF"),
            NO_ERROR,
        ],
    ),
    "rs-nge100": (
        RohdeSchwarzNGE100,
        supply_kwargs("rs-nge100", "NGE103B", 1),
        [*RESET, *off_at_zero(1, [("VOLT:PROT:LEV 32", None), ("VOLT:PROT:STAT ON", None)]), NO_ERROR],
    ),
    "scpi-dmm": (
        ScpiDmm,
        {},
        [*RESET, ("CONF:CURR:DC 0.1", None), ("CURR:DC:NPLC 1", None), NO_ERROR, NO_ERROR],
    ),
    "keysight-truevolt": (
        KeysightTruevolt,
        {"range_a": 0.01, "nplc": 10.0},
        [*RESET, ("CONF:CURR:DC 0.01", None), ("CURR:DC:NPLC 10", None), NO_ERROR, NO_ERROR],
    ),
    "keysight-34401a": (
        Keysight34401A,
        {"serial_interface": True},
        [
            ("SYST:REM", None),  # RS-232: remote first, or the 34401A ignores the commands
            *RESET,
            ("CONF:CURR:DC 0.1", None),
            ("CURR:DC:NPLC 1", None),
            NO_ERROR,
            NO_ERROR,
        ],
    ),
    "keithley-2000": (
        Keithley2000,
        {"nplc": 0.5},
        [
            *RESET,
            ("SENS:FUNC 'CURR:DC'", None),
            ("SENS:CURR:DC:RANG 0.1", None),
            ("SENS:CURR:DC:NPLC 0.5", None),
            NO_ERROR,
            NO_ERROR,
        ],
    ),
    "keithley-dmm6500": (
        KeithleyDMM6500,
        {"range_a": 0.01},
        [
            ("*LANG?", "SCPI"),
            *RESET,
            ('SENS:FUNC "CURR:DC"', None),
            ("SENS:CURR:RANG 0.01", None),
            ("SENS:CURR:NPLC 1", None),
            NO_ERROR,
            NO_ERROR,
        ],
    ),
    "scpi-relay": (
        ScpiRelayCard,
        {"channels": [101, 102]},
        [*RESET, ("ROUT:OPEN (@101,102)", None), NO_ERROR],
    ),
    "keysight-daq970a": (
        KeysightDAQ970A,
        {"channels": [101, 205]},
        [*RESET, ("ROUT:OPEN (@101,205)", None), NO_ERROR],
    ),
    "keysight-34980a": (
        Keysight34980A,
        {"channels": [1001, 1002]},
        [*RESET, ("ROUT:OPEN (@1001,1002)", None), NO_ERROR],
    ),
    "scpi-ac": (
        ScpiAcSource,
        {"max_vac": 230.0},
        [*RESET, ("OUTP OFF", None), ("FREQ 50", None), ("VOLT 0", None), NO_ERROR, NO_ERROR],
    ),
    "keysight-ac6800": (
        KeysightAC6800,
        {"max_vac": 230.0},
        [
            *RESET,
            ("OUTP OFF", None),
            ("VOLT:RANG 310", None),  # after *RST, output off, before any level
            ("FREQ 50", None),
            ("VOLT 0", None),
            NO_ERROR,
            NO_ERROR,
        ],
    ),
    "chroma-61500": (
        Chroma61500,
        {"max_vac": 230.0},
        [
            ("SYST:REM", None),
            *RESET,
            ("OUTP OFF", None),
            ("SOUR:VOLT:RANG HIGH", None),
            ("SOUR:FREQ 50", None),
            ("SOUR:VOLT:AC 0", None),
            NO_ERROR,
            NO_ERROR,
        ],
    ),
}


def test_every_registered_driver_has_a_pinned_connect_sequence() -> None:
    assert set(CONNECT) == set(DRIVER_REGISTRY)
    for name, (cls, _, _) in CONNECT.items():
        assert DRIVER_REGISTRY[name].cls is cls


@pytest.mark.parametrize("name", sorted(CONNECT))
def test_connect_sequence_is_byte_exact(name: str) -> None:
    cls, kwargs, pairs = CONNECT[name]
    with expected_protocol(cls, [("*IDN?", IDN), *pairs], **kwargs) as driver:
        assert driver.initialize() == IDN


@pytest.mark.parametrize(("cls", "seconds"), [(Chroma61500, 10), (KeithleyDMM6500, 10), (Keysight34980A, 10)])
def test_slow_models_wait_longer_for_opc_after_reset(cls: type, seconds: int) -> None:
    kwargs = {"max_vac": 230.0} if issubclass(cls, ScpiAcSource) else {}
    if issubclass(cls, ScpiRelayCard):
        kwargs = {"channels": [1001]}
    with expected_protocol(cls, RESET, **kwargs) as driver:
        driver.reset()
        assert timeout_at(driver, "*OPC?") == seconds * 1000
        assert timeout_at(driver, "*CLS") == 2000  # restored after the slow step
        assert timeout_at(driver, "*RST") == 2000


# -- supplies ---------------------------------------------------------------------------------------------
def test_supply_setpoint_is_bounded_by_the_output_rating_not_only_the_rig() -> None:
    kwargs = supply_kwargs("keysight-e36300", "E36312A", 3)
    with expected_protocol(KeysightE36300, [], **kwargs) as psu:
        with pytest.raises(LimitError, match=r"30 V is outside 0..25.75 V \(rating of output 2\)"):
            psu.apply(30.0, 0.01, channel=2)
        assert psu.max_volts(1) == 6.18 and psu.max_volts(2) == 25.75


def test_dp821a_feeds_42_v_from_its_60_v_channel_only() -> None:
    kwargs = supply_kwargs("rigol-dp800", "DP821A", 2)
    pairs = [("INST:NSEL 1", None), ("CURR 0.02", None), ("VOLT 42", None), NO_ERROR]
    with expected_protocol(RigolDP800, pairs, **kwargs) as psu:
        psu.apply(42.0, 0.02, channel=1)
        with pytest.raises(LimitError, match="rating of output 2"):
            psu.apply(42.0, 0.02, channel=2)


@pytest.mark.parametrize(("bits", "mode"), [("2", "CV"), ("1", "CC"), ("0", "UR"), ("3", "UR")])
def test_e36300_cv_cc_from_the_questionable_instrument_register(bits: str, mode: str) -> None:
    pairs = [("INST:NSEL 2", None), ("OUTP?", "1"), ("STAT:QUES:INST:ISUM2:COND?", bits)]
    kwargs = supply_kwargs("keysight-e36300", "E36312A", 3)
    with expected_protocol(KeysightE36300, pairs, **kwargs) as psu:
        assert psu.regulation_mode(channel=2) == mode


def test_regulation_mode_of_an_output_that_is_off() -> None:
    with expected_protocol(ScpiPowerSupply, [("INST:NSEL 1", None), ("OUTP?", "0")], limits=LIMITS) as psu:
        assert psu.regulation_mode() == "off"


@pytest.mark.parametrize("reply", ["CV", "CC", "UR"])
def test_rigol_cv_cc_from_outp_mode(reply: str) -> None:
    pairs = [("INST:NSEL 1", None), ("OUTP?", "1"), ("OUTP:MODE?", reply)]
    with expected_protocol(RigolDP800, pairs, **supply_kwargs("rigol-dp800", "DP832", 3)) as psu:
        assert psu.regulation_mode() == reply


def test_rigol_unexpected_mode_reply_is_an_error_not_a_guess() -> None:
    pairs = [("INST:NSEL 1", None), ("OUTP?", "1"), ("OUTP:MODE?", "XX")]
    kwargs = supply_kwargs("rigol-dp800", "DP832", 3)
    with (
        expected_protocol(RigolDP800, pairs, **kwargs) as psu,
        pytest.raises(ValueError, match="expected CV, CC or UR"),
    ):
        psu.regulation_mode()


def test_hmp_output_needs_channel_and_master_and_safe_state_drops_the_master_first() -> None:
    pairs = [
        ("INST:NSEL 1", None),
        ("OUTP:SEL ON", None),
        ("OUTP:GEN ON", None),
        ("OUTP:SEL?", "1"),
        ("OUTP:GEN?", "0"),
        ("OUTP:GEN OFF", None),
        ("OUTP:SEL OFF", None),
        ("VOLT 0", None),
        ("INST:NSEL 2", None),
        ("OUTP:SEL OFF", None),
        ("VOLT 0", None),
    ]
    with expected_protocol(RohdeSchwarzHMP, pairs, **supply_kwargs("rs-hmp", "HMP4040", 2)) as psu:
        psu.set_output(True)
        assert psu.output_on() is False  # armed channel, master off: not driving
        psu.safe_state()


def test_supply_close_hands_the_front_panel_back() -> None:
    with expected_protocol(
        KeysightE36300, [("SYST:LOC", None)], **supply_kwargs("keysight-e36300", "E36312A", 1)
    ) as psu:
        psu.close()
        assert psu.resource.closed  # type: ignore[attr-defined]


def test_supply_model_with_fewer_outputs_than_the_rig_uses_is_refused() -> None:
    with pytest.raises(LimitError, match="uses 3 output"):
        RohdeSchwarzNGE100(object(), **supply_kwargs("rs-nge100", "NGE102B", 3))  # type: ignore[arg-type]


# -- DMMs -------------------------------------------------------------------------------------------------
def test_dmm6500_in_tsp_mode_is_refused_with_what_to_do() -> None:
    pairs = [("*IDN?", "KEITHLEY INSTRUMENTS,MODEL DMM6500,04493036,1.7.3c"), ("*LANG?", "TSP")]
    with expected_protocol(KeithleyDMM6500, pairs) as dmm:
        with pytest.raises(InstrumentError, match="answers \\*LANG\\? with 'TSP'") as info:
            dmm.initialize()
        assert "Command Set > SCPI, then reboot" in str(info.value)


def test_34401a_on_gpib_sends_no_remote_command() -> None:
    pairs = [("*IDN?", IDN), *RESET, ("CONF:CURR:DC 0.1", None), ("CURR:DC:NPLC 1", None), NO_ERROR, NO_ERROR]
    with expected_protocol(Keysight34401A, pairs, serial_interface=False) as dmm:
        dmm.initialize()


@pytest.mark.parametrize(
    ("cls", "range_a", "nplc", "message"),
    [
        (Keysight34401A, 1e-3, 1.0, "allowed: 0.01, 0.1, 1, 3"),
        (Keysight34401A, 0.1, 0.06, "allowed: 0.02, 0.2, 1, 10, 100"),
        (Keithley2000, 0.1, 20.0, "allowed: 0.01 to 10 PLC"),
        (KeithleyDMM6500, 10.0, 1.0, "allowed: 1e-05, 0.0001, 0.001, 0.01, 0.1, 1, 3"),
        (KeithleyDMM6500, 0.1, 16.0, "allowed: 0.0005 to 15 PLC"),
    ],
)
def test_dmm_settings_outside_the_model_are_refused_before_sending(
    cls: type[ScpiDmm], range_a: float, nplc: float, message: str
) -> None:
    with expected_protocol(cls, []) as dmm, pytest.raises(LimitError, match=message):
        dmm.configure_dc_current(range_a, nplc)


def test_keithley_reads_one_triggered_reading() -> None:
    with expected_protocol(Keithley2000, [("READ?", "+1.49872E-03")]) as dmm:
        assert dmm.read_current_a() == pytest.approx(1.49872e-3)


# -- switches ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "good", "bad"),
    [
        (KeysightDAQ970A, [101, 140, 320], [100, 141, 401, 1001]),
        (Keysight34980A, [1001, 8999], [101, 9001, 1000]),
    ],
)
def test_channel_numbering_per_mainframe(cls: type[ScpiRelayCard], good: list[int], bad: list[int]) -> None:
    assert all(cls.channel_problem(c) is None for c in good)
    for channel in bad:
        problem = cls.channel_problem(channel)
        assert problem is not None and f"channel {channel} does not exist" in problem


def test_34980a_switches_four_digit_channels() -> None:
    pairs = [("ROUT:CLOS (@1001,1002)", None), ("ROUT:CLOS? (@1001,1002)", "1,1")]
    with expected_protocol(Keysight34980A, pairs, channels=[1001, 1002]) as card:
        card.close_channels([1002, 1001])
        assert card.closed_channels([1001, 1002]) == {1001: True, 1002: True}


# -- AC sources ---------------------------------------------------------------------------------------------
def test_ac6800_picks_the_low_range_when_the_rig_stays_below_it() -> None:
    pairs = [("OUTP OFF", None), ("VOLT:RANG 155", None), ("FREQ 50", None), ("VOLT 0", None), NO_ERROR]
    with expected_protocol(KeysightAC6800, pairs, max_vac=120.0) as ac:
        ac.configure()


def test_ac_level_above_the_highest_range_is_refused() -> None:
    with expected_protocol(KeysightAC6800, [("OUTP OFF", None)], max_vac=253.0) as ac:
        ac.ranges_vac = ac_ranges("keysight-ac6800", "AC6801A")  # older model: 135 / 270 V
        assert ac.range_for(253.0) == 270.0
        ac.ranges_vac = (135.0, 250.0)
        with pytest.raises(LimitError, match="exceeds the highest range"):
            ac.configure()


def test_chroma_sets_level_with_its_own_commands() -> None:
    pairs = [("SOUR:FREQ 50", None), ("SOUR:VOLT:AC 24", None), NO_ERROR, ("OUTP ON", None)]
    with expected_protocol(Chroma61500, pairs, max_vac=230.0) as ac:
        ac.set_level(24.0, frequency_hz=50.0)
        ac.set_output(True)


# -- registry ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "driver", "model", "problem"),
    [
        ("supply", "rigol-dp800", "Rigol DP821A (CH1 0-60 V / 1 A)", None),
        ("supply", "rigol-dp800", "DP821", None),
        ("supply", "rigol-dp800", "DP8210", "model: 'DP8210' is not a model"),
        ("supply", "keysight-e36300", None, "model: None is not a model"),
        ("supply", "scpi-psu", "anything at all", None),
        ("dmm", "rigol-dp800", None, "driver: unknown dmm driver 'rigol-dp800'"),
    ],
)
def test_driver_and_model_are_checked_against_the_registry(
    role: str, driver: str, model: str | None, problem: str | None
) -> None:
    found = driver_problem(role, driver, model)
    assert (found is None) if problem is None else (found is not None and found.startswith(problem))
