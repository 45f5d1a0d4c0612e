"""``cmi-hil rig check``: reach every instrument and the M-Bus port of a rig and list what is wrong."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import serial

from harness.instruments.registry import DRIVER_REGISTRY
from harness.instruments.serial_port import port_options
from harness.requirements import CatalogueError, load_catalogue
from harness.rig.bench import Bench, BenchError, connect_instrument, prepare_low_latency, start_simulation
from harness.rig.config import RigConfig, calibration_problems, supply_range_problem
from harness.rig.lock import RigBusy, RigLock


@dataclass
class CheckRow:
    role: str
    address: str
    identity: str = "-"
    calibration: str = "-"
    certificate: str = "-"
    problems: list[str] = field(default_factory=list)


@dataclass
class Unverifiable:
    """A requirement this rig cannot verify: the capabilities it needs that the rig lacks, and why."""

    requirement: str
    missing: dict[str, str]  # capability -> reason


@dataclass
class CheckReport:
    rig: RigConfig
    rows: list[CheckRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # rig-wide (lock, simulation)
    warnings: list[str] = field(default_factory=list)
    unverifiable: list[Unverifiable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not any(row.problems for row in self.rows)


def _calibration_status(rig: RigConfig, role: str, today: dt.date) -> str:
    cfg = dict(rig.instruments.items())[role]
    if rig.simulated:
        return "n/a (simulated)"
    if cfg.calibration_due is None:
        return "unknown"
    state = "EXPIRED" if cfg.calibration_due < today else "due"
    return f"{state} {cfg.calibration_due.isoformat()}"


def _certificate_status(rig: RigConfig, role: str) -> str:
    """The calibration certificate id the rig file gives, or why there is none to show."""
    if rig.simulated:
        return "n/a (simulated)"
    return dict(rig.instruments.items())[role].certificate or "MISSING"


def missing_capability_reason(bench: Bench, capability: str) -> str:
    """Why ``bench`` lacks ``capability``: the rig-file field missing, or the instrument that failed."""
    rig = bench.rig

    def instrument(role: str) -> str | None:
        if getattr(rig.instruments, role) is None:
            return f"no instruments.{role} in the rig file"
        if getattr(bench, role) is None:
            return f"instruments.{role} did not connect"
        return None

    if capability in ("supply", "dmm"):
        return instrument(capability) or "?"
    if capability == "supply_range":
        return instrument("supply") or supply_range_problem(rig) or "?"
    if capability == "polarity":
        return instrument("supply") or "wiring.polarity.method is none (no polarity reversal wired)"
    if capability in ("ac_source", "mains"):
        reason = instrument("ac_source") or instrument("relays")
        if reason is None and not rig.rate_input_channels:
            reason = "no wiring.rate_inputs"
        if reason is None and capability == "mains":
            if not rig.mains_channels:
                reason = "no rate input declared mains: true"
            else:
                reason = f"limits.max_rate_input_vac {rig.limits.max_rate_input_vac:g} is below 230 VAC"
        return reason or "?"
    if capability == "meter_mains":
        mains = rig.wiring.meter_mains
        if mains is None:
            return "no wiring.meter_mains (relay or AC source switching the E350's own mains)"
        return instrument("ac_source" if mains.via == "ac_source" else "relays") or "?"
    if capability == "meter_load":
        if rig.wiring.meter_load is None:
            return "no wiring.meter_load (relay-switched load on the meter)"
        return instrument("relays") or "?"
    if capability == "current_sampling":
        return instrument("dmm") or "instruments.dmm.sampling is false (no timed current sampling declared)"
    if capability == "button":
        return "no wiring.button_channel (push-button actuator on a relay channel)"
    if capability == "led":
        return "no LED sensor on this rig (only the simulated bench observes the LED)"
    return "not provided by this rig"


def identity_model_problem(role: str, driver: str, model: str | None, idn_fields: list[str]) -> str | None:
    """A model driver's ratings are only right for the model it was told: ``*IDN?`` must name it."""
    entry = DRIVER_REGISTRY[driver]
    expected = entry.match_model(model)
    if expected is None or len(idn_fields) < 2:
        return None
    if expected.upper() in idn_fields[1].upper():
        return None
    return (
        f"rig file says model {expected} (driver {driver}) but *IDN? reports {idn_fields[1]!r}: another "
        f"instrument is at this address, or correct instruments.{role}.model"
    )


def unverifiable_requirements(bench: Bench) -> list[Unverifiable]:
    """Requirements of the catalogue whose ``needs:`` this bench does not have (tests of them skip)."""
    capabilities = bench.capabilities
    found = []
    for entry in load_catalogue().testable():
        missing = [need for need in entry.needs if need not in capabilities]
        if missing:
            reasons = {str(need): missing_capability_reason(bench, need) for need in missing}
            found.append(Unverifiable(entry.id, reasons))
    return found


