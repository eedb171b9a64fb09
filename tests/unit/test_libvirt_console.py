"""The libvirt console stream adapter (pybmc/edge/power/libvirt_console.py) against a fake
virStream, and the console bridge reading a target that has an opener."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from pybmc.edge import console as console_mod
from pybmc.edge.console import ConsoleBridge, SerialTarget
from pybmc.edge.power import libvirt_console
from pybmc.edge.power.libvirt_console import ConsoleStream, libvirt_console_target


class FakeError(Exception):
    def get_error_message(self) -> str:
        return str(self)


FAKE = SimpleNamespace(
    libvirtError=FakeError,
    VIR_STREAM_EVENT_READABLE=1, VIR_STREAM_EVENT_WRITABLE=2,
    VIR_STREAM_EVENT_ERROR=4, VIR_STREAM_EVENT_HANGUP=8,
)


class FakeStream:
    """recv() hands out queued chunks, -2 when empty, b"" after `eof`; send() takes at most
    `room` bytes (-2 when full)."""

    def __init__(self) -> None:
        self.incoming: list[bytes] = []
        self.eof = False
        self.sent = bytearray()
        self.room = 1 << 20
        self.mask = 0
        self.masks: list[int] = []  # every eventUpdateCallback, in order
        self.callback: Any = None
        self.aborted = False
        self.removed = False

    def eventAddCallback(self, mask: int, cb: Any, opaque: Any) -> None:
        self.mask, self.callback = mask, cb

    def eventUpdateCallback(self, mask: int) -> None:
        self.mask = mask
        self.masks.append(mask)

    def eventRemoveCallback(self) -> None:
        self.removed = True

    def abort(self) -> None:
        self.aborted = True

    def recv(self, n: int) -> bytes | int:
        if self.incoming:
            chunk = self.incoming.pop(0)
            return chunk
        return b"" if self.eof else -2

    def send(self, data: bytes) -> int:
        if self.room <= 0:
            return -2
        taken = data[:self.room]
        self.room -= len(taken)
        self.sent += taken
        return len(taken)

    async def fire(self, events: int) -> None:
        """As libvirt does: the callback runs in another thread (libvirt's event thread);
        what it hands to the loop has run when this returns."""
        await asyncio.to_thread(self.callback, self, events, None)
        await asyncio.sleep(0)


async def test_reads_what_the_stream_delivers_and_ends_at_eof() -> None:
    fake = FakeStream()
    stream = ConsoleStream(FAKE, fake, "dom")
    assert fake.mask & FAKE.VIR_STREAM_EVENT_READABLE
    fake.incoming += [b"hello ", b"login: "]
    await fake.fire(FAKE.VIR_STREAM_EVENT_READABLE)
    assert await stream.read(4096) == b"hello login: "
    fake.eof = True
    await fake.fire(FAKE.VIR_STREAM_EVENT_READABLE)
    assert await stream.read(4096) == b""


async def test_a_hangup_delivers_the_last_data_then_the_end() -> None:
    fake = FakeStream()
    stream = ConsoleStream(FAKE, fake, "dom")
    fake.incoming.append(b"bye")
    await fake.fire(FAKE.VIR_STREAM_EVENT_HANGUP)
    assert await stream.read(10) == b"bye"
    assert await stream.read(10) == b""


async def test_an_event_mutes_the_stream_until_the_loop_has_handled_it() -> None:
    """libvirt calls back in its own thread, and again while data waits: the callback there
    switches events off, the loop reads and switches them on again."""
    fake = FakeStream()
    stream = ConsoleStream(FAKE, fake, "dom")
    fake.incoming.append(b"x")
    await fake.fire(FAKE.VIR_STREAM_EVENT_READABLE)
    assert fake.masks[0] == 0  # muted in the callback's thread
    assert fake.masks[-1] & FAKE.VIR_STREAM_EVENT_READABLE  # armed again by the loop
    assert await stream.read(10) == b"x"


async def test_a_stream_error_is_an_oserror_for_the_bridge() -> None:
    fake = FakeStream()
    stream = ConsoleStream(FAKE, fake, "dom")

    def broken(_n: int) -> bytes:
        raise FakeError("connection reset")

    fake.recv = broken  # type: ignore[method-assign]
    await fake.fire(FAKE.VIR_STREAM_EVENT_READABLE)
    try:
        await stream.read(10)
    except OSError as err:
        assert "connection reset" in str(err)
    else:
        raise AssertionError("no OSError")


async def test_writes_wait_for_room_and_go_out_when_writable() -> None:
    fake = FakeStream()
    fake.room = 3
    stream = ConsoleStream(FAKE, fake, "dom")
    stream.write(b"root\r")
    assert bytes(fake.sent) == b"roo"
    assert fake.mask & FAKE.VIR_STREAM_EVENT_WRITABLE
    fake.room = 100
    await fake.fire(FAKE.VIR_STREAM_EVENT_WRITABLE)
    assert bytes(fake.sent) == b"root\r"
    assert not fake.mask & FAKE.VIR_STREAM_EVENT_WRITABLE


async def test_a_full_buffer_stops_reading_until_the_bridge_drains_it(monkeypatch: Any) -> None:
    monkeypatch.setattr(libvirt_console, "HIGH_WATER", 8)
    fake = FakeStream()
    stream = ConsoleStream(FAKE, fake, "dom")
    fake.incoming += [b"12345", b"67890", b"abc"]
    await fake.fire(FAKE.VIR_STREAM_EVENT_READABLE)
    assert not fake.mask & FAKE.VIR_STREAM_EVENT_READABLE
    assert fake.incoming == [b"abc"]  # left in libvirt's queue
    assert await stream.read(6) == b"123456"
    assert fake.mask & FAKE.VIR_STREAM_EVENT_READABLE
    await fake.fire(FAKE.VIR_STREAM_EVENT_READABLE)
    assert await stream.read(100) == b"7890abc"


async def test_input_after_the_connection_died_ends_the_stream() -> None:
    fake = FakeStream()
    conn = SimpleNamespace(alive=True)
    conn.isAlive = lambda: conn.alive
    stream = ConsoleStream(FAKE, fake, "dom", conn)
    stream.write(b"a")
    conn.alive = False  # libvirtd restarted; the stream has not heard yet
    stream.write(b"b")
    assert bytes(fake.sent) == b"a"
    try:
        await stream.read(1)
    except OSError as err:  # the bridge reconnects on a new connection
        assert "connection lost" in str(err)
    else:
        raise AssertionError("no OSError")


class FakeShared:
    def __init__(self) -> None:
        self.watchers: list[Any] = []

    def supervise(self, watcher: Any) -> None:
        self.watchers.append(watcher)

    def release(self, watcher: Any) -> None:
        self.watchers.remove(watcher)


async def test_a_lost_connection_ends_the_stream_without_any_input() -> None:
    shared = FakeShared()
    stream = ConsoleStream(FAKE, FakeStream(), "dom", None, shared)  # type: ignore[arg-type]
    assert shared.watchers == [stream]
    reading = asyncio.ensure_future(stream.read(10))
    await asyncio.sleep(0)
    assert not reading.done()
    for watcher in shared.watchers:  # what the connection's supervisor does on a close
        watcher.disconnected()
    try:
        await reading
    except OSError as err:
        assert "connection lost" in str(err)
    else:
        raise AssertionError("no OSError")
    stream.close()
    assert shared.watchers == []


async def test_close_removes_the_callback_and_aborts() -> None:
    fake = FakeStream()
    stream = ConsoleStream(FAKE, fake, "dom")
    stream.close()
    assert fake.removed and fake.aborted
    stream.write(b"late")
    assert fake.sent == b""
    assert await stream.read(1) == b""


async def test_no_libvirt_call_while_the_power_backend_says_off() -> None:
    target = libvirt_console_target("test:///nowhere", "node1", powered=lambda: False)
    assert target.opener is not None
    try:
        await target.opener()
    except OSError as err:
        assert "is off" in str(err)
    else:
        raise AssertionError("opened a console of a domain that is off")


def test_the_target_names_domain_and_uri() -> None:
    target = libvirt_console_target("qemu:///system", "node1")
    assert target.kind == "libvirt" and target.opener is not None
    assert str(target) == "libvirt:node1 on qemu:///system"


async def test_the_bridge_reads_writes_and_reopens_an_opener_target(monkeypatch: Any) -> None:
    monkeypatch.setattr(console_mod, "RECONNECT_DELAY", 0.01)
    opened: list[FakeStream] = []

    async def opener() -> tuple[ConsoleStream, ConsoleStream]:
        fake = FakeStream()
        opened.append(fake)
        stream = ConsoleStream(FAKE, fake, "dom")
        return stream, stream

    received = bytearray()
    bridge = ConsoleBridge("dom", lambda: SerialTarget("libvirt", path="dom", opener=opener))
    bridge.add_listener(received.extend)
    bridge.start()
    try:
        assert await bridge.wait_connected(5)
        opened[0].incoming.append(b"login: ")
        await opened[0].fire(FAKE.VIR_STREAM_EVENT_READABLE)
        async with asyncio.timeout(5):
            while b"login: " not in received:
                await asyncio.sleep(0.01)
        bridge.write(b"root\r")
        assert bytes(opened[0].sent) == b"root\r"
        await opened[0].fire(FAKE.VIR_STREAM_EVENT_HANGUP)  # the domain was destroyed
        async with asyncio.timeout(5):
            while len(opened) < 2 or not bridge.connected:
                await asyncio.sleep(0.01)
        assert opened[0].aborted
        assert bridge.history() == b"login: "
    finally:
        await bridge.stop()
    assert opened[-1].aborted
