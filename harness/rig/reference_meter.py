"""The simulated bench's "optical port": a read-only readout of the emulated E350's registers.

Part of building the simulated bench (the one place besides :mod:`harness.rig.bench` allowed to touch the
emulator): the suite sees only :class:`harness.physics.ReferenceMeterReadout`, as a lab sees a meter's
display or optical port beside the module it tests. Requirements judged against it are marked
``simulated_only`` in the catalogue: a real bench has no such reference unless it adds one.
"""

from __future__ import annotations

from typing import Any


class EmulatedMeterReadout:
    """Implements :class:`harness.physics.ReferenceMeterReadout` over a running emulator's meter model."""

    def __init__(self, emulator: Any) -> None:
        self._emulator = emulator

    def meter_readout(self) -> dict[str, float | int | str]:
        snapshot = self._emulator.meter_snapshot()
        return {reg.name: snapshot.value(reg) for reg in self._emulator.profile.registers}
