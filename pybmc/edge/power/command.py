"""[power] backend = "command": the user's own launch script is the machine, like ipmi_sim's
startcmd. Power on runs [power] command_on; the machine is on while that process runs; power
off sends SIGTERM to its process group, then SIGKILL after command_off_wait seconds.

The command runs in its own session (so signals reach whatever it started, and a pybmc restart
leaves it alone) with stdout/stderr in <run dir>/command.log, and learns the boot device the
BMC was asked for through its environment:

    PYBMC_NAME          the BMC name
    PYBMC_BOOT_DEVICE   default | pxe | disk | cdrom | bios | floppy (one-time overrides are
                        consumed by this start)
    PYBMC_BOOT_EFI      1 for an EFI boot, else 0
    PYBMC_BOOT_HTTP     1 for a UEFI HTTP boot (Redfish UefiHttp; DEVICE is pxe), else 0
    PYBMC_HTTP_BOOT_URI Redfish's HttpBootUri for that boot, or empty (the URI comes from DHCP)
    PYBMC_RUN_DIR       a private directory for sockets (short enough for Unix socket paths)
    PYBMC_GUID          the BMC's System GUID (use it for QEMU's -uuid)

When the VM the command starts connects its ipmi-bmc-extern chardev to the BMC's [in_band]
listener (the user's own `-chardev socket,...` as with ipmi_sim's `serial 15 HOST PORT codec VM`),
reset, NMI and the power button go over that link, as ipmi_sim's VM codec sends them; each only
when the VM announced the capability, otherwise the table's fallback applies.

| IPMI chassis control | without a VM link                                    | with a VM link  |
|----------------------|------------------------------------------------------|-----------------|
| power up             | run the command (nothing if it runs)                 | the same        |
| power down           | SIGTERM to its group, SIGKILL after command_off_wait | the same        |
| soft off             | SIGTERM to its group only; off when it exits         | ACPI power button |
| hard reset           | stop it, run it again (a new boot)                   | VM reset        |
| power cycle          | down, cycle_interval, up                             | the same        |
| diagnostic interrupt | 0xCC, as ipmi_sim answers without a VM link          | NMI             |

A reset through the link keeps the process, so it cannot change the boot device the command was
started with: when a boot override asks for another device, a hard reset restarts the command
instead (PYBMC_BOOT_DEVICE says the new one). QEMU 7.2 does not report guest reboots over the
link, so a reboot from inside the guest keeps the device the command started with; a VM that
does report them (control command RESET) gets the command restarted when the device changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pybmc.edge.power.actions import QueuedActions
from pybmc.edge.power.process import (
    WatchedProcess,
    adopt,
    describe_exit,
    live_pid_from_file,
    log_tail,
    prepare_run_dir,
    remove_stale,
    spawn,
    write_pid_file,
)
from pybmc.model.power import BootChoice, PowerAction, PowerError
from pybmc.protocol.inband import VmCapability
from pybmc.wire.codes import Cc

if TYPE_CHECKING:
    from pybmc.config.bmc import BmcConfig

log = logging.getLogger("pybmc.power")

KILL_WAIT = 5.0  # after SIGKILL, how long to wait before reporting a process that survives
# A reset the VM link reports this soon after a boot belongs to that boot: the one we asked
# for, QEMU's own reset at start-up, or SeaBIOS resetting once more after a warm reset.
LINK_RESET_QUIET = 2.0


class VmLink(Protocol):
    """What the backend uses of the guest's in-band link (pybmc.edge.inband.InBandServer)."""

    @property
    def connected(self) -> bool: ...

    @property
    def capabilities(self) -> VmCapability: ...

    def send_reset(self) -> bool: ...

    def send_nmi(self) -> bool: ...

    def send_graceful_shutdown(self) -> bool: ...

    def add_reset_listener(self, listener: Callable[[], None]) -> None: ...


