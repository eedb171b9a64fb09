"""One libvirt connection per URI, shared by every BMC on it, reconnected with backoff.

libvirt-python is optional (`pip install pybmc[libvirt]`): it is imported only when a
libvirt backend is built, and its absence is a clear configuration error.

Events, not polling: libvirt's own event loop (its default implementation, thread-safe) runs
in one daemon thread of the process, registered before the first connection opens
(`use_thread_events`); every callback it makes (domain events, the close callback, console
streams) is handed to the asyncio loop that opened the connection (`call_soon_threadsafe`).
Each connection carries one lifecycle and one reboot callback for all domains; they are
dispatched to the BMC watching that domain (by UUID), and a domain defined, undefined or
renamed is told to every BMC on the connection, so one whose domain was missing finds it as
soon as it is defined. When the connection closes
(the daemon restarted, keepalive timed out), the connection's supervisor reopens it with
backoff, registers the callbacks again and tells every watcher (`connected`), which then looks
its domain up again and re-reads its state.

Calls that may take long (destroy() 1.2-2 s, create() ~0.25 s measured locally, see
docs/libvirt.md) run in a small thread pool (`in_thread`), so the event loop keeps serving
every other BMC meanwhile; quick reads (isActive, lookups) stay on the loop. `timed` logs a
call over SLOW_CALL (DEBUG).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

log = logging.getLogger("pybmc.power")

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
KEEPALIVE_INTERVAL = 5  # seconds between keepalive probes; dead after 3 unanswered
KEEPALIVE_COUNT = 3
SLOW_CALL = 0.05  # seconds: a libvirt call taking this long is logged (DEBUG)
CALL_THREADS = 8  # threads for slow libvirt calls, shared by every BMC of the process
EVENT_DEFINED, EVENT_UNDEFINED = 0, 1  # VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_UNDEFINED


class LibvirtMissing(RuntimeError):
    """libvirt-python is not installed."""


def import_libvirt() -> Any:
    try:
        import libvirt
    except ImportError as exc:
        raise LibvirtMissing("[power] backend = \"libvirt\" needs libvirt-python: "
                             "pip install 'pybmc[libvirt]'") from exc
    return libvirt


T = TypeVar("T")
_events_lock = threading.Lock()
_events_thread: threading.Thread | None = None
_executor: ThreadPoolExecutor | None = None


def use_thread_events() -> None:
    """libvirt's events and keepalives run in one daemon thread (once per process, before
    the first connection opens)."""
    global _events_thread
    with _events_lock:
        if _events_thread is not None:
            return
        libvirt = import_libvirt()
        # errors are raised as libvirtError and logged by pybmc, not printed
        libvirt.registerErrorHandler(lambda _context, _error: None, None)
        libvirt.virEventRegisterDefaultImpl()
        _events_thread = threading.Thread(target=_run_events, args=(libvirt,),
                                          name="libvirt events", daemon=True)
        _events_thread.start()


def _run_events(libvirt: Any) -> None:
    while True:  # the process's libvirt event loop: runs as long as the process
        if libvirt.virEventRunDefaultImpl() < 0:
            log.error("libvirt event loop iteration failed")
            time.sleep(1.0)


async def in_thread(label: str, what: str, function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` (a blocking libvirt call) in the libvirt call threads; the event
    loop runs on meanwhile."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(CALL_THREADS, thread_name_prefix="libvirt call")
    with timed(label, what):
        return await asyncio.get_running_loop().run_in_executor(_executor, function, *args)


@contextlib.contextmanager
def timed(label: str, what: str) -> Iterator[None]:
    """Log (DEBUG) a libvirt call that took SLOW_CALL or longer."""
    start = time.monotonic()
    try:
        yield
    finally:
        took = time.monotonic() - start
        if took >= SLOW_CALL:
            log.debug("%s: libvirt %s took %.3f s", label, what, took)


def backoff_delays(start: float = BACKOFF_START, cap: float = BACKOFF_MAX) -> Iterator[float]:
    """Reconnect waits: doubling from `start`, capped at `cap`."""
    delay = start
    while True:
        yield delay
        delay = min(cap, delay * 2)


class DomainWatcher(Protocol):
    """What a BMC driving one domain hears from its connection."""

    def connected(self, conn: Any) -> None:
        """A (new) connection is up: look the domain up again and re-read its state."""

    def disconnected(self) -> None:
        """The connection is gone; calls fail until `connected` comes."""

    def lifecycle(self, event: int, detail: int) -> None:
        """A VIR_DOMAIN_EVENT_ID_LIFECYCLE event for this domain."""

    def rebooted(self) -> None:
        """A VIR_DOMAIN_EVENT_ID_REBOOT event for this domain."""

    def definitions_changed(self, event: int, detail: int, name: str, uuid: str) -> None:
        """A domain (any on this connection, by `name` and `uuid`) was defined, undefined or
        renamed: a watcher whose domain was missing looks it up again."""


class SharedConnection:
    """The open connection to one URI and the BMCs watching domains on it."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._conn: Any = None
        self._callbacks: list[int] = []
        self._watchers: dict[str, set[DomainWatcher]] = {}  # domain UUID -> watchers
        self._closed = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._pending: set[DomainWatcher] = set()  # watchers keeping the connection up
        self._greeted: set[DomainWatcher] = set()  # told of _greeted_conn
        self._greeted_conn: Any = None
        self.connects = 0  # connections opened so far (the first one included)
        self._loop: asyncio.AbstractEventLoop | None = None  # where libvirt's callbacks go

    # ------------------------------------------------------------------ the connection
    def current(self) -> Any:
        """The open connection, or None while there is none."""
        conn = self._conn
        if conn is None:
            return None
        try:
            return conn if conn.isAlive() else None
        except Exception:
            return None

    def open_now(self) -> Any:
        """The connection, opened at once if needed (one try; raises libvirtError)."""
        conn = self.current()
        if conn is not None:
            return conn
        use_thread_events()
        libvirt = import_libvirt()
        self._drop()
        self._loop = asyncio.get_running_loop()
        self._open(libvirt)
        log.info("libvirt %s: connected", self.uri)
        return self._conn

    async def get(self) -> Any:
        """The connection, waiting (with backoff) until it opens."""
        libvirt = import_libvirt()
        for delay in backoff_delays():
            try:
                return self.open_now()
            except libvirt.libvirtError as exc:
                log.warning("libvirt %s: cannot connect (%s); retry in %.1f s",
                            self.uri, exc.get_error_message(), delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _open(self, libvirt: Any) -> None:
        conn = libvirt.open(self.uri)
        with contextlib.suppress(libvirt.libvirtError):  # the test driver has no keepalive
            conn.setKeepAlive(KEEPALIVE_INTERVAL, KEEPALIVE_COUNT)
        self._conn = conn
        self._closed = asyncio.Event()
        self.connects += 1
        self._register(conn)

    def _register(self, conn: Any) -> None:
        libvirt = import_libvirt()
        self._callbacks = [
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                        self._on_lifecycle, None),
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
                                        self._on_reboot, None),
        ]
        with contextlib.suppress(libvirt.libvirtError):  # the test driver has none
            conn.registerCloseCallback(self._on_close, None)

    def _drop(self) -> None:
        """Forget the connection (closing it quietly)."""
        conn, self._conn = self._conn, None
        callbacks, self._callbacks = self._callbacks, []
        if conn is None:
            return
        for callback in callbacks:
            with contextlib.suppress(Exception):
                conn.domainEventDeregisterAny(callback)
        with contextlib.suppress(Exception):
            conn.unregisterCloseCallback()
        with contextlib.suppress(Exception):
            conn.close()

    def lost(self, why: str) -> None:
        """The connection is known to be dead (closed by libvirt, or a call failed so)."""
        if self._conn is None:
            return
        log.warning("libvirt %s: connection lost (%s); reconnecting", self.uri, why)
        self._drop()
        self._closed.set()

    # ------------------------------------------------------------------ libvirt callbacks
    # Called in libvirt's event thread: handed to the loop, in a context of their own (the
    # connection's events are every BMC's on this URI, pybmc.edge.logs), in their order.
    def post(self, function: Callable[..., None], *args: Any) -> None:
        """Run `function(*args)` on the connection's asyncio loop (from any thread)."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(function, *args, context=contextvars.Context())

    def _on_close(self, _conn: Any, reason: int, _opaque: Any) -> None:
        names = {0: "error", 1: "end of file", 2: "keepalive timeout", 3: "client closed"}
        self.post(self.lost, names.get(reason, str(reason)))

    def _on_lifecycle(self, _conn: Any, dom: Any, event: int, detail: int,
                      _opaque: Any) -> None:
        self.post(self._lifecycle, dom, event, detail)

    def _on_reboot(self, _conn: Any, dom: Any, _opaque: Any) -> None:
        self.post(self._rebooted, dom)

    def _watchers_of(self, dom: Any) -> list[DomainWatcher]:
        try:
            return list(self._watchers.get(dom.UUIDString().lower(), ()))
        except Exception:
            return []

    def _lifecycle(self, dom: Any, event: int, detail: int) -> None:
        for watcher in self._watchers_of(dom):
            try:
                watcher.lifecycle(event, detail)
            except Exception:
                log.exception("libvirt %s: lifecycle event handler failed", self.uri)
        if event in (EVENT_DEFINED, EVENT_UNDEFINED):  # connection-wide: every watcher hears
            try:
                name, uuid = dom.name(), dom.UUIDString().lower()
            except Exception:
                return
            for watcher in list(self._pending):
                try:
                    watcher.definitions_changed(event, detail, name, uuid)
                except Exception:
                    log.exception("libvirt %s: define event handler failed", self.uri)

    def _rebooted(self, dom: Any) -> None:
        for watcher in self._watchers_of(dom):
            try:
                watcher.rebooted()
            except Exception:
                log.exception("libvirt %s: reboot event handler failed", self.uri)

    # ------------------------------------------------------------------ watchers
    def watch(self, uuid: str, watcher: DomainWatcher) -> None:
        self._watchers.setdefault(uuid.lower(), set()).add(watcher)

    def unwatch(self, uuid: str, watcher: DomainWatcher) -> None:
        watchers = self._watchers.get(uuid.lower())
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[uuid.lower()]

    def supervise(self, watcher: DomainWatcher) -> None:
        """Keep the connection up for `watcher` (and every other one): it hears `connected`
        now if the connection is open, and after every reconnect."""
        self._pending.add(watcher)
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"libvirt {self.uri}", context=contextvars.Context())
        elif (self.current() is not None and self._greeted_conn is self._conn
              and watcher not in self._greeted):  # else the supervisor greets it
            self._greet(watcher, self._conn)

    def release(self, watcher: DomainWatcher) -> None:
        """`watcher` is done; the last one closes the connection."""
        self._pending.discard(watcher)
        if self._pending:
            return
        if self._supervisor is not None:
            self._supervisor.cancel()
            self._supervisor = None
        self._drop()

    def _greet(self, watcher: DomainWatcher, conn: Any) -> None:
        self._greeted.add(watcher)
        try:
            watcher.connected(conn)
        except Exception:
            log.exception("libvirt %s: reconnect handler failed", self.uri)

    async def _supervise(self) -> None:
        """Open, tell the watchers, wait until the connection is lost; again (until released)."""
        while self._pending:
            conn = await self.get()
            if conn is not self._greeted_conn:
                self._greeted, self._greeted_conn = set(), conn
            for watcher in list(self._pending):
                if watcher not in self._greeted:
                    self._greet(watcher, conn)
            await self._closed.wait()
            for watcher in list(self._pending):
                with contextlib.suppress(Exception):
                    watcher.disconnected()
            await asyncio.sleep(BACKOFF_START)


_connections: dict[str, SharedConnection] = {}


def connection(uri: str) -> SharedConnection:
    """The one SharedConnection for `uri` in this process."""
    if uri not in _connections:
        _connections[uri] = SharedConnection(uri)
    return _connections[uri]


def forget_connections() -> None:
    """Close every connection (tests: one asyncio loop after another)."""
    for shared in _connections.values():
        if shared._supervisor is not None:
            shared._supervisor.cancel()
        shared._drop()
    _connections.clear()
