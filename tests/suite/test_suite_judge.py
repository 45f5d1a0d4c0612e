"""Checks of the conformance suite that must be able to fail, each shown failing on a wrong input.

Reply timing from the master's timestamps, the collision check, the LED test's read-out, the slave count
of the search test, a station replaced during a test (ERROR) and the import contracts themselves.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fixtures.bench import StationReopened, expected_slave_count
from fixtures.reply_timing import reply_start_latency
from harness.master import CollisionError, LineError, NoReply
from harness.mbus.timing import char_time_s, reply_window
from harness.measure import verdict_of
from testcases.test_robustness import collision_problem
from testcases.test_user_interface import BackgroundReadout

REPO = Path(__file__).resolve().parents[2]


def _latency_verdict(true_start_s: float, path_s: float, baud: int, scale: float, allowance_s: float) -> str:
    """Verdict of a reply that really started ``true_start_s`` (standard s) after the request, as the master
    observes it: one character later (UART) and ``path_s`` (wall) later still."""
    observed_wall = (true_start_s + char_time_s(baud)) * scale + path_s
    value, uncertainty = reply_start_latency(observed_wall, baud, scale, allowance_s)
    low, high = reply_window(baud)
    return verdict_of(value, low, high, uncertainty)


@pytest.mark.parametrize("baud", [300, 2400])
def test_reply_latency_inside_the_window_passes(baud: int) -> None:
    low, high = reply_window(baud)
    assert _latency_verdict((low + high) / 4, 0.004, baud, 1.0, 0.01) == "pass"


@pytest.mark.parametrize("path_s", [0.0, 0.005, 0.01])
def test_reply_before_the_minimum_fails_whatever_the_path_delay(path_s: float) -> None:
    early = 2 / 2400  # 2 bit times at 2400 Bd; EN 13757-2 asks for at least 11
    assert _latency_verdict(early - path_s, path_s, 2400, 1.0, 0.01) == "fail"


def test_reply_after_the_window_fails() -> None:
    late = 1.3 * reply_window(2400)[1]
    assert _latency_verdict(late, 0.002, 2400, 1.0, 0.01) == "fail"
    assert _latency_verdict(late, 0.002, 2400, 0.1, 0.001) == "fail"


def test_path_allowance_grows_in_standard_time_on_a_faster_simulation() -> None:
    _, u_real = reply_start_latency(0.03, 2400, 1.0, 0.01)
    _, u_fast = reply_start_latency(0.003, 2400, 0.1, 0.01)
    assert u_fast == pytest.approx(10 * u_real)  # the 10 ms path does not shrink with the emulator
    assert _latency_verdict(0.02, 0.001, 2400, 0.1, 0.01) == "inconclusive"  # and says so


def _echo_latency_verdict(true_start_s: float, echo_path_s: float, reply_path_s: float) -> str:
    """Verdict of a reply timed from an echoing adapter's echo at 2400 Bd, real time: the echo arrives
    ``echo_path_s`` late, the reply ``reply_path_s`` late (each up to the 10 ms allowance)."""
    observed_wall = true_start_s + char_time_s(2400) + reply_path_s - echo_path_s
    value, uncertainty = reply_start_latency(observed_wall, 2400, 1.0, 0.01, latency_from="echo")
    low, high = reply_window(2400)
    return verdict_of(value, low, high, uncertainty)


def test_echo_timed_latency_is_two_sided() -> None:
    low, high = reply_window(2400)
    # a late echo shortens what is seen: a reply just after the window's end must not pass
    assert _echo_latency_verdict(high + 0.005, 0.01, 0.0) != "pass"
    # a late reply lengthens it: a reply just before the minimum must not pass either
    assert _echo_latency_verdict(low - 0.002, 0.0, 0.01) != "pass"
    # well inside passes, well outside fails, whatever the two path delays
    for echo_path_s, reply_path_s in [(0.0, 0.0), (0.01, 0.0), (0.0, 0.01), (0.01, 0.01)]:
        assert _echo_latency_verdict((low + high) / 2, echo_path_s, reply_path_s) == "pass"
        assert _echo_latency_verdict(1.3 * high, echo_path_s, reply_path_s) == "fail"
    # the one-sided budget of a request-timed latency would pass the first case: the rule matters
    observed_wall = high + 0.005 + char_time_s(2400) - 0.01
    value, uncertainty = reply_start_latency(observed_wall, 2400, 1.0, 0.01)
    assert verdict_of(value, low, high, uncertainty) == "pass"


def _raise(exc: BaseException) -> Any:
    def action() -> Any:
        raise exc

    return action


def test_only_a_collision_error_counts_as_a_collision() -> None:
    assert collision_problem(_raise(CollisionError("two slaves")), "select all") is None
    silence = collision_problem(_raise(NoReply("nothing within the window")), "select all")
    assert silence is not None and "NoReply" in silence
    garbled = collision_problem(_raise(LineError("bad checksum")), "select all")
    assert garbled is not None and "did not see a collision" in garbled
    clean = collision_problem(lambda: True, "select all")
    assert clean is not None and "clean answer" in clean


class _Master:
    def __init__(self, result: Any) -> None:
        self.result = result

    def read(self, address: int) -> Any:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


@pytest.mark.parametrize(
    ("result", "problem"),
    [([object()], None), ([], "no telegram"), (NoReply("no reply at 0"), "NoReply: no reply at 0")],
)
def test_the_led_test_relies_only_on_a_read_out_that_succeeded(result: Any, problem: str | None) -> None:
    reader = BackgroundReadout(_Master(result), 0)
    reader.start()
    reader.join()
    got = reader.problem()
    assert got == problem if problem is None else problem in (got or "")


def test_search_expects_the_slaves_the_rig_declares() -> None:
    assert (
        expected_slave_count(SimpleNamespace(emulator=SimpleNamespace(slave_ids=None, extra_slaves=6))) == 7
    )
    assert expected_slave_count(SimpleNamespace(emulator=SimpleNamespace(slave_ids=["12345678"] * 3))) == 4
    assert expected_slave_count(SimpleNamespace(emulator=None)) == 1


STATION_SUITE = """
import pytest
from types import SimpleNamespace
import fixtures.dut as dut_module
from harness.mbus.model import LongHeader

