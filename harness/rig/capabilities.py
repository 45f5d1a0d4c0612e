"""What a rig can do, as one rule: bench capabilities from the rig file and the instruments that answer.

Test cases declare what they need (``@pytest.mark.needs("dmm")``); a rig without it skips them with the
reason and the requirement is "not verified". :class:`harness.rig.bench.Bench` applies this rule to the
instruments it connected; ``cmi-hil run --plan`` to those the rig file declares, touching none of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from harness.requirements import Capability
from harness.rig.config import RigConfig, supply_range_problem

#: a read-out of the meter's own registers beside the module: only the simulated bench has one
REFERENCE_METER = "meter_model"
#: every capability a test may need (``needs`` marker, requirement catalogue)
CAPABILITIES: tuple[str, ...] = get_args(Capability)
#: mains reaches a rate input only with a limit at least this high (product sheet: rate inputs 230 VAC)
MAINS_VAC = 230.0


def capabilities_of(
    rig: RigConfig, instruments: Iterable[str], *, emulated_dut: bool, emulated_meter: bool = False
) -> set[str]:
    """Capabilities of ``rig`` with ``instruments`` (roles: supply, dmm, relays, ac_source) present.

    ``emulated_dut``: the DUT is the reference emulator, whose LED and button the simulated bench reaches.
    ``emulated_meter``: the emulator's meter model is fed and loaded, so ``meter_mains``/``meter_load`` hold.
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
        if rig.instruments.dmm is not None and rig.instruments.dmm.sampling:
            caps.add("current_sampling")
    if "ac_source" in present and rig.rate_input_channels:
        caps.add("ac_source")
        if rig.mains_channels and rig.limits.max_rate_input_vac >= MAINS_VAC:
            caps.add("mains")
    if emulated_dut or rig.wiring.button_channel is not None:
        caps.add("button")
    if emulated_dut:
        caps.add("led")
    caps |= meter_capabilities(rig, present, emulated_meter=emulated_meter)
    return caps


def meter_capabilities(rig: RigConfig, present: set[str], *, emulated_meter: bool) -> set[str]:
    """``meter_mains`` / ``meter_load``: the E350's own mains and load under the rig's control.

    A real rig has what ``wiring.meter_mains`` / ``wiring.meter_load`` declare, if the instrument they use
    (relay card, or the AC source for ``via: ac_source``) is present; the simulated meter model has both.
    """
    if emulated_meter:
        return {"meter_mains", "meter_load"}
    caps: set[str] = set()
    mains = rig.wiring.meter_mains
    if mains is not None and ("ac_source" if mains.via == "ac_source" else "relays") in present:
        caps.add("meter_mains")
    if rig.wiring.meter_load is not None and "relays" in present:
        caps.add("meter_load")
    return caps


def declared_capabilities(rig: RigConfig) -> set[str]:
    """Capabilities the rig file promises, before any instrument is reached (``cmi-hil run --plan``)."""
    roles = [role for role, cfg in rig.instruments.items() if cfg is not None]
    caps = capabilities_of(rig, roles, emulated_dut=rig.simulated, emulated_meter=rig.simulated)
    if rig.simulated:  # the simulated bench's read-only reference meter (fixtures: the station offers it)
        caps.add(REFERENCE_METER)
    return caps


__all__ = ["CAPABILITIES", "capabilities_of", "declared_capabilities", "meter_capabilities"]
