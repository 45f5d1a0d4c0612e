"""Drivers, byte for byte: the exact SCPI written and the replies parsed, with no instrument."""

from __future__ import annotations

import math

import pytest

from harness.instruments import (
    InterlockError,
    LimitError,
    MainsInterlock,
    ScpiAcSource,
    ScpiDmm,
    ScpiError,
    ScpiPowerSupply,
    ScpiRelayCard,
    SupplyLimits,
)
from harness.instruments.protocols import AcSource, Multimeter, PowerSupply, SwitchCard
from harness.instruments.testing import ExpectedProtocolResource, ProtocolMismatch, expected_protocol

LIMITS = SupplyLimits(max_volts=42.0, max_current_a=0.05, ovp_margin_volts=1.0)
NO_ERROR = ("SYST:ERR?", '+0,"No error"')
RESET = [("*RST", None), ("*OPC?", "1"), ("*CLS", None)]


def test_expected_protocol_rejects_a_different_command() -> None:
    expected = "expected write 'OUTP OFF', got 'OUTP ON'"
    with (
        pytest.raises(ProtocolMismatch, match=expected),
        expected_protocol(ScpiPowerSupply, [("OUTP OFF", None)], limits=LIMITS) as psu,
    ):
        psu.output_enabled = True


def test_expected_protocol_rejects_unused_pairs() -> None:
    resource = ExpectedProtocolResource([("*IDN?", "x,y,z,1"), ("*RST", None)])
    resource.write("*IDN?")
    resource.read()
    with pytest.raises(ProtocolMismatch, match="missing"):
        resource.assert_done()


def test_supply_initialize_identifies_resets_configures_and_checks_errors() -> None:
    pairs = [
        ("*IDN?", "RIGOL TECHNOLOGIES,DP821A,DP8A1234,00.01.16"),
        *RESET,
        ("INST:NSEL 1", None),
        ("OUTP OFF", None),
        ("VOLT 0", None),
        ("CURR 0.05", None),
        ("VOLT:PROT 43", None),
        NO_ERROR,
    ]
    with expected_protocol(ScpiPowerSupply, pairs, limits=LIMITS) as psu:
        assert psu.initialize() == "RIGOL TECHNOLOGIES,DP821A,DP8A1234,00.01.16"
        assert psu.idn_fields[2] == "DP8A1234"


def test_supply_apply_sets_current_limit_then_voltage_and_checks_errors() -> None:
    pairs = [("INST:NSEL 2", None), ("CURR 0.02", None), ("VOLT 36.5", None), NO_ERROR, ("OUTP ON", None)]
    with expected_protocol(ScpiPowerSupply, pairs, limits=LIMITS, channel_count=2) as psu:
        psu.apply(36.5, 0.02, channel=2)
        psu.set_output(True, channel=2)


def test_supply_selects_an_output_only_when_it_changes() -> None:
    pairs = [("INST:NSEL 1", None), ("OUTP ON", None), ("OUTP?", "1"), ("MEAS:VOLT?", "+3.600000000E+01")]
    with expected_protocol(ScpiPowerSupply, pairs, limits=LIMITS) as psu:
        psu.set_output(True)
        assert psu.output_on() is True
        assert psu.measure_voltage_v() == 36.0


@pytest.mark.parametrize(
    ("volts", "current_a", "message"),
    [
        (42.5, 0.01, "42.5 V is outside 0..42 V"),
        (30.0, 0.2, "0.2 A is outside 0..0.05 A"),
        (-1.0, 0.01, "-1 V"),
    ],
)
def test_supply_refuses_values_beyond_the_rig_limits_before_sending(
    volts: float, current_a: float, message: str
) -> None:
    with expected_protocol(ScpiPowerSupply, [], limits=LIMITS) as psu:
        with pytest.raises(LimitError, match=message) as info:
            psu.apply(volts, current_a)
        assert "nothing was sent" in str(info.value)