class FakeStation:
    simulated = True
    known_state = True
    def __init__(self):
        self.reopen_count = 0
    def reopen(self):
        self.reopen_count += 1

@pytest.fixture(scope="session")
def station():
    return FakeStation()

@pytest.fixture(scope="session")
def profile():
    from harness.profile import load_profile
    return load_profile()

@pytest.fixture(scope="session")
def dut_identity():
    return LongHeader(id="71234567", manufacturer="ELV", version=0x20, medium=2)

@pytest.fixture
def master():
    return None

calls = []

def fake_restore(station, profile, secondary):
    calls.append(station.reopen_count)
    if REFUSE_ONCE and len(calls) == 1:
        raise dut_module.DutNotResponding("no answer at 2400 Bd at primary address(es) [0]")

@pytest.fixture(autouse=True)
def _patched(monkeypatch):
    monkeypatch.setattr(dut_module, "restore_known_state", fake_restore)

def test_uses_the_dut(dut):
    assert dut.address == 0
"""


@pytest.mark.parametrize("refuse_once", [True, False])
def test_a_station_replaced_during_a_test_makes_it_an_error(
    pytester: pytest.Pytester, refuse_once: bool
) -> None:
    pytester.makeconftest('pytest_plugins = ["harness.pytest_plugin", "fixtures.dut"]')
    pytester.makepyfile(test_station=f"REFUSE_ONCE = {refuse_once}\n" + STATION_SUITE)
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    if refuse_once:
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines(["*StationReopened*restarted during this test*no answer at 2400 Bd*"])
    else:
        result.assert_outcomes(passed=1)
    assert issubclass(StationReopened, RuntimeError)


def test_the_independence_contract_fails_on_a_fixture_importing_the_emulator(tmp_path: Path) -> None:
    """The import contract of pyproject.toml, applied to a package that imports harness.emulator."""
    pkg = tmp_path / "fixtures_bad"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "oracle.py").write_text("from harness.emulator.telegram import register_record\n")
    (tmp_path / "contracts.ini").write_text(
        textwrap.dedent(
            """\
            [importlinter]
            root_packages =
                harness
                fixtures_bad
            [importlinter:contract:judge]
            name = judge
            type = forbidden
            source_modules = fixtures_bad
            forbidden_modules = harness.emulator
            ignore_imports = harness.rig.bench -> harness.emulator
            """
        )
    )
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), "--config", str(tmp_path / "contracts.ini"), "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0, run.stdout
    assert "fixtures_bad.oracle -> harness.emulator.telegram" in run.stdout


class _Supply:
    def __init__(self) -> None:
        self.channels: list[int] = []

    def measure_voltage_v(self, *, channel: int = 1) -> float:
        self.channels.append(channel)
        return 20.7  # what the output really delivers, whatever the setpoint


def _bench(method: str) -> Any:
    wiring = SimpleNamespace(polarity=SimpleNamespace(method=method, negative_output=2))
    rig = SimpleNamespace(instruments=SimpleNamespace(supply=SimpleNamespace(output=1)), wiring=wiring)
    return SimpleNamespace(rig=rig, supply=_Supply())


def test_the_supply_sweep_records_the_supply_readback_of_the_output_feeding_the_dut() -> None:
    from testcases.test_power import measured_supply_v

    relay = _bench("relay_dpdt")
    assert measured_supply_v(relay, "-") == 20.7 and relay.supply.channels == [1]
    reversed_output = _bench("supply_channel")
    assert measured_supply_v(reversed_output, "-") == 20.7 and reversed_output.supply.channels == [2]


def test_a_register_missing_from_the_read_out_fails_with_what_came() -> None:
    from fixtures.checks import read_register
    from harness.profile import load_profile

    class Empty:
        def read(self, address: int, *, upto: int | None = None) -> list[Any]:
            assert upto == 1  # the profile places 'breaker' in the first telegram: only it is read
            return [SimpleNamespace(records=())]

    with pytest.raises(pytest.fail.Exception, match="no record coded as register 'breaker'"):
        read_register(Empty(), 0, load_profile(), "breaker")