def mbus_identity(rig: RigConfig) -> str:
    """The M-Bus port's settings as the rig file declares them (baud, echo, low latency, bus supply)."""
    parts = [f"{rig.mbus.baud} Bd 8E1", "adapter echoes" if rig.mbus.echo else "no echo"]
    fixed = rig.mbus.master_fixed_volts
    parts.append(f"master-fixed {fixed:g} V" if fixed is not None else "bus from supply")
    return ", ".join(parts)


def check_mbus_port(url: str, baud: int) -> str | None:
    """Open and close the M-Bus master port (8E1, EN 13757-2); None if fine, else what is wrong.

    A local port is opened exclusively, as the run opens it: "in use" here means another program holds it.
    """
    try:
        port = serial.serial_for_url(
            url, baudrate=baud, parity=serial.PARITY_EVEN, timeout=0.5, **port_options(url)
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        return (
            f"cannot open M-Bus port {url} at {baud} Bd: {exc}; check the cable/USB adapter, "
            "the ser2net/RFC 2217 server and mbus.url in the rig file"
        )
    port.close()
    return None


def check_rig(rig: RigConfig, *, strict: bool = False, today: dt.date | None = None) -> CheckReport:
    """Connect to every instrument (identify, reset, configure, error queue), open the M-Bus port."""
    today = today or dt.date.today()
    report = CheckReport(rig)
    calibration = calibration_problems(rig, today=today)
    (report.problems if strict else report.warnings).extend(calibration)
    bench = Bench(rig)
    try:
        if rig.is_exclusive:
            lock = RigLock(rig.name)
            try:
                lock.acquire()
            except RigBusy as exc:
                report.problems.append(str(exc))
                return report
            bench._cleanups.append(lock.release)
        if rig.simulated:
            start_simulation(bench, faults=None, profile=None, physics=None)
        for role, cfg in rig.instruments.items():
            address = bench.resources.get(role, cfg.resource)
            row = CheckRow(
                role,
                address,
                calibration=_calibration_status(rig, role, today),
                certificate=_certificate_status(rig, role),
            )
            report.rows.append(row)
            try:
                driver = connect_instrument(bench, role, cfg, address)
            except Exception as exc:  # each instrument is checked even if one fails
                row.problems.append(str(exc))
                continue
            bench._cleanups.append(driver.close)
            setattr(bench, role, driver)
            row.identity = driver.idn or "-"
            fields = driver.idn_fields
            model_problem = identity_model_problem(role, cfg.driver, cfg.model, fields)
            if model_problem:
                row.problems.append(model_problem)
            if cfg.serial and len(fields) > 2 and fields[2] != cfg.serial:
                row.problems.append(
                    f"rig file says serial {cfg.serial} but the instrument reports {fields[2]}: "
                    "another instrument is at this address, or update instruments."
                    f"{role}.serial (and its calibration date)"
                )
        mbus_url = bench.mbus_url
        row = CheckRow("mbus", mbus_url, identity=mbus_identity(rig), calibration="n/a", certificate="n/a")
        problem = check_mbus_port(mbus_url, rig.mbus.baud)
        if problem:
            row.problems.append(problem)
        elif rig.mbus.low_latency:
            try:
                row.identity += f", {prepare_low_latency(rig, mbus_url)}"
            except BenchError as exc:
                row.problems.append(str(exc))
        report.rows.append(row)
        try:
            report.unverifiable = unverifiable_requirements(bench)
        except CatalogueError as exc:
            report.warnings.append(f"cannot list the requirements this rig cannot verify: {exc}")
    except Exception as exc:
        report.problems.append(str(exc))
    finally:
        try:
            bench.close()
        except Exception as exc:
            report.problems.append(str(exc))
    return report


def format_report(report: CheckReport) -> str:
    rig = report.rig
    headers = ("role", "address", "identity (*IDN?)", "calibration", "certificate", "status")
    rows = [
        (r.role, r.address, r.identity, r.calibration, r.certificate, "PROBLEM" if r.problems else "ok")
        for r in report.rows
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
    lines = [f"rig {rig.name} ({rig.describe_source()}){' [simulated]' if rig.simulated else ''}"]
    for values in (headers, *rows):
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)).rstrip())
    problems = [f"{r.role}: {p}" for r in report.rows for p in r.problems] + report.problems
    for warning in report.warnings:
        lines.append(f"warning: {warning}")
    if report.unverifiable:
        count = len(report.unverifiable)
        lines.append(f"not verifiable on this rig ({count} requirement(s)):")
        for item in report.unverifiable:
            why = "; ".join(f"needs {cap}: {reason}" for cap, reason in item.missing.items())
            lines.append(f"  {item.requirement}: {why}")
    for problem in problems:
        lines.append(f"problem: {problem}")
    gaps = f" ({len(report.unverifiable)} requirement(s) not verifiable)" if report.unverifiable else ""
    lines.append(f"rig check: OK{gaps}" if report.ok else f"rig check: {len(problems)} problem(s){gaps}")
    return "\n".join(lines)
