"""User interface (product sheet: green LED = communication with meter; push button = breaker)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from fixtures.checks import StdClock, read_register
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


@pytest.mark.requirement("UI-LED")
@pytest.mark.needs("led")
@pytest.mark.time_bound(lambda p: 1.2 * p.ui.meter_poll_interval_s)
def test_green_led_lights_while_the_module_talks_to_the_meter(
    dut: Any, bench: Any, master: Any, station: Any, profile: Any
) -> None:
    """Sampled through a read-out and over one meter poll interval: on at least once, and not stuck on.

    The read-out that makes the module fetch the meter's registers must itself have succeeded, or the
    samples say nothing about the LED.
    """
    span = 1.2 * profile.ui.meter_poll_interval_s
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
@pytest.mark.needs("button")
def test_push_button_toggles_the_breaker(dut: Any, bench: Any, master: Any, profile: Any) -> None:
    before = read_register(master, dut.address, profile, "breaker")
    bench.press_button()
    after = read_register(master, dut.address, profile, "breaker")
    bench.press_button()  # back to where it was
    restored = read_register(master, dut.address, profile, "breaker")
    assert after != before, f"the breaker state stayed {before} after a press of the push button"
    assert restored == before, f"a second press left the breaker at {restored}, expected {before}"
