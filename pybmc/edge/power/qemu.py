"""[power] backend = "qemu": pybmc launches the user's QEMU and drives it over QMP the way a
BMC drives a server.

The command line is built in qemu_argv.py (the in-band IPMI device is added once someone
listens for it, see `in_band_args`), KVM is probed in qemu_probe.py, boot overrides are applied
as qemu_boot.py says.

Power state: off when no QEMU process runs, or when QEMU sits in run state "shutdown" (the
guest powered itself off; -no-shutdown keeps the process, its sockets and its SOL console).
Everything else, paused and panicked included, is on, as a hung server is still powered.

| IPMI chassis control | QEMU                                                            |
|----------------------|-----------------------------------------------------------------|
| power up             | launch QEMU (-S, then cont), or system_reset + cont from "shutdown" |
| power down (hard)    | QMP quit, then SIGTERM, then SIGKILL, each after a timeout       |
| soft off             | system_powerdown (ACPI button); off once the guest powers off    |
| hard reset           | system_reset                                                     |
| power cycle          | down, cycle_interval, up                                        |
| diagnostic interrupt | inject-nmi                                                      |

Restarts: QEMU runs in its own session and its pid file and sockets live in the run
directory, so a restarted pybmc re-attaches to it and reports it on; `stop(leave_running=True)`
(the default) lets go of QEMU without touching it, after setting reboot=reset so that a guest
reboot while no BMC watches is an ordinary reboot.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import shlex
import shutil
import signal
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pybmc.config.bmc import QemuConfig
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
from pybmc.edge.power.qemu_argv import (
    RunPaths,
    argument_warnings,
    boot_devices,
    build_command,
    opt_path,
    split_boot_option,
    user_sets_accel,
)
from pybmc.edge.power.qemu_boot import BootOrder
from pybmc.edge.power.qemu_media import QemuMedia
from pybmc.edge.power.qemu_probe import kvm_works, qemu_version
from pybmc.model.power import BootChoice, PowerAction, PowerError
from pybmc.model.virtual_media import MediaSlot
from pybmc.wire.codes import Cc

if TYPE_CHECKING:
    from qemu.qmp import QMPClient

    from pybmc.config.bmc import BmcConfig

log = logging.getLogger("pybmc.power")

OFF_STATES = frozenset({"shutdown"})
HOP_WINDOW = 1.5  # seconds after a warm reset in which SeaBIOS's own extra reset arrives
QMP_EVENT_HISTORY_LIMIT = 1000


@dataclass(frozen=True)
class QemuTimeouts:
    qmp_command: float = 5.0  # any single QMP command
    launch: float = 30.0  # spawn -> QMP greeting
    quit: float = 5.0  # QMP quit -> exit
    terminate: float = 5.0  # SIGTERM -> exit
    kill: float = 5.0  # SIGKILL -> exit


# ------------------------------------------------------------------------ the backend
class QemuPower(QueuedActions):
    """One BMC's QEMU. Every action runs as a task, one at a time per VM, with timeouts on
    every QMP command and process wait, so a hung QEMU never stalls the other BMCs."""

    def __init__(self, name: str, config: QemuConfig, guid: uuid.UUID, run_dir: Path,
                 initially_on: bool = False, cycle_interval: float = 1.0,
                 timeouts: QemuTimeouts | None = None, media_dir: Path | None = None) -> None:
        super().__init__(name)
        self.config = config
        self.guid = guid
        self.paths = RunPaths(run_dir)
        self.initially_on = initially_on
        self.cycle_interval = cycle_interval
        self.timeouts = timeouts or QemuTimeouts()
        # Set by the in-band (ipmi-bmc-extern) listener to the Unix socket it listens on,
        # before the VM starts; see in_band_args().
        self.in_band_path: str | None = None
        base_order, self._user_args = split_boot_option(config.args)
        self._boot_order = BootOrder(name, base_order, boot_devices(self._user_args)[0])
        self._proc: WatchedProcess | None = None
        self._qmp: QMPClient | None = None
        self._pump: asyncio.Task[None] | None = None
        self._detaching: asyncio.Task[None] | None = None
        self._launching = False
        self._launch_failure: str | None = None
        self._expected_exit: str | None = None
        self._hop_deadline = 0.0
        self._version: tuple[int, int, int] | None = None
        # Awaited after QMP is up and before `cont`: the console wiring sets it so the SOL
        # socket is read before the guest writes its first lines.
        self.before_run: Callable[[], Awaitable[None]] | None = None
        self.media = QemuMedia(name, media_dir or run_dir / "media", self._qmp_execute,
                               lambda: self._qmp is not None)

    @classmethod
    def from_bmc_config(cls, config: BmcConfig, initially_on: bool) -> QemuPower:
        from pybmc.config.paths import run_dir

        return cls(config.name, config.qemu, config.guid, run_dir(config),
                   initially_on=initially_on, cycle_interval=config.power.cycle_interval,
                   media_dir=config.state_dir / "media")

    def media_changed(self, slot: MediaSlot) -> None:
        """Virtual media (pybmc.model.virtual_media.MediaDrive): the CD goes to the VM."""
        if self.config.virtual_media:
            self.media.media_changed(slot)

    def _media_args(self) -> list[str]:
        return self.media.launch_args() if self.config.virtual_media else []

    # ---------------------------------------------------------------- what others use
    @property
    def run_dir(self) -> Path:
        return self.paths.run_dir

    @property
    def serial_path(self) -> str:
        """The guest's ttyS0 as a raw Unix stream socket (QEMU listens; exists while QEMU runs)."""
        return str(self.paths.serial)

    @property
    def qmp_path(self) -> str:
        return str(self.paths.qmp)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.alive() else None

    def in_band_args(self) -> list[str]:
        """QEMU args for the in-band KCS (or BT) device, connecting as a client to `in_band_path`
        (pybmc listens there). Empty unless [qemu] in_band and a listener is set up."""
        if not (self.config.in_band and self.in_band_path):
            return []
        new_style = self._version is not None and self._version >= (9, 2, 0)
        reconnect = "reconnect-ms=1000" if new_style else "reconnect=1"
        return ["-chardev", f"socket,id=pybmc-ipmi,path={opt_path(self.in_band_path)},{reconnect}",
                "-device", "ipmi-bmc-extern,id=pybmc-bmc,chardev=pybmc-ipmi",
                "-device", f"isa-ipmi-{self.config.in_band_interface},bmc=pybmc-bmc"]

    # ---------------------------------------------------------------- requests
    def _check_request(self, action: PowerAction) -> None:
        if action in (PowerAction.ON, PowerAction.CYCLE):
            self._check_can_launch()

    def _is_running(self) -> bool:
        return self._running_process() is not None

    async def _hard_off(self, cause: str) -> None:
        await self._power_off(cause)

    def _check_can_launch(self) -> None:
        """Refuse a power-on that cannot work, with a completion code instead of silence."""
        if self._proc is not None and self._proc.alive():
            return
        failure, self._launch_failure = self._launch_failure, None
        if failure is not None:
            log.error("%s: refusing power on: the last start of QEMU failed (%s); fix [qemu] "
                      "and power on again", self.name, failure)
            raise PowerError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE, f"QEMU failed to start: {failure}")
        if shutil.which(self.config.binary) is None:
            log.error("%s: cannot power on: QEMU binary %r not found", self.name,
                      self.config.binary)
            raise PowerError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE,
                             f"QEMU binary {self.config.binary!r} not found")

    def _explain(self, err: BaseException) -> str:
        return _explain(err)

    # ---------------------------------------------------------------- QMP plumbing
    async def _qmp_execute(self, command: str, arguments: dict[str, Any] | None = None,
                           timeout: float | None = None) -> Any:
        client = self._qmp
        if client is None:
            raise ConnectionError("no QMP connection to QEMU")
        return await asyncio.wait_for(client.execute(command, arguments),
                                      timeout or self.timeouts.qmp_command)

    async def _status(self) -> str:
        reply = await self._qmp_execute("query-status")
        return str(reply.get("status", "")) if isinstance(reply, dict) else ""

    async def _connect_qmp(self, proc: WatchedProcess, deadline: float) -> QMPClient | None:
        """Connect to QEMU's QMP socket, retrying until it appears; None if QEMU exits first
        or the deadline passes."""
        from qemu.qmp import QMPClient

        loop = asyncio.get_running_loop()
        delay = 0.01
        while proc.alive() and loop.time() < deadline:
            if self.paths.qmp.exists():
                client = QMPClient(self.name)
                try:
                    timeout = max(0.1, min(deadline - loop.time(), self.timeouts.qmp_command))
                    await asyncio.wait_for(client.connect(str(self.paths.qmp)), timeout)
                    return client
                except Exception as err:  # ConnectError, EOFError, timeout
                    log.debug("%s: QMP connect: %s", self.name, _explain(err))
                    await _disconnect_quietly(client)
            await asyncio.wait({proc.exited}, timeout=delay)
            delay = min(delay * 2, 0.1)
        return None

    def _attach_qmp(self, client: QMPClient) -> None:
        self._qmp = client
        self._pump = asyncio.get_running_loop().create_task(
            self._pump_events(client), name=f"{self.name}: QMP events")

    async def _detach_qmp(self) -> None:
        """Drop the QMP connection; callers racing here all wait for the same cleanup."""
        client, self._qmp = self._qmp, None
        pump, self._pump = self._pump, None
        if client is not None or pump is not None:
            self._detaching = asyncio.get_running_loop().create_task(
                self._close_qmp(client, pump), name=f"{self.name}: QMP disconnect")
        if self._detaching is not None:
            # Shielded: a disconnect cancelled half-way leaves qemu.qmp's reader and writer
            # failures unretrieved (asyncio then logs "exception was never retrieved").
            await asyncio.shield(self._detaching)

    @staticmethod
    async def _close_qmp(client: QMPClient | None, pump: asyncio.Task[None] | None) -> None:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
        if client is not None:
            await _disconnect_quietly(client)

    async def _pump_events(self, client: QMPClient) -> None:
        async for event in client.events:
            history = getattr(client.events, "_history", None)
            if isinstance(history, list) and len(history) > QMP_EVENT_HISTORY_LIMIT:
                del history[:]  # qemu.qmp keeps every event forever; we never read it
            try:
                self._on_qmp_event(event["event"], event.get("data") or {})
            except Exception:
                log.exception("%s: error handling QMP event %s", self.name, event)

    def _on_qmp_event(self, name: str, data: dict[str, Any]) -> None:
        log.debug("%s: QMP event %s %s", self.name, name, data)
        if name == "SHUTDOWN":
            self._on_shutdown_event(str(data.get("reason", "")), bool(data.get("guest")))
        elif name == "POWERDOWN":
            log.info("%s: ACPI power button pressed", self.name)
        elif name == "GUEST_PANICKED":
            log.warning("%s: guest panicked: %s", self.name, data)
        elif name == "STOP":
            self._track(asyncio.get_running_loop().create_task(
                self._report_stop_reason(), name=f"{self.name}: stop reason"))

    async def _report_stop_reason(self) -> None:
        """QEMU stops a VM by itself on an emulation failure (e.g. KVM in some nested
        setups) or a disk error; the machine stays on but hung, so say why in the log."""
        with contextlib.suppress(Exception):
            status = await self._status()
            if status in ("internal-error", "io-error"):
                hint = ""
                if status == "internal-error":
                    hint = " (with KVM, try -accel tcg in [qemu] args)"
                log.error("%s: QEMU stopped the VM: %s%s; see %s", self.name, status, hint,
                          self.paths.log)

    def _on_shutdown_event(self, reason: str, guest: bool) -> None:
        if reason in ("host-qmp-quit", "host-signal"):
            return  # QEMU is exiting; the process watcher reports it
        if reason in ("guest-reset", "host-qmp-system-reset"):
            loop = asyncio.get_running_loop()
            if loop.time() <= self._hop_deadline:
                # SeaBIOS resetting once more after a warm reset: the same boot goes on.
                self._hop_deadline = 0.0
                self._submit(self._firmware_reset_hop, "firmware reset")
            else:
                self._submit(self._guest_reboot, "guest reboot")
            return
        cause = "guest power off" if reason == "guest-shutdown" else f"shutdown ({reason})"
        log.info("%s: %s", self.name, cause)
        self._set_on(False, cause)

    # ---------------------------------------------------------------- process plumbing
    def _watch_exit(self, proc: WatchedProcess) -> None:
        async def watch() -> None:
            code = await proc.exited
            await self._on_process_exit(proc, code)

        self._track(asyncio.get_running_loop().create_task(watch(), name=f"{self.name}: exit"))

    async def _on_process_exit(self, proc: WatchedProcess, code: int | None) -> None:
        if proc is not self._proc:
            return
        # Every state change happens before the first await: a power-on queued behind this
        # must never see the old process, nor have its "on" overwritten by our "off".
        self._proc = None
        self._boot_order.forget()
        self._hop_deadline = 0.0
        remove_stale(self.paths.pid_file)
        if self._expected_exit is not None:
            cause = self._expected_exit
            log.info("%s: QEMU %s", self.name, describe_exit(code))
        elif self._launching:
            cause = "QEMU failed to start"  # the launch logs why
        else:
            cause = f"QEMU {describe_exit(code)}"
            tail = log_tail(self.paths.log)
            log.warning("%s: QEMU (pid %d) %s without being asked%s", self.name, proc.pid,
                        describe_exit(code), f": {tail}" if tail else "")
        self._expected_exit = None
        self._set_on(False, cause)
        await self._detach_qmp()

    # ---------------------------------------------------------------- firmware
    async def _apply_boot_choice(self, choice: BootChoice) -> bool:
        """Set the order; True when it counts only after a machine reset (bootindex)."""
        return await self._boot_order.apply(self._qmp_execute, choice)

    async def _system_reset(self) -> None:
        # set-action reboot=shutdown turns any reset into a pause, ours included.
        await self._qmp_execute("set-action", {"reboot": "reset"})
        try:
            await self._qmp_execute("system_reset")
        finally:
            await self._qmp_execute("set-action", {"reboot": "shutdown"})

    async def _reset_and_run(self, expect_hop: bool) -> None:
        """A warm reset that ends with the VM running."""
        if await self._status() == "running":
            await self._qmp_execute("stop")
        await self._system_reset()
        if expect_hop:
            self._hop_deadline = asyncio.get_running_loop().time() + HOP_WINDOW
        await self._qmp_execute("cont")

    async def _boot(self, cause: str, expect_hop: bool) -> None:
        """A firmware run starts: ask the BMC for the device, set it, reset and run."""
        choice = self._take_boot_choice(cause)
        await self._apply_boot_choice(choice)
        await self._reset_and_run(expect_hop)

    # ---------------------------------------------------------------- operations
    def _running_process(self) -> WatchedProcess | None:
        return self._proc if self._proc is not None and self._proc.alive() else None

    async def _power_on(self, cause: str) -> None:
        if self._running_process() is None:
            await self._launch(cause)
            return
        if self._qmp is None:
            raise ConnectionError("QEMU runs but its QMP socket does not answer")
        if await self._status() not in OFF_STATES:
            self._set_on(True, cause)
            return
        self._set_on(True, cause)
        await self._boot(cause, expect_hop=True)

    async def _launch(self, cause: str) -> None:
        self._launching = True
        try:
            await self._spawn_and_start(cause)
        finally:
            self._launching = False

    async def _spawn_and_start(self, cause: str) -> None:
        self._launch_failure = None
        try:
            prepare_run_dir(self.paths.run_dir)
        except OSError as err:
            self._fail_launch(f"run directory {self.paths.run_dir}: {err}")
            return
        remove_stale(self.paths.qmp, self.paths.serial)
        self._version = await qemu_version(self.config.binary)
        kvm = (not user_sets_accel(self._user_args)
               and await kvm_works(self.config.binary))
        argv = build_command(self.config.binary, self._user_args, name=self.name,
                             guid=self.guid, paths=self.paths, kvm=kvm,
                             extra=[*self.in_band_args(), *self._media_args()])
        self._warn_about_args()
        log.info("%s: starting QEMU (%s): %s", self.name, cause, shlex.join(argv))
        try:
            proc = spawn(argv, self.paths.log)
        except OSError as err:
            self._fail_launch(f"cannot run {self.config.binary}: {err.strerror or err}")
            return
        write_pid_file(self.paths.pid_file, proc.pid)
        self._proc, self._expected_exit = proc, None
        self._watch_exit(proc)
        deadline = asyncio.get_running_loop().time() + self.timeouts.launch
        client = await self._connect_qmp(proc, deadline)
        if client is None:
            await self._abandon_launch(proc)
            return
        self._attach_qmp(client)
        try:
            await self._qmp_execute("set-action", {"shutdown": "pause", "reboot": "shutdown"})
            self._boot_order.launched()
            self._set_on(True, cause)
            if await self._apply_boot_choice(self._take_boot_choice(cause)):
                await self._system_reset()  # still in prelaunch: fw_cfg gets the new order
            # The SOL console connects first (SolManager sets the hook): QEMU drops serial
            # output that nobody reads, so a guest running before it would lose its first lines.
            if self.before_run is not None:
                await self.before_run()
            await self._qmp_execute("cont")
        except Exception as err:
            log.error("%s: QEMU started but did not take commands (%s); stopping it",
                      self.name, _explain(err))
            await self._stop_process(proc, f"failed start ({_explain(err)})")

    async def _abandon_launch(self, proc: WatchedProcess) -> None:
        if proc.alive():
            reason = f"no QMP connection within {self.timeouts.launch:g}s"
            await proc.terminate([(signal.SIGTERM, self.timeouts.terminate),
                                  (signal.SIGKILL, self.timeouts.kill)], what="QEMU")
        else:
            reason = describe_exit(proc.returncode)
        if self._proc is proc:
            await self._on_process_exit(proc, proc.returncode)
        tail = log_tail(self.paths.log, lines=3)
        self._fail_launch(f"{reason}{': ' + tail if tail else ''}")

    def _fail_launch(self, reason: str) -> None:
        self._launch_failure = reason
        log.error("%s: QEMU failed to start: %s (log: %s)", self.name, reason, self.paths.log)
        self._set_on(False, "QEMU failed to start")

    def _warn_about_args(self) -> None:
        for warning in argument_warnings(self._user_args, self.config.args):
            log.warning("%s: %s", self.name, warning)

    async def _power_off(self, cause: str) -> None:
        proc = self._running_process()
        if proc is None:
            self._set_on(False, cause)
            return
        await self._stop_process(proc, cause)

    async def _stop_process(self, proc: WatchedProcess, cause: str) -> None:
        """QMP quit, then SIGTERM, then SIGKILL, each with its timeout."""
        self._expected_exit = cause
        if self._qmp is not None:
            with contextlib.suppress(Exception):
                await self._qmp_execute("quit")
        if not await proc.wait(self.timeouts.quit):
            log.warning("%s: QEMU did not quit in %gs", self.name, self.timeouts.quit)
            if not await proc.terminate([(signal.SIGTERM, self.timeouts.terminate),
                                         (signal.SIGKILL, self.timeouts.kill)], what="QEMU"):
                log.error("%s: QEMU (pid %d) survives SIGKILL", self.name, proc.pid)
                return
        await self._on_process_exit(proc, proc.returncode)

    async def _hard_reset(self, cause: str) -> None:
        if not await self._require_on("hard reset"):
            return
        await self._boot(cause, expect_hop=True)

    async def _diagnostic_interrupt(self) -> None:
        if not await self._require_on("diagnostic interrupt"):
            return
        await self._qmp_execute("inject-nmi")
        log.info("%s: NMI injected", self.name)

    async def _soft_off(self) -> None:
        if not await self._require_on("soft off"):
            return
        await self._qmp_execute("system_powerdown")

    async def _guest_reboot(self) -> None:
        if self._qmp is None or await self._status() not in OFF_STATES:
            return
        await self._boot("guest reboot", expect_hop=True)

    async def _firmware_reset_hop(self) -> None:
        if self._qmp is None or await self._status() not in OFF_STATES:
            return
        await self._reset_and_run(expect_hop=False)

    async def _require_on(self, what: str) -> bool:
        if self._on and self._qmp is not None:
            return True
        log.info("%s: %s skipped: the machine is off", self.name, what)
        return False

    # ---------------------------------------------------------------- BMC start and stop
    async def start(self) -> None:
        """Re-attach to the QEMU an earlier pybmc started, or apply the restore policy."""
        pid = live_pid_from_file(self.paths.pid_file)
        if pid is not None:
            await self._reattach(pid)
            return
        remove_stale(self.paths.pid_file)
        if self.initially_on:
            self._submit(lambda: self._power_on("power restore policy"), "power on")
        else:
            self._set_on(False, "no QEMU running")

    async def _reattach(self, pid: int) -> None:
        proc = adopt(pid)
        self._proc = proc
        self._watch_exit(proc)
        deadline = asyncio.get_running_loop().time() + self.timeouts.qmp_command
        client = await self._connect_qmp(proc, deadline)
        if client is None:
            if proc.alive():
                log.error("%s: QEMU pid %d runs but QMP %s does not answer; reporting it on",
                          self.name, pid, self.paths.qmp)
                self._on = self.initially_on
                self._set_on(True, "QEMU running (QMP not answering)")
            return
        self._attach_qmp(client)
        try:
            await self._qmp_execute("set-action", {"shutdown": "pause", "reboot": "shutdown"})
            status = await self._status()
        except Exception as err:
            log.error("%s: re-attached QEMU pid %d does not answer QMP: %s", self.name, pid,
                      _explain(err))
            self._on = self.initially_on
            self._set_on(True, "QEMU running")
            return
        log.info("%s: re-attached to QEMU pid %d (status %s)", self.name, pid, status)
        # The BMC already records the state it had before this restart: report a change only.
        self._on = self.initially_on
        on = status not in OFF_STATES
        self._set_on(on, f"QEMU already running ({status})" if on
                     else f"QEMU found powered off ({status})")
        if status == "prelaunch":
            # An earlier pybmc stopped between launch and cont: finish that power-on.
            self._submit(self._finish_interrupted_start, "power on")

    async def _finish_interrupted_start(self) -> None:
        if await self._apply_boot_choice(self._take_boot_choice("power on (resumed)")):
            await self._system_reset()
        await self._qmp_execute("cont")

    async def stop(self, leave_running: bool = True) -> None:
        """Let go of QEMU. By default it keeps running, as a host does when its BMC reboots."""
        # A launch under way is not cut in half.
        await self._drain(self.timeouts.launch + self.timeouts.quit + self.timeouts.terminate)
        proc = self._running_process()
        if proc is not None and not leave_running:
            await self._stop_process(proc, "pybmc stopping")
        elif proc is not None:
            # A guest reboot while nobody watches must reboot, not pause.
            with contextlib.suppress(Exception):
                await self._qmp_execute("set-action", {"reboot": "reset"})
            log.info("%s: leaving QEMU pid %d running", self.name, proc.pid)
        await self._detach_qmp()
        if self._proc is not None:
            self._proc.close()
            self._proc = None
        await self._cancel_tasks()



async def _disconnect_quietly(client: QMPClient) -> None:
    """qemu.qmp raises the reason the connection ended (EOFError when QEMU exits) from
    disconnect(); it must still be called to return to IDLE."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.disconnect(), 5.0)


def _explain(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, OSError) and err.errno is not None:
        return f"{errno.errorcode.get(err.errno, err.errno)}: {err.strerror}"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