def test_supply_refuses_an_output_it_does_not_have() -> None:
    with (
        expected_protocol(ScpiPowerSupply, [], limits=LIMITS, channel_count=1) as psu,
        pytest.raises(LimitError, match="outside 1..1"),
    ):
        psu.select(2)


def test_supply_error_queue_is_drained_and_reported() -> None:
    pairs = [
        ("INST:NSEL 1", None),
        ("CURR 0.01", None),
        ("VOLT 30", None),
        ("SYST:ERR?", '-222,"Data out of range"'),
        ("SYST:ERR?", '-113,"Undefined header"'),
        NO_ERROR,
    ]
    with expected_protocol(ScpiPowerSupply, pairs, limits=LIMITS) as psu:
        with pytest.raises(ScpiError, match="-222,'Data out of range'; -113,'Undefined header'") as info:
            psu.apply(30.0, 0.01)
        assert info.value.errors == [(-222, "Data out of range"), (-113, "Undefined header")]


def test_supply_safe_state_switches_every_output_off() -> None:
    pairs = [("INST:NSEL 1", None), ("OUTP OFF", None), ("VOLT 0", None)]
    pairs += [("INST:NSEL 2", None), ("OUTP OFF", None), ("VOLT 0", None)]
    with expected_protocol(ScpiPowerSupply, pairs, limits=LIMITS, channel_count=2) as psu:
        psu.safe_state()


def test_dmm_configures_a_fixed_current_range_and_reads() -> None:
    pairs = [("CONF:CURR:DC 0.01", None), ("CURR:DC:NPLC 10", None), NO_ERROR, ("READ?", "+1.50012000E-03")]
    with expected_protocol(ScpiDmm, pairs) as dmm:
        dmm.configure_dc_current(0.01, 10.0)
        assert dmm.read_current_a() == pytest.approx(1.50012e-3)
        assert dmm.range_a == 0.01


def test_dmm_overload_reads_as_infinity() -> None:
    with expected_protocol(ScpiDmm, [("READ?", "+9.90000000E+37")]) as dmm:
        assert math.isinf(dmm.read_current_a())


def test_dmm_refuses_a_range_it_does_not_have() -> None:
    with (
        expected_protocol(ScpiDmm, []) as dmm,
        pytest.raises(LimitError, match="0.05 A is not a DC current range of this model"),
    ):
        dmm.configure_dc_current(0.05, 1.0)


def test_relay_card_closes_opens_and_reads_back_channel_lists() -> None:
    pairs = [
        ("ROUT:CLOS (@101,105)", None),
        ("ROUT:CLOS? (@101,102,105)", "1,0,1"),
        ("ROUT:OPEN (@105)", None),
    ]
    with expected_protocol(ScpiRelayCard, pairs, channels=[101, 102, 105]) as relays:
        relays.close_channels([105, 101])
        assert relays.closed_channels([101, 102, 105]) == {101: True, 102: False, 105: True}
        relays.open_channels([105])


def test_relay_card_refuses_channels_not_in_the_rig() -> None:
    with (
        expected_protocol(ScpiRelayCard, [], channels=[101, 102]) as relays,
        pytest.raises(LimitError, match=r"channel\(s\) \[110\] are not wired"),
    ):
        relays.close_channels([110])


def test_ac_source_sets_frequency_and_level_then_checks_errors() -> None:
    pairs = [("FREQ 50", None), ("VOLT 30", None), NO_ERROR, ("OUTP ON", None), ("OUTP?", "1")]
    with expected_protocol(ScpiAcSource, pairs, max_vac=230.0) as ac:
        ac.set_level(30.0, frequency_hz=50.0)
        ac.set_output(True)
        assert ac.output_on()


def test_ac_source_refuses_a_level_above_the_rig_limit() -> None:
    with (
        expected_protocol(ScpiAcSource, [], max_vac=230.0) as ac,
        pytest.raises(LimitError, match="231 V is outside 0..230 V"),
    ):
        ac.set_level(231.0)


