"""One emulated BMC: builds its model, sessions and SOL, runs requests, and owns its timer.

The Bmc wires the parts and is the only place that sees all of them: handlers get a Context
with the typed parts they use (`BmcParts`), the session layer gets the callables it needs, and
power events from the backend become model changes here. Persisted state is saved once after
each request that changed it, before the reply goes out, and after each power event.

Nothing here does I/O but the state file: the power backend and the guest console are given
to it by the edge (pybmc.edge.assembly), which also runs the BMC's life cycle.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable

from pybmc.commands import all_tables
from pybmc.commands.dispatch import BmcParts, Context, Dispatcher
from pybmc.config.bmc import BmcConfig, UserConfig
from pybmc.core.sol import GuestConsole, NoConsole, SolManager
from pybmc.model import bios, boot, controller_reset
from pybmc.model.alerts import AlertDatagram, alert_datagrams
from pybmc.model.chassis import ChassisRuntime
from pybmc.model.dcmi import Dcmi
from pybmc.model.inventory import firmware_is_uefi
from pybmc.model.lan import CIPHER_PRIVILEGES_PARAMETER, Lan
from pybmc.model.lockout import Lockout
from pybmc.model.pet import PetEvent, PetSource
from pybmc.model.platform import Platform
from pybmc.model.platform.pef_filter import AlertRequest
from pybmc.model.power import BootChoice, PowerAction, PowerBackend, PowerError, PowerEvent
from pybmc.model.simulated_power import SimulatedPower
from pybmc.model.state import ACCESS_DISABLED, Changes, State, StateStore, fingerprint
from pybmc.model.system_interface import SystemInterface
from pybmc.model.users import Users, users_from_config
from pybmc.model.watchdog import Watchdog
from pybmc.protocol.rmcp.events import (
    PayloadReceived,
    SessionClosed,
    SessionEvent,
    SessionOpened,
)
from pybmc.protocol.rmcp.host import LoginRequests, RandomSource, SessionHost
from pybmc.protocol.rmcp.packet import is_rmcp
from pybmc.protocol.rmcp.session import SessionManager
from pybmc.protocol.rmcp.session_record import Address, Session
from pybmc.wire.codes import LAN_CHANNEL, SYSTEM_INTERFACE_CHANNEL, PayloadType, Privilege
from pybmc.wire.message import Request

log = logging.getLogger("pybmc.bmc")

# Makes the power backend once the saved state says whether the machine starts on.
PowerFactory = Callable[[BmcConfig, bool], PowerBackend]
Clock = Callable[[], float]

SENSOR_INTERVAL = 1.0  # sensors follow power and the clock once a second
PEF_ROUNDS = 4  # events caused by PEF actions, caused by events ...: bounded
PEF_ALERT_QUEUE = 64  # alerts waiting for the edge to send them

_DISPATCHER: Dispatcher | None = None
_COMMAND_KEYS: frozenset[tuple[int, int]] | None = None


def shared_dispatcher() -> Dispatcher:
    """The command tables are the same for every BMC; build the lookup once per process."""
    global _DISPATCHER
    if _DISPATCHER is None:
        _DISPATCHER = Dispatcher(*all_tables())
    return _DISPATCHER


def shared_command_keys(dispatcher: Dispatcher) -> frozenset[tuple[int, int]]:
    """The (netfn, cmd) set of the shared dispatcher, built once: a copy per BMC costs
    ~8 KB each, a tenth of what a BMC costs in a 1000-BMC process."""
    global _COMMAND_KEYS
    if dispatcher is not _DISPATCHER:
        return frozenset(dispatcher.commands)
    if _COMMAND_KEYS is None:
        _COMMAND_KEYS = frozenset(dispatcher.commands)
    return _COMMAND_KEYS


@functools.lru_cache(maxsize=256)
def _users_fingerprint(users: tuple[UserConfig, ...]) -> str:
    """[[users]]'s fingerprint; once per distinct (shared, frozen) users tuple."""
    return fingerprint([vars(u) for u in users])


@functools.lru_cache(maxsize=256)
def _suites_fingerprint(suites: tuple[int, ...]) -> str:
    return fingerprint(["by-id", *suites])


def simulated_power(config: BmcConfig, initially_on: bool,
                    clock: Clock = time.monotonic) -> PowerBackend:
    """The default backend: a machine that exists only in the BMC."""
    return SimulatedPower(config.name, initially_on, config.power.soft_off_delay,
                          config.power.cycle_interval, clock=clock)


