"""User interface (product sheet: green LED = communication with meter; push button = breaker)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from fixtures.checks import StdClock, read_register
from fixtures.operator import instrument_or_operator, operator_presses_button, operator_watches_led
from harness.measure import measure

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
