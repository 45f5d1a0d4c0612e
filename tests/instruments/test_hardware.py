"""Opt-in self-tests against one real instrument: identify, safe state, read-back. Nothing is energised.

``pytest tests/instruments -m hardware --resource TCPIP::192.0.2.10::5025::SOCKET --driver keysight-e36300``
(``--visa-backend @ivi``, ``--outputs N``, ``--channels 101,102`` as needed). The instrument is opened the way
a run opens it (``harness.rig.bench.connect_instrument``: identify, model preconditions, ``*RST``, configure,
error queue), left in its safe state and read back. Without ``--resource`` every test here is skipped with
the reason, so the self-test suite never needs a lab.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from harness.instruments.registry import DRIVER_REGISTRY, ROLES, supply_outputs
from harness.instruments.visa import open_resource
from harness.rig.bench import Bench, connect_instrument
from harness.rig.check import identity_model_problem
from harness.rig.config import RigConfig, format_validation_error

pytestmark = pytest.mark.hardware

SKIP_REASON = (
    "no --resource given: hardware self-tests need a real instrument "
    "(pytest tests/instruments -m hardware --resource TCPIP::<ip>::5025::SOCKET --driver <name>)"
)


@dataclass
class RealInstrument:
    role: str
    driver_name: str
    model: str | None
    idn_fields: list[str]
    driver: Any


def _usage(message: str) -> None:
    pytest.fail(message, pytrace=False)


def _model_from_idn(resource: str, backend: str, driver_name: str) -> tuple[str | None, str]:
    """The instrument's own ``*IDN?`` names the model whose ratings the driver must use."""
    res = open_resource(resource, backend=backend)
    try:
        idn = str(res.query("*IDN?")).strip()
    finally:
        res.close()
    entry = DRIVER_REGISTRY[driver_name]
    fields = [f.strip() for f in idn.split(",")]
    named = fields[1] if len(fields) > 1 else idn
    if not entry.models:
        return named or None, idn
    model = entry.match_model(named)
    if model is None:
        _usage(
            f"{resource} reports {idn!r}: not a model driver {driver_name} knows "
            f"({', '.join(entry.models)}); pick the driver of this model (cmi-hil rig drivers)"
        )
    return model, idn


@pytest.fixture(scope="module")
def real(request: pytest.FixtureRequest) -> Iterator[RealInstrument]:
    option = request.config.getoption
    resource = option("--resource", default=None)
    if not resource:
        pytest.skip(SKIP_REASON)
    driver_name = option("--driver", default=None)
    if driver_name not in DRIVER_REGISTRY:
        names = ", ".join(f"{e.name} ({e.role})" for e in DRIVER_REGISTRY.values())
        _usage(f"--driver {driver_name!r} is not a registered driver (allowed: {names})")
    role = DRIVER_REGISTRY[driver_name].role
    assert role in ROLES
    backend = option("--visa-backend", default="@py")
    model, _idn = _model_from_idn(resource, backend, driver_name)
    cfg: dict[str, Any] = {
        "driver": driver_name,
        "resource": resource,
        "model": model,
        "visa_backend": backend,
    }
    if role == "supply":
        ratings = supply_outputs(driver_name, model)
        cfg["outputs"] = option("--outputs", default=None) or (len(ratings) if ratings else 1)
    data = {
        "name": "hardware-selftest",
        "exclusive": False,
        "instruments": {role: cfg},
        "mbus": {"url": "/dev/unused-by-the-hardware-self-test"},
    }
    try:
        rig = RigConfig.model_validate(data)
    except ValidationError as exc:
        _usage(format_validation_error("hardware self-test options", exc))
    instrument_cfg = dict(rig.instruments.items())[role]
    driver = connect_instrument(Bench(rig), role, instrument_cfg, resource)
    if role == "relays":
        channels = [int(c) for c in str(option("--channels", default="")).split(",") if c.strip()]
        for channel in channels:
            problem = driver.channel_problem(channel)
            if problem:
                _usage(f"--channels: {problem}")
        driver.channels = tuple(sorted(set(channels)))
    try:
        yield RealInstrument(role, driver_name, model, driver.idn_fields, driver)
    finally:
        try:
            driver.safe_state()
        finally:
            driver.close()


def test_identifies_as_the_model_its_driver_serves(real: RealInstrument) -> None:
    assert len(real.idn_fields) >= 4, f"*IDN? must give maker,model,serial,firmware: {real.idn_fields}"
    problem = identity_model_problem(real.role, real.driver_name, real.model, real.idn_fields)
    assert problem is None, problem


def test_safe_state_reads_back_as_safe(real: RealInstrument) -> None:
    driver = real.driver
    driver.safe_state()
    driver.check_errors("safe state")
    if real.role == "supply":
        for channel in range(1, driver.channel_count + 1):
            assert driver.output_on(channel=channel) is False, f"output {channel} still on after safe state"
            assert driver.regulation_mode(channel=channel) == "off"
            volts = driver.measure_voltage_v(channel=channel)
            assert abs(volts) < 0.5, f"output {channel} off but {volts:g} V measured at its terminals"
    elif real.role == "ac_source":
        assert driver.output_on() is False
    elif real.role == "relays":
        closed = (
            [c for c, on in driver.closed_channels(driver.channels).items() if on] if driver.channels else []
        )
        assert closed == [], f"channels {closed} still closed after safe state"
    elif real.role == "dmm":
        reading = driver.read_current_a()  # open input: a finite reading near 0 A on the configured range
        assert math.isfinite(reading), f"DMM reading {reading!r} (overload on an open input?)"
    driver.check_errors("read-back")
