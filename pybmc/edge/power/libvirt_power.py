"""[power] backend = "libvirt": pybmc drives a libvirt domain through the domain API, the way
a BMC drives a server.

| IPMI chassis control | libvirt                                                          |
|----------------------|------------------------------------------------------------------|
| power up             | create() (the domain's persistent definition, boot order set)    |
| power down (hard)    | destroy()                                                        |
| soft off             | shutdown() (ACPI button); off once the guest powers off          |
| hard reset           | reset(), or destroy() + create() when the boot order must change |
| power cycle          | down, cycle_interval, up                                         |
| diagnostic interrupt | injectNMI()                                                      |

Power state comes from libvirt's lifecycle events (pybmc.edge.power.libvirt_connection): on
any event pybmc re-reads `isActive()`, so a change made with virsh (destroy, start) or by the
guest (power off) reaches Chassis Status and the SEL at once, and a state after a reconnect is
right even if events were missed. A guest reboot is a REBOOT event; one reset produces several
(SeaBIOS resets again, QEMU reports each), so events within HOP_WINDOW of a counted reboot are
the same boot.

A domain defined, undefined or renamed anywhere on the connection is an event too: a BMC
whose domain was undefined reads off and refuses requests (0xD5, logged) and finds the domain
again as soon as one of its name or UUID is defined.

A start made outside pybmc (`virsh start`) is a boot like any other: the BMC's boot override
is used, and a domain started with another boot order is restarted with the right one.

Boot overrides (pybmc.model.libvirt_boot) go into the domain's persistent definition before
create(): libvirt hands QEMU the boot order at start only, so a reset or guest reboot whose
boot order differs from the running one becomes destroy() + create() (logged). A one-time
override is undone in the persistent definition as soon as the domain started with it (the
running domain keeps it, `virsh dumpxml` shows it; `--inactive` shows the original), a
persistent one stays. Whether a boot is EFI is the domain's loader's business.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pybmc.config.bmc import LibvirtConfig
from pybmc.edge.power.actions import QueuedActions
from pybmc.edge.power.libvirt_connection import (
    SharedConnection,
    connection,
    import_libvirt,
    in_thread,
    timed,
)
from pybmc.edge.power.libvirt_media import LibvirtMedia
from pybmc.model.libvirt_boot import boot_order, boot_override_xml, loader_is_efi
from pybmc.model.power import BootChoice, PowerAction, PowerError
from pybmc.model.virtual_media import MediaSlot
from pybmc.wire.codes import Cc

if TYPE_CHECKING:
    from pybmc.config.bmc import BmcConfig

log = logging.getLogger("pybmc.power")

HOP_WINDOW = 2.0  # seconds after a counted reboot in which more REBOOT events are that boot
# libvirt constants (libvirt-python is imported only when a backend is built)
XML_SECURE, XML_INACTIVE = 1, 2
START_PAUSED, STATE_PAUSED = 1, 3  # VIR_DOMAIN_START_PAUSED, VIR_DOMAIN_PAUSED
EVENT_STARTED, EVENT_SUSPENDED, EVENT_RESUMED, EVENT_STOPPED = 2, 3, 4, 5
EVENT_PMSUSPENDED, EVENT_CRASHED = 7, 8
EVENT_DEFINED, EVENT_UNDEFINED, DEFINED_UPDATED = 0, 1, 1
STOPPED_CAUSES = {0: "guest power off", 1: "domain destroyed", 2: "guest crashed",
                  3: "domain migrated", 4: "domain saved", 5: "QEMU failed",
                  6: "snapshot restored"}


class LibvirtPower(QueuedActions):
    """One BMC's libvirt domain, on the connection its URI shares with other BMCs."""

    def __init__(self, name: str, config: LibvirtConfig, initially_on: bool = False,
                 cycle_interval: float = 1.0, media_dir: Path | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 shared: SharedConnection | None = None) -> None:
        super().__init__(name)
        self.config = config
        self.initially_on = initially_on
        self.cycle_interval = cycle_interval
        self.clock = clock
        self.shared = shared or connection(config.uri)
        self._dom: Any = None
        self._uuid: str | None = None
        self._first_contact = True
        self._hop_until = -1.0  # REBOOT events before this clock() belong to a counted boot
        self._soft_off_asked = False
        self._context = contextvars.copy_context()
        self._acting = False  # a power action runs: domain events wait until it is done
        self._held: list[Callable[[], None]] = []  # the events that wait
        self.reboots = 0  # reboots counted (ours and the guest's)
        self.media = LibvirtMedia(name, media_dir or Path("media"), self._domain_or_none)
        # Set by the console wiring: a start creates the domain paused and resumes it once this
        # returned (the console is open), so SOL's history begins at the guest's first line.
        self.before_run: Callable[[], Awaitable[None]] | None = None

    @classmethod
    def from_bmc_config(cls, config: BmcConfig, initially_on: bool) -> LibvirtPower:
        return cls(config.name, config.libvirt, initially_on=initially_on,
                   cycle_interval=config.power.cycle_interval,
                   media_dir=config.state_dir / "media")

    def media_changed(self, slot: MediaSlot) -> None:
        """Virtual media (pybmc.model.virtual_media.MediaDrive): the CD goes to the domain."""
        self.media.media_changed(slot)

    # ---------------------------------------------------------------- the domain
    def _domain_or_none(self) -> Any:
        return self._dom if self.shared.current() is not None else None

    def _domain(self) -> Any:
        dom = self._domain_or_none()
        if dom is None:
            raise ConnectionError(f"no connection to libvirt {self.config.uri} "
                                  f"(or no domain {self.config.domain!r} on it)")
        return dom

    def _lookup(self, conn: Any) -> Any:
        libvirt = import_libvirt()
        try:
            return conn.lookupByUUIDString(self.config.domain)
        except libvirt.libvirtError:
            return conn.lookupByName(self.config.domain)

    def _call(self, what: str, *args: Any) -> Any:
        """A quick domain API call, on the loop; a dead connection is handed to the
        supervisor."""
        dom = self._domain()
        try:
            with timed(self.name, f"{what}()"):
                return getattr(dom, what)(*args)
        except Exception as err:
            self._failed(err)
            raise

    async def _slow(self, what: str, *args: Any) -> Any:
        """A domain API call in libvirt's call threads (the loop runs on meanwhile)."""
        dom = self._domain()
        try:
            return await in_thread(self.name, f"{what}()", getattr(dom, what), *args)
        except Exception as err:
            self._failed(err)
            raise

    def _failed(self, err: BaseException) -> None:
        libvirt = import_libvirt()
        if isinstance(err, libvirt.libvirtError) \
                and err.get_error_code() in (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_RPC,
                                             libvirt.VIR_ERR_INTERNAL_ERROR) \
                and self.shared.current() is None:
            self.shared.lost(err.get_error_message())

    def _active(self) -> bool:
        return bool(self._call("isActive"))

    async def _active_now(self) -> bool:
        return bool(await self._slow("isActive"))

    # ---------------------------------------------------------------- DomainWatcher
    # libvirt calls these from its event loop handles, in whatever logging context they were
    # made in: the work runs in this BMC's own (pybmc.edge.logs), taken at start().
    def _soon(self, function: Callable[..., None], *args: Any) -> None:
        asyncio.get_running_loop().call_soon(function, *args, context=self._context)

    def _after_action(self, function: Callable[..., None], *args: Any) -> None:
        """`function` now, or once the running power action is done: an action's own events
        come after its result (its cause in the SEL, no "started by someone else")."""
        if self._acting:
            self._held.append(lambda: function(*args))
        else:
            function(*args)

    def _submit(self, operation: Callable[[], Awaitable[None]], what: str) -> None:
        async def acting() -> None:  # runs under the action lock: one at a time
            self._acting = True
            try:
                await operation()
            finally:
                self._acting = False
                held, self._held = self._held, []
                for function in held:
                    self._soon(function)

        super()._submit(acting, what)

    def connected(self, conn: Any) -> None:
        self._soon(self._connected, conn)

    def disconnected(self) -> None:
        self._dom = None

    def lifecycle(self, event: int, detail: int) -> None:
        self._soon(self._after_action, self._lifecycle, event, detail)

    def rebooted(self) -> None:
        self._soon(self._after_action, self._rebooted)

    def definitions_changed(self, event: int, detail: int, name: str, uuid: str) -> None:
        self._soon(self._definitions_changed, event, detail, name, uuid)

    def _connected(self, conn: Any) -> None:
        """A (re)connection: find the domain, watch it, read its state."""
        libvirt = import_libvirt()
        try:
            dom = self._lookup(conn)
        except libvirt.libvirtError as err:
            log.error("%s: libvirt %s has no domain %r: %s", self.name, self.config.uri,
                      self.config.domain, err.get_error_message())
            self._domain_gone("not found after connecting")
            return
        self._bind(dom, "libvirt reconnected")

    def _bind(self, dom: Any, how: str) -> None:
        """Drive `dom` from now on: watch its events, read its state."""
        if self._uuid is not None:
            self.shared.unwatch(self._uuid, self)
        self._dom, self._uuid = dom, dom.UUIDString().lower()
        self.shared.watch(self._uuid, self)
        active = bool(dom.isActive())
        first, self._first_contact = self._first_contact, False
        if first:
            # The BMC already records the state it had before this start: report a change.
            self._on = self.initially_on
            log.info("%s: libvirt domain %s (%s) is %s", self.name, dom.name(), self._uuid,
                     "running" if active else "shut off")
            self._set_on(active, "domain running" if active else "domain shut off")
            if self.initially_on and not active:
                self._submit(lambda: self._power_on("power restore policy"), "power on")
        else:
            log.info("%s: %s; domain %s (%s) is %s", self.name, how, dom.name(), self._uuid,
                     "running" if active else "shut off")
            self._set_on(active, "domain started" if active else "domain stopped")

    def _domain_gone(self, why: str) -> None:
        """libvirt answers and has no such domain (any more): power reads off, requests are
        refused (0xD5) until a domain of that name or UUID is defined."""
        had = self._dom is not None
        if self._uuid is not None:
            self.shared.unwatch(self._uuid, self)
        self._dom, self._uuid = None, None
        self._soft_off_asked = False
        if had:
            log.warning("%s: libvirt domain %r is gone (%s): power reads off and requests "
                        "are refused until it is defined again", self.name, self.config.domain,
                        why)
        self._set_on(False, "domain undefined")

    def _definitions_changed(self, event: int, detail: int, name: str, uuid: str) -> None:
        """A domain was defined, undefined or renamed (VIR_DOMAIN_EVENT_DEFINED/UNDEFINED,
        for every domain of the connection): ours, or the one we wait for, is looked up
        again."""
        ours = self._uuid is not None and uuid == self._uuid
        if ours and event == EVENT_DEFINED and detail == DEFINED_UPDATED:
            return  # a new definition of our domain (pybmc's boot order, virsh define)
        named = name == self.config.domain or uuid == self.config.domain.lower()
        if not ours and not (named and self._dom is None):
            return
        self._relookup("undefined" if event == EVENT_UNDEFINED else "redefined")

    def _relookup(self, why: str) -> None:
        """Find the domain again (it may be gone, or have appeared)."""
        conn = self.shared.current()
        if conn is None:
            return  # the reconnect looks it up
        libvirt = import_libvirt()
        try:
            dom = self._lookup(conn)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                self._domain_gone(why)
            else:
                log.warning("%s: cannot look the domain up: %s", self.name,
                            err.get_error_message())
            return
        if self._dom is not None and dom.UUIDString().lower() == self._uuid:
            self._dom = dom  # the same domain (renamed, or undefined while it runs)
            return
        try:
            self._bind(dom, "domain defined")
        except libvirt.libvirtError as err:
            log.warning("%s: cannot read the domain's state: %s", self.name,
                        err.get_error_message())

    def _lifecycle(self, event: int, detail: int) -> None:
        log.debug("%s: libvirt lifecycle event %d/%d", self.name, event, detail)
        if event in (EVENT_SUSPENDED, EVENT_RESUMED, EVENT_PMSUSPENDED):
            return  # a paused domain is still powered
        if event == EVENT_STARTED:
            cause = "domain started"
        elif event == EVENT_STOPPED:
            cause = STOPPED_CAUSES.get(detail, "domain stopped")
        elif event == EVENT_CRASHED:
            cause = "guest crashed"
        else:
            return  # SHUTDOWN comes before STOPPED, for a guest power off and a destroy alike
        if self._soft_off_asked and cause == "guest power off":
            cause = "soft off"
        self._refresh(cause)

    def _refresh(self, cause: str) -> None:
        """Read the domain's state and report a change (events may be stale by now)."""
        if self._domain_or_none() is None:
            return
        libvirt = import_libvirt()
        try:
            active = self._active()
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:  # a transient one ended
                self._relookup("undefined, and stopped")
                return
            log.warning("%s: cannot read the domain's state: %s", self.name,
                        err.get_error_message())
            return
        except Exception as err:
            log.warning("%s: cannot read the domain's state: %s", self.name, err)
            return
        if not active:
            self._soft_off_asked = False
        was_on = self._on
        self._set_on(active, cause)
        if active and was_on is False:  # started by someone else (virsh start)
            self._submit(self._started_outside, "domain started")

    def _rebooted(self) -> None:
        now = self.clock()
        if now < self._hop_until:
            log.debug("%s: REBOOT event of the same boot", self.name)
            return
        self._hop_until = now + HOP_WINDOW
        self.reboots += 1
        log.info("%s: guest reboot", self.name)
        self._submit(self._guest_reboot, "guest reboot")

    # ---------------------------------------------------------------- requests
    def _check_request(self, action: PowerAction) -> None:
        if self._domain_or_none() is None:
            log.error("%s: refusing power %s: not connected to libvirt %s or no domain %r",
                      self.name, action.name.lower(), self.config.uri, self.config.domain)
            raise PowerError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE, "libvirt is not connected")

    def _is_running(self) -> bool:
        try:
            return self._active()
        except Exception:
            return bool(self._on)

    def _explain(self, err: BaseException) -> str:
        text = err.get_error_message() if hasattr(err, "get_error_message") else str(err)
        return text or type(err).__name__

    # ---------------------------------------------------------------- boot order
    def _boot_xml(self, inactive: str, choice: BootChoice) -> str:
        """The persistent XML for a boot with `choice` (the XML itself when nothing changes)."""
        if choice.device == "bios":
            log.info("%s: boot to firmware setup requested; booting normally", self.name)
        if choice.efi and not loader_is_efi(inactive):
            log.info("%s: EFI boot requested, but the domain's loader is not UEFI; it boots "
                     "its BIOS", self.name)
        if choice.http:
            log.info("%s: UEFI HTTP boot requested: the NIC boots first; the firmware takes "
                     "the URI from DHCP", self.name)
        return boot_override_xml(inactive, choice) or inactive

    async def _define(self, xml: str) -> None:
        await in_thread(self.name, "defineXML()", self._domain().connect().defineXML, xml)

    async def _start(self, choice: BootChoice, cause: str) -> None:
        """create() with the boot order for `choice`; a one-time override is undone in the
        persistent definition once the domain runs with it."""
        inactive = await self._slow("XMLDesc", XML_INACTIVE | XML_SECURE)
        wanted = self._boot_xml(inactive, choice)
        changed = boot_order(wanted) != boot_order(inactive)
        if changed:
            log.info("%s: boot order %s (%s)", self.name, ", ".join(boot_order(wanted)),
                     "persistent" if choice.persistent else "this boot")
            await self._define(wanted)
        paused = self.before_run is not None
        try:
            if paused:
                paused = await self._create_paused()
            else:
                await self._slow("create")
        finally:
            if changed and not choice.persistent:
                await self._define(inactive)
        self._set_on(True, cause)
        if paused:
            self._track(asyncio.get_running_loop().create_task(
                self._resume_when_ready(), name=f"{self.name}: resume after start"))

    async def _create_paused(self) -> bool:
        """createWithFlags(START_PAUSED); a plain create() where the driver has no such flag
        (libvirt's test driver). Whether the domain is paused now."""
        libvirt = import_libvirt()
        try:
            await self._slow("createWithFlags", START_PAUSED)
            return True
        except libvirt.libvirtError as err:
            if err.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG,
                                            libvirt.VIR_ERR_NO_SUPPORT,
                                            libvirt.VIR_ERR_OPERATION_UNSUPPORTED):
                raise
            log.debug("%s: no paused start here (%s); the console connects after the start",
                      self.name, err.get_error_message())
        await self._slow("create")
        return False

    async def _resume_when_ready(self) -> None:
        """Resume the domain created paused once `before_run` returned (it bounds its wait)."""
        try:
            if self.before_run is not None:
                await self.before_run()
        finally:
            try:
                if (await self._slow("state", 0))[0] == STATE_PAUSED:
                    await self._slow("resume")
            except Exception as err:
                log.warning("%s: cannot resume the domain after its start: %s", self.name,
                            self._explain(err))

    async def _needs_restart(self, choice: BootChoice) -> bool:
        """Whether the boot order for `choice` differs from the one the domain runs with."""
        live = await self._slow("XMLDesc", 0)
        inactive = await self._slow("XMLDesc", XML_INACTIVE | XML_SECURE)
        return boot_order(self._boot_xml(inactive, choice)) != boot_order(live)

    async def _restart(self, choice: BootChoice, cause: str) -> None:
        log.info("%s: %s with another boot order: destroy and create the domain", self.name,
                 cause)
        await self._slow("destroy")
        await self._start(choice, cause)

    # ---------------------------------------------------------------- operations
    async def _power_on(self, cause: str) -> None:
        if await self._active_now():
            self._set_on(True, cause)
            return
        await self._start(self._take_boot_choice(cause), cause)

    async def _hard_off(self, cause: str) -> None:
        if await self._active_now():
            await self._slow("destroy")
        self._set_on(False, cause)

    async def _soft_off(self) -> None:
        if not await self._require_on("soft off"):
            return
        self._soft_off_asked = True
        await self._slow("shutdown")

    async def _hard_reset(self, cause: str) -> None:
        if not await self._require_on("hard reset"):
            return
        choice = self._take_boot_choice(cause)
        self._hop_until = self.clock() + HOP_WINDOW
        self.reboots += 1
        if await self._needs_restart(choice):
            await self._restart(choice, cause)
        else:
            await self._slow("reset", 0)

    async def _guest_reboot(self) -> None:
        if not await self._require_on("guest reboot"):
            return
        choice = self._take_boot_choice("guest reboot")
        if await self._needs_restart(choice):
            await self._restart(choice, "guest reboot")

    async def _started_outside(self) -> None:
        """A start pybmc did not make is a boot too: the BMC's boot override counts (a
        one-time one is used up), so a domain started with another order is restarted with
        it, as a power button press would boot it."""
        if not await self._require_on("boot"):
            return
        choice = self._take_boot_choice("domain started")
        if await self._needs_restart(choice):
            await self._restart(choice, "domain started")

    async def _diagnostic_interrupt(self) -> None:
        if not await self._require_on("diagnostic interrupt"):
            return
        await self._slow("injectNMI", 0)
        log.info("%s: NMI injected", self.name)

    async def _require_on(self, what: str) -> bool:
        if await self._active_now():
            return True
        log.info("%s: %s skipped: the domain is shut off", self.name, what)
        self._set_on(False, "domain shut off")
        return False

    # ---------------------------------------------------------------- BMC start and stop
    async def start(self) -> None:
        """Connect (in the background, with backoff) and read the domain's state."""
        self._context = contextvars.copy_context()
        self.shared.supervise(self)
        if self.shared.current() is None:
            # Chassis Status answers the last known state until libvirt answers.
            self._on = self.initially_on

    async def stop(self, leave_running: bool = True) -> None:
        """Let go of the domain. By default it keeps running, as a host does when its BMC
        reboots."""
        await self._drain(30.0)
        if not leave_running and self._domain_or_none() is not None:
            try:
                if self._active():
                    await self._slow("destroy")
                    self._set_on(False, "pybmc stopping")
            except Exception as err:
                log.error("%s: cannot stop the domain: %s", self.name, self._explain(err))
        if self._uuid is not None:
            self.shared.unwatch(self._uuid, self)
        self.shared.release(self)
        self.media.stop()
        await self._cancel_tasks()