class Bmc:
    """One BMC: its model parts, session layer and SOL, and the one timer they share.

    `clock` and `random` are what the BMC reads time and randomness from (a fake clock and a
    seeded source in tests); the edge passes `now` with every datagram and timer call.
    """

    def __init__(self, config: BmcConfig, power: PowerBackend | None = None,
                 reset_state: bool = False, *, power_factory: PowerFactory | None = None,
                 console: GuestConsole | None = None, clock: Clock = time.monotonic,
                 random: RandomSource = os.urandom, begin: bool = True) -> None:
        self.config = config
        self.name = config.name
        self.clock = clock
        self.started_at = clock()
        self.store = StateStore(config.state_dir)
        # --reset-state starts from the config; the old file is replaced at the first save,
        # so a start that fails before begin() leaves it as it was.
        self.state = (None if reset_state else self.store.load()) or State()
        self.changes = Changes()
        self._seed_from_config()
        # A BMC start is a controller reset: the active channel access is the stored one.
        if controller_reset.load_volatile_access(self.state):
            log.info("%s: volatile LAN channel access loaded from its non-volatile copy",
                     self.name)
        if self.state.channel(LAN_CHANNEL, volatile=True).access_mode == ACCESS_DISABLED:
            log.warning("%s: IPMI over LAN is disabled (LAN channel access mode, "
                        "non-volatile); in-band and Redfish still answer", self.name)
        weak = config.security.weak_options()
        if weak:
            log.warning("%s: weak login options on, as %s asks: %s", self.name,
                        config.source, "; ".join(weak))
        self.users = Users(self.state)
        self.lan = Lan(config, self.state)
        self.chassis = ChassisRuntime()
        if power is None:
            power = (power_factory(config, self._initial_power()) if power_factory is not None
                     else simulated_power(config, self._initial_power(), clock))
        self.power: PowerBackend = power
        self.platform = Platform(config, self.state, self.power.is_on, self.changes,
                                 clock=self.clock)
        self.system_interface = SystemInterface(self.name, self.state)
        self.watchdog = Watchdog(self.name, self.power, self.system_interface,
                                 self.platform.add_event)
        # LAN parameter 26 is the only bad-password policy: every channel with logins uses it.
        self.lockout = Lockout(self.name, self.users,
                               lambda _channel: self.lan.bad_password_policy(),
                               self.platform.add_event)
        self.dispatcher = shared_dispatcher()
        self.sessions = SessionManager(SessionHost(
            name=self.name, guid=self.guid, security=config.security, accounts=self.users,
            channel=self.lan, execute=self._execute_for_session, random=random,
            guard=self.lockout), payload_types=(PayloadType.SOL,))
        self.sol = SolManager(self.name, self.sessions, console or NoConsole())
        self.dcmi = Dcmi(self.name, self.state, self.changes, self.platform, self.power)
        self._next_sensor_update = 0.0
        self._unsaved = False  # begin(defer_writes=True) left the state file to write
        self._alerts: list[AlertDatagram] = []  # PET traps for the edge to send
        self._alert_sequence = 0
        self.parts = BmcParts(
            name=self.name, config=config, guid=self.guid, state=self.state,
            changes=self.changes, users=self.users, lan=self.lan, chassis=self.chassis,
            platform=self.platform, power=self.power, watchdog=self.watchdog,
            system_interface=self.system_interface, sessions=self.sessions, sol=self.sol,
            dcmi=self.dcmi, execute=self._execute_on, lockout=self.lockout,
            commands=shared_command_keys(self.dispatcher))
        self.power.set_listener(self._on_power_event)
        if begin:
            self.begin()

    def begin(self, defer_writes: bool = False) -> None:
        """The BMC's first writes: the start event in its SEL and the seeded state. The edge
        calls it once the BMC's socket is bound and its state_dir locked (`begin=False`), so
        a start that fails writes nothing. `defer_writes`: the files are written by
        `write_deferred()` (a serve starting many BMCs answers on all of them first); a
        request changing anything meanwhile saves the state first, as always."""
        # A kill -9 mid-save leaves a full copy of the state, passwords included; removed
        # only now, under the state_dir lock, where no other process is saving.
        self.store.remove_orphans()
        self.platform.log_start(defer_write=defer_writes)
        if defer_writes:
            self._unsaved = True
        else:
            self.save()

    def write_deferred(self, durable: bool = True) -> None:
        """Write what `begin(defer_writes=True)` left to write (nothing if already written).
        `durable=False`: files that did not exist are written without fsync (lost in a crash,
        they are made the same way at the next start: the state seeded from the config, the
        start event); a state file that holds the state already is not written again."""
        sel = self.platform.sel
        sel.write_unsaved(durable or sel.found or sel.path.exists())
        if self._unsaved:
            self.save(durable or self.store.found or self.store.path.exists(),
                      unless_loaded=True)

    # ----------------------------------------------------------------- state and config
    def _seed_from_config(self) -> None:
        users_print = _users_fingerprint(self.config.users)
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
        # Parameter 24 holds one privilege nibble per suite ID 0-15: when the enabled suites
        # change, the stored levels (Administrator for the enabled, "unused" for the others)
        # are made again. ("by-id": levels stored when nibbles followed the enabled list are
        # reset once too.)
        suites_print = _suites_fingerprint(self.config.security.cipher_suites)
        if self.state.seeded.get("cipher_suites") != suites_print:
            if self.state.lan.pop(CIPHER_PRIVILEGES_PARAMETER, None) is not None:
                log.warning("%s: cipher suite privilege levels (LAN parameter 24) reset: "
                            "they were set for another [security] cipher_suites than %s's",
                            self.name, self.config.source)
            self.state.seeded["cipher_suites"] = suites_print
        if "power" not in self.state.seeded:
            self.state.power_on = self.config.power.initial_state == "on"
            self.state.restore_policy = {"always-off": 0, "previous": 1, "always-on": 2}[
                self.config.power.restore_policy]
            self.state.seeded["power"] = "1"

    def save(self, durable: bool = True, unless_loaded: bool = False) -> None:
        """Persist the state now (`durable`, `unless_loaded`: StateStore.save)."""
        self.changes.take()
        self._unsaved = False
        try:
            self.store.save(self.state, durable, unless_loaded)
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
                       self.clock() if now is None else now, lun)

    def execute(self, ctx: Context, netfn: int, cmd: int, data: bytes) -> bytes:
        """Run one request; returns completion code + data. What it changed is saved first."""
        reply = self.dispatcher.dispatch(ctx, netfn, cmd, data)
        if self.changes.pending:
            self.save()
        self.run_pef_actions()  # after the request: the event may have come from inside it
        return reply

    def _execute_for_session(self, req: Request, privilege: Privilege, session: Session | None,
                             now: float, login: LoginRequests | None) -> bytes:
        """The session layer's way in: one request on the LAN channel."""
        ctx = Context(self.parts, LAN_CHANNEL, privilege, session, now, req.rs_lun, login)
        return self.execute(ctx, req.netfn, req.cmd, req.data)

    def _execute_on(self, channel: int, privilege: Privilege, now: float, netfn: int, cmd: int,
                    data: bytes) -> bytes:
        return self.dispatcher.dispatch(Context(self.parts, channel, privilege, None, now),
                                        netfn, cmd, data)

    def execute_in_band(self, netfn: int, cmd: int, data: bytes,
                        now: float | None = None) -> bytes:
        """The guest's system interface: channel 15, no session, administrator."""
        ctx = self.context(SYSTEM_INTERFACE_CHANNEL, Privilege.ADMINISTRATOR, now=now)
        return self.execute(ctx, netfn, cmd, data)

    # ----------------------------------------------------------------- datagrams
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """One datagram from the LAN; what it caused waits in datagrams_to_send()."""
        self.lan.statistics.count_received(valid_rmcp=is_rmcp(data))
        self.sessions.receive_datagram(data, addr, now)
        self._process_session_events()
        self.sol.flush()  # SOL output it released goes after the reply, never before
        self.save_if_changed()

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        out = self.sessions.datagrams_to_send()
        for _ in out:
            self.lan.statistics.count_transmitted()
        return out

    def _process_session_events(self) -> None:
        for event in self.sessions.events_to_process():
            handler = _EVENT_HANDLERS[type(event)]
            if handler is not None:
                handler(self, event)

    def _on_session_closed(self, event: SessionClosed) -> None:
        self.sol.on_session_closed(event.session)  # SOL ends with its session, at once

    def _on_payload(self, event: PayloadReceived) -> None:
        self.sol.receive_packet(event.session, event.payload, event.now)

    def close_sessions(self, reason: str) -> None:
        """End every session (and the SOL riding on one) now: the BMC is going away."""
        self.sessions.close_all(reason)
        self._process_session_events()

    # ----------------------------------------------------------------- time
    def get_timer(self) -> float | None:
        """The next moment handle_timer must run: the earliest deadline of sessions, SOL
        retransmits, the watchdog, the power backend and the sensor updates."""
        timers = [t for t in (self.sessions.get_timer(), self.sol.get_timer(),
                              self.watchdog.get_timer(), self.power.get_timer(),
                              self._next_sensor_update) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        """Carry out whatever is due at `now` (each part ignores a call with nothing due)."""
        self.sessions.handle_timer(now)
        self._process_session_events()
        self.sol.handle_timer(now)
        self.power.handle_timer(now)
        self.watchdog.tick(now)
        if now >= self._next_sensor_update:
            self.platform.tick(now)
            self.dcmi.tick(now)
            self._next_sensor_update = now + SENSOR_INTERVAL
        self.run_pef_actions()
        self.save_if_changed()

    # ----------------------------------------------------------------- PEF
    def run_pef_actions(self) -> None:
        """Carry out what PEF decided since the last call (pybmc.model.platform.pef_filter).

        Called after each request and timer, never from inside a power event: PEF's power
        action goes to the backend with cause "PEF", so the restart cause reads PEF."""
        # An action's own power event may match again (Power Unit "power off" -> power
        # off): run those now, while the machine is in the state the action left it in.
        for _ in range(PEF_ROUNDS):
            power, alerts = self.platform.pef_engine.pending.take()
            if not power and not alerts:
                break
            for alert in alerts:
                self._queue_alert(alert)
            del self._alerts[:-PEF_ALERT_QUEUE]  # bounded, whether or not the edge sends
            for action in power:
                self._pef_power(action)

    def _queue_alert(self, alert: AlertRequest) -> None:
        if self.state.channel(LAN_CHANNEL, True).alerting_disabled:
            log.info("%s: PEF alert not sent: alerting is disabled on the LAN channel",
                     self.name)
            return
        record = alert.record
        sensor = self.platform.by_number.get(record[11])
        self._alert_sequence = (self._alert_sequence + 1) & 0xFFFF
        event = PetEvent(record, alert.severity,
                         sensor.spec.entity if sensor is not None else 0,
                         sensor.spec.entity_instance if sensor is not None else 0,
                         self._alert_sequence)
        identity = self.config.identity
        source = PetSource(self.config.guid.bytes, self.lan.address().ip,
                           identity.manufacturer_id, identity.product_id)
        self._alerts += alert_datagrams(alert, self.platform.pef, self.lan, source, event,
                                        self.clock() - self.started_at,
                                        self.config.lan_settings.alert_port)

    def alerts_to_send(self) -> list[AlertDatagram]:
        """The LAN alerts (PET traps) queued since the last call, for the edge to send."""
        out, self._alerts = self._alerts, []
        return out

    def _pef_power(self, action: PowerAction) -> None:
        if not self.power.is_on():  # nothing to stop, reset or interrupt
            log.info("%s: PEF %s skipped: the machine is off", self.name, action.name.lower())
            return
        log.warning("%s: PEF action: %s", self.name, action.name.lower())
        try:
            self.power.request(action, cause="PEF")
        except PowerError as err:
            log.warning("%s: PEF %s not carried out: %s", self.name, action.name.lower(), err)
        except Exception:
            log.exception("%s: PEF %s failed", self.name, action.name.lower())

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
            # Pending BIOS settings (Redfish Bios/Settings) take effect at each boot.
            if bios.apply_at_boot(self.state, firmware_is_uefi(self.config), time.time()):
                log.info("%s: BIOS settings applied at boot", self.name)
            log.info("%s: boot (%s) from %s%s", self.name, event.cause, choice.device,
                     " (EFI)" if choice.efi else "")
        self.save()
        return choice


# What each session event does: one table for every BMC (a dict of bound methods per BMC
# cost ~0.4 KB each).
_EVENT_HANDLERS: dict[type, Callable[[Bmc, SessionEvent], None] | None] = {
    SessionOpened: None,
    SessionClosed: Bmc._on_session_closed,  # type: ignore[dict-item]
    PayloadReceived: Bmc._on_payload,  # type: ignore[dict-item]
}