def test_interlock_refuses_mains_level_while_a_non_mains_channel_is_closed() -> None:
    interlock = MainsInterlock([101, 104], [104])
    interlock.note_level(0.0)
    interlock.note_opened([101, 104])
    pairs = [("ROUT:CLOS (@101)", None)]
    with expected_protocol(ScpiRelayCard, pairs, channels=[101, 104], interlock=interlock) as relays:
        relays.close_channels([101])
    with (
        expected_protocol(ScpiAcSource, [], max_vac=230.0, interlock=interlock) as ac,
        pytest.raises(InterlockError, match=r"refusing 230 VAC .* channel\(s\) \[101\]"),
    ):
        ac.set_level(230.0)


def test_interlock_refuses_closing_a_non_mains_channel_onto_mains() -> None:
    interlock = MainsInterlock([101, 104], [104])
    interlock.note_opened([101, 104])
    interlock.note_level(230.0)
    pairs = [("ROUT:CLOS (@104)", None)]
    with expected_protocol(ScpiRelayCard, pairs, channels=[101, 104], interlock=interlock) as relays:
        relays.close_channels([104])  # declared mains: allowed
        with pytest.raises(InterlockError, match=r"refusing to close channel\(s\) \[101\]"):
            relays.close_channels([101])


def test_interlock_allows_extra_low_voltage_on_any_rate_input() -> None:
    interlock = MainsInterlock([101], [])
    interlock.note_opened([101])
    interlock.note_level(0.0)
    pairs = [("ROUT:CLOS (@101)", None)]
    with expected_protocol(ScpiRelayCard, pairs, channels=[101], interlock=interlock) as relays:
        relays.close_channels([101])
    with expected_protocol(
        ScpiAcSource, [("VOLT 50", None), NO_ERROR], max_vac=230.0, interlock=interlock
    ) as ac:
        ac.set_level(50.0)


def test_interlock_assumes_the_worst_before_the_bench_is_known() -> None:
    interlock = MainsInterlock([101], [])
    with pytest.raises(InterlockError):
        interlock.check_close([101])


def test_drivers_satisfy_their_interfaces() -> None:
    resource = ExpectedProtocolResource([])
    assert isinstance(ScpiPowerSupply(resource, limits=LIMITS), PowerSupply)
    assert isinstance(ScpiDmm(resource), Multimeter)
    assert isinstance(ScpiRelayCard(resource, channels=[101]), SwitchCard)
    assert isinstance(ScpiAcSource(resource, max_vac=230.0), AcSource)


def test_declared_properties_read_and_write_with_units() -> None:
    pairs = [
        ("CURR:DC:RANG 0.001", None),
        ("CURR:DC:RANG?", "+1.000000000E-03"),
        ("CURR:DC:NPLC?", "+1.000000000E+01"),
        ("INST:NSEL?", "2"),
        ("VOLT:PROT?", "+4.300000000E+01"),
    ]
    with expected_protocol(ScpiDmm, pairs[:3]) as dmm:
        dmm.current_range_a = 0.001
        assert dmm.current_range_a == 0.001
        assert dmm.nplc == 10.0
    with expected_protocol(ScpiPowerSupply, pairs[3:], limits=LIMITS, channel_count=2) as psu:
        assert psu.selected_output == 2
        assert psu.ovp_v == 43.0
    assert ScpiPowerSupply.voltage_setpoint_v.unit == "V"


def test_ovp_may_sit_just_above_the_rig_limit_but_no_further() -> None:
    with expected_protocol(ScpiPowerSupply, [("VOLT:PROT 43", None)], limits=LIMITS) as psu:
        psu.ovp_v = 43.0
        with pytest.raises(LimitError, match="rig limit \\+ OVP margin"):
            psu.ovp_v = 43.5
