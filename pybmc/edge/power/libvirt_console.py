"""SOL for libvirt domains: the domain's serial console through libvirt's console stream.

`libvirt_console_target(uri, domain)` is the `SerialTarget` the console bridge
(pybmc/edge/console.py) opens for a `[power] backend = "libvirt"` BMC: each time the bridge
(re)connects, `open_console` looks the domain up on the URI's shared connection and, if it
runs, opens its first console (`dom.openConsole(None, stream, FORCE)`) on a non-blocking
`virStream`. The stream's events come from libvirt's event thread (`use_thread_events`, before
the connection opens): the callback there only mutes the stream's events and hands them to the
asyncio loop, where the non-blocking recv and send run and the events are armed again;
readable events fill a buffer the bridge reads, writes are queued and sent when the stream
takes them. Everything else comes
from the bridge as for QEMU's serial socket: the history ring, SOL, local `pybmc console`
clients, and the reconnect when the domain is restarted (the stream ends with QEMU; opening
fails while the domain is off, and the bridge retries).

FORCE takes the console over from another client (a `virsh console` left open, or the
previous pybmc process): there is one console per domain, and the BMC needs it.

Flow control: while the bridge reads nothing (a listener's backlog is full) the buffer fills
to `HIGH_WATER` and the stream's readable event is switched off until the bridge has read
below it; what libvirt does with the guest's output meanwhile (buffer it, or slow the guest as
a full socket does) is up to libvirt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

from pybmc.edge.console import ConsoleReader, ConsoleWriter, SerialTarget
from pybmc.edge.power.libvirt_connection import SharedConnection, connection, import_libvirt

log = logging.getLogger("pybmc.console")

READ_SIZE = 65536
HIGH_WATER = 256 * 1024  # buffered guest output at which reading the stream pauses
WRITE_CHUNK = 65536


def libvirt_console_target(uri: str, domain: str,
                           powered: Callable[[], bool] | None = None) -> SerialTarget:
    """The console bridge's target for `domain` (name or UUID) on `uri`. `powered` (the power
    backend's `is_on`) spares libvirt a lookup on every retry while the domain is off."""
    return SerialTarget("libvirt", path=f"{domain} on {uri}",
                        opener=functools.partial(open_console, uri, domain, powered))


def _lookup(libvirt: Any, conn: Any, domain: str) -> Any:
    try:
        return conn.lookupByUUIDString(domain)
    except libvirt.libvirtError:
        return conn.lookupByName(domain)


async def open_console(uri: str, domain: str, powered: Callable[[], bool] | None = None,
                       ) -> tuple[ConsoleReader, ConsoleWriter]:
    """The running domain's console as a reader and writer (one object); OSError if the
    domain is not running or libvirt refuses."""
    if powered is not None and not powered():
        raise OSError(f"domain {domain} is off")
    libvirt = import_libvirt()
    shared = connection(uri)
    conn = shared.current()
    if conn is None and powered is not None:
        # The power backend's supervisor reconnects (with backoff, and logs it); the bridge
        # tries again in RECONNECT_DELAY.
        raise OSError(f"not connected to libvirt {uri}")
    try:
        conn = conn or shared.open_now()  # one try: no backoff loop of its own
        dom = _lookup(libvirt, conn, domain)
        if not dom.isActive():
            raise OSError(f"domain {domain} is not running")
        stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        try:
            dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        except libvirt.libvirtError:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise
    except libvirt.libvirtError as exc:
        raise OSError(f"libvirt console of {domain}: {exc.get_error_message()}") from None
    console = ConsoleStream(libvirt, stream, domain, conn, shared)
    return console, console


