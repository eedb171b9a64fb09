"""The console bridge against a fake guest serial socket (a unix server, as QEMU offers)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from pybmc.edge.console import (
    DO,
    IAC,
    OPT_BINARY,
    OPT_ECHO,
    WILL,
    ConsoleBridge,
    SerialTarget,
    TelnetFilter,
)
from pybmc.edge.local_console import LocalConsoleServer


class FakeGuest:
    """A unix socket server standing in for QEMU's serial chardev."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.writers: list[asyncio.StreamWriter] = []
        self.received = bytearray()
        self.connected = asyncio.Event()
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._client, path=self.path)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.connected.set()
        while data := await reader.read(4096):
            self.received += data

    def output(self, data: bytes) -> None:
        self.writers[-1].write(data)

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        self.connected.clear()
        os.unlink(self.path)


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def run_ready_callbacks(rounds: int = 50) -> None:
    """Let the event loop run every callback that is ready, many rounds over: data already in a
    socket is read and handed on within a few rounds. Counts loop turns, not seconds."""
    for _ in range(rounds):
        await asyncio.sleep(0)


@pytest.fixture
def short_dir():
    with tempfile.TemporaryDirectory(prefix="pb", dir="/tmp") as path:
        yield Path(path)


def test_serial_target_parsing():
    assert SerialTarget.parse("unix:/tmp/x") == SerialTarget("unix", path="/tmp/x")
    assert SerialTarget.parse("telnet:127.0.0.1:9003") == SerialTarget(
        "telnet", host="127.0.0.1", port=9003)
    with pytest.raises(ValueError):
        SerialTarget.parse("tcp:nohost")


def test_telnet_filter_strips_negotiation_and_answers_it():
    telnet = TelnetFilter()
    # QEMU's telnet server greets with WILL ECHO, WILL SGA, WILL BINARY, DO BINARY.
    data = telnet.feed(bytes.fromhex("fffb01fffb03fffb00fffd00") + b"hi\xff\xffx")
    assert data == b"hi\xffx"
    assert bytes(telnet.replies) == bytes([IAC, DO, OPT_ECHO, IAC, DO, 3, IAC, DO, OPT_BINARY,
                                           IAC, WILL, OPT_BINARY])
    assert TelnetFilter.escape(b"a\xffb") == b"a\xff\xffb"


async def test_bridge_reads_fans_out_keeps_history_and_reconnects(short_dir: Path):
    guest = FakeGuest(str(short_dir / "s"))
    await guest.start()
    bridge = ConsoleBridge("t", lambda: SerialTarget("unix", path=guest.path), history_size=8)
    seen = bytearray()
    bridge.add_listener(seen.extend)
    bridge.start()
    try:
        await asyncio.wait_for(guest.connected.wait(), 5)
        guest.output(b"boot log line\n")
        await wait_for(lambda: bytes(seen) == b"boot log line\n")
        assert bridge.history() == b"og line\n"  # the last history_size bytes
        bridge.write(b"root\r")
        await wait_for(lambda: bytes(guest.received) == b"root\r")
        # QEMU restarts: the bridge comes back by itself.
        await guest.stop()
        await wait_for(lambda: not bridge.connected)
        guest = FakeGuest(guest.path)
        await guest.start()
        await asyncio.wait_for(guest.connected.wait(), 5)
        guest.output(b"again")
        await wait_for(lambda: bytes(seen).endswith(b"again"))
    finally:
        await bridge.stop()
        await guest.stop()


async def test_bridge_pauses_reading_while_a_listener_is_full(short_dir: Path):
    guest = FakeGuest(str(short_dir / "s"))
    await guest.start()
    bridge = ConsoleBridge("t", lambda: SerialTarget("unix", path=guest.path))
    seen = bytearray()
    full = {"value": False}
    bridge.add_listener(seen.extend, lambda: full["value"])
    bridge.start()
    try:
        await asyncio.wait_for(guest.connected.wait(), 5)
        full["value"] = True
        guest.output(b"first")
        await wait_for(lambda: bytes(seen) == b"first")
        guest.output(b"second")
        await guest.writers[-1].drain()  # "second" is in the bridge's socket now
        await run_ready_callbacks()  # a bridge still reading would have delivered it
        assert bytes(seen) == b"first"  # not read while full: the guest waits, nothing lost
        full["value"] = False
        bridge.update_flow()
        await wait_for(lambda: bytes(seen) == b"firstsecond")
    finally:
        await bridge.stop()
        await guest.stop()


async def test_local_console_shares_output_and_sends_input(short_dir: Path):
    guest = FakeGuest(str(short_dir / "s"))
    await guest.start()
    bridge = ConsoleBridge("t", lambda: SerialTarget("unix", path=guest.path))
    bridge.start()
    local = LocalConsoleServer(bridge, short_dir / "c")
    await local.start()
    try:
        await asyncio.wait_for(guest.connected.wait(), 5)
        guest.output(b"before attach\n")
        await wait_for(lambda: bridge.history() == b"before attach\n")
        reader, writer = await asyncio.open_unix_connection(str(short_dir / "c"))
        assert await reader.readexactly(14) == b"before attach\n"  # history first
        guest.output(b"live")
        assert await reader.readexactly(4) == b"live"
        writer.write(b"ls\r")
        await wait_for(lambda: bytes(guest.received) == b"ls\r")
        writer.close()
    finally:
        await local.stop()
        await bridge.stop()
        await guest.stop()

