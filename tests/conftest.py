"""Fixtures shared by the self-tests of several areas."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness.emulator import Emulator, EmulatorOptions, start_emulator

#: emulator timers run this much faster in self-tests; masters scale their EN 13757-2 windows to match
EMULATOR_TIME_SCALE = 0.1


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start powered emulators (their RFC 2217 endpoint listening) and stop every one at teardown."""
    started: list[Emulator] = []

    def make(**options: object) -> Emulator:
        opts: dict[str, object] = {"powered": True, "time_scale": EMULATOR_TIME_SCALE, **options}
        emu = start_emulator(EmulatorOptions.model_validate(opts))
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()
