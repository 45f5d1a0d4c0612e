"""Run folders for the report self-tests, written with harness.evidence records exactly as the suite does."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness import evidence
from harness.evidence import (
    DutInfo,
    Instrument,
    Measurement,
    Requirement,
    RigInfo,
    RunInfo,
    TestResult,
    TranscriptEntry,
)

REQUIREMENTS = [
    Requirement(
        id="PWR-SUPPLY",
        text="Answers at every supply voltage 21-42 VDC in both polarities",
        source="product sheet: supply",
        method="sweep",
    ),
    Requirement(
        id="PWR-LOAD",
        text="Quiescent bus current at most 1 unit load (1.5 mA)",
        source="product sheet: load",
        method="DMM",
    ),
    Requirement(
        id="LL-REPLY-WINDOW",
        text="Reply within 11 bit times .. 330 bit times + 50 ms",
        source="EN 13757-2 reply timing",
        method="latency",
    ),
    Requirement(
        id="RI-DETECT",
        text="A rate-input level held 5 s is detected",
        source="product sheet: rate inputs",
        method="timed stimulus",
    ),
    Requirement(
        id="UI-LED",
        text="Green LED shows communication with the meter",
        source="product sheet: LED",
        method="observation",
    ),
]


def _long_frame(c: int, a: int, ci: int, payload: bytes) -> bytes:
    body = bytes([c, a, ci]) + payload
    return bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])


def _short_frame(c: int, a: int) -> bytes:
    return bytes([0x10, c, a, (c + a) & 0xFF, 0x16])


def rsp_ud(energy_wh: int = 1234567) -> bytes:
    """A CI 72 RSP_UD: id 12345678, ELV, version 1, electricity, energy (VIF 03, Wh) as INT32."""
    header = (
        bytes.fromhex("78563412") + (0x1596).to_bytes(2, "little") + bytes([0x01, 0x02, 0x05, 0x00, 0, 0])
    )
    record = bytes([0x04, 0x03]) + energy_wh.to_bytes(4, "little")
    return _long_frame(0x08, 5, 0x72, header + record)


def transcript(baud: int, latency_s: float) -> list[TranscriptEntry]:
    hexs = lambda b: b.hex(" ").upper()  # noqa: E731
    return [
        TranscriptEntry(direction="tx", t_us=0, data=hexs(_short_frame(0x40, 5)), summary="SND_NKE a=5"),
        TranscriptEntry(
            direction="rx",
            t_us=int(latency_s * 1e6) + 20833,
            data="E5",
            summary="ACK",
            latency_ms=latency_s * 1e3,
        ),
        TranscriptEntry(direction="tx", t_us=200000, data=hexs(_short_frame(0x5B, 5)), summary="REQ_UD2 a=5"),
        TranscriptEntry(
            direction="rx",
            t_us=200000 + int(latency_s * 1e6) + 20833,
            data=hexs(rsp_ud()),
            summary="RSP_UD a=5",
            latency_ms=latency_s * 1e3,
        ),
        TranscriptEntry(direction="rx", t_us=400000, data="68 05 05 68 08 05 72 12 16", summary="garbage"),
    ]


RunFactory = Callable[..., Path]


def build_run(
    root: Path,
    *,
    started: datetime | None = None,
    run_id: str | None = None,
    rig: str = "sim",
    seed: int = 0,
    current_scale: float = 1.0,
    latency_offset_s: float = 0.0,
    fail_led: bool = False,
    slow_test_s: float | None = None,
    faults: tuple[str, ...] = (),
) -> Path:
    """Write a realistic run folder and return it."""
    rnd = random.Random(seed)
    started = started or datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    run_id = run_id or f"{started:%Y%m%d-%H%M%S}-{rig}"
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    (run_dir / evidence.ALLURE_DIR).mkdir()
    (run_dir / evidence.ALLURE_DIR / "0a1b-result.json").write_text('{"name": "test_x", "status": "passed"}')
    (run_dir / evidence.ALLURE_DIR / "0a1c-result.json").write_text(
        '{"name": "test_quiescent_current[+]", "fullName": "testcases.test_power#test_quiescent_current", '
        '"status": "passed", "attachments": [{"name": "M-Bus transcript", "source": "x-attachment.txt", '
        '"type": "text/plain"}]}'
    )
    t = started
    clock = lambda: (t + timedelta(seconds=rnd.random() * 60)).isoformat()  # noqa: E731
    measurements: list[Measurement] = []
    for polarity in "+-":
        for volts in (21, 24, 30, 36, 42):
            value = (1.10e-3 + 0.004e-3 * (volts - 21) + rnd.gauss(0, 0.005e-3)) * current_scale
            measurements.append(
                Measurement(
                    test=f"testcases/test_power.py::test_quiescent_current[{polarity}]",
                    name="quiescent_current",
                    value=value,
                    unit="A",
                    high=1.5e-3,
                    uncertainty=0.01e-3,
                    verdict="pass" if value + 0.01e-3 <= 1.5e-3 else "fail",
                    requirement="PWR-LOAD",
                    timestamp=clock(),
                    conditions={"supply_v": volts, "polarity": polarity},
                )
            )
    for baud, typical in ((300, 0.080), (2400, 0.012)):
        for _ in range(4):
            value = typical + rnd.gauss(0, typical * 0.02) + latency_offset_s
            lo, hi = 11 / baud, 330 / baud + 0.05
            measurements.append(
                Measurement(
                    test=f"testcases/test_link.py::test_reply_window[{baud}]",
                    name="reply_latency",
                    value=value,
                    unit="s",
                    low=lo,
                    high=hi,
                    uncertainty=0.002,
                    verdict="pass" if lo < value < hi else "fail",
                    requirement="LL-REPLY-WINDOW",
                    timestamp=clock(),
                    conditions={"baud": baud},
                )
            )
    for index in range(1, 5):
        value = 5.0 + 0.25 + rnd.gauss(0, 0.02)
        measurements.append(
            Measurement(
                test=f"testcases/test_rate_inputs.py::test_detection_time[{index}]",
                name="rate_detection_time",
                value=value,
                unit="s",
                low=5.0,
                high=6.0,
                uncertainty=0.05,
                verdict="pass",
                requirement="RI-DETECT",
                timestamp=clock(),
                conditions={"input": index},
            )
        )
    for m in measurements:
        evidence.append_jsonl(run_dir / evidence.MEASUREMENTS_FILE, m)
    tests = [
        TestResult(
            nodeid="testcases/test_power.py::test_quiescent_current[+]",
            outcome="passed",
            duration_s=2.1,
            requirements=["PWR-LOAD", "PWR-SUPPLY"],
        ),
        TestResult(
            nodeid="testcases/test_power.py::test_quiescent_current[-]",
            outcome="passed",
            duration_s=2.2,
            requirements=["PWR-LOAD", "PWR-SUPPLY"],
        ),
        TestResult(
            nodeid="testcases/test_link.py::test_reply_window[300]",
            outcome="passed",
            duration_s=slow_test_s or 1.4 + rnd.random() * 0.1,
            requirements=["LL-REPLY-WINDOW"],
        ),
        TestResult(
            nodeid="testcases/test_link.py::test_reply_window[2400]",
            outcome="passed",
            duration_s=0.3,
            requirements=["LL-REPLY-WINDOW"],
        ),
        *[
            TestResult(
                nodeid=f"testcases/test_rate_inputs.py::test_detection_time[{i}]",
                outcome="passed",
                duration_s=5.6,
                requirements=["RI-DETECT"],
            )
            for i in range(1, 5)
        ],
        TestResult(
            nodeid="testcases/test_ui.py::test_led_shows_meter_communication",
            outcome="failed" if fail_led else "passed",
            duration_s=0.8,
            requirements=["UI-LED"],
            message="AssertionError: LED off while the module read the meter" if fail_led else None,
        ),
        TestResult(
            nodeid="testcases/test_robustness.py::test_garbage_on_bus", outcome="passed", duration_s=0.5
        ),
    ]
    for tr in tests:
        evidence.append_jsonl(run_dir / evidence.TESTS_FILE, tr)
    (run_dir / evidence.REQUIREMENTS_FILE).write_text(
        "[" + ",".join(r.model_dump_json() for r in REQUIREMENTS) + "]", encoding="utf-8"
    )
    for baud, latency in ((300, 0.081), (2400, 0.0121)):
        for entry in transcript(baud, latency):
            evidence.append_jsonl(
                run_dir
                / evidence.TRANSCRIPTS_DIR
                / f"{evidence.slug(f'testcases/test_link.py::test_reply_window[{baud}]')}.jsonl",
                entry,
            )
    info = RunInfo(
        run_id=run_id,
        started=started.isoformat(),
        finished=(started + timedelta(seconds=93.4)).isoformat(),
        duration_s=93.4,
        verdict="fail" if fail_led else "pass",
        rig=RigInfo(
            name=rig,
            file=f"rigs/{rig}.yaml",
            simulated=True,
            mbus_port="rfc2217://127.0.0.1:40001",
            faults=list(faults),
            instruments=[
                Instrument(
                    name="psu",
                    role="supply",
                    resource="TCPIP::127.0.0.1::40002::SOCKET",
                    idn="CMI-HIL,SIM-PSU-60,SIM0001,1.0",
                    serial="SIM0001",
                    calibration_due="2027-06-30",
                ),
                Instrument(
                    name="dmm",
                    role="dmm",
                    resource="TCPIP::127.0.0.1::40003::SOCKET",
                    idn="CMI-HIL,SIM-DMM,SIM0002,1.0",
                    serial="SIM0002",
                    calibration_due="2026-01-31",
                ),
                Instrument(
                    name="relays",
                    role="relays",
                    resource="TCPIP::127.0.0.1::40004::SOCKET",
                    idn="CMI-HIL,SIM-RELAY-16,SIM0003,1.0",
                    serial="SIM0003",
                ),
            ],
        ),
        dut=DutInfo(
            id="12345678",
            manufacturer="ELV",
            version=1,
            medium=2,
            firmware="1.4.2",
            profile="harness/profiles/cmi1020-e350.yaml",
        ),
        harness_version="0.1.0",
        git_commit="88fd317",
        operator="lab operator A",
        ambient={"temperature": "23.1 degC", "humidity": "41 %RH"},
        command=["cmi-hil", "run", "--rig", "rigs/sim.yaml"],
    )
    evidence.write_run_info(run_dir, info)
    return run_dir


@pytest.fixture
def make_run(tmp_path: Path) -> RunFactory:
    def factory(**kwargs: object) -> Path:
        return build_run(tmp_path / "reports", **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture(scope="module")
def finalized_fail_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with a failing requirement, finalized once for the read-only checks of a module."""
    from harness.report import finalize_run

    run_dir = build_run(tmp_path_factory.mktemp("fail") / "reports", fail_led=True)
    assert finalize_run(run_dir) == 0
    return run_dir


@pytest.fixture(scope="module")
def finalized_pass_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.report import finalize_run

    run_dir = build_run(tmp_path_factory.mktemp("pass") / "reports")
    assert finalize_run(run_dir) == 0
    return run_dir
