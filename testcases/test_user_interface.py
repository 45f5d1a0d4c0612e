"""User interface (product sheet: green LED = communication with meter; push button = breaker; sibling
CMi1020W manual: red LED steady = meter id missing, flashing = failed rate change)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fixtures.checks import (
    StdClock,
    approach_refused_rate,
    read_register,
    request_refused_rate,
    wait_std,
)
from fixtures.operator import (
    instrument_or_operator,
    operator_confirms,
    operator_presses_button,
    operator_watches_led,
    record_answer,
)
from harness.expect import rate_refusal
from harness.measure import mandated_wait, measure

#: LED sampling period in standard seconds (finer than the LED's on time)
LED_SAMPLE_S = 0.1


class BackgroundReadout(threading.Thread):
    """A full read-out in a thread; keeps its telegrams or the error it ended with."""

    def __init__(self, master: Any, address: int) -> None:
        super().__init__(name="read-out during LED sampling")
        self.master, self.address = master, address
        self.frames: list[Any] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.frames = list(self.master.read(self.address))
        except BaseException as exc:  # reported by the test thread
            self.error = exc

    def problem(self) -> str | None:
        """Why the read-out cannot be relied on (None when it delivered at least one telegram)."""
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        if not self.frames:
            return "it delivered no telegram"
        return None


def _watched_readout(master: Any, dut: Any, station: Any, span: float) -> None:
    """A read-out and one meter poll interval (``span`` standard s) for the operator to watch the LED."""
    reader = BackgroundReadout(master, dut.address)
    clock = StdClock(station).start()
    reader.start()
    try:
        clock.sleep_until(span, what="the operator watching the green LED")
    finally:
        reader.join()
    problem = reader.problem()
    assert problem is None, f"the read-out the LED observation relies on failed: {problem}"


@pytest.mark.requirement("UI-LED")
@pytest.mark.time_bound(lambda p: 1.2 * p.ui.meter_poll_interval_s)
def test_green_led_lights_while_the_module_talks_to_the_meter(
    dut: Any, bench: Any, master: Any, station: Any, profile: Any, operator_console: Any
) -> None:
    """Sampled through a read-out and over one meter poll interval: on at least once, and not stuck on.

    The read-out that makes the module fetch the meter's registers must itself have succeeded, or the
    samples say nothing about the LED. Without an LED sensor the operator watches and answers.
    """
    span = 1.2 * profile.ui.meter_poll_interval_s
    mandated_wait("meter_poll", profile.ui.meter_poll_interval_s)  # the span's margin beyond it is not
    console = instrument_or_operator(station.capabilities, "led", operator_console)
    if console is not None:
        operator_watches_led(
            console, span * station.state.time_scale, lambda: _watched_readout(master, dut, station, span)
        )
        return
    period_s = max(LED_SAMPLE_S * station.state.time_scale, 0.001)
    reader = BackgroundReadout(master, dut.address)
    clock = StdClock(station).start()
    samples: list[bool] = []
    reader.start()
    try:
        while reader.is_alive() or clock.elapsed() < span:
            samples.append(bench.led_on())
            time.sleep(period_s)
    finally:
        reader.join()
    problem = reader.problem()
    assert problem is None, f"the read-out the LED samples rely on failed: {problem}"
    on = sum(samples)
    measure("led_on_samples", on, "samples", low=1, conditions={"samples": len(samples), "span_s": span})
    measure("led_off_samples", len(samples) - on, "samples", low=1, conditions={"samples": len(samples)})


@pytest.mark.requirement("UI-BUTTON")
def test_push_button_toggles_the_breaker(
    dut: Any, bench: Any, master: Any, profile: Any, station: Any, operator_console: Any
) -> None:
    """A press toggles the breaker register, a second press restores it. Without a button actuator the
    operator presses; each press is recorded with who pressed it when."""
    console = instrument_or_operator(station.capabilities, "button", operator_console)
    before = read_register(master, dut.address, profile, "breaker")
    if console is None:
        bench.press_button()
    else:
        press = operator_presses_button(console, "to toggle the breaker")
    after = read_register(master, dut.address, profile, "breaker")
    if console is not None:
        measure(
            "breaker_toggled_by_press",
            1.0 if after != before else 0.0,
            "bool",
            low=1.0,
            conditions={**press.as_conditions(), "before": before, "after": after},
        )
    if console is None:
        bench.press_button()  # back to where it was
    else:
        press = operator_presses_button(console, "to restore the breaker")
    restored = read_register(master, dut.address, profile, "breaker")
    if console is not None:
        measure(
            "breaker_restored_by_press",
            1.0 if restored == before else 0.0,
            "bool",
            low=1.0,
            conditions={**press.as_conditions(), "before": before, "after": restored},
        )
    assert after != before, f"the breaker state stayed {before} after a press of the push button"
    assert restored == before, f"a second press left the breaker at {restored}, expected {before}"


def _red_samples(bench: Any, station: Any, span_s: float) -> list[bool]:
    """The red LED sampled every :data:`LED_SAMPLE_S` for ``span_s`` (standard s)."""
    period_s = max(LED_SAMPLE_S * station.state.time_scale, 0.001)
    mandated_wait("led_observation", span_s)
    clock = StdClock(station).start()
    samples: list[bool] = []
    while clock.elapsed() < span_s:
        samples.append(bench.red_led_on())
        time.sleep(period_s)
    return samples


@pytest.fixture
def rate_inputs_low(bench: Any, station: Any, profile: Any) -> Iterator[Any]:
    """Every rate input off before and after, held off for the detection time so the next test starts low."""
    bench.clear_rate_inputs()
    try:
        yield bench
    finally:
        bench.clear_rate_inputs()
        settle = profile.rate_inputs.detection_time_s + station.rig.uncertainty.rate_poll_step_s
        wait_std(station, settle, mandated="detection", what="detection time, all inputs settling low")


@pytest.mark.requirement("UI-RED-LED")
@pytest.mark.needs("ac_source")
@pytest.mark.time_bound(lambda p: 3 * p.rate_inputs.detection_time_s + 4 * p.ui.red_flash_period_s)
def test_red_led_flashes_after_a_refused_rate_change(
    dut: Any, rate_inputs_low: Any, station: Any, profile: Any, operator_console: Any
) -> None:
    """Dark before, flashing (on and off samples within a few periods) after a rate change the meter
    refuses (sibling CMi1020W manual). Without an LED sensor the operator says whether it flashes."""
    refusal = rate_refusal(profile)
    if refusal is None:
        pytest.skip("the device profile maps no rate-input combination to a rate the meter lacks")
    console = instrument_or_operator(station.capabilities, "led", operator_console)
    ui, vac = profile.ui, profile.rate_inputs.threshold_vac + 4.0
    approach_refused_rate(rate_inputs_low, station, profile, refusal, vac)
    if console is None:
        quiet = _red_samples(rate_inputs_low, station, 2 * ui.red_flash_period_s)
        measure("red_led_on_samples_before_refusal", sum(quiet), "samples", high=0)
    request_refused_rate(rate_inputs_low, station, profile, refusal, vac)
    if console is not None:
        answer = operator_confirms(console, "Is the module's red LED flashing now?")
        record_answer("red_led_flashing_seen_by_operator", answer, requirement="UI-RED-LED")
        return
    samples = _red_samples(rate_inputs_low, station, 3 * ui.red_flash_period_s)
    on = sum(samples)
    conditions = {"samples": len(samples), "asked_rate": refusal.refused_rate}
    measure("red_led_on_samples_after_refusal", on, "samples", low=1, conditions=conditions)
    measure("red_led_off_samples_after_refusal", len(samples) - on, "samples", low=1, conditions=conditions)


@pytest.mark.requirement("UI-RED-LED")
@pytest.mark.needs("meter_mains")
@pytest.mark.time_bound(lambda p: 2 * p.ui.meter_poll_interval_s + 4 * p.ui.red_flash_period_s)
def test_red_led_is_steady_while_the_meter_id_is_missing(
    dut: Any, bench: Any, station: Any, profile: Any, operator_console: Any
) -> None:
    """With the meter's mains off the module reads no meter id (C.1.0): after one meter poll interval the red
    LED is on in every sample (steady, not flashing); one poll after the mains returns it is dark again."""
    console = instrument_or_operator(station.capabilities, "led", operator_console)
    ui = profile.ui
    bench.set_meter_mains(False)
    try:
        wait_std(
            station,
            ui.meter_poll_interval_s,
            mandated="meter_poll",
            what="the module polling a meter without mains",
        )
        if console is not None:
            answer = operator_confirms(console, "Is the red LED lit steadily (on, not flashing)?")
            record_answer("red_led_steady_seen_by_operator", answer, requirement="UI-RED-LED")
        else:
            samples = _red_samples(bench, station, 2 * ui.red_flash_period_s)
            dark = len(samples) - sum(samples)
            measure(
                "red_led_off_samples_without_meter_id",
                dark,
                "samples",
                high=0,
                conditions={"n": len(samples)},
            )
    finally:
        bench.set_meter_mains(True)
    wait_std(
        station,
        ui.meter_poll_interval_s,
        mandated="meter_poll",
        what="the module reading the restarted meter",
    )
    if console is None:
        lit = sum(_red_samples(bench, station, 2 * ui.red_flash_period_s))
        measure("red_led_on_samples_with_meter_id", lit, "samples", high=0)
