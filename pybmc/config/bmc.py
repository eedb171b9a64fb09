"""TOML configuration -> frozen dataclasses. Every error names the file and the key.

One file describes one BMC. Unknown keys are errors too: a typo must not silently become a default.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybmc.config.libvirt import LibvirtConfig, parse_libvirt
from pybmc.config.section import ConfigError, _is_mac, _kind_name, _Section
from pybmc.config.share import share_sections, shared_value
from pybmc.wire.codes import Privilege

__all__ = ["ConfigError", "LibvirtConfig", "_Section", "_is_mac", "_kind_name"]

PRIVILEGE_NAMES = ("callback", "user", "operator", "administrator")
# Secure by default: suites 3 (HMAC-SHA1 + AES) and 17 (HMAC-SHA256 + AES), IPMI 1.5 MD5.
# Everything weaker (WEAK_CIPHER_SUITES, WEAK_AUTH_TYPES) is served only when the config
# names it, and then with a warning at start.
DEFAULT_CIPHER_SUITES = (3, 17)
SUPPORTED_CIPHER_SUITES = (0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17)
# What each suite the defaults leave out lacks (IPMI 2.0 table 22-20). Without integrity
# anyone who saw the session ID (sent in clear in the Open Session Response) can inject
# commands into the session; without confidentiality a password set over it travels in clear.
_NO_INTEGRITY = "no integrity: anyone who sees the session ID can inject commands"
_NO_CONFIDENTIALITY = "no confidentiality: passwords set over it travel in clear"
WEAK_CIPHER_SUITES = {0: "no authentication: any password logs in",
                      1: _NO_INTEGRITY, 6: _NO_INTEGRITY, 15: _NO_INTEGRITY,
                      2: _NO_CONFIDENTIALITY, 7: _NO_CONFIDENTIALITY,
                      11: _NO_CONFIDENTIALITY, 16: _NO_CONFIDENTIALITY}
AUTH_TYPE_NAMES = ("none", "md2", "md5", "password")
DEFAULT_AUTH_TYPES = ("md5",)
WEAK_AUTH_TYPES = {"none": "no authentication: any password logs in",
                   "password": "the password travels in clear in every packet",
                   "md2": "MD2, an obsolete broken hash"}
# Login requests (Open Session, RAKP 1, Get Session Challenge) per source address: tokens
# refilled per second, and the bucket size. An RMCP+ login takes 2, an IPMI 1.5 login 1.
DEFAULT_LOGIN_RATE = 20.0
DEFAULT_LOGIN_BURST = 60
MAX_USERS = 16
MAX_LOCKOUT_SECONDS = 0xFFFF * 10  # LAN parameter 26 counts intervals in tens of seconds


@dataclass(frozen=True)
class UserConfig:
    name: str
    password: str
    privilege: Privilege
    user_id: int
    enabled: bool = True


@dataclass(frozen=True)
class IdentityConfig:
    device_id: int = 0x20
    device_revision: int = 1
    firmware_major: int = 1
    firmware_minor: int = 0  # shown as BCD: 0x00 -> "1.00"
    manufacturer_id: int = 0xBEEF  # not one of the IDs that switch clients onto OEM paths
    product_id: int = 0x0001
    aux_firmware: bytes = b"\x00\x00\x00\x00"


@dataclass(frozen=True, slots=True)
class LanConfig:
    ip_address: str
    ip_source: str = "static"  # static | dhcp
    netmask: str = "255.255.255.0"
    gateway: str = "0.0.0.0"
    gateway_mac: str = "00:00:00:00:00:00"
    mac: str = ""  # derived from the BMC name when empty
    vlan: int = 0  # 0 = disabled
    interface: str = ""  # add/remove the BMC's address on this interface when it moves
    config_program: str = ""  # ipmi_sim lan_config_program compatibility hook
    alert_port: int = 162  # UDP port PET traps go to on the alert destinations


@dataclass(frozen=True)
class SecurityConfig:
    cipher_suites: tuple[int, ...] = DEFAULT_CIPHER_SUITES
    auth_types: tuple[str, ...] = DEFAULT_AUTH_TYPES
    login_rate: float = DEFAULT_LOGIN_RATE  # 0: no login throttling
    login_burst: int = DEFAULT_LOGIN_BURST
    max_sessions: int = 32
    session_timeout: float = 60.0
    kg: bytes = bytes(20)  # the BMC key K_G; all zero: session keys come from the password
    # Bad-password lockout while LAN parameter 26 was never set (pybmc.model.lockout).
    lockout_threshold: int = 0  # bad passwords in a row that lock a user; 0 = never
    lockout_seconds: float = 300.0  # how long a lockout lasts; 0 = until re-enabled
    lockout_reset_seconds: float = 300.0  # a count this old is forgotten; 0 = never

    def weak_options(self) -> list[str]:
        """What this config turns on that the defaults keep off, one phrase each."""
        weak = [f"cipher suite {suite} ({WEAK_CIPHER_SUITES[suite]})"
                for suite in self.cipher_suites if suite in WEAK_CIPHER_SUITES]
        weak += [f"IPMI 1.5 auth type {name} ({WEAK_AUTH_TYPES[name]})"
                 for name in self.auth_types if name in WEAK_AUTH_TYPES]
        if self.login_rate <= 0:
            weak.append("no login throttling (login_rate = 0)")
        return weak


@dataclass(frozen=True)
class PowerConfig:
    backend: str = "simulated"
    initial_state: str = "off"  # simulated backend, first start only
    soft_off_delay: float = 2.0
    cycle_interval: float = 1.0
    restore_policy: str = "previous"  # always-off | previous | always-on
    command_on: tuple[str, ...] = ()
    command_off_wait: float = 5.0


@dataclass(frozen=True)
class QemuConfig:
    binary: str = "qemu-system-x86_64"
    args: tuple[str, ...] = ()
    in_band: bool = True
    in_band_interface: str = "kcs"  # the guest's system interface: kcs | bt
    virtual_media: bool = True  # an empty ide-cd for Redfish virtual media


@dataclass(frozen=True)
class InBandConfig:
    """Where a VM that pybmc does not launch connects its ipmi-bmc-extern chardev."""

    listen: str = ""  # "tcp:HOST:PORT" or "unix:PATH"; empty = no listener
    socket_group: str = ""  # unix:PATH only: the socket is 0660 and this group's (name or GID)


@dataclass(frozen=True)
class SolConfig:
    enabled: bool = True
    serial: str = ""
    history_size: int = 65536


@dataclass(frozen=True)
class RedfishConfig:
    """The [redfish] section: the BMC's HTTPS Redfish service beside IPMI."""

    enabled: bool = True
    # `enabled = true` written in the config: a port that cannot be bound stops `serve`;
    # by default Redfish is best effort and IPMI keeps serving without it.
    required: bool = False
    port: int = 443
    tls: bool = True
    cert: str = ""  # PEM paths; empty: a self-signed certificate kept in state_dir
    key: str = ""
    system_id: str = ""  # empty: the BMC's name
    # Where EventService subscriptions may have events POSTed to (IP networks).
    event_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class SystemConfig:
    """The [system] section: the managed machine's inventory where no VM configuration says it
    (simulated and command backends; the qemu backend reads its -smp/-m/-nic/-drive args)."""

    cpus: int = 2  # logical processors, in `sockets` sockets
    sockets: int = 1
    cpu_model: str = "pybmc virtual CPU"
    memory_mib: int = 4096
    macs: tuple[str, ...] = ()  # the host's NICs, one Redfish EthernetInterface each
    disk_sizes_gib: tuple[int, ...] = ()  # the host's disks, one Redfish Drive each
    firmware: str = "uefi"  # uefi | bios: the default BIOS BootMode, whether SecureBoot applies


