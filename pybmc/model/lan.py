"""One BMC's LAN channel: its parameters, the set-in-progress locks, statistics and address.

Values live in `pybmc.model.lan_params` tables over the persisted State; what a real BMC
keeps in memory only lives here: parameter 0 of both families ("set in progress") is a lock,
not a setting, so a client that dies while holding it cannot wedge the BMC across a restart.
`on_address_change` is where the edge learns that a client moved the BMC to a new address.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from pybmc.config.bmc import BmcConfig
from pybmc.model.lan_params import (
    ADDRESS_PARAMETERS,
    CC_SET_IN_PROGRESS_HELD,
    COMMIT_WRITE,
    IP_SOURCES,
    LAN_PARAMETERS,
    LISTED_CIPHER_SUITES,
    MAX_CIPHER_SUITE_ENTRIES,
    SET_COMPLETE,
    SET_IN_PROGRESS,
    SET_IN_PROGRESS_TIMEOUT,
    SOL_BIT_RATES,
    SOL_PARAMETERS,
    ParameterError,
    ParameterFamily,
    SetLock,
    auth_type_support,
    mac_text,
)
from pybmc.model.lockout import LockoutPolicy, config_policy
from pybmc.model.state import ACCESS_ALWAYS_AVAILABLE, ACCESS_DISABLED, State
from pybmc.wire.codes import LAN_CHANNEL, Cc, Privilege

log = logging.getLogger("pybmc.lan")

# LAN parameter 2: one byte of auth type bits per privilege level, callback (1) to OEM (5).
AUTH_ENABLES_PARAMETER = "2"
# LAN parameter 24: byte 0 reserved, then one nibble per parameter-23 entry (= suite ID).
CIPHER_PRIVILEGES_PARAMETER = "24"
# LAN parameter 26: the bad-password lockout policy (pybmc.model.lockout).
BAD_PASSWORD_PARAMETER = "26"


@dataclass
class LanStatistics:
    """Get IP/UDP/RMCP Statistics counters, in response order; 16 bits, held at 0xFFFF."""

    ip_packets_received: int = 0
    ip_header_errors: int = 0
    ip_address_errors: int = 0
    ip_fragments_received: int = 0
    ip_packets_transmitted: int = 0
    udp_packets_received: int = 0
    rmcp_packets_received: int = 0
    udp_proxy_packets_received: int = 0
    udp_proxy_packets_dropped: int = 0

    def count_received(self, valid_rmcp: bool) -> None:
        """One UDP datagram arrived on the BMC's address."""
        self.ip_packets_received = _bump(self.ip_packets_received)
        self.udp_packets_received = _bump(self.udp_packets_received)
        if valid_rmcp:
            self.rmcp_packets_received = _bump(self.rmcp_packets_received)

    def count_transmitted(self) -> None:
        self.ip_packets_transmitted = _bump(self.ip_packets_transmitted)

    def encode(self) -> bytes:
        return b"".join(getattr(self, f.name).to_bytes(2, "little") for f in fields(self))

    def clear(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)


def _bump(value: int) -> int:
    return min(value + 1, 0xFFFF)


class LanAddress(NamedTuple):
    ip: str
    netmask: str
    gateway: str
    source: str  # unspecified | static | dhcp | bios | other


AddressListener = Callable[[LanAddress], None]


@dataclass(frozen=True)
class SolSettings:
    """SOL configuration parameters 1-8, decoded, for the SOL payload code."""

    enabled: bool
    force_encryption: bool
    force_authentication: bool
    privilege: Privilege
    accumulate_interval_ms: int
    send_threshold: int
    retry_count: int
    retry_interval_ms: int
    non_volatile_bit_rate: int  # bits/s; 0 = the serial port's own setting
    volatile_bit_rate: int
    payload_channel: int
    payload_port: int


@dataclass
class _Memory:
    locks: dict[str, SetLock] = field(default_factory=dict)  # "LAN" / "SOL"
    address_listeners: list[AddressListener] = field(default_factory=list)


KG_STATE_KEY = "channel_key_kg"


