"""Timed current sampling (rig capability current_sampling): the driver's commands byte for byte, the models
that refuse it, the rig file's declaration, and the simulated DMM capturing a current through pyvisa."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from harness.instruments import LimitError
from harness.instruments.dmm import ScpiDmm
from harness.instruments.dmms import Keithley2000, KeithleyDMM6500, Keysight34401A, KeysightTruevolt
from harness.instruments.errors import InstrumentError
from harness.instruments.sim.dialects import Sim34401A, SimDMM6500
from harness.instruments.sim.instruments import SimDmm
from harness.instruments.sim.scpi_server import ScpiServer
from harness.instruments.testing import ExpectedProtocolResource, expected_protocol
from harness.instruments.visa import open_resource
from harness.rig import RigFileError, load_rig
from harness.rig.capabilities import declared_capabilities

from .conftest import SIM_RIG
from .test_rig_messages import edited

NO_ERROR = ("SYST:ERR?", '+0,"No error"')
ARM = [
    ("CONF:CURR:DC 0.1", None),
    ("CURR:DC:NPLC 0.02", None),
    ("TRIG:SOUR BUS", None),
    ("TRIG:COUN 1", None),
    ("SAMP:SOUR TIM", None),
    ("SAMP:TIM 0.001", None),
    ("SAMP:COUN 4", None),
    ("INIT", None),
    NO_ERROR,
]


def test_a_capture_is_armed_triggered_and_fetched_byte_for_byte() -> None:
    pairs = [
        *ARM,
        ("*TRG", None),
        ("DATA:POIN?", "+2"),
        ("DATA:POIN?", "+4"),
        ("FETC?", "+1.35E-03,+1.635E-02,+1.635E-02,+1.35E-03"),
        ("ABOR", None),
        ("CONF:CURR:DC 0.01", None),  # back on the rig file's range and integration time
        ("CURR:DC:NPLC 1", None),
        NO_ERROR,
    ]
    with expected_protocol(ScpiDmm, pairs, range_a=0.01) as dmm:
        dmm.arm_sampling(0.1, 4, 0.001)
        assert dmm.range_a == 0.1
        dmm.trigger_sampling()
        assert dmm.fetch_samples_a() == pytest.approx([1.35e-3, 16.35e-3, 16.35e-3, 1.35e-3])
        dmm.stop_sampling()
        assert dmm.range_a == 0.01


def test_an_overloaded_sample_reads_as_infinity() -> None:
    pairs = [*ARM, ("*TRG", None), ("DATA:POIN?", "+4"), ("FETC?", "+1E-3,+9.9E37,+1E-3,+1E-3")]
    with expected_protocol(ScpiDmm, pairs) as dmm:
        dmm.arm_sampling(0.1, 4, 0.001)
        dmm.trigger_sampling()
        assert math.isinf(dmm.fetch_samples_a()[1])


def test_a_capture_that_never_fills_is_an_instrument_error_naming_the_trigger() -> None:
    resource = ExpectedProtocolResource([*ARM, ("*TRG", None), *[("DATA:POIN?", "+1")] * 1000])
    dmm = ScpiDmm(resource)
    dmm.arm_sampling(0.1, 4, 0.001)
    dmm.trigger_sampling()
    with pytest.raises(InstrumentError, match=r"1 of 4 readings.*trigger"):
        dmm.fetch_samples_a(margin_s=0.05)
    assert "FETC?" not in resource.written


def test_the_dmm6500_digitizes_current_into_its_reading_buffer_byte_for_byte() -> None:
    pairs = [
        ':DIG:FUNC "CURR"',
        ":DIG:CURR:RANG 0.1",
        ":DIG:CURR:SRAT 1000",
        ":DIG:CURR:APER AUTO",
        ":DIG:COUN 3",
        ':TRAC:CLE "defbuffer1"',
    ]
    protocol = [(command, None) for command in pairs]
    protocol += [
        NO_ERROR,
        (':TRAC:TRIG:DIG "defbuffer1"', None),
        (':TRAC:ACT? "defbuffer1"', "3"),
        (':TRAC:DATA? 1, 3, "defbuffer1", READ', "1.35E-03,1.635E-02,1.35E-03"),
        ("ABOR", None),
        ('SENS:FUNC "CURR:DC"', None),
        ("SENS:CURR:RANG 0.1", None),
        ("SENS:CURR:NPLC 1", None),
        NO_ERROR,
    ]
    with expected_protocol(KeithleyDMM6500, protocol) as dmm:
        dmm.arm_sampling(0.1, 3, 0.001)
        dmm.trigger_sampling()
        assert dmm.fetch_samples_a() == pytest.approx([1.35e-3, 16.35e-3, 1.35e-3])
        dmm.stop_sampling()


def test_the_dmm6500_refuses_a_sample_rate_below_its_digitizer_range() -> None:
    refused = pytest.raises(LimitError, match=r"sample interval 0\.01 s is outside 1e-06\.\.0\.001 s")
    with expected_protocol(KeithleyDMM6500, []) as dmm, refused:
        dmm.arm_sampling(0.1, 10, 0.01)


def test_fetch_without_an_armed_capture_is_refused() -> None:
    with expected_protocol(ScpiDmm, []) as dmm, pytest.raises(InstrumentError, match="arm_sampling first"):
        dmm.fetch_samples_a()


@pytest.mark.parametrize(
    ("count", "interval_s", "message"),
    [
        (1, 0.001, r"sample count 1 is outside 2\.\.50000"),
        (50_001, 0.001, "sample count 50001"),
        (10, 0.0001, r"sample interval 0\.0001 s is outside 0\.001\.\.1 s"),
        (10, math.nan, "sample interval nan"),
    ],
)
def test_capture_settings_out_of_range_send_nothing(count: int, interval_s: float, message: str) -> None:
    refused = pytest.raises(LimitError, match=message + ".*nothing was sent")
    with expected_protocol(ScpiDmm, []) as dmm, refused:
        dmm.arm_sampling(0.1, count, interval_s)


def test_a_range_the_model_lacks_sends_nothing() -> None:
    with expected_protocol(Keysight34401A, []) as dmm, pytest.raises(LimitError, match="nothing was sent"):
        dmm.arm_sampling(0.001, 10, 0.001)


@pytest.mark.parametrize(
    ("driver", "model"),
    [
        (KeysightTruevolt, "34461A"),
        (KeysightTruevolt, "34460A"),
        (Keysight34401A, "34401A"),
        (Keithley2000, "2000"),
    ],
)
def test_models_without_a_sample_timer_refuse_sampling(driver: type[ScpiDmm], model: str) -> None:
    problem = driver.sampling_problem(model)
    assert problem is not None and "34465A" in problem  # what to use instead
    pairs = [("*IDN?", f"Maker,{model},S1,1.0")]
    with expected_protocol(driver, pairs) as dmm:
        dmm.identify()
        with pytest.raises(LimitError, match="nothing was sent"):
            dmm.arm_sampling(0.1, 10, 0.001)


@pytest.mark.parametrize("model", ["34465A", "34470A"])
def test_truevolt_models_with_the_sample_timer_sample(model: str) -> None:
    assert KeysightTruevolt.sampling_problem(model) is None


def test_the_rig_file_declares_sampling_and_the_capability_follows(tmp_path: Path) -> None:
    assert "current_sampling" in declared_capabilities(load_rig(SIM_RIG))
    without = edited(tmp_path, SIM_RIG, "    sampling: true", "    sampling: false")
    assert "current_sampling" not in declared_capabilities(load_rig(without))
    assert "dmm" in declared_capabilities(load_rig(without))


def test_a_rig_declaring_sampling_on_a_dmm_without_it_is_refused_at_load(tmp_path: Path) -> None:
    rig = edited(
        tmp_path,
        SIM_RIG,
        "    driver: scpi-dmm\n    resource: sim://dmm\n    model: SIM-DMM6\n",
        "    driver: keysight-34401a\n    resource: sim://dmm\n    model: Keysight 34401A\n",
    )
    with pytest.raises(RigFileError, match=r"sampling: this driver does not drive timed sampling.*34401A"):
        load_rig(rig)


# -- the simulated DMM through pyvisa ---------------------------------------------------------------------
def _driver_on(instrument: SimDmm, server: ScpiServer) -> ScpiDmm:
    resource = open_resource(server.resource)
    dmm = ScpiDmm(resource, range_a=0.1)
    dmm.identify()
    return dmm


def test_the_simulated_dmm_samples_the_current_at_its_timer_after_the_bus_trigger() -> None:
    instrument = SimDmm("cmi-hil,SIM-DMM6,S1,1.0")
    started: list[float] = []

    def current_a() -> float:  # 1.35 mA, with a 15 mA step during 20 ms after the first sample
        now = time.monotonic()
        if not started:
            started.append(now)
        return 1.35e-3 + (15e-3 if 0.005 <= now - started[0] < 0.025 else 0.0)

    instrument.reading_a = current_a
    with ScpiServer(instrument) as server:
        dmm = _driver_on(instrument, server)
        try:
            dmm.arm_sampling(0.1, 60, 0.001)
            time.sleep(0.02)
            assert not started, "the capture started before the trigger"
            dmm.trigger_sampling()
            samples = dmm.fetch_samples_a()
            dmm.stop_sampling()
            assert instrument.sample_count == 1 and instrument.trigger_source == "IMM"  # CONF preset
        finally:
            dmm.close()
    assert len(samples) == 60
    high = [s for s in samples if s > 10e-3]
    assert high and all(s == pytest.approx(16.35e-3) for s in high)
    assert samples[0] == pytest.approx(1.35e-3) and samples[-1] == pytest.approx(1.35e-3)


def test_the_simulated_dmm6500_digitizes_through_pyvisa() -> None:
    instrument = SimDMM6500("cmi-hil,SIM-DMM6500,S1,1.0")
    instrument.reading_a = lambda: 1.35e-3
    with ScpiServer(instrument) as server:
        resource = open_resource(server.resource)
        dmm = KeithleyDMM6500(resource, range_a=0.1)
        try:
            dmm.identify()
            dmm.arm_sampling(0.1, 20, 0.001)
            dmm.trigger_sampling()
            samples = dmm.fetch_samples_a()
            dmm.stop_sampling()
        finally:
            dmm.close()
    assert samples == pytest.approx([1.35e-3] * 20)
    assert instrument.handle_line("SAMP:COUN 5;SYST:ERR?") == '-113,"Undefined header"'


def test_the_simulated_34401a_has_no_sample_timer() -> None:
    instrument = Sim34401A("cmi-hil,SIM-34401A,S1,1.0")
    assert instrument.handle_line("SAMP:SOUR TIM;SYST:ERR?") == '-113,"Undefined header"'


def test_fetch_with_nothing_measured_is_an_error_of_the_simulated_dmm() -> None:
    instrument = SimDmm("cmi-hil,SIM-DMM6,S1,1.0")
    assert instrument.handle_line("CONF:CURR:DC 0.1;FETC?;SYST:ERR?") == '-230,"Data corrupt or stale"'
