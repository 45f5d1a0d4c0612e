"""Driver registry: the rig file's ``driver:`` names a class here, ``model:`` picks the model's ratings.

Generic drivers (``scpi-psu``, ``scpi-dmm``, ``scpi-relay``, ``scpi-ac``) speak the common SCPI subset of
instruments.md and take any ``model:`` text; model drivers know their models and refuse others, so a rig
file that names a model the driver does not know is an error at load time, not a surprise at the bench.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.instruments.ac_source import ScpiAcSource
from harness.instruments.ac_sources import Chroma61500, KeysightAC6800
from harness.instruments.dmm import ScpiDmm
from harness.instruments.dmms import Keithley2000, KeithleyDMM6500, Keysight34401A, KeysightTruevolt
from harness.instruments.relay import ScpiRelayCard
from harness.instruments.scpi import ScpiInstrument
from harness.instruments.supplies import KeysightE36300, RigolDP800, RohdeSchwarzHMP, RohdeSchwarzNGE100
from harness.instruments.supply import OutputSpec, ScpiPowerSupply
from harness.instruments.switches import Keysight34980A, KeysightDAQ970A

ROLES = ("supply", "dmm", "relays", "ac_source")


@dataclass(frozen=True)
class DriverEntry:
    name: str
    role: str
    cls: type[ScpiInstrument]
    #: Models this driver knows (empty: generic driver, ``model:`` is free text).
    models: tuple[str, ...] = ()

    def match_model(self, text: str | None) -> str | None:
        """The known model named in ``text`` (``"Rigol DP821A (CH1 60 V)"`` -> ``DP821A``), else None."""
        if not text:
            return None
        for model in sorted(self.models, key=len, reverse=True):
            if re.search(rf"(?<![A-Z0-9]){re.escape(model)}(?![A-Z0-9])", text.upper()):
                return model
        return None


def _entry(name: str, role: str, cls: type[ScpiInstrument], models: tuple[str, ...] = ()) -> DriverEntry:
    return DriverEntry(name, role, cls, models)


def _models(cls: type) -> tuple[str, ...]:
    return tuple(getattr(cls, "MODELS", {}))


DRIVER_REGISTRY: dict[str, DriverEntry] = {
    entry.name: entry
    for entry in (
        _entry("scpi-psu", "supply", ScpiPowerSupply),
        _entry("keysight-e36300", "supply", KeysightE36300, _models(KeysightE36300)),
        _entry("rigol-dp800", "supply", RigolDP800, _models(RigolDP800)),
        _entry("rs-hmp", "supply", RohdeSchwarzHMP, _models(RohdeSchwarzHMP)),
        _entry("rs-nge100", "supply", RohdeSchwarzNGE100, _models(RohdeSchwarzNGE100)),
        _entry("scpi-dmm", "dmm", ScpiDmm),
        _entry("keysight-truevolt", "dmm", KeysightTruevolt, ("34460A", "34461A", "34465A", "34470A")),
        _entry("keysight-34401a", "dmm", Keysight34401A, ("34401A",)),
        _entry("keithley-2000", "dmm", Keithley2000, ("2000",)),
        _entry("keithley-dmm6500", "dmm", KeithleyDMM6500, ("DMM6500",)),
        _entry("scpi-relay", "relays", ScpiRelayCard),
        _entry("keysight-daq970a", "relays", KeysightDAQ970A, ("DAQ970A", "DAQ973A", "34970A", "34972A")),
        _entry("keysight-34980a", "relays", Keysight34980A, ("34980A",)),
        _entry("scpi-ac", "ac_source", ScpiAcSource),
        _entry("keysight-ac6800", "ac_source", KeysightAC6800, _models(KeysightAC6800)),
        _entry("chroma-61500", "ac_source", Chroma61500, _models(Chroma61500)),
    )
}


def drivers_for(role: str) -> list[str]:
    return [name for name, entry in DRIVER_REGISTRY.items() if entry.role == role]


def driver_problem(role: str, driver: str, model: str | None) -> str | None:
    """None if ``driver``/``model`` fit ``role``, else ``"<field>: <what is wrong> (allowed: ...)"``."""
    entry = DRIVER_REGISTRY.get(driver)
    if entry is None or entry.role != role:
        return f"driver: unknown {role} driver {driver!r} (allowed: {', '.join(drivers_for(role))})"
    if entry.models and entry.match_model(model) is None:
        return (
            f"model: {model!r} is not a model driver {driver} knows (allowed: {', '.join(entry.models)}); "
            f"name the model, e.g. model: {entry.models[0]}, or use the generic driver "
            f"{drivers_for(role)[0]}"
        )
    return None


def supply_outputs(driver: str, model: str | None) -> tuple[OutputSpec, ...] | None:
    """Output ratings of a supply model (None for the generic driver)."""
    entry = DRIVER_REGISTRY[driver]
    matched = entry.match_model(model)
    table: dict[str, tuple[OutputSpec, ...]] = getattr(entry.cls, "MODELS", {})
    return table.get(matched) if matched else None


def ac_ranges(driver: str, model: str | None) -> tuple[float, ...]:
    """Voltage ranges of an AC source model (the class default for the generic driver)."""
    entry = DRIVER_REGISTRY[driver]
    matched = entry.match_model(model)
    table: dict[str, tuple[float, ...]] = getattr(entry.cls, "MODELS", {})
    cls_ranges: tuple[float, ...] = getattr(entry.cls, "ranges_vac", ())
    return table.get(matched, cls_ranges) if matched else cls_ranges
