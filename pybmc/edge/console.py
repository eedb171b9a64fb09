"""The console bridge: one permanent reader of the guest's serial port per BMC.

QEMU discards serial output nobody reads and stalls a guest whose socket nobody drains, so the
bridge reads all the time: into a history ring, and out to whoever listens (the active SOL
session, local `pybmc console` clients). When a listener's backlog is full the bridge stops
reading until it drains, so the guest waits and nothing is lost. It reconnects by itself when
QEMU restarts (power cycle) or was not running yet.

A target is a socket (unix, TCP, telnet) or anything else that yields a byte stream: a
`SerialTarget` with an `opener` (e.g. libvirt's console stream,
pybmc/edge/power/libvirt_console.py) returns a reader with `async read(n)` (b"" at the end)
and a writer with `write(data)` and `close()`, the part of asyncio's streams the bridge uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("pybmc.console")

READ_SIZE = 4096
RECONNECT_DELAY = 0.5
FAST_RETRY = 0.02  # between attempts while someone waits for the link (wait_connected)

# Telnet (RFC 854/856): just enough to talk to a telnet server port as ipmi_sim's `sol` does.
IAC, DONT, DO, WONT, WILL, SB, SE, BRK = 255, 254, 253, 252, 251, 250, 240, 243
OPT_BINARY, OPT_ECHO, OPT_SGA = 0, 1, 3


class ConsoleReader(Protocol):
    async def read(self, n: int) -> bytes:
        """Up to n bytes; b"" once the stream has ended."""


class ConsoleWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


Opener = Callable[[], Awaitable[tuple[ConsoleReader, ConsoleWriter]]]


@dataclass(frozen=True)
class SerialTarget:
    """Where the guest's serial port is: a unix socket, TCP (optionally telnet), or a stream
    another module opens (`opener`; `path` then says what it is, for log lines)."""

    kind: str  # unix | tcp | telnet | anything with an opener (libvirt)
    path: str = ""
    host: str = ""
    port: int = 0
    opener: Opener | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, text: str) -> SerialTarget:
        kind, _, rest = text.partition(":")
        if kind == "unix" and rest:
            return cls("unix", path=rest)
        if kind in ("tcp", "telnet"):
            host, _, port = rest.rpartition(":")
            if host and port.isdigit() and 0 < int(port) < 65536:
                return cls(kind, host=host.strip("[]"), port=int(port))
        raise ValueError(f"not a serial target like unix:PATH, tcp:HOST:PORT or "
                         f"telnet:HOST:PORT: {text!r}")

    def __str__(self) -> str:
        if self.kind == "unix" or self.opener is not None:
            return f"{self.kind}:{self.path}"
        return f"{self.kind}:{self.host}:{self.port}"


class TelnetFilter:
    """Strips telnet commands from what the server sends and answers its negotiation."""

    def __init__(self) -> None:
        self._state = "data"
        self._verb = 0
        self.replies = bytearray()

    @staticmethod
    def greeting() -> bytes:
        return bytes([IAC, DO, OPT_BINARY, IAC, WILL, OPT_BINARY, IAC, DONT, OPT_ECHO,
                      IAC, WONT, OPT_ECHO])

    @staticmethod
    def escape(data: bytes) -> bytes:
        return data.replace(b"\xff", b"\xff\xff")

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            if self._state == "data":
                if byte == IAC:
                    self._state = "iac"
                else:
                    out.append(byte)
            elif self._state == "iac":
                if byte == IAC:
                    out.append(IAC)
                    self._state = "data"
                elif byte in (DO, DONT, WILL, WONT):
                    self._verb = byte
                    self._state = "option"
                elif byte == SB:
                    self._state = "sub"
                else:
                    self._state = "data"
            elif self._state == "option":
                self._answer(self._verb, byte)
                self._state = "data"
            elif self._state == "sub":
                if byte == IAC:
                    self._state = "sub-iac"
            elif self._state == "sub-iac":
                self._state = "data" if byte == SE else "sub"
        return bytes(out)

    def _answer(self, verb: int, option: int) -> None:
        agreeable = option in (OPT_BINARY, OPT_SGA)
        if verb == DO:
            self.replies += bytes([IAC, WILL if agreeable else WONT, option])
        elif verb == WILL:
            self.replies += bytes([IAC, DO if agreeable or option == OPT_ECHO else DONT, option])


OutputListener = Callable[[bytes], None]


class _BridgeEvents:
    """A console bridge's events; asyncio events cost ~0.8 KB each, per BMC."""

    __slots__ = ("link_up", "may_read", "retry_now")

    def __init__(self) -> None:
        self.may_read = asyncio.Event()
        self.may_read.set()
        self.retry_now = asyncio.Event()  # cuts a reconnect delay short
        self.link_up = asyncio.Event()


