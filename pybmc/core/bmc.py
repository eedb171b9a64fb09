"""One emulated BMC: config + persisted state + power backend + sessions + dispatcher."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pybmc.commands import all_tables
from pybmc.commands.dispatch import Context, Dispatcher
from pybmc.config.bmc import BmcConfig
from pybmc.core.sol import SolManager
from pybmc.model import boot
from pybmc.model.platform import Platform
from pybmc.model.power import BootChoice, PowerBackend, PowerEvent
from pybmc.model.state import State, StateStore, UserAccess, UserRecord, fingerprint
from pybmc.wire.codes import LAN_CHANNEL, SYSTEM_INTERFACE_CHANNEL, PayloadType, Privilege

if TYPE_CHECKING:
    from pybmc.edge.inband import InBandServer

log = logging.getLogger("pybmc.bmc")

MAX_USER_ID = 16
_DISPATCHER: Dispatcher | None = None


def shared_dispatcher() -> Dispatcher:
    """The command tables are the same for every BMC; build the lookup once per process."""
    global _DISPATCHER
    if _DISPATCHER is None:
        _DISPATCHER = Dispatcher(*all_tables())
    return _DISPATCHER


class Bmc:
    def __init__(self, config: BmcConfig, power: PowerBackend | None = None,
                 reset_state: bool = False) -> None:
        self.config = config
        self.name = config.name
        self.started_at = time.monotonic()
        self.store = StateStore(config.state_dir)
        if reset_state:
            self.store.reset()
        self.state = self.store.load() or State()
        self._seed_from_config()
        self.dispatcher = shared_dispatcher()
        self.platform = Platform(self)
        self.power: PowerBackend = power if power is not None else self._make_power()
        self.power.set_listener(self._on_power_event)
        # Imported here: the session layer needs a constructed Bmc to talk to.
        from pybmc.protocol.rmcp.session import SessionManager

        self.sessions = SessionManager(self)
        self.sol = SolManager(self)
        self.in_band: InBandServer | None = None
        self.sessions.payload_handlers[PayloadType.SOL] = self.sol.receive_packet
        # The edge replaces this with "send what is queued now" (SOL output is unsolicited).
        self.wake: Callable[[], None] = lambda: None
        self.save()

    # ----------------------------------------------------------------- state and config
    def _seed_from_config(self) -> None:
        users_print = fingerprint([vars(u) for u in self.config.users])
        if self.state.seeded.get("users") != users_print:
            if "users" in self.state.seeded:
                log.warning("%s: [[users]] changed in %s; users reset to the config",
                            self.name, self.config.source)
            self.state.users = self._users_from_config()
            self.state.seeded["users"] = users_print
        lan_print = fingerprint([self.config.address, self.config.raw.get("lan")])
        if self.state.seeded.get("lan") != lan_print:
            if "lan" in self.state.seeded:
                log.warning("%s: [lan] or address changed in %s; LAN parameters reset",
                            self.name, self.config.source)
            self.state.lan = {}
            self.state.seeded["lan"] = lan_print
        if "power" not in self.state.seeded:
            self.state.power_on = self.config.power.initial_state == "on"
            self.state.restore_policy = {"always-off": 0, "previous": 1, "always-on": 2}[
                self.config.power.restore_policy]
            self.state.seeded["power"] = "1"

    def _users_from_config(self) -> dict[int, UserRecord]:
        users = {uid: UserRecord(user_id=uid) for uid in range(1, MAX_USER_ID + 1)}
        for user in self.config.users:
            record = users[user.user_id]
            record.name = user.name.encode()
            record.password = user.password.encode()
            record.enabled = user.enabled
            record.access[LAN_CHANNEL] = UserAccess(
                privilege=int(user.privilege), ipmi_messaging=True, link_auth=True,
                callback_only=False)
        return users

    def save(self) -> None:
        """Persist the state now; called by every handler that changes something."""
        try:
            self.store.save(self.state)
        except OSError as err:
            log.error("%s: cannot save state in %s: %s", self.name, self.store.state_dir, err)

    # ----------------------------------------------------------------- identity
    @property
    def guid(self) -> bytes:
        """The System GUID as it goes on the wire (IPMI order: least significant byte first)."""
        return self.config.guid.bytes[::-1]

    # ----------------------------------------------------------------- users
    def find_user(self, name: bytes) -> UserRecord | None:
        """The enabled user with this name (RAKP and Activate Session look users up by name)."""
        for uid in sorted(self.state.users):
            user = self.state.users[uid]
            if user.name == name and user.enabled:
                return user
        return None

    def user_privilege_limit(self, user: UserRecord, channel: int = LAN_CHANNEL) -> Privilege:
        """The highest privilege this user may hold on the channel (NO_ACCESS -> NONE)."""
        access = user.access.get(channel)
        if access is None or not access.ipmi_messaging or access.privilege > 5:
            return Privilege.NONE
        limit = min(access.privilege, self.channel_privilege_limit(channel))
        return Privilege(limit) if limit >= 1 else Privilege.NONE

    def channel_privilege_limit(self, channel: int = LAN_CHANNEL) -> Privilege:
        limit = self.state.channel(channel, volatile=True).privilege_limit
        return Privilege(min(max(limit, 1), 5))

    # ----------------------------------------------------------------- LAN security settings
    def cipher_suites(self) -> tuple[int, ...]:
        return self.config.security.cipher_suites

    def cipher_suite_max_privilege(self, suite: int) -> Privilege:
        """Per-suite privilege ceiling (LAN parameter 24, one nibble per parameter-23 entry)."""
        suites = self.cipher_suites()
        if suite not in suites:
            return Privilege.NONE
        index = suites.index(suite)
        levels = self.state.lan.get("24")
        if levels is None or len(levels) < 9 or index >= 16:
            return Privilege.ADMINISTRATOR
        nibble = (levels[1 + index // 2] >> (4 * (index % 2))) & 0x0F
        return Privilege(nibble) if 1 <= nibble <= 5 else Privilege.NONE

    def auth_types_enabled(self, privilege: Privilege) -> int:
        """IPMI 1.5 auth type bit mask for a privilege (LAN parameter 2), bit n = type n."""
        enables = self.state.lan.get("2")
        if enables is not None and len(enables) == 5 and 1 <= privilege <= 5:
            return enables[privilege - 1] & 0x37
        mask = 0
        for name in self.config.security.auth_types:
            mask |= {"none": 0x01, "md2": 0x02, "md5": 0x04, "password": 0x10}[name]
        return mask

    # ----------------------------------------------------------------- commands
    def context(self, channel: int, privilege: Privilege, session=None,
                now: float | None = None) -> Context:
        return Context(bmc=self, channel=channel, privilege=privilege, session=session,
                       now=time.monotonic() if now is None else now)

    def execute(self, ctx: Context, netfn: int, cmd: int, data: bytes) -> bytes:
        """Run one request; returns completion code + data."""
        return self.dispatcher.dispatch(ctx, netfn, cmd, data)

    def execute_in_band(self, netfn: int, cmd: int, data: bytes) -> bytes:
        """The guest's system interface: channel 15, no session, administrator."""
        ctx = self.context(SYSTEM_INTERFACE_CHANNEL, Privilege.ADMINISTRATOR)
        return self.execute(ctx, netfn, cmd, data)

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Attach to (or start) the machine; called once the BMC's socket is bound."""
        await self._start_in_band()
        await self.power.start()
        await self.sol.start()
        log.info("%s: started; power is %s", self.name, "on" if self.power.is_on() else "off")

    async def stop(self, leave_vm_running: bool = True) -> None:
        """Let go of the machine. A BMC going away does not power off its host by default."""
        await self.sol.stop()
        await self.power.stop(leave_running=leave_vm_running)
        if self.in_band is not None:
            await self.in_band.stop()
        self.save()

    async def _start_in_band(self) -> None:
        """Listen for the guest's in-band IPMI link: QEMU launched by pybmc connects to a unix
        socket in the run directory; a VM started by the user connects to [in_band] listen."""
        from pybmc.edge.inband import InBandServer

        listen = self.config.in_band.listen
        qemu_paths = getattr(self.power, "paths", None)
        if listen.startswith("unix:"):
            server = InBandServer(self, listen[5:])
        elif listen.startswith("tcp:"):
            host, _, port = listen[4:].rpartition(":")
            server = InBandServer(self, host=host.strip("[]"), port=int(port))
        elif self.config.power.backend == "qemu" and self.config.qemu.in_band and qemu_paths:
            server = InBandServer(self, qemu_paths.in_band)
        else:
            return
        await server.start()
        self.in_band = server
        if hasattr(self.power, "in_band_path") and server.path is not None:
            self.power.in_band_path = str(server.path)  # type: ignore[attr-defined]
        attach_vm_link = getattr(self.power, "attach_vm_link", None)
        if attach_vm_link is not None:  # the command backend: reset, NMI, button over the link
            attach_vm_link(server)
        log.info("%s: in-band IPMI listening on %s", self.name, server.address)

    def get_timer(self) -> float | None:
        """The next moment handle_timer must run (sessions and SOL retransmits)."""
        timers = [t for t in (self.sessions.get_timer(), self.sol.get_timer()) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        self.sessions.handle_timer(now)
        self.sol.handle_timer(now)

    def tick(self, now: float) -> None:
        """Advance time-driven state (sensors, watchdog) once a second."""
        for part in (self.platform, getattr(self, "watchdog", None)):
            tick = getattr(part, "tick", None)
            if tick is not None:
                tick(now)

    # ----------------------------------------------------------------- power
    def _make_power(self) -> PowerBackend:
        backend = self.config.power.backend
        if backend == "simulated":
            from pybmc.edge.power.simulated import SimulatedPower

            return SimulatedPower(self.name, self._initial_power(),
                                  self.config.power.soft_off_delay,
                                  self.config.power.cycle_interval)
        if backend == "qemu":
            from pybmc.edge.power.qemu import QemuPower

            return QemuPower.from_bmc_config(self.config, self._initial_power())
        if backend == "command":
            from pybmc.edge.power.command import CommandPower

            return CommandPower.from_bmc_config(self.config, self._initial_power())
        raise NotImplementedError(f"power backend {backend!r} is not available yet")

    def _initial_power(self) -> bool:
        """A simulated machine comes back as the restore policy says, like a real one."""
        policy = self.state.restore_policy
        if policy == 0:
            return False
        if policy == 2:
            return True
        return self.state.power_on

    def _on_power_event(self, event: PowerEvent) -> BootChoice | None:
        self.platform.on_power_event(event)
        boot.record_power_event(self, event)  # restart cause, POH; before take_boot_device
        if event.kind == "boot":  # a reset stops the watchdog and empties the host's queues
            from pybmc.commands.watchdog import host_reset

            host_reset(self)
        if event.kind in ("on", "off"):
            log.info("%s: power %s (%s)", self.name, event.kind, event.cause)
            self.state.power_on = event.kind == "on"
            self.save()
            return None
        if event.kind == "boot":
            choice = boot.take_boot_device(self)
            log.info("%s: boot (%s) from %s%s", self.name, event.cause, choice.device,
                     " (EFI)" if choice.efi else "")
            return choice
        return None
