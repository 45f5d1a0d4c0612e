"""Meter-side capabilities: ``wiring.meter_mains`` / ``wiring.meter_load``; the requirements needing them."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from harness.requirements import Capability, load_catalogue
from harness.rig import RigFileError, load_rig, open_bench
from harness.rig.bench import Bench
from harness.rig.capabilities import CAPABILITIES, declared_capabilities
from harness.rig.check import missing_capability_reason

from .conftest import SIM_RIG, FakePhysics
from .test_rig_messages import LAB_RIG, edited

METER_WIRING = (
    "  relay_settle_s: 0.0\n"
    "  meter_mains: {via: relay, channel: 107}\n"
    "  meter_load: {channel: 108, load_w: 230}\n"
)


def test_a_bench_without_the_meter_model_has_the_meter_side_only_where_wired(
    tmp_path: Path, physics: FakePhysics
) -> None:
    with open_bench(load_rig(SIM_RIG), physics=physics) as plain:  # physics, no emulator: no meter model
        assert not {"meter_mains", "meter_load"} & plain.capabilities
        assert "no wiring.meter_mains" in missing_capability_reason(plain, "meter_mains")
        assert "no wiring.meter_load" in missing_capability_reason(plain, "meter_load")
    rig = load_rig(edited(tmp_path, SIM_RIG, "  relay_settle_s: 0.0\n", METER_WIRING))
    assert 107 in rig.wiring.relay_channels() and 108 in rig.wiring.relay_channels()
    with open_bench(rig, physics=physics) as wired:
        assert {"meter_mains", "meter_load"} <= wired.capabilities


def test_the_meter_mains_relay_closes_for_an_outage_and_opens_to_restore(
    tmp_path: Path, physics: FakePhysics
) -> None:
    """``via: relay``: the channel's NC contact is in the meter's feed, closed = mains interrupted."""
    rig = load_rig(edited(tmp_path, SIM_RIG, "  relay_settle_s: 0.0\n", METER_WIRING))
    with open_bench(rig, physics=physics) as bench:
        assert bench.relays is not None
        bench.set_meter_mains(False)
        assert bench.relays.closed_channels([107]) == {107: True}
        bench.set_meter_mains(True)
        assert bench.relays.closed_channels([107]) == {107: False}


def test_a_real_rig_names_the_instrument_its_meter_wiring_lacks(tmp_path: Path) -> None:
    bench = Bench(load_rig(LAB_RIG))  # meter wiring declared, nothing connected
    assert not {"meter_mains", "meter_load"} & bench.capabilities
    assert missing_capability_reason(bench, "meter_mains") == "instruments.relays did not connect"
    assert missing_capability_reason(bench, "meter_load") == "instruments.relays did not connect"
    unwired = edited(tmp_path, LAB_RIG, "  meter_mains: {via: relay, channel: 108}", "  #")
    reason = missing_capability_reason(Bench(load_rig(unwired)), "meter_mains")
    assert reason.startswith("no wiring.meter_mains")


@pytest.mark.parametrize(
    ("wiring", "message"),
    [
        ("  meter_mains: {via: relay}\n", r"wiring\.meter_mains\.channel: via relay needs the relay channel"),
        (
            "  meter_mains: {via: ac_source, channel: 9}\n",
            r"meter_mains\.channel: via ac_source takes",
        ),
        ("  meter_mains: {via: grid}\n", r"wiring\.meter_mains\.via: .*'relay' or 'ac_source'"),
        (
            "  meter_load: {channel: 101, load_w: 100}\n",
            "channel 101 is used for both rate input 1",
        ),
        ("  meter_load: {channel: 108, load_w: -5}\n", r"wiring\.meter_load\.load_w: .*greater than 0"),
    ],
)
def test_meter_wiring_errors_name_the_field(tmp_path: Path, wiring: str, message: str) -> None:
    with pytest.raises(RigFileError, match=message):
        load_rig(edited(tmp_path, SIM_RIG, "  relay_settle_s: 0.0\n", "  relay_settle_s: 0.0\n" + wiring))


def test_the_requirements_on_the_meter_side_need_it() -> None:
    needs = {entry.id: set(entry.needs) for entry in load_catalogue().testable()}
    assert "meter_mains" in needs["DA-POWER-FAIL"]
    assert "meter_load" in needs["DA-LIVE"] and "meter_load" in needs["RI-TARIFF"]


def test_the_plan_and_the_catalogue_know_the_meter_side(tmp_path: Path) -> None:
    assert {"meter_mains", "meter_load"} <= declared_capabilities(load_rig(LAB_RIG))  # relays declared
    unwired = edited(tmp_path, LAB_RIG, "  meter_load: {channel: 109, load_w: 100}", "  #")
    assert "meter_load" not in declared_capabilities(load_rig(unwired))
    assert set(get_args(Capability)) == set(CAPABILITIES)  # one list of capabilities
