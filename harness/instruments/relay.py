"""SCPI relay/actuator card (34903A in a 34970A/DAQ970A, Rigol M300 style; instruments.md 3).

``ROUT:CLOS (@101,102)``, ``ROUT:OPEN (@...)``, ``ROUT:CLOS? (@...)`` -> ``1,0``. Only channels the rig file
declares may be switched, and every close passes the mains interlock first. ``ROUT:CLOS?`` is a software
readback, not proof of contact (instruments.md 5.10).
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.instruments.errors import LimitError
from harness.instruments.interlock import MainsInterlock
from harness.instruments.scpi import Resource, ScpiInstrument


def channel_list(channels: Iterable[int]) -> str:
    """SCPI channel list, e.g. ``(@101,102)``."""
    return "(@" + ",".join(str(c) for c in channels) + ")"


class ScpiRelayCard(ScpiInstrument):
    """Generic SCPI switch: any positive channel number the card accepts in a ``(@...)`` list."""

    #: How channel numbers are formed on this mainframe (for the rig-file message).
    numbering = "any positive channel number of the card"

    @classmethod
    def channel_problem(cls, channel: int) -> str | None:
        """None if ``channel`` can exist on this mainframe, else the numbering rule."""
        return None if channel >= 1 else f"channel {channel} does not exist ({cls.numbering})"

    def __init__(
        self,
        resource: Resource,
        *,
        name: str = "relays",
        channels: Iterable[int],
        interlock: MainsInterlock | None = None,
        write_delay_s: float = 0.0,
    ) -> None:
        super().__init__(resource, name=name, write_delay_s=write_delay_s)
        self.channels = tuple(sorted(set(channels)))
        self.interlock = interlock

    def _validate(self, channels: Iterable[int]) -> list[int]:
        chosen = sorted(set(channels))
        unknown = [c for c in chosen if c not in self.channels]
        if unknown:
            raise LimitError(
                f"{self.name}: channel(s) {unknown} are not wired in the rig file "
                f"(declared: {list(self.channels)}); nothing was switched"
            )
        return chosen

    def close_channels(self, channels: Iterable[int]) -> None:
        chosen = self._validate(channels)
        if not chosen:
            return
        if self.interlock is not None:
            self.interlock.check_close(chosen)
        self.write(f"ROUT:CLOS {channel_list(chosen)}")
        if self.interlock is not None:
            self.interlock.note_closed(chosen)

    def open_channels(self, channels: Iterable[int]) -> None:
        chosen = self._validate(channels)
        if not chosen:
            return
        self.write(f"ROUT:OPEN {channel_list(chosen)}")
        if self.interlock is not None:
            self.interlock.note_opened(chosen)

    def closed_channels(self, channels: Iterable[int]) -> dict[int, bool]:
        chosen = self._validate(channels)
        reply = self.query(f"ROUT:CLOS? {channel_list(chosen)}")
        states = [part.strip() == "1" for part in reply.split(",")]
        if len(states) != len(chosen):
            raise ValueError(f"{self.name}: expected {len(chosen)} states for {chosen}, got {reply!r}")
        return dict(zip(chosen, states, strict=True))

    def configure(self) -> None:
        self.open_channels(self.channels)

    def safe_state(self) -> None:
        """Open every declared channel (explicit list: not every card has ``ROUT:OPEN:ALL``)."""
        self.open_channels(self.channels)