class Lan:
    """The LAN channel of one BMC: parameters over `state`, defaults from `config`."""

    def __init__(self, config: BmcConfig, state: State) -> None:
        self.config = config
        self.name = config.name
        self.state = state
        self.statistics = LanStatistics()
        self.arp_suspended = 0  # Suspend BMC ARPs bits: 1 gratuitous, 2 responses
        self._memory = _Memory()

    # ------------------------------------------------------------------ parameters
    def get(self, family: ParameterFamily, number: int, selector: int = 0,
            block: int = 0) -> bytes:
        return family.get(self, number, selector, block)

    def set(self, family: ParameterFamily, number: int, data: bytes) -> None:
        family.set(self, number, data)

    def set_lock(self, family: ParameterFamily, now: float) -> SetLock:
        """The family's lock, released first if its holder abandoned it long ago."""
        lock = self._memory.locks.setdefault(family.name, SetLock())
        if lock.state != SET_COMPLETE and now - lock.since > SET_IN_PROGRESS_TIMEOUT:
            log.info("%s: %s set-in-progress held %.0f s; released", self.name, family.name,
                     now - lock.since)
            self._finish_set(family, lock)
        return lock

    def write_set_in_progress(self, family: ParameterFamily, data: bytes, now: float) -> None:
        """Set parameter 0. Values apply when written, so "commit" and "complete" only notify."""
        if len(data) != 1:
            raise ParameterError(Cc.REQUEST_DATA_LENGTH_INVALID, "set in progress takes 1 byte")
        value = data[0]
        if value & 0xFC or value == 3:
            raise ParameterError(Cc.INVALID_DATA_FIELD, f"set in progress value {value:#04x}")
        lock = self.set_lock(family, now)
        if value == SET_IN_PROGRESS:
            if lock.state == SET_IN_PROGRESS:
                raise ParameterError(CC_SET_IN_PROGRESS_HELD,
                                     f"{family.name} set in progress is already held")
            lock.state, lock.since = SET_IN_PROGRESS, now
        elif value == COMMIT_WRITE:
            self._notify_changes(family, lock)
        else:
            self._finish_set(family, lock)

    def note_parameter_set(self, family: ParameterFamily, number: int, now: float) -> None:
        """After a successful Set: tell listeners now, or when the client's lock is released."""
        lock = self.set_lock(family, now)
        lock.changed.add(number)
        if lock.state == SET_COMPLETE:
            self._notify_changes(family, lock)

    def set_parameters(self, family: ParameterFamily, values: dict[int, bytes],
                       now: float) -> None:
        """Set several parameters as one change (a Redfish PATCH): each as Set LAN
        Configuration Parameters sets it, in the given order; listeners hear once, after
        the last, or when a client holding the set-in-progress lock releases it."""
        lock = self.set_lock(family, now)
        for number, data in values.items():
            family.set(self, number, data)
            log.info("%s: %s parameter %d set to %s", self.name, family.name, number,
                     data.hex())
            lock.changed.add(number)
        if lock.state == SET_COMPLETE:
            self._notify_changes(family, lock)

    def _finish_set(self, family: ParameterFamily, lock: SetLock) -> None:
        lock.state = SET_COMPLETE
        self._notify_changes(family, lock)

    def _notify_changes(self, family: ParameterFamily, lock: SetLock) -> None:
        changed, lock.changed = lock.changed, set()
        if family is not LAN_PARAMETERS or not changed & ADDRESS_PARAMETERS:
            return
        address = self.address()
        log.info("%s: LAN address is now %s/%s gateway %s (%s)", self.name, *address)
        for listener in list(self._memory.address_listeners):
            try:
                listener(address)
            except Exception:
                log.exception("%s: LAN address listener failed", self.name)

    # ------------------------------------------------------------------ accessors
    def on_address_change(self, listener: AddressListener) -> None:
        """Call `listener(self.address())` whenever a client changes parameter 3, 4, 6 or 12
        (at once, or when it releases or commits its set-in-progress lock)."""
        self._memory.address_listeners.append(listener)

    def address(self) -> LanAddress:
        """The IP configuration clients see (LAN parameters 3, 6, 12 and 4): the one place
        that says where this BMC should be reachable."""
        def dotted(number: int) -> str:
            return str(ipaddress.IPv4Address(LAN_PARAMETERS.get(self, number)))

        source = LAN_PARAMETERS.get(self, 4)[0]
        return LanAddress(dotted(3), dotted(6), dotted(12), IP_SOURCES.get(source, "other"))

    def mac(self) -> str:
        """The BMC's MAC address (LAN parameter 5) as aa:bb:cc:dd:ee:ff."""
        return mac_text(LAN_PARAMETERS.get(self, 5))

    def sol_settings(self) -> SolSettings:
        def value(number: int) -> bytes:
            return SOL_PARAMETERS.get(self, number)

        auth = value(2)[0]
        accumulate, threshold = value(3)
        retries, retry_interval = value(4)
        return SolSettings(
            enabled=bool(value(1)[0] & 0x01),
            force_encryption=bool(auth & 0x80),
            force_authentication=bool(auth & 0x40),
            privilege=Privilege(auth & 0x0F),
            accumulate_interval_ms=accumulate * 5,
            send_threshold=threshold,
            retry_count=retries & 0x07,
            retry_interval_ms=retry_interval * 10,
            non_volatile_bit_rate=SOL_BIT_RATES[value(5)[0]],
            volatile_bit_rate=SOL_BIT_RATES[value(6)[0]],
            payload_channel=value(7)[0],
            payload_port=int.from_bytes(value(8), "little"),
        )

    # ------------------------------------------------------------------ security settings
    def ipmi_enabled(self) -> bool:
        """Whether IPMI over LAN is on: the channel's volatile (active) access mode is not
        Disabled (Set Channel Access). Pre-Boot Only counts as available: pybmc cannot tell
        the host's firmware from its OS (docs/ipmi.md, "LAN channel access")."""
        return self.state.channel(LAN_CHANNEL, volatile=True).access_mode != ACCESS_DISABLED

    def set_ipmi_enabled(self, enabled: bool) -> None:
        """IPMI over LAN on (Always Available) or off (Disabled), in both copies of the LAN
        channel's access mode: what a Redfish NetworkProtocol PATCH means, kept across
        restarts as Set Channel Access with both selectors would keep it."""
        mode = ACCESS_ALWAYS_AVAILABLE if enabled else ACCESS_DISABLED
        for volatile in (True, False):
            self.state.channel(LAN_CHANNEL, volatile=volatile).access_mode = mode
        log.info("%s: IPMI over LAN %s", self.name, "enabled" if enabled else "disabled")

    def bmc_key(self) -> bytes | None:
        """K_G (20 bytes) when it is not all zero; None: RMCP+ keys come from the password.

        A key set with Set Channel Security Keys is kept until the config's `kg` changes."""
        stored = self.state.extra.get(KG_STATE_KEY)
        configured = self.config.security.kg
        key = configured
        if isinstance(stored, dict) and stored.get("seed") == configured.hex():
            try:
                key = bytes.fromhex(str(stored.get("value", "")))
            except ValueError:
                key = configured
        return key if len(key) == len(configured) and any(key) else None

    def set_bmc_key(self, key: bytes) -> None:
        self.state.extra[KG_STATE_KEY] = {"value": key.hex(),
                                          "seed": self.config.security.kg.hex()}

    def cipher_suites(self) -> tuple[int, ...]:
        return self.config.security.cipher_suites

    def cipher_suite_max_privilege(self, suite: int) -> Privilege:
        """Per-suite privilege ceiling: NONE for a suite [security] does not enable, whatever
        parameter 24 says; else the suite's nibble of parameter 24 (suite n: nibble n; 0,
        "unused", refuses it). Suites 16 and 17 have no nibble: Administrator."""
        if suite not in self.cipher_suites():
            return Privilege.NONE
        if suite not in LISTED_CIPHER_SUITES:
            return Privilege.ADMINISTRATOR
        nibble = self._cipher_privilege_nibbles()[suite]
        return Privilege(nibble) if 1 <= nibble <= 5 else Privilege.NONE

    def _cipher_privilege_nibbles(self) -> list[int]:
        levels = LAN_PARAMETERS.get(self, int(CIPHER_PRIVILEGES_PARAMETER))
        return [(levels[1 + index // 2] >> (4 * (index % 2))) & 0x0F
                for index in range(MAX_CIPHER_SUITE_ENTRIES)]

    def idle_cipher_privilege_nibbles(self) -> list[int]:
        """Suites whose parameter-24 nibble holds a level but that [security] cipher_suites
        does not enable: the level is kept (it reads back) but the suite stays refused."""
        enabled = set(self.cipher_suites())
        return [suite for suite, nibble in enumerate(self._cipher_privilege_nibbles())
                if nibble and suite not in enabled]

    def auth_types_enabled(self, privilege: Privilege) -> int:
        """IPMI 1.5 auth type bit mask for a privilege (LAN parameter 2), bit n = type n."""
        if not 1 <= privilege <= 5:
            return auth_type_support(self)
        enables = LAN_PARAMETERS.get(self, int(AUTH_ENABLES_PARAMETER))
        # Only what [security] auth_types names, even if older state stored more (a BMC
        # that ran with weaker defaults and had `lan set 1 auth` applied to them).
        return enables[privilege - 1] & auth_type_support(self)

    def bad_password_policy(self) -> LockoutPolicy:
        """The lockout policy: LAN parameter 26 as a client set it, else the config's."""
        stored = self.state.lan.get(BAD_PASSWORD_PARAMETER)
        if stored is not None:
            return LockoutPolicy.decode(stored)
        return config_policy(self.config.security)
