"""Switch mainframes per model: channel numbering and timing; the ROUTe commands are those of the base.

Sources: Keysight DAQ970A/DAQ973A Programming Reference, "ROUTe subsystem" and "Channel numbering" (slot
digit 1-3 and two-digit channel, ``(@101,102)``; ``ROUT:CLOS``, ``ROUT:OPEN``, ``ROUT:CLOS?``); Keysight
34980A Programming Reference, "ROUTe" and "SYSTem:CTYPe?" (slot digit 1-8 and three-digit channel,
``(@1001)``). Relay readback is the command echo, not a contact check (instruments.md 5.10).
"""

from __future__ import annotations

from harness.instruments.relay import ScpiRelayCard


class KeysightDAQ970A(ScpiRelayCard):
    """Keysight DAQ970A/DAQ973A/34970A/34972A: ``scc`` channels, slots 1-3, channels 01-40."""

    numbering = "slot 1-3 and a two-digit channel: 101..140, 201..240, 301..340"
    reset_timeout_s = 5.0

    @classmethod
    def channel_problem(cls, channel: int) -> str | None:
        slot, number = divmod(channel, 100)
        if 1 <= slot <= 3 and 1 <= number <= 40:
            return None
        return f"channel {channel} does not exist on this mainframe ({cls.numbering})"


class Keysight34980A(ScpiRelayCard):
    """Keysight 34980A: ``sccc`` channels, slots 1-8, channels 001-999 (module-dependent)."""

    numbering = "slot 1-8 and a three-digit channel: 1001..1999 ... 8001..8999"
    reset_timeout_s = 10.0  # a full mainframe resets every module in turn (duration unconfirmed)

    @classmethod
    def channel_problem(cls, channel: int) -> str | None:
        slot, number = divmod(channel, 1000)
        if 1 <= slot <= 8 and 1 <= number <= 999:
            return None
        return f"channel {channel} does not exist on this mainframe ({cls.numbering})"
