"""What a rig can do, as one rule: bench capabilities from the rig file and the instruments that answer.

Test cases declare what they need (``@pytest.mark.needs("dmm")``); a rig without it skips them with the
reason and the requirement is "not verified". :class:`harness.rig.bench.Bench` applies this rule to the
instruments it connected; ``cmi-hil run --plan`` to those the rig file declares, touching none of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.rig.config import RigConfig, supply_range_problem

#: every capability a test may need (``needs`` marker, requirement catalogue)
CAPABILITIES = ("supply", "supply_range", "polarity", "dmm", "ac_source", "mains", "button", "led")
#: mains reaches a rate input only with a limit at least this high (product sheet: rate inputs 230 VAC)
MAINS_VAC = 230.0


def capabilities_of(rig: RigConfig, instruments: Iterable[str], *, emulated_dut: bool) -> set[str]:
    """Capabilities of ``rig`` with ``instruments`` (roles: supply, dmm, relays, ac_source) present.

    ``emulated_dut``: the DUT is the reference emulator, whose LED and button the simulated bench reaches.
    """
    present = set(instruments)
    caps: set[str] = set()
    if "supply" in present:
        caps.add("supply")
        if supply_range_problem(rig) is None:
            caps.add("supply_range")
        if rig.wiring.polarity.method != "none":
            caps.add("polarity")
    if "dmm" in present:
        caps.add("dmm")
    if "ac_source" in present and rig.rate_input_channels:
        caps.add("ac_source")
        if rig.mains_channels and rig.limits.max_rate_input_vac >= MAINS_VAC:
            caps.add("mains")
    if emulated_dut or rig.wiring.button_channel is not None:
        caps.add("button")
    if emulated_dut:
        caps.add("led")
    return caps


def declared_capabilities(rig: RigConfig) -> set[str]:
    """Capabilities the rig file promises, before any instrument is reached (``cmi-hil run --plan``)."""
    roles = [role for role, cfg in rig.instruments.items() if cfg is not None]
    return capabilities_of(rig, roles, emulated_dut=rig.simulated)


__all__ = ["CAPABILITIES", "capabilities_of", "declared_capabilities"]