class ConsoleBridge:
    """Reads the guest's serial port for ever; fans its output out; writes input to it."""

    def __init__(self, name: str, target: Callable[[], SerialTarget | None],
                 history_size: int = 65536) -> None:
        self.name = name
        self._target = target
        self.history_size = history_size
        self._history = bytearray()
        self._listeners: list[OutputListener] = []
        self._writer: ConsoleWriter | None = None
        self._telnet: TelnetFilter | None = None
        self._task: asyncio.Task[None] | None = None
        self._pause_checks: list[Callable[[], bool]] = []
        self._events: _BridgeEvents | None = None  # made on first use: most BMCs never need them
        self.connected = False

    def _ev(self) -> _BridgeEvents:
        if self._events is None:
            self._events = _BridgeEvents()
        return self._events

    # ------------------------------------------------------------------ listeners
    def history(self) -> bytes:
        return bytes(self._history)

    def add_listener(self, listener: OutputListener,
                     is_full: Callable[[], bool] | None = None) -> None:
        self._listeners.append(listener)
        if is_full is not None:
            self._pause_checks.append(is_full)

    def remove_listener(self, listener: OutputListener,
                        is_full: Callable[[], bool] | None = None) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)
        if is_full is not None:
            with contextlib.suppress(ValueError):
                self._pause_checks.remove(is_full)
        self.update_flow()

    def update_flow(self) -> None:
        """Pause reading while any listener's backlog is full; resume when all drained."""
        if any(check() for check in self._pause_checks):
            self._ev().may_read.clear()
        else:
            self._ev().may_read.set()

    # ------------------------------------------------------------------ guest side
    def write(self, data: bytes) -> None:
        """Console input for the guest; dropped (with a debug line) while not connected."""
        if not data:
            return
        if self._writer is None:
            log.debug("%s: serial not connected; %d input bytes dropped", self.name, len(data))
            return
        if self._telnet is not None:
            data = TelnetFilter.escape(data)
        self._writer.write(data)

    def send_break(self) -> None:
        if self._writer is not None and self._telnet is not None:
            self._writer.write(bytes([IAC, BRK]))

    async def wait_connected(self, timeout: float) -> bool:
        """Connect now rather than at the next retry, and wait (at most `timeout`) until
        connected. QEMU calls this before its guest runs: serial output nobody reads is lost."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.connected:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._task is None:
                return False
            self._ev().retry_now.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, FAST_RETRY)):
                    await self._ev().link_up.wait()
        return True

    async def _retry_delay(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RECONNECT_DELAY):
                await self._ev().retry_now.wait()
        self._ev().retry_now.clear()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"console-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._close()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._writer = None
        self._telnet = None
        self.connected = False
        self._ev().link_up.clear()

    async def _run(self) -> None:
        announced_down = False
        while True:
            target = self._target()
            if target is None:
                await self._retry_delay()
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
            # cancellation stop() sends when both finish at once, and stop() never returns.
            try:
                async with asyncio.timeout(5):
                    reader, writer = await self._open(target)
            except (TimeoutError, OSError) as err:
                if not announced_down:
                    log.debug("%s: serial %s not reachable yet (%s)", self.name, target, err)
                    announced_down = True
                await self._retry_delay()
                continue
            announced_down = False
            self._writer = writer
            self.connected = True
            self._ev().link_up.set()
            if target.kind == "telnet":
                self._telnet = TelnetFilter()
                writer.write(TelnetFilter.greeting())
            log.info("%s: console connected to %s", self.name, target)
            try:
                await self._pump(reader)
            except (OSError, asyncio.IncompleteReadError) as err:
                log.info("%s: console link error: %s", self.name, err)
            finally:
                self._close()
            log.info("%s: console disconnected from %s", self.name, target)
            await self._retry_delay()

    @staticmethod
    async def _open(target: SerialTarget) -> tuple[ConsoleReader, ConsoleWriter]:
        if target.opener is not None:
            return await target.opener()
        if target.kind == "unix":
            return await asyncio.open_unix_connection(target.path)
        return await asyncio.open_connection(target.host, target.port)

    async def _pump(self, reader: ConsoleReader) -> None:
        while True:
            await self._ev().may_read.wait()
            data = await reader.read(READ_SIZE)
            if not data:
                return
            if self._telnet is not None:
                data = self._telnet.feed(data)
                if self._telnet.replies and self._writer is not None:
                    self._writer.write(bytes(self._telnet.replies))
                    self._telnet.replies.clear()
            if data:
                self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        if self.history_size:
            self._history += data
            excess = len(self._history) - self.history_size
            if excess > 0:
                del self._history[:excess]
        for listener in list(self._listeners):
            try:
                listener(data)
            except Exception:
                log.exception("%s: console listener failed", self.name)
        self.update_flow()
