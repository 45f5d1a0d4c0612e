"""Fixtures for the emulator self-tests: the emulator over its real RFC 2217 endpoint and a raw-byte client.

Everything a test sends or reads is bytes on a pyserial ``rfc2217://`` connection, as a USB M-Bus master
shared by ser2net would carry them; nothing reaches into the model to fake a reply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness.emulator import Emulator

from .helpers import RawLink


@pytest.fixture
def make_link() -> Iterator[Callable[..., RawLink]]:
    opened: list[RawLink] = []

    def make(emu: Emulator, **kw: object) -> RawLink:
        link = RawLink(emu.endpoints["mbus"], time_scale=emu.time_scale, **kw)  # type: ignore[arg-type]
        opened.append(link)
        return link

    yield make
    for link in opened:
        link.close()


@pytest.fixture
def emu(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


@pytest.fixture
def link(emu: Emulator, make_link: Callable[..., RawLink]) -> RawLink:
    return make_link(emu)