class ConsoleStream:
    """One open console stream: `read` for the bridge's pump, `write`/`close` for its writer."""

    def __init__(self, libvirt: Any, stream: Any, label: str, conn: Any = None,
                 shared: SharedConnection | None = None) -> None:
        self._libvirt = libvirt
        self._stream = stream
        self._conn = conn
        self._shared = shared
        self.label = label
        self._in = bytearray()
        self._out = bytearray()
        self._ready = asyncio.Event()  # data or the end arrived
        self._reading = True  # readable events wanted (off while the buffer is full)
        self._ended = False
        self._error = ""
        self._closed = False
        self._loop = asyncio.get_running_loop()
        stream.eventAddCallback(self._mask(), self._on_event, None)
        if shared is not None:  # hear of a lost connection at once (`disconnected`)
            shared.supervise(self)

    # ------------------------------------------------------------------ the bridge's side
    async def read(self, n: int) -> bytes:
        while not self._in and not self._ended:
            self._ready.clear()
            await self._ready.wait()
        if self._in:
            chunk = bytes(self._in[:n])
            del self._in[:n]
            if not self._reading and not self._ended and len(self._in) < HIGH_WATER:
                self._reading = True
                self._update()
            return chunk
        if self._error:
            raise OSError(self._error)
        return b""

    def write(self, data: bytes) -> None:
        if self._closed or self._ended:
            return
        if not self._conn_alive():  # libvirtd went away: the stream learns it only later
            log.debug("%s: libvirt connection lost; %d input bytes dropped", self.label,
                      len(data))
            self._end("libvirt connection lost")
            return
        self._out += data
        self._flush()
        self._update()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._end("")
        if self._shared is not None:
            self._shared.release(self)
        libvirt = self._libvirt
        with contextlib.suppress(libvirt.libvirtError):
            self._stream.eventRemoveCallback()
        with contextlib.suppress(libvirt.libvirtError):
            self._stream.abort()

    # ------------------------------------------------------------------ the connection's side
    # (a DomainWatcher of the shared connection: a stream of a dead connection gets no event,
    # so without this the bridge would wait on it for ever)
    def connected(self, conn: Any) -> None:
        pass

    def disconnected(self) -> None:
        self._end("libvirt connection lost")

    def lifecycle(self, event: int, detail: int) -> None:
        pass

    def rebooted(self) -> None:
        pass

    def definitions_changed(self, event: int, detail: int, name: str, uuid: str) -> None:
        pass

    def _conn_alive(self) -> bool:
        if self._conn is None:
            return True
        try:
            return bool(self._conn.isAlive())
        except self._libvirt.libvirtError:
            return False

    # ------------------------------------------------------------------ libvirt's side
    def _mask(self) -> int:
        libvirt = self._libvirt
        mask = libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
        if self._reading:
            mask |= libvirt.VIR_STREAM_EVENT_READABLE
        if self._out:
            mask |= libvirt.VIR_STREAM_EVENT_WRITABLE
        return mask

    def _update(self) -> None:
        if self._closed or self._ended:
            return
        try:
            self._stream.eventUpdateCallback(self._mask())
        except self._libvirt.libvirtError as exc:
            self._end(exc.get_error_message())

    def _on_event(self, _stream: Any, events: int, _opaque: Any) -> None:
        """In libvirt's event thread: no more events until the loop has handled these (it
        arms them again), else libvirt calls again and again while data waits."""
        if self._closed or self._ended:
            return
        with contextlib.suppress(self._libvirt.libvirtError):
            self._stream.eventUpdateCallback(0)
        with contextlib.suppress(RuntimeError):  # the loop is closed
            self._loop.call_soon_threadsafe(self._handle, events)

    def _handle(self, events: int) -> None:
        if self._closed or self._ended:
            return
        libvirt = self._libvirt
        if events & (libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_HANGUP):
            self._pull()
        if events & libvirt.VIR_STREAM_EVENT_WRITABLE:
            self._flush()
        if not self._ended and events & libvirt.VIR_STREAM_EVENT_ERROR:
            self._end("console stream error")
        elif not self._ended and events & libvirt.VIR_STREAM_EVENT_HANGUP:
            self._end("")
        self._update()

    def _pull(self) -> None:
        while len(self._in) < HIGH_WATER:
            try:
                data = self._stream.recv(READ_SIZE)
            except self._libvirt.libvirtError as exc:
                self._end(exc.get_error_message())
                return
            if data == -2:  # nothing more for now
                break
            if not data:  # the domain's console ended (QEMU exited)
                self._end("")
                return
            self._in += data
            self._ready.set()
        else:
            self._reading = False

    def _flush(self) -> None:
        while self._out and not self._ended:
            try:
                sent = self._stream.send(bytes(self._out[:WRITE_CHUNK]))
            except self._libvirt.libvirtError as exc:
                self._end(exc.get_error_message())
                return
            if sent == -2 or sent <= 0:
                return
            del self._out[:sent]

    def _end(self, error: str) -> None:
        if not self._ended:
            self._ended = True
            self._error = error
            if error:
                log.debug("%s: %s", self.label, error)
        self._ready.set()
