"""Simulated SCPI servers over real TCP sockets: the IEEE 488.2 basics, the error queue, header rules."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from harness.instruments.sim.instruments import SimAcSource, SimDmm, SimPowerSupply, SimRelayCard
from harness.instruments.sim.scpi_server import ScpiServer, SimInstrument, header_regex, parse_channel_list
from harness.instruments.visa import open_resource


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2.0)
        self.file = self.sock.makefile("rwb")

    def send(self, line: str) -> None:
        self.file.write(line.encode() + b"\n")
        self.file.flush()

    def ask(self, line: str) -> str:
        self.send(line)
        return self.file.readline().decode().strip()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def supply() -> Iterator[tuple[SimPowerSupply, Client]]:
    instrument = SimPowerSupply("cmi-hil,SIM-PSU60,S1,1.0")
    with ScpiServer(instrument) as server:
        client = Client(server.port)
        yield instrument, client
        client.close()


def test_idn_over_a_socket(supply: tuple[SimPowerSupply, Client]) -> None:
    _, client = supply
    assert client.ask("*IDN?") == "cmi-hil,SIM-PSU60,S1,1.0"


def test_unknown_command_goes_to_the_error_queue(supply: tuple[SimPowerSupply, Client]) -> None:
    _, client = supply
    client.send("VOLT:BOGUS 3")
    assert client.ask("SYST:ERR?") == '-113,"Undefined header"'
    assert client.ask("SYST:ERR?") == '+0,"No error"'


def test_out_of_range_value_is_error_222_and_not_applied(supply: tuple[SimPowerSupply, Client]) -> None:
    instrument, client = supply
    client.send("VOLT 61")
    assert client.ask("SYSTEM:ERROR:NEXT?") == '-222,"Data out of range"'
    assert instrument.outputs[0].volts == 0.0


def test_long_short_optional_nodes_and_compound_lines(supply: tuple[SimPowerSupply, Client]) -> None:
    instrument, client = supply
    client.send("INSTrument:NSELect 2;:SOURce:VOLTage:LEVel:IMMediate 12.5;CURR 0.2")
    assert client.ask("inst:nsel?;volt?;curr?") == "2;+1.250000000E+01;+2.000000000E-01"
    assert instrument.outputs[1].volts == 12.5


def test_supply_trips_over_voltage_protection(supply: tuple[SimPowerSupply, Client]) -> None:
    instrument, client = supply
    client.send("VOLT:PROT 40;VOLT 30;OUTP ON")
    assert client.ask("OUTP?") == "1"
    client.send("VOLT 41")
    assert client.ask("OUTP?;VOLT:PROT:TRIP?") == "0;1"
    client.send("OUTP ON")
    assert client.ask("SYST:ERR?") == '-221,"Settings conflict"'


def test_error_queue_overflows_like_scpi() -> None:
    instrument = SimInstrument("x,y,z,1")
    for _ in range(30):
        instrument.handle_line("NOPE")
    assert len(instrument.errors) == 20
    assert instrument.errors[-1] == (-350, "Queue overflow")


def test_dmm_reads_its_source_and_reports_overload_on_a_small_range() -> None:
    dmm = SimDmm("x,DMM,1,1")
    dmm.reading_a = lambda: 0.02
    dmm.handle_line("CONF:CURR:DC 0.1")
    assert float(dmm.handle_line("READ?") or "nan") == pytest.approx(0.02)
    dmm.handle_line("CONF:CURR:DC 0.01")
    assert float(dmm.handle_line("READ?") or "nan") == 9.9e37


def test_relay_card_channel_lists_and_invalid_channel() -> None:
    relays = SimRelayCard("x,REL,1,1")
    relays.handle_line("ROUT:CLOS (@101,103:105)")
    assert relays.handle_line("ROUT:CLOS? (@101,102,103,104,105)") == "1,0,1,1,1"
    relays.handle_line("ROUT:OPEN (@121)")
    assert relays.errors[-1] == (-224, "Illegal parameter value")
    assert parse_channel_list("(@101:103,110)") == [101, 102, 103, 110]


def test_ac_source_output_level() -> None:
    ac = SimAcSource("x,AC,1,1")
    ac.handle_line("VOLT 230;FREQ 50")
    assert ac.output_vac == 0.0
    ac.handle_line("OUTP ON")
    assert ac.output_vac == 230.0
    ac.handle_line("*RST")
    assert ac.output_vac == 0.0


def test_header_pattern_accepts_only_short_or_long_forms() -> None:
    regex = header_regex("[SOURce:]VOLTage[:LEVel]")
    assert all(regex.match(h) for h in ("VOLT", "VOLTAGE", "SOUR:VOLT", ":SOURCE:VOLTAGE:LEVEL"))
    assert not any(regex.match(h) for h in ("VOL", "VOLTA", "VOLT?", "SOURC:VOLT"))


def test_pyvisa_reaches_the_server_as_a_socket_resource(supply: tuple[SimPowerSupply, Client]) -> None:
    instrument, _ = supply
    server_port = next(c for c in [supply[1].sock.getpeername()[1]])
    resource = open_resource(f"TCPIP::127.0.0.1::{server_port}::SOCKET")
    try:
        assert resource.query("*IDN?") == instrument.idn
    finally:
        resource.close()


def test_stopped_server_refuses_connections() -> None:
    server = ScpiServer(SimInstrument("x,y,z,1"))
    port = server.port
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
