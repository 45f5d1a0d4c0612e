"""Which device-profile assumptions a lab's own profile (``--dut-profile``) replaced, and which still hold.

The shipped profile marks every value no public record fixes ``assumption: true`` (a section, or one
register). A lab that measures its unit writes its own profile: where it gives another value the
assumption is *overridden* (old -> new); where it clears the flag the values are *confirmed* by the lab;
what its profile still flags stays *in force*, and verdicts that rest on it read "verified against an
assumption" (:mod:`harness.verdict`). The run records this ledger beside its evidence and the report
lists it. Pure functions over the profiles' YAML mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

ASSUMPTIONS_FILE = "assumptions.json"
#: profile sections that carry one ``assumption`` flag for all their values
FLAGGED_SECTIONS = ("identity", "link", "supply", "rate_inputs", "ui")
_FLAG = "assumption"


class AssumptionOverride(BaseModel):
    """One assumed value of the shipped profile that the profile in force replaced."""

    path: str = Field(
        description="dotted profile path, e.g. link.reply_delay_extra_s or registers.power_total.vif"
    )
    old: Any = Field(description="the shipped profile's (assumed) value; null: the shipped profile had none")
    new: Any = Field(description="the profile in force's value; null: it has none (register removed)")


class AssumptionLedger(BaseModel):
    """The shipped profile's assumptions against the profile a run used."""

    profile: str | None = Field(default=None, description="the --dut-profile file; null: the shipped one")
    overridden: list[AssumptionOverride] = Field(default_factory=list)
    #: shipped assumptions (sections, registers) the profile in force no longer flags
    confirmed: list[str] = Field(default_factory=list)
    #: sections and registers the profile in force flags ``assumption: true``
    in_force: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        where = f"--dut-profile {self.profile}" if self.profile else "the shipped device profile"
        return (
            f"{where}: {len(self.overridden)} assumed value(s) overridden, "
            f"{len(self.confirmed)} assumption(s) confirmed, {len(self.in_force)} in force"
        )


def _flagged(node: Any) -> bool:
    return isinstance(node, Mapping) and node.get(_FLAG) is True


def _registers(profile: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    regs = profile.get("registers") or []
    return {str(r["name"]): r for r in regs if isinstance(r, Mapping) and "name" in r}


def _changes(path: str, old: Mapping[str, Any], new: Mapping[str, Any] | None) -> list[AssumptionOverride]:
    """Field-by-field differences of one flagged section or register (the flag itself left out)."""
    if new is None:
        return [AssumptionOverride(path=path, old=dict(old), new=None)]
    keys = sorted((set(old) | set(new)) - {_FLAG})
    return [
        AssumptionOverride(path=f"{path}.{k}", old=old.get(k), new=new.get(k))
        for k in keys
        if old.get(k) != new.get(k)
    ]


def assumption_ledger(
    shipped: Mapping[str, Any], in_force: Mapping[str, Any], *, profile: str | None = None
) -> AssumptionLedger:
    """Compare the shipped profile's ``assumption: true`` sections and registers with the profile in force."""
    ledger = AssumptionLedger(profile=profile)
    for name in FLAGGED_SECTIONS:
        old, new = shipped.get(name), in_force.get(name)
        if _flagged(old):
            assert isinstance(old, Mapping)
            ledger.overridden += _changes(name, old, new if isinstance(new, Mapping) else None)
            if not _flagged(new):
                ledger.confirmed.append(name)
        if _flagged(new):
            ledger.in_force.append(name)
    old_regs, new_regs = _registers(shipped), _registers(in_force)
    for name, old_reg in old_regs.items():
        if not _flagged(old_reg):
            continue
        new_reg = new_regs.get(name)
        ledger.overridden += _changes(f"registers.{name}", old_reg, new_reg)
        if new_reg is not None and not _flagged(new_reg):
            ledger.confirmed.append(f"registers.{name}")
    ledger.in_force += [f"registers.{n}" for n, r in new_regs.items() if _flagged(r)]
    return ledger


__all__ = ["ASSUMPTIONS_FILE", "AssumptionLedger", "AssumptionOverride", "assumption_ledger"]
