"""Device profile: the shipped profile is valid and consistent with the codec; bad ones name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.emulator.oracle import Oracle
from harness.mbus.records import describe
from harness.profile import SHIPPED_PROFILE, ProfileError, load_profile


def test_shipped_profile_matches_product_sheet_rows() -> None:
    p = load_profile()
    assert (p.identity.manufacturer, p.identity.medium) == ("ELV", 0x02)
    assert sorted(p.link.bauds) == [300, 2400]
    assert (p.supply.min_volts, p.supply.max_volts, p.supply.unit_loads) == (21.0, 42.0, 1)
    ri = p.rate_inputs
    assert (ri.count, ri.threshold_vac, ri.max_vac, ri.detection_time_s) == (4, 24.0, 230.0, 5.0)
    assert p.telegram_count == 2


@pytest.mark.parametrize("baud", [300, 2400])
def test_nominal_reply_delay_is_inside_the_en13757_window(baud: int) -> None:
    p = load_profile()
    lo, hi = Oracle(p).reply_window_s(baud)
    assert lo < p.link.reply_delay_s(baud) < hi


def test_each_register_decodes_to_its_declared_quantity_unit_and_value() -> None:
    """The profile's VIF/scale pairs agree with the codec: a value written comes back in the declared unit."""
    oracle = Oracle()
    snap = oracle.initial_snapshot()
    for reg in oracle.profile.registers:
        value = snap.value(reg)
        view = describe(oracle.expected_record(reg, value))
        assert (view.quantity, view.unit) == (reg.quantity, reg.unit), reg.name
        assert (view.tariff, view.subunit, view.storage) == (reg.tariff, reg.subunit, reg.storage), reg.name
        assert view.value == pytest.approx(value, abs=1 / reg.scale), reg.name


def _write(tmp_path: Path, mutate: dict[str, object]) -> Path:
    data = yaml.safe_load(SHIPPED_PROFILE.read_text())
    for dotted, value in mutate.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[leaf] = value
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "names"),
    [
        ({"link.bauds": [300, 1234]}, ["link.bauds", "1234", "2400"]),
        ({"identity.manufacturer": "elv"}, ["identity.manufacturer", "three capital letters"]),
        ({"identity.id": "1234"}, ["identity.id", "8 decimal digits"]),
        ({"supply.min_volts": 50.0}, ["supply", "min_volts"]),
        ({"rate_inputs.tariff_rules": [{"inputs": "11", "tariff": 2}]}, ["rate_inputs", "4 characters"]),
        ({"registers.0.coding": "BCD7"}, ["registers.0.coding", "BCD8"]),
        ({"registers.0.source": "weather"}, ["registers.0.source", "energy_import"]),
        ({"link.colour": "red"}, ["link.colour", "Extra inputs"]),
    ],
)
def test_bad_profile_error_names_field_and_allowed_values(
    tmp_path: Path, mutate: dict[str, object], names: list[str]
) -> None:
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, mutate))
    for text in names:
        assert text in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_missing_and_non_yaml_profiles_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("identity: [unclosed\n")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(bad)
