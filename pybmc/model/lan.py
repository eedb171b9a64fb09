"""LAN and SOL configuration parameters (IPMI 2.0 §23.1-23.2 and §26.2-26.3).

Every value a client sets is kept raw, byte for byte, in `bmc.state.lan` or `bmc.state.sol`
(keys like "3", or "19.1" for destination 1 of a parameter with a set selector), so it reads
back at once exactly as written and survives a restart. A parameter nobody has set reads as
its default, computed from the config each time.

The rest of pybmc reads these values through the accessors at the bottom: `lan_address`,
`lan_mac` and `sol_settings`. `on_address_change` is where the server learns that a client
moved the BMC to a new IP address.

Parameter 0 of both families, "set in progress", is a lock, not a setting: it lives in memory
only, so a client that dies while holding it cannot wedge the BMC across a restart.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, NamedTuple

from pybmc.wire.codes import LAN_CHANNEL, Cc, Privilege

if TYPE_CHECKING:
    from pybmc.core.bmc import Bmc

log = logging.getLogger("pybmc.lan")

PARAMETER_REVISION = 0x11  # present revision 1, oldest revision 1 (both LAN and SOL)

# Completion codes the configuration-parameter commands define for themselves.
CC_PARAMETER_NOT_SUPPORTED = 0x80
CC_SET_IN_PROGRESS_HELD = 0x81
CC_READ_ONLY = 0x82

NUM_ALERT_DESTINATIONS = 4  # non-volatile LAN alert destinations 1..4; 0 is the volatile one
SECONDARY_RMCP_PORT = 664  # the RMCP "secure" port number the spec assigns
MAX_CIPHER_SUITE_ENTRIES = 16  # parameter 24 has one nibble for each of 16 entries

# A set-in-progress lock nobody released for this long was abandoned by a dead client.
SET_IN_PROGRESS_TIMEOUT = 60.0

SET_COMPLETE = 0
SET_IN_PROGRESS = 1
COMMIT_WRITE = 2

IP_SOURCES = {0: "unspecified", 1: "static", 2: "dhcp", 3: "bios", 4: "other"}
SOL_BIT_RATES = {0: 0, 6: 9600, 7: 19200, 8: 38400, 9: 57600, 10: 115200}  # 0 = serial's own

# SOL defaults, as a typical server ships them. Encryption is not forced so that every
# enabled cipher suite can carry SOL; clients that want it forced say so (`sol set`).
SOL_DEFAULT_AUTHENTICATION = 0x02  # force neither, user privilege
SOL_DEFAULT_ACCUMULATE_INTERVAL = 12  # x 5 ms = 60 ms
SOL_DEFAULT_SEND_THRESHOLD = 96  # characters
SOL_DEFAULT_RETRY_COUNT = 7
SOL_DEFAULT_RETRY_INTERVAL = 50  # x 10 ms = 500 ms
SOL_DEFAULT_BIT_RATE = 10  # 115.2 kbps


class ParameterError(Exception):
    """A Get/Set of a configuration parameter that ends with this completion code."""

    def __init__(self, cc: int, reason: str) -> None:
        super().__init__(reason)
        self.cc = cc


# --------------------------------------------------------------------------- byte helpers
def ipv4_bytes(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def mac_bytes(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def derived_mac(name: str) -> bytes:
    """A stable, locally administered, unicast MAC for a BMC that the config gives none."""
    digest = bytearray(hashlib.sha256(f"pybmc-bmc-mac:{name}".encode()).digest()[:6])
    digest[0] = (digest[0] & 0xFC) | 0x02  # bit 1: locally administered; bit 0 clear: unicast
    return bytes(digest)


def is_contiguous_netmask(raw: bytes) -> bool:
    value = int.from_bytes(raw, "big")
    inverted = ~value & 0xFFFFFFFF
    return inverted & (inverted + 1) == 0  # ones, then only zeros


# --------------------------------------------------------------------------- parameter model
Default = Callable[["Bmc", int], bytes]  # (bmc, set selector) -> the value when none is stored
Check = Callable[["Bmc", bytes], str | None]  # -> why the value is invalid, or None


def _fixed(value: bytes) -> Default:
    return lambda _bmc, _selector: value


def _any_value(_bmc: Bmc, _data: bytes) -> str | None:
    return None


@dataclass(frozen=True)
class ParameterSpec:
    """One configuration parameter: its length, default, and what a Set may write."""

    number: int
    name: str
    length: int  # data length a Set must have (read-only ones: 0)
    default: Default
    check: Check = _any_value
    writable: bool = True
    selector_limit: int | None = None  # parameters whose first byte is a set selector


@dataclass
class SetLock:
    """The "set in progress" parameter of one family; `since` is when it was taken (ctx.now)."""

    state: int = SET_COMPLETE
    since: float = 0.0
    changed: set[int] = field(default_factory=set)  # parameters set while it was held


class ParameterFamily:
    """LAN or SOL parameters: a table of specs over one raw-bytes dict of the BMC state."""

    def __init__(self, name: str, specs: Iterable[ParameterSpec],
                 storage: Callable[[Bmc], dict[str, bytes]]) -> None:
        self.name = name
        self.specs = {spec.number: spec for spec in specs}
        self.storage = storage

    def spec(self, number: int) -> ParameterSpec:
        spec = self.specs.get(number)
        if spec is None:
            raise ParameterError(CC_PARAMETER_NOT_SUPPORTED,
                                 f"{self.name} parameter {number} is not supported")
        return spec

    def get(self, bmc: Bmc, number: int, selector: int = 0) -> bytes:
        """The value a Get returns (after the revision byte); raises ParameterError."""
        spec = self.spec(number)
        key = _key(spec, self._checked_selector(spec, selector))
        stored = self.storage(bmc).get(key)
        return stored if stored is not None else spec.default(bmc, selector)

    def set(self, bmc: Bmc, number: int, data: bytes) -> None:
        """Validate and store a value exactly as given; raises ParameterError."""
        spec = self.spec(number)
        if not spec.writable:
            raise ParameterError(CC_READ_ONLY, f"{self.name} parameter {number} is read-only")
        if len(data) != spec.length:
            raise ParameterError(Cc.REQUEST_DATA_LENGTH_INVALID,
                                 f"{self.name} parameter {number} takes {spec.length} bytes, "
                                 f"got {len(data)}")
        selector = 0
        if spec.selector_limit is not None:
            if data[0] & 0xF0:
                raise ParameterError(Cc.INVALID_DATA_FIELD, "reserved selector bits set")
            selector = self._checked_selector(spec, data[0])
        problem = spec.check(bmc, data)
        if problem:
            raise ParameterError(Cc.INVALID_DATA_FIELD,
                                 f"{self.name} parameter {number} ({spec.name}): {problem}")
        self.storage(bmc)[_key(spec, selector)] = bytes(data)

    def _checked_selector(self, spec: ParameterSpec, selector: int) -> int:
        if spec.selector_limit is None:
            return 0  # the spec says "00h if not used"; ignore whatever came
        if not 0 <= selector <= spec.selector_limit:
            raise ParameterError(Cc.INVALID_DATA_FIELD,
                                 f"{self.name} parameter {spec.number}: set selector {selector} "
                                 f"is not 0..{spec.selector_limit}")
        return selector


def _key(spec: ParameterSpec, selector: int) -> str:
    return f"{spec.number}.{selector}" if spec.selector_limit is not None else str(spec.number)


# --------------------------------------------------------------------------- LAN defaults
def _auth_type_support(bmc: Bmc) -> int:
    """Auth types the BMC offers at all: the config's list (so "none" only when configured)."""
    bits = {"none": 0x01, "md2": 0x02, "md5": 0x04, "password": 0x10}
    mask = 0
    for name in bmc.config.security.auth_types:
        mask |= bits[name]
    return mask


