"""One emulated BMC: builds its model, sessions and SOL, runs requests, and owns its timer.

The Bmc wires the parts and is the only place that sees all of them: handlers get a Context
with the typed parts they use (`BmcParts`), the session layer gets the callables it needs, and
power events from the backend become model changes here. Persisted state is saved once after
each request that changed it, before the reply goes out, and after each power event.

Nothing here does I/O but the state file: the power backend and the guest console are given
to it by the edge (pybmc.edge.assembly), which also runs the BMC's life cycle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pybmc.commands import all_tables
from pybmc.commands.dispatch import BmcParts, Context, Dispatcher
from pybmc.config.bmc import BmcConfig
from pybmc.core.sol import GuestConsole, NoConsole, SolManager
from pybmc.model import boot
from pybmc.model.chassis import ChassisRuntime
from pybmc.model.lan import Lan
from pybmc.model.platform import Platform
from pybmc.model.power import BootChoice, PowerBackend, PowerEvent
from pybmc.model.state import Changes, State, StateStore, fingerprint
from pybmc.model.system_interface import SystemInterface
from pybmc.model.users import Users, users_from_config
from pybmc.model.watchdog import Watchdog
from pybmc.protocol.rmcp.session import SessionManager
from pybmc.wire.codes import SYSTEM_INTERFACE_CHANNEL, PayloadType, Privilege

log = logging.getLogger("pybmc.bmc")

# Makes the power backend once the saved state says whether the machine starts on.
PowerFactory = Callable[[BmcConfig, bool], PowerBackend]

_DISPATCHER: Dispatcher | None = None


def shared_dispatcher() -> Dispatcher:
    """The command tables are the same for every BMC; build the lookup once per process."""
    global _DISPATCHER
    if _DISPATCHER is None:
        _DISPATCHER = Dispatcher(*all_tables())
    return _DISPATCHER


def simulated_power(config: BmcConfig, initially_on: bool) -> PowerBackend:
    """The default backend: a machine that exists only in the BMC."""
    from pybmc.edge.power.simulated import SimulatedPower

    return SimulatedPower(config.name, initially_on, config.power.soft_off_delay,
                          config.power.cycle_interval)


class Bmc:
    def __init__(self, config: BmcConfig, power: PowerBackend | None = None,
                 reset_state: bool = False, *, power_factory: PowerFactory | None = None,
                 console: GuestConsole | None = None) -> None:
        self.config = config
        self.name = config.name
        self.started_at = time.monotonic()
        self.store = StateStore(config.state_dir)
        if reset_state:
            self.store.reset()
        self.state = self.store.load() or State()
        self.changes = Changes()
        self._seed_from_config()
        self.users = Users(self.state)
        self.lan = Lan(config, self.state)
        self.chassis = ChassisRuntime()
        self.power: PowerBackend = (power if power is not None
                                    else (power_factory or simulated_power)(
                                        config, self._initial_power()))
        self.platform = Platform(config, self.state, self.power.is_on, self.changes)
        self.system_interface = SystemInterface(self.name, self.state)
        self.watchdog = Watchdog(self.name, self.power, self.system_interface,
                                 self.platform.add_event)
        self.dispatcher = shared_dispatcher()
        self.sessions = SessionManager(self)
        self.sol = SolManager(self.name, self.sessions, console or NoConsole())
        self.sessions.payload_handlers[PayloadType.SOL] = self.sol.receive_packet
        self.parts = BmcParts(
            name=self.name, config=config, guid=self.guid, state=self.state,
            changes=self.changes, users=self.users, lan=self.lan, chassis=self.chassis,
            platform=self.platform, power=self.power, watchdog=self.watchdog,
            system_interface=self.system_interface, sessions=self.sessions, sol=self.sol,
            execute=self._execute_on)
        self.power.set_listener(self._on_power_event)
        self.save()

    # ----------------------------------------------------------------- state and config
    def _seed_from_config(self) -> None:
        users_print = fingerprint([vars(u) for u in self.config.users])
        if self.state.seeded.get("users") != users_print:
            if "users" in self.state.seeded:
                log.warning("%s: [[users]] changed in %s; users reset to the config",
                            self.name, self.config.source)
            self.state.users = users_from_config(self.config.users)
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

    def save(self) -> None:
        """Persist the state now."""
        self.changes.take()
        try:
            self.store.save(self.state)
        except OSError as err:
            log.error("%s: cannot save state in %s: %s", self.name, self.store.state_dir, err)

    def save_if_changed(self) -> None:
        if self.changes.pending:
            self.save()

    # ----------------------------------------------------------------- identity
    @property
    def guid(self) -> bytes:
        """The System GUID as it goes on the wire (IPMI order: least significant byte first)."""
        return self.config.guid.bytes[::-1]

    # ----------------------------------------------------------------- commands
    def context(self, channel: int, privilege: Privilege, session=None,
                now: float | None = None, lun: int = 0) -> Context:
        return Context(self.parts, channel, privilege, session,
                       time.monotonic() if now is None else now, lun)

    def execute(self, ctx: Context, netfn: int, cmd: int, data: bytes) -> bytes:
        """Run one request; returns completion code + data. What it changed is saved first."""
        reply = self.dispatcher.dispatch(ctx, netfn, cmd, data)
        if self.changes.pending:
            self.save()
        return reply

    def _execute_on(self, channel: int, privilege: Privilege, now: float, netfn: int, cmd: int,
                    data: bytes) -> bytes:
        return self.dispatcher.dispatch(Context(self.parts, channel, privilege, None, now),
                                        netfn, cmd, data)

    def execute_in_band(self, netfn: int, cmd: int, data: bytes,
                        now: float | None = None) -> bytes:
        """The guest's system interface: channel 15, no session, administrator."""
        ctx = self.context(SYSTEM_INTERFACE_CHANNEL, Privilege.ADMINISTRATOR, now=now)
        return self.execute(ctx, netfn, cmd, data)

    # ----------------------------------------------------------------- time
    def get_timer(self) -> float | None:
        """The next moment handle_timer must run (sessions and SOL retransmits)."""
        timers = [t for t in (self.sessions.get_timer(), self.sol.get_timer()) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        self.sessions.handle_timer(now)
        self.sol.handle_timer(now)
        self.save_if_changed()

    def tick(self, now: float) -> None:
        """Advance time-driven state (sensors, watchdog) once a second."""
        self.platform.tick(now)
        self.watchdog.tick(now)
        self.save_if_changed()

    # ----------------------------------------------------------------- power
    def _initial_power(self) -> bool:
        """A simulated machine comes back as the restore policy says, like a real one."""
        policy = self.state.restore_policy
        if policy == 0:
            return False
        if policy == 2:
            return True
        return self.state.power_on

    def host_reset(self) -> None:
        """The host was reset or powered on: the watchdog stops and the system interface
        forgets what waited for the previous OS (every "boot" event, and QEMU's notice)."""
        self.watchdog.host_reset()
        self.system_interface.host_reset()

    def _on_power_event(self, event: PowerEvent) -> BootChoice | None:
        self.platform.on_power_event(event)
        boot.record_power_event(self.state, event, time.time())  # before take_boot_device
        choice: BootChoice | None = None
        if event.kind == "boot":  # a reset stops the watchdog and empties the host's queues
            self.host_reset()
        if event.kind in ("on", "off"):
            log.info("%s: power %s (%s)", self.name, event.kind, event.cause)
            self.state.power_on = event.kind == "on"
        elif event.kind == "boot":
            choice = boot.take_boot_device(self.state, self.name)
            log.info("%s: boot (%s) from %s%s", self.name, event.cause, choice.device,
                     " (EFI)" if choice.efi else "")
        self.save()
        return choice
