"""Mains interlock: AC above the extra-low-voltage class only reaches channels declared mains rate inputs.

The class limit is 50 V AC rms, the upper bound of extra-low voltage (IEC 60449 band I, used by IEC 61140
for protection against electric shock). The CMi1020 threshold checks (product sheet: rate input low < 24 VAC,
high > 24 VAC) stay below it, so only the 230 VAC withstand and levels above 50 VAC need a mains channel.
Both drivers on the AC path consult one interlock object *before* they send: the AC source when its level
rises, the relay card when it closes a channel. State is tracked conservatively (the setpoint, whether or not
the output is on) and starts as "unknown = live, all closed" until the drivers have made the bench known.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from harness.instruments.errors import InterlockError

#: Upper limit of extra-low voltage, AC rms (IEC 60449 band I).
ELV_LIMIT_VAC = 50.0


class MainsInterlock:
    def __init__(
        self,
        ac_channels: Iterable[int],
        mains_channels: Iterable[int],
        *,
        elv_limit_vac: float = ELV_LIMIT_VAC,
        ac_source_present: bool = True,
    ) -> None:
        self.ac_channels = frozenset(ac_channels)
        self.mains_channels = frozenset(mains_channels)
        self.elv_limit_vac = elv_limit_vac
        # Unknown until the AC source has been set: assume the worst.
        self.level_vac = math.inf if ac_source_present else 0.0
        self.closed: set[int] = set(self.ac_channels)

    def _unsafe(self, channels: Iterable[int]) -> list[int]:
        return sorted(c for c in channels if c in self.ac_channels and c not in self.mains_channels)

    def check_close(self, channels: Iterable[int]) -> None:
        """Refuse to close a non-mains rate-input channel while the AC level is above the ELV class."""
        bad = self._unsafe(channels)
        if bad and self.level_vac > self.elv_limit_vac:
            raise InterlockError(
                f"interlock: refusing to close channel(s) {bad} while the AC source is set to "
                f"{self.level_vac:g} VAC (> {self.elv_limit_vac:g} VAC extra-low-voltage class); "
                f"only channels "
                f"declared mains in the rig file ({sorted(self.mains_channels) or 'none'}) may carry it. "
                "Lower the AC level first, or declare the channel `mains: true` "
                "if it is wired and rated for mains"
            )

    def check_level(self, vac: float) -> None:
        """Refuse an AC level above the ELV class while a non-mains rate-input channel is closed."""
        bad = self._unsafe(self.closed)
        if bad and vac > self.elv_limit_vac:
            raise InterlockError(
                f"interlock: refusing {vac:g} VAC (> {self.elv_limit_vac:g} VAC extra-low-voltage class) "
                f"while channel(s) {bad} not declared mains are closed; open them first, or use a rate "
                "input declared `mains: true` in the rig file"
            )

    def note_level(self, vac: float) -> None:
        self.level_vac = vac

    def note_closed(self, channels: Iterable[int]) -> None:
        self.closed.update(channels)

    def note_opened(self, channels: Iterable[int]) -> None:
        self.closed.difference_update(channels)