class NoSuchDomain(LookupError):
    """libvirt answers and has no such domain."""


def libvirt_bmc_config(config: BmcConfig) -> BmcConfig:
    """`config` with the domain's UUID as the system GUID and its XML for the inventory
    (pybmc.model.inventory), read now; `config` itself when libvirt does not answer (the
    backend keeps trying; the inventory is then [system]'s and the GUID the config's).
    Raises LibvirtMissing when libvirt-python is not installed and NoSuchDomain when libvirt
    answers without the domain."""
    libvirt = import_libvirt()
    shared = connection(config.libvirt.uri)
    try:
        conn = shared.open_now()
    except libvirt.libvirtError as err:
        log.warning("%s: libvirt %s: %s; inventory and GUID from the config until it answers",
                    config.name, config.libvirt.uri, err.get_error_message())
        return config
    try:
        dom = LibvirtPower(config.name, config.libvirt, shared=shared)._lookup(conn)
        xml = dom.XMLDesc(0)
        domain_uuid = uuid.UUID(dom.UUIDString())
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            raise NoSuchDomain(f"libvirt {config.libvirt.uri} has no domain "
                               f"{config.libvirt.domain!r}") from None
        log.warning("%s: libvirt %s, domain %r: %s; inventory and GUID from the config",
                    config.name, config.libvirt.uri, config.libvirt.domain,
                    err.get_error_message())
        return config
    return dataclasses.replace(config, guid=domain_uuid,
                               libvirt=dataclasses.replace(config.libvirt, domain_xml=xml))