def _default_auth_enables(bmc: Bmc, _selector: int) -> bytes:
    # One byte per privilege (callback, user, operator, admin, OEM), all as supported; this
    # matches Bmc.auth_types_enabled's fallback when parameter 2 was never set.
    return bytes([_auth_type_support(bmc)] * 5)


def _default_ip(bmc: Bmc, _selector: int) -> bytes:
    return ipv4_bytes(bmc.config.lan_settings.ip_address)


def _default_ip_source(bmc: Bmc, _selector: int) -> bytes:
    return bytes([2 if bmc.config.lan_settings.ip_source == "dhcp" else 1])


def _default_mac(bmc: Bmc, _selector: int) -> bytes:
    configured = bmc.config.lan_settings.mac
    return mac_bytes(configured) if configured else derived_mac(bmc.name)


def _default_netmask(bmc: Bmc, _selector: int) -> bytes:
    return ipv4_bytes(bmc.config.lan_settings.netmask)


def _default_gateway(bmc: Bmc, _selector: int) -> bytes:
    return ipv4_bytes(bmc.config.lan_settings.gateway)


def _default_gateway_mac(bmc: Bmc, _selector: int) -> bytes:
    return mac_bytes(bmc.config.lan_settings.gateway_mac)


def _default_primary_port(bmc: Bmc, _selector: int) -> bytes:
    return bmc.config.port.to_bytes(2, "little")


