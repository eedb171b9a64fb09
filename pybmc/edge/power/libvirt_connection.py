"""One libvirt connection per URI, shared by every BMC on it, reconnected with backoff.

libvirt-python is optional (`pip install pybmc[libvirt]`): it is imported only when a
libvirt backend is built, and its absence is a clear configuration error.
Status: connection registry only; the power backend and event wiring are not written yet.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0


class LibvirtMissing(RuntimeError):
    """libvirt-python is not installed."""


def import_libvirt() -> Any:
    try:
        import libvirt
    except ImportError as exc:
        raise LibvirtMissing("[power] backend = \"libvirt\" needs libvirt-python: "
                             "pip install 'pybmc[libvirt]'") from exc
    return libvirt


_quiet = False


def use_asyncio_events() -> None:
    """libvirt's events and keepalives run in the running asyncio loop (once per process;
    a process running loops one after the other, as tests do, moves it to the current one)."""
    global _quiet
    libvirt = import_libvirt()
    import libvirtaio

    loop = asyncio.get_running_loop()
    impl = libvirtaio.getCurrentImpl()
    if impl is None:
        libvirtaio.virEventRegisterAsyncIOImpl(loop=loop)
    elif impl.loop is not loop:
        impl.loop = loop
    if not _quiet:  # errors are raised as libvirtError and logged by pybmc, not printed
        libvirt.registerErrorHandler(lambda _context, _error: None, None)
        _quiet = True


def backoff_delays(start: float = BACKOFF_START, cap: float = BACKOFF_MAX):
    """Reconnect waits: doubling from `start`, capped at `cap`."""
    delay = start
    while True:
        yield delay
        delay = min(cap, delay * 2)


class SharedConnection:
    """The open connection to one URI; `get()` returns it, reopening after a failure.
    Accessor for other libvirt features (console, media, inventory): `connection(uri).get()`
    and `lookup_domain(name_or_uuid)`."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def get(self) -> Any:
        async with self._lock:
            if self._conn is not None and self._conn.isAlive():
                return self._conn
            use_asyncio_events()
            libvirt = import_libvirt()
            for delay in backoff_delays():
                try:
                    # in the loop's thread: libvirtaio is not thread-safe
                    self._conn = libvirt.open(self.uri)
                    self._conn.setKeepAlive(5, 3)
                    return self._conn
                except libvirt.libvirtError as exc:
                    log.warning("libvirt %s: cannot connect (%s); retry in %.1f s",
                                self.uri, exc, delay)
                    await asyncio.sleep(delay)
            raise AssertionError("unreachable")

    async def lookup_domain(self, name_or_uuid: str) -> Any:
        conn = await self.get()
        libvirt = import_libvirt()
        try:
            return conn.lookupByUUIDString(name_or_uuid)
        except libvirt.libvirtError:
            return conn.lookupByName(name_or_uuid)


_connections: dict[str, SharedConnection] = {}


def connection(uri: str) -> SharedConnection:
    """The one SharedConnection for `uri` in this process."""
    if uri not in _connections:
        _connections[uri] = SharedConnection(uri)
    return _connections[uri]