class CommandPower(QueuedActions):
    def __init__(self, name: str, argv: tuple[str, ...], run_dir: Path,
                 initially_on: bool = False, off_wait: float = 5.0,
                 cycle_interval: float = 1.0, guid: uuid.UUID | None = None) -> None:
        if not argv:
            raise ValueError("the command backend needs a command")
        super().__init__(name)
        self.argv = argv
        self.run_dir = run_dir
        self.pid_file = self.run_dir / "command.pid"
        self.log_path = self.run_dir / "command.log"
        self.initially_on = initially_on
        self.off_wait = off_wait
        self.cycle_interval = cycle_interval
        self.guid = guid
        self._proc: WatchedProcess | None = None
        self._expected_exit: str | None = None
        self.vm_link: VmLink | None = None
        self._process_boot = BootChoice()  # the boot choice the running process started with
        self._link_reset_quiet_until = 0.0
        self.clock = time.monotonic  # when the VM reports a reset (a fake clock in tests)

    @classmethod
    def from_bmc_config(cls, config: BmcConfig, initially_on: bool) -> CommandPower:
        from pybmc.config.paths import run_dir

        return cls(config.name, config.power.command_on, run_dir(config),
                   initially_on=initially_on, off_wait=config.power.command_off_wait,
                   cycle_interval=config.power.cycle_interval, guid=config.guid)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.alive() else None

    def attach_vm_link(self, link: VmLink) -> None:
        """Send reset, NMI and the power button over the guest's in-band link from now on
        (called by the BMC when it listens for the VM on [in_band] listen)."""
        self.vm_link = link
        link.add_reset_listener(self._on_link_reset)

    def _link_can(self, capability: VmCapability) -> bool:
        link = self.vm_link
        return (link is not None and link.connected
                and link.capabilities & capability == capability)

    def _check_request(self, action: PowerAction) -> None:
        if action is PowerAction.DIAG and not self._link_can(VmCapability.NMI):
            raise PowerError(Cc.INVALID_DATA_FIELD,
                             "no diagnostic interrupt: no VM link that takes an NMI")

    def _is_running(self) -> bool:
        return self._running() is not None

    async def _hard_off(self, cause: str) -> None:
        await self._power_off(cause, graceful=False)

    # ---------------------------------------------------------------- the process
    def _environment(self, choice: BootChoice) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PYBMC_NAME=self.name, PYBMC_BOOT_DEVICE=choice.device,
                   PYBMC_BOOT_EFI="1" if choice.efi else "0", PYBMC_RUN_DIR=str(self.run_dir),
                   PYBMC_BOOT_HTTP="1" if choice.http else "0",
                   PYBMC_HTTP_BOOT_URI=choice.http_uri or "")
        if self.guid is not None:
            env["PYBMC_GUID"] = str(self.guid)
        return env

    def _running(self) -> WatchedProcess | None:
        return self._proc if self._proc is not None and self._proc.alive() else None

    def _start_process(self, cause: str, choice: BootChoice | None = None) -> bool:
        prepare_run_dir(self.run_dir)
        if choice is None:
            choice = self._take_boot_choice(cause)
        log.info("%s: running %s (%s, boot device %s)", self.name, shlex.join(self.argv), cause,
                 choice.device)
        try:
            proc = spawn(self.argv, self.log_path, env=self._environment(choice))
        except OSError as err:
            log.error("%s: cannot run %s: %s", self.name, self.argv[0], err.strerror or err)
            self._set_on(False, "command failed to start")
            return False
        write_pid_file(self.pid_file, proc.pid)
        self._proc, self._expected_exit = proc, None
        self._process_boot = choice
        self._quiet_link_resets()
        self._watch_exit(proc)
        return True

    def _watch_exit(self, proc: WatchedProcess) -> None:
        async def watch() -> None:
            self._on_exit(proc, await proc.exited)

        self._track(asyncio.get_running_loop().create_task(watch(), name=f"{self.name}: exit"))

    def _on_exit(self, proc: WatchedProcess, code: int | None) -> None:
        if proc is not self._proc:
            return
        self._proc = None
        remove_stale(self.pid_file)
        cause = self._expected_exit
        self._expected_exit = None
        if cause is None:
            tail = log_tail(self.log_path)
            cause = f"command {describe_exit(code)}"
            log.warning("%s: command (pid %d) %s%s", self.name, proc.pid, describe_exit(code),
                        f": {tail}" if tail else "")
        self._set_on(False, cause)

    async def _stop_process(self, proc: WatchedProcess, cause: str, graceful: bool) -> None:
        self._expected_exit = cause
        steps: list[tuple[int, float]] = [(signal.SIGTERM, self.off_wait)]
        if not graceful:
            steps.append((signal.SIGKILL, KILL_WAIT))
        if await proc.terminate(steps, group=True, what="command"):
            self._on_exit(proc, proc.returncode)
        elif not graceful:
            log.error("%s: command (pid %d) survives SIGKILL", self.name, proc.pid)

    # ---------------------------------------------------------------- operations
    async def _power_on(self, cause: str) -> None:
        if self._running() is not None:
            self._set_on(True, cause)
            return
        if self._start_process(cause):
            self._set_on(True, cause)

    async def _power_off(self, cause: str, graceful: bool) -> None:
        proc = self._running()
        if proc is None:
            self._set_on(False, cause)
            return
        await self._stop_process(proc, cause, graceful)

    async def _hard_reset(self, cause: str) -> None:
        proc = self._running()
        if proc is None:
            log.info("%s: hard reset skipped: the machine is off", self.name)
            return
        choice = self._take_boot_choice(cause)
        if choice == self._process_boot and self._link_can(VmCapability.RESET):
            self._quiet_link_resets()
            if self.vm_link is not None and self.vm_link.send_reset():
                log.info("%s: hard reset through the VM link", self.name)
                return
        elif choice != self._process_boot:
            log.info("%s: hard reset restarts the command to boot from %s", self.name,
                     choice.device)
        await self._restart_process(proc, cause, choice)

    async def _restart_process(self, proc: WatchedProcess, cause: str,
                               choice: BootChoice) -> None:
        # A reset is not a power loss: the BMC sees one new boot and no off/on, so the exit
        # watcher must not see this process as the machine any more.
        self._proc = None
        remove_stale(self.pid_file)
        if not await proc.terminate([(signal.SIGTERM, self.off_wait),
                                     (signal.SIGKILL, KILL_WAIT)], group=True, what="command"):
            log.error("%s: command (pid %d) survives SIGKILL", self.name, proc.pid)
            self._set_on(False, f"{cause} failed")
            return
        self._start_process(cause, choice)

    async def _soft_off(self) -> None:
        link = self.vm_link
        if (link is not None and self._running() is not None
                and self._link_can(VmCapability.GRACEFUL_SHUTDOWN)
                and link.send_graceful_shutdown()):
            # The guest decides; the machine is off once the command exits.
            self._expected_exit = "soft off"
            log.info("%s: soft off: ACPI power button through the VM link", self.name)
            return
        await self._power_off("soft off", graceful=True)

    async def _diagnostic_interrupt(self) -> None:
        link = self.vm_link
        if self._running() is None or link is None or not link.send_nmi():
            log.warning("%s: diagnostic interrupt not delivered: the VM link is gone",
                        self.name)

    # ---------------------------------------------------------------- resets the VM reports
    def _quiet_link_resets(self) -> None:
        self._link_reset_quiet_until = self.clock() + LINK_RESET_QUIET

    def _on_link_reset(self) -> None:
        """The VM says its machine was reset. Outside a boot we started, that is the guest
        rebooting: a new boot, which may have to run the command again for a new device."""
        if self._running() is None or self.clock() < self._link_reset_quiet_until:
            return
        self._quiet_link_resets()
        self._submit(self._guest_reboot, "guest reboot")

    async def _guest_reboot(self) -> None:
        proc = self._running()
        if proc is None:
            return
        choice = self._take_boot_choice("guest reboot")
        if choice != self._process_boot:
            log.info("%s: the guest rebooted; restarting the command to boot from %s",
                     self.name, choice.device)
            await self._restart_process(proc, "guest reboot", choice)

    # ---------------------------------------------------------------- BMC start and stop
    async def start(self) -> None:
        pid = live_pid_from_file(self.pid_file)
        if pid is not None:
            self._proc = adopt(pid)
            self._watch_exit(self._proc)
            log.info("%s: re-attached to command pid %d", self.name, pid)
            self._on = self.initially_on  # the BMC recorded its state: report a change only
            self._set_on(True, "command already running")
            return
        remove_stale(self.pid_file)
        if self.initially_on:
            self._submit(lambda: self._power_on("power restore policy"), "power on")
        else:
            self._set_on(False, "command not running")

    async def stop(self, leave_running: bool = True) -> None:
        await self._drain(self.off_wait + KILL_WAIT + 1.0)
        proc = self._running()
        if proc is not None and not leave_running:
            await self._stop_process(proc, "pybmc stopping", graceful=False)
        elif proc is not None:
            log.info("%s: leaving command pid %d running", self.name, proc.pid)
        if self._proc is not None:
            self._proc.close()
            self._proc = None
        await self._cancel_tasks()