def _default_vlan(bmc: Bmc, _selector: int) -> bytes:
    vlan = bmc.config.lan_settings.vlan
    return bytes([vlan & 0xFF, 0x80 | (vlan >> 8)]) if vlan else b"\x00\x00"


def _cipher_suite_count(bmc: Bmc, _selector: int) -> bytes:
    return bytes([min(len(bmc.cipher_suites()), MAX_CIPHER_SUITE_ENTRIES)])


def _cipher_suite_entries(bmc: Bmc, _selector: int) -> bytes:
    return b"\x00" + bytes(bmc.cipher_suites()[:MAX_CIPHER_SUITE_ENTRIES])


def _default_cipher_privileges(bmc: Bmc, _selector: int) -> bytes:
    """Administrator for every parameter-23 entry, entry 0 in the low nibble of byte 1."""
    levels = bytearray(9)
    for index in range(min(len(bmc.cipher_suites()), MAX_CIPHER_SUITE_ENTRIES)):
        levels[1 + index // 2] |= int(Privilege.ADMINISTRATOR) << (4 * (index % 2))
    return bytes(levels)


def _destination_default(body: bytes) -> Default:
    return lambda _bmc, selector: bytes([selector]) + body


# --------------------------------------------------------------------------- LAN checks
def _check_auth_enables(bmc: Bmc, data: bytes) -> str | None:
    extra = 0
    for byte in data:
        extra |= byte & ~_auth_type_support(bmc) & 0xFF
    return f"auth type bits {extra:#04x} are not supported" if extra else None


def _check_ip_source(_bmc: Bmc, data: bytes) -> str | None:
    return None if data[0] in IP_SOURCES else f"IP address source {data[0]} is not 0..4"


def _check_mac(_bmc: Bmc, data: bytes) -> str | None:
    return "a multicast MAC address" if data[0] & 0x01 else None


def _check_netmask(_bmc: Bmc, data: bytes) -> str | None:
    return None if is_contiguous_netmask(data) else f"{data.hex()} is not a netmask"


def _check_arp_control(_bmc: Bmc, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xFC else None


def _check_destination_type(_bmc: Bmc, data: bytes) -> str | None:
    if data[1] & 0x78 or data[3] & 0xF8:
        return "reserved bits set"
    return None if data[1] & 0x07 in (0, 6, 7) else f"destination type {data[1] & 7} is reserved"


def _check_destination_address(_bmc: Bmc, data: bytes) -> str | None:
    if data[1] >> 4 != 0:
        return f"address format {data[1] >> 4} is not IPv4 (0)"
    return "reserved bits set" if data[1] & 0x0F or data[2] & 0xFE else None


def _check_vlan(_bmc: Bmc, data: bytes) -> str | None:
    value = int.from_bytes(data, "little")
    if value & 0x7000:
        return "reserved bits set"
    vlan_id = value & 0x0FFF
    if value & 0x8000 and not 1 <= vlan_id <= 4094:
        return f"VLAN ID {vlan_id} cannot be enabled"
    return None


def _check_vlan_priority(_bmc: Bmc, data: bytes) -> str | None:
    return None if data[0] <= 7 else f"VLAN priority {data[0]} is not 0..7"


def _check_cipher_privileges(_bmc: Bmc, data: bytes) -> str | None:
    for byte in data[1:]:
        for nibble in (byte & 0x0F, byte >> 4):
            if nibble > int(Privilege.OEM):
                return f"privilege level {nibble} is reserved"
    return None


def _check_destination_vlan(_bmc: Bmc, data: bytes) -> str | None:
    if data[1] >> 4 not in (0, 1):
        return f"address format {data[1] >> 4} is not 0 or 1"
    return "reserved bits set" if data[1] & 0x0F else None


def _check_bad_password(_bmc: Bmc, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xFE else None


LAN_PARAMETERS = ParameterFamily("LAN", [
    ParameterSpec(1, "authentication type support", 0,
                  lambda bmc, _s: bytes([_auth_type_support(bmc)]), writable=False),
    ParameterSpec(2, "authentication type enables", 5, _default_auth_enables,
                  _check_auth_enables),
    ParameterSpec(3, "IP address", 4, _default_ip),
    ParameterSpec(4, "IP address source", 1, _default_ip_source, _check_ip_source),
    ParameterSpec(5, "MAC address", 6, _default_mac, _check_mac),
    ParameterSpec(6, "subnet mask", 4, _default_netmask, _check_netmask),
    # TTL 64, "don't fragment", precedence 0 / TOS "minimize delay": the spec's defaults.
    ParameterSpec(7, "IPv4 header parameters", 3, _fixed(b"\x40\x40\x10")),
    # The ports pybmc listens on are the config's business, not a client's.
    ParameterSpec(8, "primary RMCP port", 0, _default_primary_port, writable=False),
    ParameterSpec(9, "secondary RMCP port", 0,
                  _fixed(SECONDARY_RMCP_PORT.to_bytes(2, "little")), writable=False),
    ParameterSpec(10, "BMC-generated ARP control", 1, _fixed(b"\x02"), _check_arp_control),
    ParameterSpec(11, "gratuitous ARP interval", 1, _fixed(b"\x04")),  # x 500 ms
    ParameterSpec(12, "default gateway address", 4, _default_gateway),
    ParameterSpec(13, "default gateway MAC address", 6, _default_gateway_mac),
    ParameterSpec(14, "backup gateway address", 4, _fixed(bytes(4))),
    ParameterSpec(15, "backup gateway MAC address", 6, _fixed(bytes(6))),
    ParameterSpec(16, "community string", 18, _fixed(b"public".ljust(18, b"\x00"))),
    ParameterSpec(17, "number of destinations", 0, _fixed(bytes([NUM_ALERT_DESTINATIONS])),
                  writable=False),
    ParameterSpec(18, "destination type", 4, _destination_default(b"\x00\x00\x00"),
                  _check_destination_type, selector_limit=NUM_ALERT_DESTINATIONS),
    ParameterSpec(19, "destination addresses", 13, _destination_default(bytes(12)),
                  _check_destination_address, selector_limit=NUM_ALERT_DESTINATIONS),
    ParameterSpec(20, "802.1q VLAN ID", 2, _default_vlan, _check_vlan),
    ParameterSpec(21, "802.1q VLAN priority", 1, _fixed(b"\x00"), _check_vlan_priority),
    ParameterSpec(22, "cipher suite entry support", 0, _cipher_suite_count, writable=False),
    ParameterSpec(23, "cipher suite entries", 0, _cipher_suite_entries, writable=False),
    ParameterSpec(24, "cipher suite privilege levels", 9, _default_cipher_privileges,
                  _check_cipher_privileges),
    ParameterSpec(25, "destination address VLAN TAGs", 4, _destination_default(bytes(3)),
                  _check_destination_vlan, selector_limit=NUM_ALERT_DESTINATIONS),
    ParameterSpec(26, "bad password threshold", 6, _fixed(bytes(6)), _check_bad_password),
], lambda bmc: bmc.state.lan)

ADDRESS_PARAMETERS = frozenset({3, 4, 6, 12})  # what lan_address() reports


# --------------------------------------------------------------------------- SOL
def _check_sol_enable(_bmc: Bmc, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xFE else None


def _check_sol_authentication(_bmc: Bmc, data: bytes) -> str | None:
    if data[0] & 0x30:
        return "reserved bits set"
    level = data[0] & 0x0F
    if not Privilege.USER <= level <= Privilege.OEM:
        return f"privilege level {level} is not 2..5"
    return None


def _check_sol_intervals(_bmc: Bmc, data: bytes) -> str | None:
    return "the character accumulate interval is 1-based" if data[0] == 0 else None


def _check_sol_retry(_bmc: Bmc, data: bytes) -> str | None:
    return f"retry count {data[0]} is not 0..7" if data[0] > 7 else None


def _check_bit_rate(_bmc: Bmc, data: bytes) -> str | None:
    return None if data[0] in SOL_BIT_RATES else f"bit rate code {data[0]:#04x} is reserved"


SOL_PARAMETERS = ParameterFamily("SOL", [
    ParameterSpec(1, "SOL enable", 1,
                  lambda bmc, _s: bytes([1 if bmc.config.sol.enabled else 0]),
                  _check_sol_enable),
    ParameterSpec(2, "SOL authentication", 1, _fixed(bytes([SOL_DEFAULT_AUTHENTICATION])),
                  _check_sol_authentication),
    ParameterSpec(3, "character accumulate interval and send threshold", 2,
                  _fixed(bytes([SOL_DEFAULT_ACCUMULATE_INTERVAL, SOL_DEFAULT_SEND_THRESHOLD])),
                  _check_sol_intervals),
    ParameterSpec(4, "SOL retry", 2,
                  _fixed(bytes([SOL_DEFAULT_RETRY_COUNT, SOL_DEFAULT_RETRY_INTERVAL])),
                  _check_sol_retry),
    ParameterSpec(5, "SOL non-volatile bit rate", 1, _fixed(bytes([SOL_DEFAULT_BIT_RATE])),
                  _check_bit_rate),
    # Stored like everything else: pybmc promises that what a client sets survives a restart.
    ParameterSpec(6, "SOL volatile bit rate", 1,
                  lambda bmc, _s: SOL_PARAMETERS.get(bmc, 5), _check_bit_rate),
    ParameterSpec(7, "SOL payload channel", 0, _fixed(bytes([LAN_CHANNEL])), writable=False),
    ParameterSpec(8, "SOL payload port number", 0,
                  lambda bmc, _s: bmc.config.port.to_bytes(2, "little"), writable=False),
], lambda bmc: bmc.state.sol)


# --------------------------------------------------------------------------- runtime state
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
        """One UDP datagram arrived on the BMC's address (the server calls this)."""
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


AddressListener = Callable[["Bmc", LanAddress], None]


@dataclass
class LanRuntime:
    """What one BMC keeps about its LAN channel in memory only."""

    locks: dict[str, SetLock] = field(default_factory=dict)  # "LAN" / "SOL"
    arp_suspended: int = 0  # Suspend BMC ARPs bits: 1 gratuitous, 2 responses
    statistics: LanStatistics = field(default_factory=LanStatistics)
    address_listeners: list[AddressListener] = field(default_factory=list)


_RUNTIME: weakref.WeakKeyDictionary[Bmc, LanRuntime] = weakref.WeakKeyDictionary()


def runtime(bmc: Bmc) -> LanRuntime:
    found = _RUNTIME.get(bmc)
    if found is None:
        found = _RUNTIME[bmc] = LanRuntime()
    return found


def lan_statistics(bmc: Bmc) -> LanStatistics:
    return runtime(bmc).statistics


# --------------------------------------------------------------------------- set in progress
def set_lock(bmc: Bmc, family: ParameterFamily, now: float) -> SetLock:
    """The family's lock, released first if its holder abandoned it long ago."""
    lock = runtime(bmc).locks.setdefault(family.name, SetLock())
    if lock.state != SET_COMPLETE and now - lock.since > SET_IN_PROGRESS_TIMEOUT:
        log.info("%s: %s set-in-progress held %.0f s; released", bmc.name, family.name,
                 now - lock.since)
        _finish_set(bmc, family, lock)
    return lock


def write_set_in_progress(bmc: Bmc, family: ParameterFamily, data: bytes, now: float) -> None:
    """Set parameter 0. Values apply when written, so "commit" and "complete" only notify."""
    if len(data) != 1:
        raise ParameterError(Cc.REQUEST_DATA_LENGTH_INVALID, "set in progress takes 1 byte")
    value = data[0]
    if value & 0xFC or value == 3:
        raise ParameterError(Cc.INVALID_DATA_FIELD, f"set in progress value {value:#04x}")
    lock = set_lock(bmc, family, now)
    if value == SET_IN_PROGRESS:
        if lock.state == SET_IN_PROGRESS:
            raise ParameterError(CC_SET_IN_PROGRESS_HELD,
                                 f"{family.name} set in progress is already held")
        lock.state, lock.since = SET_IN_PROGRESS, now
    elif value == COMMIT_WRITE:
        _notify_changes(bmc, family, lock)
    else:
        _finish_set(bmc, family, lock)


def note_parameter_set(bmc: Bmc, family: ParameterFamily, number: int, now: float) -> None:
    """After a successful Set: tell listeners now, or when the client's lock is released."""
    lock = set_lock(bmc, family, now)
    lock.changed.add(number)
    if lock.state == SET_COMPLETE:
        _notify_changes(bmc, family, lock)


def _finish_set(bmc: Bmc, family: ParameterFamily, lock: SetLock) -> None:
    lock.state = SET_COMPLETE
    _notify_changes(bmc, family, lock)


def _notify_changes(bmc: Bmc, family: ParameterFamily, lock: SetLock) -> None:
    changed, lock.changed = lock.changed, set()
    if family is not LAN_PARAMETERS or not changed & ADDRESS_PARAMETERS:
        return
    address = lan_address(bmc)
    log.info("%s: LAN address is now %s/%s gateway %s (%s)", bmc.name, *address)
    for listener in list(runtime(bmc).address_listeners):
        try:
            listener(bmc, address)
        except Exception:
            log.exception("%s: LAN address listener failed", bmc.name)


# --------------------------------------------------------------------------- accessors
def on_address_change(bmc: Bmc, listener: AddressListener) -> None:
    """Call `listener(bmc, lan_address(bmc))` whenever a client changes parameter 3, 4, 6 or 12
    (at once, or when it releases or commits its set-in-progress lock)."""
    runtime(bmc).address_listeners.append(listener)


def lan_address(bmc: Bmc) -> LanAddress:
    """The IP configuration clients see (LAN parameters 3, 6, 12 and 4): the one place that
    says where this BMC should be reachable."""
    def dotted(number: int) -> str:
        return str(ipaddress.IPv4Address(LAN_PARAMETERS.get(bmc, number)))

    source = LAN_PARAMETERS.get(bmc, 4)[0]
    return LanAddress(dotted(3), dotted(6), dotted(12), IP_SOURCES.get(source, "other"))


def lan_mac(bmc: Bmc) -> str:
    """The BMC's MAC address (LAN parameter 5) as aa:bb:cc:dd:ee:ff."""
    return mac_text(LAN_PARAMETERS.get(bmc, 5))


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


def sol_settings(bmc: Bmc) -> SolSettings:
    def value(number: int) -> bytes:
        return SOL_PARAMETERS.get(bmc, number)

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