@dataclass(frozen=True, slots=True)
class BmcConfig:
    name: str
    address: str
    port: int = 623
    state_dir: Path = Path(".")
    guid: uuid.UUID = field(default_factory=uuid.uuid4)
    users: tuple[UserConfig, ...] = ()
    identity: IdentityConfig = IdentityConfig()
    lan: LanConfig | None = None
    security: SecurityConfig = SecurityConfig()
    power: PowerConfig = PowerConfig()
    qemu: QemuConfig = QemuConfig()
    libvirt: LibvirtConfig = field(default_factory=LibvirtConfig)
    in_band: InBandConfig = InBandConfig()
    sol: SolConfig = SolConfig()
    redfish: RedfishConfig = RedfishConfig()
    system: SystemConfig = SystemConfig()
    source: str = "<embedded>"
    # The file's tables but [bmc] (its keys are the fields above), shared: pybmc.config.share.
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    enabled: bool = True  # [bmc] enabled = false: kept in the fleet, not served (pybmc stop)

    @property
    def lan_settings(self) -> LanConfig:
        return self.lan or LanConfig(ip_address=self.address)


def default_state_dir(name: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return Path(base) / "pybmc" / name


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; ConfigError naming the file when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def load_config(path: str | Path) -> BmcConfig:
    """Read one BMC's TOML file."""
    path = Path(path)
    return parse_config(read_toml(path), str(path), base_dir=path.parent)


def parse_config(data: dict[str, Any], source: str = "<embedded>",
                 base_dir: Path | None = None) -> BmcConfig:
    known = {"bmc", "users", "identity", "lan", "security", "power", "qemu", "sol",
             "fru", "sensors", "sel", "in_band", "redfish", "system", "libvirt"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{source}: [{key}]: is not a known section")
    if "bmc" not in data:
        raise ConfigError(f"{source}: [bmc]: is required")

    bmc = _Section(source, "bmc", data["bmc"])
    name = bmc.get("name", str, required=True)
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise bmc.error("name", f"must be letters, digits, '-', '_' or '.'; got {name!r}")
    address = bmc.ipv4("address", "", required=True)
    port = bmc.integer("port", 623, 1, 65535)
    state_dir_text = bmc.get("state_dir", str, "")
    if state_dir_text:
        state_dir = Path(state_dir_text)
        if not state_dir.is_absolute() and base_dir is not None:
            state_dir = base_dir / state_dir
    else:
        state_dir = default_state_dir(name)
    guid_text = bmc.get("guid", str, "")
    try:
        guid = uuid.UUID(guid_text) if guid_text else uuid.uuid5(uuid.NAMESPACE_DNS,
                                                                 f"{name}.pybmc")
    except ValueError:
        raise bmc.error("guid", f"is not a UUID: {guid_text!r}") from None
    enabled = bmc.get("enabled", bool, True)
    bmc.finish()

    # Equal parts of many BMCs' configs are one object (pybmc.config.share).
    users = shared_value(_parse_users(source, data.get("users", [])))
    identity = shared_value(_parse_identity(source, data.get("identity", {})))
    lan = _parse_lan(source, data.get("lan"), address)
    security = shared_value(_parse_security(source, data.get("security", {})))
    power = shared_value(_parse_power(source, data.get("power", {})))
    qemu = shared_value(_parse_qemu(source, data.get("qemu", {})))
    libvirt = shared_value(parse_libvirt(source, data.get("libvirt", {}), power.backend))
    sol = shared_value(_parse_sol(source, data.get("sol", {})))
    in_band = shared_value(_parse_in_band(source, data.get("in_band", {})))
    redfish = _parse_redfish(source, data.get("redfish", {}), name)
    system = shared_value(_parse_system(source, data.get("system", {})))
    return BmcConfig(name=name, address=address, port=port, state_dir=state_dir, guid=guid,
                     users=users, identity=identity, lan=lan, security=security, power=power,
                     qemu=qemu, libvirt=libvirt, in_band=in_band, sol=sol, redfish=redfish,
                     system=system, source=source, raw=share_sections(data), enabled=enabled)


def _parse_users(source: str, items: Any) -> tuple[UserConfig, ...]:
    if not isinstance(items, list):
        raise ConfigError(f"{source}: [[users]]: must be an array of tables")
    users: list[UserConfig] = []
    taken: set[int] = set()
    next_id = 2  # user 1 is the anonymous (null-name) user, as on real BMCs
    for index, item in enumerate(items):
        section = _Section(source, f"users.{index}", item)
        name = section.get("name", str, required=True)
        if not 1 <= len(name.encode()) <= 16:
            raise section.error("name", "must be 1 to 16 bytes")
        password = section.get("password", str, "")
        if len(password.encode()) > 20:
            raise section.error("password", "must be at most 20 bytes")
        privilege = section.choice("privilege", PRIVILEGE_NAMES, "administrator")
        enabled = section.get("enabled", bool, True)
        user_id = section.get("id", int, 0)
        if user_id == 0:
            while next_id in taken:
                next_id += 1
            user_id = next_id
        if not 2 <= user_id <= MAX_USERS:
            raise section.error("id", f"must be between 2 and {MAX_USERS}")
        if user_id in taken:
            raise section.error("id", f"user id {user_id} is used twice")
        if any(u.name == name for u in users):
            raise section.error("name", f"user {name!r} is defined twice")
        taken.add(user_id)
        section.finish()
        users.append(UserConfig(name, password, Privilege.from_name(privilege), user_id, enabled))
    return tuple(users)


def _parse_identity(source: str, table: Any) -> IdentityConfig:
    section = _Section(source, "identity", table)
    firmware = section.get("firmware_version", str, "1.00")
    try:
        major_text, minor_text = firmware.split(".")
        major, minor = int(major_text), int(minor_text)
        if not (0 <= major <= 127 and 0 <= minor <= 99):
            raise ValueError
    except ValueError:
        raise section.error("firmware_version", f"must look like 1.00; got {firmware!r}") from None
    identity = IdentityConfig(
        device_id=section.integer("device_id", 0x20, 0, 255),
        device_revision=section.integer("device_revision", 1, 0, 15),
        firmware_major=major,
        firmware_minor=int(str(minor), 16),
        manufacturer_id=section.integer("manufacturer_id", 0xBEEF, 0, 0xFFFFF),
        product_id=section.integer("product_id", 1, 0, 0xFFFF),
    )
    section.finish()
    return identity


def _parse_lan(source: str, table: Any, address: str) -> LanConfig | None:
    if table is None:
        return None
    section = _Section(source, "lan", table)
    lan = LanConfig(
        ip_address=section.ipv4("ip_address", address),
        ip_source=section.choice("ip_source", ("static", "dhcp"), "static"),
        netmask=section.ipv4("netmask", "255.255.255.0"),
        gateway=section.ipv4("gateway", "0.0.0.0"),
        gateway_mac=section.mac("gateway_mac", "00:00:00:00:00:00"),
        mac=section.mac("mac", ""),
        vlan=section.integer("vlan", 0, 0, 4094),
        interface=section.get("interface", str, ""),
        config_program=section.get("config_program", str, ""),
        alert_port=section.integer("alert_port", 162, 1, 65535),
    )
    section.finish()
    return lan


def _parse_security(source: str, table: Any) -> SecurityConfig:
    section = _Section(source, "security", table)
    suites = section.get("cipher_suites", list, list(DEFAULT_CIPHER_SUITES))
    for suite in suites:
        if not isinstance(suite, int) or suite not in SUPPORTED_CIPHER_SUITES:
            raise section.error("cipher_suites",
                                f"{suite!r} is not one of {list(SUPPORTED_CIPHER_SUITES)}")
    auth_types = section.get("auth_types", list, list(DEFAULT_AUTH_TYPES))
    for name in auth_types:
        if name not in AUTH_TYPE_NAMES:
            raise section.error("auth_types", f"{name!r} is not one of {list(AUTH_TYPE_NAMES)}")
    security = SecurityConfig(
        cipher_suites=tuple(dict.fromkeys(suites)),
        auth_types=tuple(dict.fromkeys(auth_types)),
        login_rate=section.number("login_rate", DEFAULT_LOGIN_RATE, 0.0, 1_000_000.0),
        login_burst=section.integer("login_burst", DEFAULT_LOGIN_BURST, 1, 1_000_000),
        max_sessions=section.integer("max_sessions", 32, 1, 63),
        session_timeout=section.number("session_timeout", 60.0, 1.0, 3600.0),
        kg=_parse_kg(section),
        lockout_threshold=section.integer("lockout_threshold", 0, 0, 255),
        lockout_seconds=section.number("lockout_seconds", 300.0, 0.0, MAX_LOCKOUT_SECONDS),
        lockout_reset_seconds=section.number("lockout_reset_seconds", 300.0, 0.0,
                                             MAX_LOCKOUT_SECONDS),
    )
    section.finish()
    return security


KG_LENGTH = 20


def _parse_kg(section: _Section) -> bytes:
    """`kg`: text (as `ipmitool -k` takes it) or "0x" + hex (as `-y`), zero-padded to 20."""
    text = section.get("kg", str, "")
    if text.lower().startswith("0x"):
        try:
            key = bytes.fromhex(text[2:])
        except ValueError:
            raise section.error("kg", "is not hexadecimal after 0x") from None
    else:
        key = text.encode("utf-8")
    if len(key) > KG_LENGTH:
        raise section.error("kg", f"is longer than {KG_LENGTH} bytes")
    return key.ljust(KG_LENGTH, b"\x00")


def _parse_power(source: str, table: Any) -> PowerConfig:
    section = _Section(source, "power", table)
    command = section.get("command_on", (list, str), [])
    if isinstance(command, str):
        command = ["/bin/sh", "-c", command]
    if not all(isinstance(part, str) for part in command):
        raise section.error("command_on", "must be a list of strings")
    power = PowerConfig(
        backend=section.choice("backend", ("simulated", "qemu", "command", "libvirt"), "simulated"),
        initial_state=section.choice("initial_state", ("off", "on"), "off"),
        soft_off_delay=section.number("soft_off_delay", 2.0, 0.0, 600.0),
        cycle_interval=section.number("cycle_interval", 1.0, 0.0, 60.0),
        restore_policy=section.choice("restore_policy", ("always-off", "previous", "always-on"),
                                      "previous"),
        command_on=tuple(command),
        command_off_wait=section.number("command_off_wait", 5.0, 0.0, 600.0),
    )
    if power.backend == "command" and not power.command_on:
        raise section.error("command_on", "is required with backend = \"command\"")
    section.finish()
    return power


def _parse_qemu(source: str, table: Any) -> QemuConfig:
    section = _Section(source, "qemu", table)
    args = section.get("args", list, [])
    if not all(isinstance(a, str) for a in args):
        raise section.error("args", "must be a list of strings")
    qemu = QemuConfig(
        binary=section.get("binary", str, "qemu-system-x86_64"),
        args=tuple(args),
        in_band=section.get("in_band", bool, True),
        in_band_interface=section.choice("in_band_interface", ("kcs", "bt"), "kcs"),
        virtual_media=section.get("virtual_media", bool, True),
    )
    section.finish()
    return qemu


_VALID_NETWORKS: set[str] = set()  # checked once per process (the default, for every BMC)


def _networks(section: _Section, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    values = section.get(key, list, list(default))
    for value in values:
        if isinstance(value, str) and value in _VALID_NETWORKS:
            continue
        try:
            ipaddress.ip_network(value)
        except (TypeError, ValueError):
            raise section.error(key, f"{value!r} is not an IP network") from None
        if len(_VALID_NETWORKS) < 1024:
            _VALID_NETWORKS.add(value)
    return tuple(values)


def _parse_redfish(source: str, table: Any, name: str) -> RedfishConfig:
    section = _Section(source, "redfish", table)
    enabled = section.get("enabled", bool, True)
    redfish = RedfishConfig(
        enabled=enabled,
        required=enabled and "enabled" in section.table,
        port=section.integer("port", 443, 1, 65535),
        tls=section.get("tls", bool, True),
        cert=section.get("cert", str, ""),
        key=section.get("key", str, ""),
        system_id=section.get("system_id", str, "") or name,
        event_networks=_networks(section, "event_networks", RedfishConfig.event_networks),
    )
    if bool(redfish.cert) != bool(redfish.key):
        raise section.error("cert", "cert and key must be given together")
    section.finish()
    return redfish


def _parse_system(source: str, table: Any) -> SystemConfig:
    section = _Section(source, "system", table)
    sockets, cpus = section.integer("sockets", 1, 1, 64), section.integer("cpus", 2, 1, 4096)
    if cpus % sockets:
        raise section.error("cpus", f"must be a multiple of sockets ({sockets}); got {cpus}")
    macs, sizes = section.get("macs", list, []), section.get("disk_sizes_gib", list, [])
    if not all(isinstance(mac, str) and _is_mac(mac) for mac in macs):
        raise section.error("macs", f"must be MAC addresses like 52:54:00:12:34:56: {macs!r}")
    if not all(type(size) is int and 1 <= size <= 1 << 20 for size in sizes):
        raise section.error("disk_sizes_gib", f"must be sizes in GiB (1..1048576): {sizes!r}")
    system = SystemConfig(cpus=cpus, sockets=sockets,
                          cpu_model=section.get("cpu_model", str, SystemConfig.cpu_model),
                          memory_mib=section.integer("memory_mib", 4096, 1, 1 << 30),
                          macs=tuple(mac.lower() for mac in macs), disk_sizes_gib=tuple(sizes),
                          firmware=section.choice("firmware", ("uefi", "bios"), "uefi"))
    section.finish()
    return system


def _parse_sol(source: str, table: Any) -> SolConfig:
    section = _Section(source, "sol", table)
    sol = SolConfig(
        enabled=section.get("enabled", bool, True),
        serial=section.get("serial", str, ""),
        history_size=section.integer("history_size", 65536, 0, 16 * 1024 * 1024),
    )
    section.finish()
    return sol


def _parse_in_band(source: str, table: Any) -> InBandConfig:
    section = _Section(source, "in_band", table)
    listen = section.get("listen", str, "")
    kind, _, rest = listen.partition(":")
    host, _, port = rest.rpartition(":")
    valid = (not listen or (kind == "unix" and rest)
             or (kind == "tcp" and host and port.isdigit() and 0 < int(port) < 65536))
    if not valid:
        raise section.error("listen", f"must be tcp:HOST:PORT or unix:PATH; got {listen!r}")
    if kind == "tcp" and not _is_loopback(host.strip("[]")):
        # Whoever connects is the guest's system interface: administrator, no password.
        raise section.error("listen", f"TCP host {host!r} is not a loopback address; the "
                            "in-band link has no authentication, so it listens on 127.0.0.1 "
                            "or ::1 only (better: unix:PATH)")
    group = section.get("socket_group", str, "")
    if group and kind != "unix":
        raise section.error("socket_group", "applies to listen = \"unix:PATH\" only")
    section.finish()
    return InBandConfig(listen=listen, socket_group=group)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere
