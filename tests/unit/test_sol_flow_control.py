"""When the guest's console is read: connected before a VM runs, paused on the console's CTS."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from pybmc.config.bmc import parse_config
from pybmc.edge import console as console_module
from pybmc.edge.assembly import BmcRuntime
from pybmc.edge.console import ConsoleBridge, SerialTarget
from pybmc.model.power import Untimed
from pybmc.protocol.sol import OP_CTS_PAUSE, SolPacket, SolStream
from tests.unit.test_sol_console import FakeGuest, wait_for

NOT_REACHABLE = "not reachable yet"  # the console's log line for a failed attempt


@pytest.fixture
def short_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pb", dir="/tmp") as path:
        yield Path(path)


@pytest.fixture
def slow_retry(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A reconnect delay far longer than any test: only an explicit wait connects quickly."""
    caplog.set_level(logging.DEBUG, logger=console_module.log.name)
    monkeypatch.setattr(console_module, "RECONNECT_DELAY", 60.0)


async def test_wait_connected_connects_now_not_at_the_next_retry(short_dir: Path, slow_retry,
                                                                  caplog):
    guest = FakeGuest(str(short_dir / "s"))
    bridge = ConsoleBridge("t", lambda: SerialTarget("unix", path=guest.path))
    bridge.start()
    try:
        await wait_for(lambda: NOT_REACHABLE in caplog.text)  # first attempt failed
        assert not bridge.connected  # and the next one is 60 s away
        await guest.start()  # QEMU launched, paused, its serial socket open
        started = time.monotonic()
        assert await bridge.wait_connected(5.0)
        assert bridge.connected and time.monotonic() - started < 2.0
        await asyncio.wait_for(guest.connected.wait(), 1)
    finally:
        await bridge.stop()
        await guest.stop()


async def test_wait_connected_gives_up_after_its_timeout(short_dir: Path):
    bridge = ConsoleBridge("t", lambda: SerialTarget("unix", path=str(short_dir / "none")))
    assert not await bridge.wait_connected(1.0)  # not started: no reader to wait for
    bridge.start()
    try:
        started = time.monotonic()
        assert not await bridge.wait_connected(0.3)
        assert 0.25 < time.monotonic() - started < 2.0
    finally:
        await bridge.stop()


async def test_qemu_backend_gets_a_hook_that_connects_the_console(short_dir: Path, slow_retry,
                                                                  monkeypatch, caplog):
    monkeypatch.setenv("PYBMC_RUN_DIR", str(short_dir / "run"))
    guest = FakeGuest(str(short_dir / "s"))
    runtime = BmcRuntime(parse_config({"bmc": {"name": "t", "address": "127.0.0.2",
                                               "state_dir": str(short_dir / "state")},
                                       "power": {"backend": "qemu"},
                                       "users": [{"name": "admin", "password": "secret"}]}),
                         power=FakeQemu(guest.path))  # what QemuPower offers
    await runtime._start_console()
    try:
        await wait_for(lambda: NOT_REACHABLE in caplog.text)  # first attempt failed
        await guest.start()
        await asyncio.wait_for(runtime.bmc.power.before_run(), 5)  # QemuPower awaits it
        assert runtime.console.connected
    finally:
        await runtime.stop()
        await guest.stop()


class FakeQemu(Untimed):
    """The parts of QemuPower the console wiring uses: its serial socket and before_run."""

    cycle_interval = 1.0

    def __init__(self, serial_path: str) -> None:
        self.serial_path = serial_path
        self.before_run = None

    def set_listener(self, listener: object) -> None:
        pass

    def is_on(self) -> bool:
        return False

    async def stop(self, leave_running: bool = True) -> None:
        pass


def test_cts_pause_follows_the_consoles_latest_packet():
    stream = SolStream()
    stream.receive(SolPacket(1, flags=OP_CTS_PAUSE, data=b"x").encode(), now=0)
    assert stream.cts_paused
    stream.receive(SolPacket(0, flags=OP_CTS_PAUSE).encode(), now=0)  # ack-only, still paused
    assert stream.cts_paused
    stream.receive(SolPacket(2, data=b"y").encode(), now=0)
    assert not stream.cts_paused
    assert stream.take_console_input() == b"xy"  # CTS pauses the guest, not the console


def test_cts_pause_stops_reading_the_guest_until_released(short_dir: Path, monkeypatch):
    monkeypatch.setenv("PYBMC_RUN_DIR", str(short_dir / "run"))
    runtime = BmcRuntime(parse_config({"bmc": {"name": "t", "address": "127.0.0.2",
                                               "state_dir": str(short_dir / "state")},
                                       "users": [{"name": "admin", "password": "secret"}]}))
    bmc = runtime.bmc
    session = SimpleNamespace(session_id=0x1234, user_name=b"admin", active=True,
                              is_rmcpplus=False)
    bmc.sol.activate(session, encrypted=False, authenticated=False, retry_count=3,
                     retry_interval=0.5, now=0)
    reading = runtime.console._ev().may_read
    assert reading.is_set()
    bmc.sol.receive_packet(session, SolPacket(0, flags=OP_CTS_PAUSE).encode(), now=0)
    assert not reading.is_set()
    bmc.sol.receive_packet(session, SolPacket(0).encode(), now=0)
    assert reading.is_set()
    bmc.sol.receive_packet(session, SolPacket(0, flags=OP_CTS_PAUSE).encode(), now=0)
    bmc.sol.deactivate("test")  # a pause never outlives its SOL session
    assert reading.is_set()
