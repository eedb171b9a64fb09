"""The asyncio edge: UDP endpoints per BMC address, each BMC's one timer, startup and shutdown.

Everything protocol-shaped lives in the sans-IO core; this module only moves bytes between
sockets and each `Bmc`, and keeps each BMC's one timer (pybmc.edge.timer) armed after
everything that may move its deadline. Each BMC's socket is bound to
its own address, so replies leave from the address the request was sent to. When a client
gives the BMC a new IP address (LAN parameter 3), the BMC answers there at once and keeps its
old socket only while a session that came in on it still lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pybmc.config.bmc import BmcConfig
from pybmc.core.bmc import Bmc
from pybmc.edge.assembly import BmcRuntime, open_runtime
from pybmc.edge.lanhooks import LanHooks
from pybmc.edge.logs import bmc_context, current_peer
from pybmc.edge.reload import ConfigReloader, ConfigSource
from pybmc.edge.startup import StartError, StateDirBusy, bind_error
from pybmc.edge.timer import BmcTimer
from pybmc.model.lan import LanAddress

if TYPE_CHECKING:
    from pybmc.edge.control import ControlServer
    from pybmc.edge.redfish_http import RedfishServer

log = logging.getLogger("pybmc.server")

Address = tuple[str, int]


class BmcEndpoint(asyncio.DatagramProtocol):
    """One UDP socket of one BMC; hands datagrams to the BMC's service."""

    __slots__ = ("_closed", "_lost", "address", "service", "transport")

    def __init__(self, service: BmcService, address: str) -> None:
        self.service = service
        self.address = address
        self.transport: asyncio.DatagramTransport | None = None
        self._lost = False
        self._closed: asyncio.Future[None] | None = None  # made by wait_closed(), if ever

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.service.receive(self, data, addr[:2])

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        """Until the socket is closed (after close(): the transport closes it on the next turn
        of the event loop)."""
        if self._lost:
            return
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
        await self._closed

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: socket error on %s: %s", self.service.bmc.name, self.address, exc)

    def send(self, payload: bytes, dest: Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(payload, dest)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class BmcService:
    """One BMC's sockets, routing of replies and timers."""

    def __init__(self, runtime: BmcRuntime) -> None:
        self.runtime = runtime
        self.bmc = runtime.bmc
        self.endpoints: dict[str, BmcEndpoint] = {}
        self.primary: str = ""
        # Which socket a live session's peer talks to; kept only while the BMC answers on
        # more than one address (moving), and only for peers of live sessions, so datagrams
        # from many sources leave nothing behind. A reply to the datagram being handled goes
        # back through the socket it came in on.
        self._routes: dict[Address, BmcEndpoint] = {}
        self._arrived: tuple[Address, BmcEndpoint] | None = None
        self.timer = BmcTimer(self.bmc, after_fire=self.flush)
        self._moving: asyncio.Task[None] | None = None
        self.hooks = LanHooks(self.bmc)

    @property
    def address(self) -> str:
        return self.primary

    async def bind(self, address: str) -> None:
        loop = asyncio.get_running_loop()
        _, endpoint = await loop.create_datagram_endpoint(
            lambda: BmcEndpoint(self, address), local_addr=(address, self.bmc.config.port))
        self.endpoints[address] = endpoint
        self.primary = address
        log.info("%s: serving IPMI on %s:%d (power: %s)", self.bmc.name, address,
                 self.bmc.config.port, self.bmc.config.power.backend)

    @property
    def _embedded(self) -> bool:
        return self.bmc.config.source == "<embedded>"

    async def start(self) -> None:
        """Bind the BMC's socket; StartError (BMC, address:port and a hint) when it cannot."""
        wanted = serving_address(self.bmc)
        try:
            await self.bind(wanted)
        except OSError as err:
            if wanted == self.bmc.config.address:
                raise bind_error(self.bmc.name, "IPMI", wanted, self.bmc.config.port,
                                 err, self._embedded) from None
            log.error("%s: cannot serve on the LAN address %s (%s); using %s from the config",
                      self.bmc.name, wanted, err, self.bmc.config.address)
            try:
                await self.bind(self.bmc.config.address)
            except OSError as again:
                raise bind_error(self.bmc.name, "IPMI", self.bmc.config.address,
                                 self.bmc.config.port, again, self._embedded) from None
        self.bmc.lan.on_address_change(self._address_changed)

    # ------------------------------------------------------------------ datagrams
    def receive(self, endpoint: BmcEndpoint, data: bytes, addr: Address) -> None:
        self._arrived = (addr, endpoint)
        peer = current_peer.set(f"{addr[0]}:{addr[1]}")
        try:
            self.bmc.receive_datagram(data, addr, time.monotonic())
        except Exception:  # the core promises not to raise; this is the last guard
            log.exception("%s: datagram from %s:%s dropped", self.bmc.name, *addr)
        try:
            self.flush()
        finally:
            self._arrived = None
            current_peer.reset(peer)

    def flush(self) -> None:
        """Send what the BMC queued, each from the address its peer talks to, and re-arm the
        timer (whatever just happened may have moved the BMC's next deadline)."""
        primary = self.endpoints.get(self.primary)
        arrived = self._arrived
        for payload, dest in self.bmc.datagrams_to_send():
            if arrived is not None and dest == arrived[0]:
                endpoint: BmcEndpoint | None = arrived[1]
            else:
                endpoint = self._routes.get(dest) or primary
            if endpoint is not None:
                endpoint.send(payload, dest)
        if primary is not None:
            for alert in self.bmc.alerts_to_send():  # PET traps, from the BMC's own address
                primary.send(alert.payload, (alert.address, alert.port))
        if len(self.endpoints) > 1:
            self._update_routes(arrived)
        self._retire_old_endpoints()
        self.timer.arm()

    # ------------------------------------------------------------------ moving address
    def _address_changed(self, address: LanAddress) -> None:
        self.hooks.address_changed(address)
        wanted = serving_address(self.bmc)
        if wanted == self.primary or (self._moving is not None and not self._moving.done()):
            return
        self._moving = asyncio.get_running_loop().create_task(self._move_to(wanted))

    async def _move_to(self, address: str) -> None:
        await self.hooks.before_bind(address)
        self._pin_sessions_to_primary()
        if address in self.endpoints:
            self.primary = address
        else:
            try:
                await self.bind(address)
            except OSError as err:
                log.error("%s: cannot serve on the new address %s: %s; still on %s",
                          self.bmc.name, address, err, self.primary)
                return
        log.info("%s: moved to %s; older addresses close when their sessions end",
                 self.bmc.name, address)
        self._retire_old_endpoints()

    def _pin_sessions_to_primary(self) -> None:
        """Before the primary address changes, every live session keeps the socket it uses."""
        current = self.endpoints.get(self.primary)
        if current is not None:
            for session in self.bmc.sessions.sessions:
                self._routes.setdefault(session.remote, current)

    def _update_routes(self, arrived: tuple[Address, BmcEndpoint] | None) -> None:
        remotes = {s.remote for s in self.bmc.sessions.sessions}
        if arrived is not None and arrived[0] in remotes:
            self._routes[arrived[0]] = arrived[1]
        if len(self._routes) > len(remotes):
            self._routes = {k: v for k, v in self._routes.items() if k in remotes}

    def _retire_old_endpoints(self) -> None:
        if len(self.endpoints) == 1:
            if self._moving is None or self._moving.done():  # routes pinned for a move stay
                self._routes.clear()
            return
        in_use = {id(self._routes.get(s.remote)) for s in self.bmc.sessions.sessions}
        for address, endpoint in list(self.endpoints.items()):
            if address != self.primary and id(endpoint) not in in_use:
                endpoint.close()
                del self.endpoints[address]
                self._routes = {k: v for k, v in self._routes.items() if v is not endpoint}
                log.info("%s: no longer answering on %s", self.bmc.name, address)
                self.hooks.retired(address)

    async def close(self) -> None:
        """Close every socket and wait until they are: a BMC restarted by a reload binds the
        same address right after (the transport closes its socket only on the next turn of
        the event loop)."""
        self.timer.cancel()
        endpoints = list(self.endpoints.values())
        self.endpoints.clear()
        for endpoint in endpoints:
            endpoint.close()
        for endpoint in endpoints:
            if endpoint.transport is not None:
                await endpoint.wait_closed()


def serving_address(bmc: Bmc) -> str:
    """Where the BMC should answer: its LAN IP address once a client set a usable one."""
    address = bmc.lan.address().ip
    if address in ("0.0.0.0", "255.255.255.255"):
        return bmc.config.address
    return address


class Server:
    """Serves many BMCs from one process.

    SIGTERM and SIGINT stop it: every BMC closes its sessions, saves its state and lets go of
    its machine (VMs keep running unless `stop_vms_on_exit`). SIGHUP reads `sources` again
    and applies the difference (pybmc.edge.reload); without sources (the embedded default
    BMC) SIGHUP is logged and ignored. With a `control` path it serves the control socket
    (pybmc.edge.control: pybmc add/list/show/start/stop/delete); `control_required` makes a
    control socket that cannot be created fail the start, else it is a warning.
    """

    def __init__(self, runtimes: Iterable[BmcRuntime], stop_vms_on_exit: bool = False,
                 sources: ConfigSource | None = None, control: Path | None = None,
                 control_required: bool = False) -> None:
        self.runtimes = list(runtimes)
        self.stop_vms_on_exit = stop_vms_on_exit
        self.services: dict[str, BmcService] = {}
        self.redfish: list[RedfishServer] = []  # pybmc.edge.redfish_http
        self._stopping = asyncio.Event()
        self.sources = sources  # what a reload reads again; None for the embedded default
        # Reloads and control requests change the set of BMCs one at a time.
        self.fleet_lock = asyncio.Lock()
        self.reloader = (ConfigReloader(self, sources, self.fleet_lock)
                         if sources is not None else None)
        self.control_path = control
        self.control_required = control_required
        self.control: ControlServer | None = None
        self._started = False
        self._hangup_pending = False
        self._serving = False
        self._writer: asyncio.Task[None] | None = None
        # Another process held a state_dir whose lock was taken after the start: the serve
        # stops and run_until_stopped raises it (as a start failing on it at once would).
        self.start_error: StartError | None = None
        for runtime in self.runtimes:
            runtime.on_lock_error = self._lock_conflict

    async def start(self) -> None:
        # The control socket first: a --control path in use stops the start before any BMC
        # wrote its state; requests wait for the lock until every BMC started.
        async with self.fleet_lock:
            if self.control_path is not None:
                await self._start_control(self.control_path)
            await self.start_bmcs(self.runtimes, defer_writes=len(self.runtimes) > 1)
        self._serving = True
        if len(self.runtimes) > 1 or any(runtime.lock_pending for runtime in self.runtimes):
            self._writer = asyncio.get_running_loop().create_task(self._write_deferred())
        if not self.runtimes:
            log.info("serving no BMCs yet (add some with pybmc add, or files and SIGHUP)")

    async def _start_control(self, path: Path) -> None:
        from pybmc.config.sources import ConfigSources
        from pybmc.edge.control import ControlServer

        sources = self.sources if isinstance(self.sources, ConfigSources) else None
        control = ControlServer(self, sources, path)
        try:
            await control.start()
        except OSError as err:
            if self.control_required:
                raise OSError(f"control socket {err}") from None
            log.warning("no control socket (%s); pybmc add/list/... cannot reach this "
                        "serve: give it --control PATH", err)
            return
        self.control = control

    def _lock_conflict(self, error: StartError) -> None:
        if self.start_error is None:
            self.start_error = error
        self.request_stop()

    async def _write_deferred(self, delay: float = 1.0, batch: int = 4,
                              pause: float = 0.005) -> None:
        """The first state and SEL files of the BMCs started together, written in the
        background once all of them answer: from `delay` seconds on, `batch` BMCs, then
        `pause` seconds for datagrams (a thousand BMCs' files take a second or two; a BMC
        stopping first writes its own, a request changing its state saves it at once). A
        state_dir lock left for the first write (open_runtime's `defer_lock`) is taken here;
        one another process holds stops the serve (`_lock_conflict`)."""
        await asyncio.sleep(delay)  # first the clients' probes of a fleet that just came up
        for index, runtime in enumerate(list(self.runtimes)):
            if runtime.started:
                with bmc_context(runtime.name):
                    try:
                        runtime.take_lock()
                    except StateDirBusy:
                        return  # the serve is stopping; the others write as they stop
                    runtime.bmc.write_deferred(durable=False)
            if index % batch == batch - 1:
                await asyncio.sleep(pause)

    async def start_bmcs(self, runtimes: list[BmcRuntime], defer_writes: bool = False) -> None:
        """Bind every BMC's socket first, then Redfish, then attach the machines: every socket
        is bound before any BMC writes its state (runtime.start), so a start that fails
        anywhere leaves every state_dir as it was. `defer_writes`: the BMCs' first files are
        written afterwards (`_write_deferred`), so that every BMC answers sooner."""
        services = []
        for runtime in runtimes:
            service = BmcService(runtime)
            with bmc_context(runtime.name):  # its sockets' callbacks log as this BMC
                await service.start()
            self.services[runtime.name] = service
            services.append(service)
        for service in services:
            with bmc_context(service.bmc.name):
                await self._start_redfish(service)
        for service in services:
            with bmc_context(service.bmc.name):  # and so do the tasks its start creates
                await service.runtime.start(flush=service.flush, defer_writes=defer_writes)
                service.flush()  # arms the first timer

    async def _start_redfish(self, service: BmcService) -> None:
        if not service.bmc.config.redfish.enabled:
            return
        try:  # before anything of Redfish's is written into the state_dir (its certificate)
            service.runtime.take_lock()
        except StateDirBusy:
            raise service.runtime.lock_error or StartError(service.bmc.name) from None
        # Imported only when used: a process of IPMI-only BMCs never loads aiohttp.
        from pybmc.edge.redfish_http import RedfishServer

        redfish = RedfishServer(service.bmc, after_request=service.flush)
        try:
            serving = await redfish.start(service.address)  # False: on by default, skipped
        except OSError as err:
            raise bind_error(service.bmc.name, "Redfish", service.address,
                             service.bmc.config.redfish.port, err) from None
        if serving:
            self.redfish.append(redfish)
            # Redfish moves with the BMC's LAN address, as the IPMI socket does.
            service.bmc.lan.on_address_change(
                lambda _address: redfish.follow(serving_address(service.bmc)))

    # ------------------------------------------------------------------ reload
    @property
    def running_configs(self) -> list[BmcConfig]:
        return [runtime.config for runtime in self.runtimes]

    async def add_bmc(self, config: BmcConfig, reset_state: bool = False) -> None:
        """Start one more BMC; on failure nothing of it is left running."""
        runtime = open_runtime(config, reset_state)  # takes the state_dir's lock (or refuses)
        try:
            await self.start_bmcs([runtime], defer_writes=True)
            with bmc_context(runtime.name):
                runtime.bmc.write_deferred(durable=False)  # its first files (no fsync if new)
        except BaseException:
            if runtime.name in self.services:  # bound, then failed: stop what started
                await self._stop_bmc(runtime, leave_vm_running=True)
            raise
        self.runtimes.append(runtime)

    async def remove_bmc(self, name: str) -> None:
        """Stop one BMC, leaving its VM running."""
        runtime = next(r for r in self.runtimes if r.name == name)
        self.runtimes.remove(runtime)
        await self._stop_bmc(runtime, leave_vm_running=True)

    async def _stop_bmc(self, runtime: BmcRuntime, leave_vm_running: bool) -> None:
        try:
            await runtime.stop(leave_vm_running=leave_vm_running)
        finally:
            for redfish in [r for r in self.redfish if r.bmc is runtime.bmc]:
                self.redfish.remove(redfish)
                await redfish.close()
            service = self.services.pop(runtime.name, None)
            if service is not None:
                await service.close()
            log.info("%s: stopped", runtime.name)

    def _hangup(self) -> None:
        if self.reloader is None:
            log.warning("SIGHUP: nothing to reload (no config files were given)")
        elif not self._started:
            self._hangup_pending = True  # reload once start-up is done
        else:
            self.reloader.request()

    # ------------------------------------------------------------------ stop
    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()  # what it has not written yet, each BMC writes as it stops
            await asyncio.gather(self._writer, return_exceptions=True)
        if self.control is not None:
            await self.control.close()
        if self.reloader is not None:
            await self.reloader.wait_idle()
        for runtime in self.runtimes:
            try:
                with bmc_context(runtime.name):
                    await runtime.stop(leave_vm_running=not self.stop_vms_on_exit)
            except Exception:
                log.exception("%s: error while stopping", runtime.name)
        for redfish in self.redfish:
            await redfish.close()
        for service in self.services.values():
            await service.close()
        if self._serving:  # a start that failed said why, in one line
            log.info("stopped %d BMCs: sessions closed, state saved, VMs %s",
                     len(self.runtimes),
                     "powered off" if self.stop_vms_on_exit else "left running")

    def request_stop(self) -> None:
        self._stopping.set()

    async def run_until_stopped(self, after_start: Callable[[], None] | None = None) -> None:
        """Start, then serve until request_stop(); `after_start` runs once every BMC started."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self._hangup)
        try:
            await self.start()
            self._started = True
            if after_start is not None:
                after_start()
            if self._hangup_pending:
                self._hangup()
            await self._stopping.wait()
        finally:
            await self.stop()
        if self.start_error is not None:
            raise self.start_error
