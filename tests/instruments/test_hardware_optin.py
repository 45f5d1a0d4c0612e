"""The opt-in hardware self-tests run against a simulated instrument, and skip with the reason without one."""

from __future__ import annotations

import subprocess
import sys

from harness.rig import Bench

from .conftest import REPO

HARDWARE_TESTS = REPO / "tests" / "instruments" / "test_hardware.py"


def _pytest(*options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", str(HARDWARE_TESTS), "-m", "hardware", "-rs", "-q"]
    command += ["-p", "no:cacheprovider", *options]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_without_a_resource_the_hardware_tests_skip_with_the_reason() -> None:
    result = _pytest()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 skipped" in result.stdout
    assert "SKIPPED" in result.stdout and "no --resource given" in result.stdout


def test_against_an_instrument_they_identify_reach_the_safe_state_and_read_back(bench: Bench) -> None:
    supply = bench.resources["supply"]  # the simulated bench's supply server: a real SCPI socket
    result = _pytest("--resource", supply, "--driver", "scpi-psu")
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr
    wrong = _pytest("--resource", supply, "--driver", "keysight-e36300")
    assert wrong.returncode != 0
    assert "not a model driver keysight-e36300 knows" in wrong.stdout, wrong.stdout
