"""Builds one BMC with the I/O parts the edge gives it, and runs its life cycle.

A `BmcRuntime` makes the power backend the config names, the guest console bridge and (when
configured) the in-band listener, hands the first two to the core's `Bmc`, and starts and
stops them in the order they depend on each other: the in-band socket first (QEMU's command
line names it), then the machine, then the console (QEMU's serial socket exists once it runs).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pybmc.config.bmc import BmcConfig
from pybmc.config.paths import console_socket
from pybmc.core.bmc import Bmc, simulated_power
from pybmc.edge.console import ConsoleBridge, SerialTarget
from pybmc.edge.inband import InBandServer
from pybmc.edge.local_console import LocalConsoleServer
from pybmc.edge.startup import StartError, StateDirBusy, StateDirLock, lock_state_dir
from pybmc.model.power import PowerBackend
from pybmc.model.state import guard_first_write

if TYPE_CHECKING:
    from pybmc.edge.power.command import CommandPower
    from pybmc.edge.power.qemu import QemuPower

log = logging.getLogger("pybmc.bmc")

# How long a VM's start waits for its console to be connected (QEMU drops unread output).
CONSOLE_WAIT = 2.0


def make_power(config: BmcConfig, initially_on: bool) -> PowerBackend:
    """The backend [power] backend names. QEMU's and the command backend's modules are
    imported only when a BMC uses them: a process serving 1000 simulated BMCs never loads
    the QMP library."""
    backend = config.power.backend
    if backend == "simulated":
        return simulated_power(config, initially_on)
    if backend == "qemu":
        from pybmc.edge.power.qemu import QemuPower

        return QemuPower.from_bmc_config(config, initially_on)
    if backend == "command":
        from pybmc.edge.power.command import CommandPower

        return CommandPower.from_bmc_config(config, initially_on)
    if backend == "libvirt":
        from pybmc.edge.power.libvirt_power import LibvirtPower

        return LibvirtPower.from_bmc_config(config, initially_on)
    raise NotImplementedError(f"power backend {backend!r} is not available")


def machine_config(config: BmcConfig) -> BmcConfig:
    """The config the core serves: for a libvirt domain, with the domain's UUID as GUID and its
    XML for the inventory (read now); StartError when libvirt-python is missing."""
    if config.power.backend != "libvirt":
        return config
    from pybmc.edge.power.libvirt_connection import LibvirtMissing
    from pybmc.edge.power.libvirt_power import NoSuchDomain, libvirt_bmc_config

    try:
        return libvirt_bmc_config(config)
    except (LibvirtMissing, NoSuchDomain) as err:
        raise StartError(f"{config.name}: {err}") from None


def open_runtime(config: BmcConfig, reset_state: bool = False,
                 defer_lock: bool = False) -> BmcRuntime:
    """A runtime for `config` once this process holds its state_dir (StartError if not).
    `defer_lock` (a fleet's start): a state_dir that does not exist yet holds nothing to read
    and nobody's lock; it and its lock are made before the BMC's first write (at the latest:
    `take_lock()`; a lock held by another process then stops the serve, nothing written).
    Only for simulated BMCs, whose every file is a save (pybmc.model.state.atomic_write, which
    takes the lock first); the Redfish server takes it before it starts (its certificate)."""
    if (defer_lock and config.power.backend == "simulated"
            and not os.path.isdir(config.state_dir)):
        runtime = BmcRuntime(config, reset_state=reset_state)
        guard_first_write(config.state_dir, runtime.take_lock)
        runtime.lock_pending = True
        return runtime
    lock = lock_state_dir(config)
    try:
        return BmcRuntime(config, reset_state=reset_state, lock=lock)
    except BaseException:
        lock.release()
        raise


class BmcRuntime:
    """One BMC and its I/O: power backend, guest console, local console, in-band link."""

    def __init__(self, config: BmcConfig, reset_state: bool = False,
                 power: PowerBackend | None = None, lock: StateDirLock | None = None) -> None:
        self.config = config
        self.name = config.name
        self.lock = lock  # held from before the state is read until stop()
        self.lock_pending = False  # taken by take_lock(), before the first write
        self.lock_error: StartError | None = None  # another process holds the state_dir
        self.on_lock_error: Callable[[StartError], None] | None = None
        self.started = False
        self.console = ConsoleBridge(config.name, self._serial_target,
                                     history_size=config.sol.history_size)
        # Nothing is written (state, SEL) until start(): the socket may not bind.
        served = machine_config(config) if power is None else config
        self.bmc = Bmc(served, power=power, reset_state=reset_state, power_factory=make_power,
                       console=self.console, begin=False)
        self.in_band: InBandServer | None = None
        self.local_console: LocalConsoleServer | None = None
        self._flush: Callable[[], None] = lambda: None
        self.console.add_listener(self._guest_output, self.bmc.sol.backlog_full)

    def take_lock(self) -> None:
        """Take the state_dir's lock left for the first write (open_runtime's `defer_lock`);
        StateDirBusy (an OSError: the write does not happen) when another process holds it."""
        if not self.lock_pending:
            return
        if self.lock_error is None:
            try:
                self.lock = lock_state_dir(self.config)
            except StartError as err:
                self.lock_error = err
                log.error("%s", err)
                if self.on_lock_error is not None:
                    self.on_lock_error(err)
        if self.lock_error is not None:
            raise StateDirBusy(str(self.lock_error))
        self.lock_pending = False
        guard_first_write(self.config.state_dir, None)

    # ------------------------------------------------------------------ the backend's kind
    def _qemu(self) -> QemuPower | None:
        return self.bmc.power if self.config.power.backend == "qemu" else None  # type: ignore[return-value]

    def _command(self) -> CommandPower | None:
        return self.bmc.power if self.config.power.backend == "command" else None  # type: ignore[return-value]

    def _serial_target(self) -> SerialTarget | None:
        """The serial port: the QEMU backend's own, the libvirt domain's console, or the
        configured one."""
        qemu = self._qemu()
        if qemu is not None:
            return SerialTarget("unix", path=str(qemu.serial_path))
        if self.config.power.backend == "libvirt" and not self.config.sol.serial:
            from pybmc.edge.power.libvirt_console import libvirt_console_target

            libvirt = self.config.libvirt
            return libvirt_console_target(libvirt.uri, libvirt.domain, self.bmc.power.is_on)
        if self.config.sol.serial:
            return SerialTarget.parse(self.config.sol.serial)
        return None

    # ------------------------------------------------------------------ console
    def _guest_output(self, data: bytes) -> None:
        self.bmc.sol.guest_output(data, time.monotonic())
        self._flush()

    async def _console_ready(self) -> None:
        """Connect the console before the guest runs, so that a session opened while the VM
        was off sees everything from the firmware's first line on."""
        if not await self.console.wait_connected(CONSOLE_WAIT):
            log.warning("%s: console not connected after %gs; starting the guest anyway",
                        self.name, CONSOLE_WAIT)
        self.bmc.sol.flush()
        self._flush()

    async def _start_console(self) -> None:
        if self._serial_target() is None:
            return
        self.console.start()
        qemu = self._qemu()
        if qemu is not None:
            qemu.before_run = self._console_ready  # QEMU calls it just before the guest runs
        if self.config.power.backend == "libvirt":  # created paused, resumed after this
            self.bmc.power.before_run = self._console_ready  # type: ignore[attr-defined]
        self.local_console = LocalConsoleServer(self.console, console_socket(self.config))
        try:
            await self.local_console.start()
        except OSError as err:
            log.warning("%s: no local console socket: %s", self.name, err)
            self.local_console = None

    # ------------------------------------------------------------------ in-band
    def _make_in_band(self) -> InBandServer | None:
        """QEMU launched by pybmc connects to a unix socket in the run directory; a VM started
        by the user connects to [in_band] listen."""
        listen = self.config.in_band.listen
        qemu = self._qemu()
        if listen.startswith("unix:"):
            return InBandServer(self.bmc, listen[5:],
                                group=self.config.in_band.socket_group or None)
        if listen.startswith("tcp:"):
            host, _, port = listen[4:].rpartition(":")
            return InBandServer(self.bmc, host=host.strip("[]"), port=int(port))
        if qemu is not None and self.config.qemu.in_band:
            return InBandServer(self.bmc, qemu.paths.in_band)
        return None

    async def _start_in_band(self) -> None:
        server = self._make_in_band()
        if server is None:
            return
        server.after_input = lambda: self._flush()
        await server.start()
        self.in_band = server
        qemu = self._qemu()
        if qemu is not None and server.path is not None:
            qemu.in_band_path = str(server.path)
        command = self._command()
        if command is not None:  # the command backend: reset, NMI, button over the link
            command.attach_vm_link(server)
        log.info("%s: in-band IPMI listening on %s", self.name, server.address)

    # ------------------------------------------------------------------ life cycle
    async def start(self, flush: Callable[[], None] | None = None,
                    defer_writes: bool = False) -> None:
        """Attach to (or start) the machine; called once the BMC's socket is bound. `flush`
        sends what the session layer queued (SOL output arrives between datagrams).
        `defer_writes`: the first state and SEL writes wait for `bmc.write_deferred()`."""
        if flush is not None:
            self._flush = flush
        self.started = True
        self.bmc.begin(defer_writes=defer_writes)
        await self._start_in_band()
        await self.bmc.power.start()
        await self._start_console()
        log.info("%s: started; power is %s", self.name,
                 "on" if self.bmc.power.is_on() else "off")

    async def stop(self, leave_vm_running: bool = True) -> None:
        """Let go of the machine. A BMC going away does not power off its host by default."""
        try:
            if self.started:
                await self._stop(leave_vm_running)
        finally:
            if self.lock_pending:
                guard_first_write(self.config.state_dir, None)
            if self.lock is not None:
                self.lock.release()

    async def _stop(self, leave_vm_running: bool) -> None:
        self.started = False
        self.bmc.close_sessions("the BMC is stopping")
        if self.local_console is not None:
            await self.local_console.stop()
        await self.console.stop()
        await self.bmc.power.stop(leave_running=leave_vm_running)
        if self.in_band is not None:
            await self.in_band.stop()
        if self.lock_error is not None:  # the state_dir is another process's: leave it
            return
        self.bmc.write_deferred()
        self.bmc.save()
