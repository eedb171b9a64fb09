"""The cluster file (TOML) -> frozen dataclasses, with node generators and clear errors."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybmc.config.bmc import PRIVILEGE_NAMES, ConfigError, read_toml

FIRMWARES = ("bios", "uefi")
HEAD_PLACES = ("lab", "host")
BOOT_DEVICES = ("network", "disk", "cdrom")
# "{n}", "{2n}", "{2n+2}", "{n-1}", "{n:02}": the generator's index, scaled and shifted.
TEMPLATE = re.compile(r"\{(\d*)n([+-]\d+)?(?::(0?\d+))?\}")
NODE_KEYS = ("name", "ip", "mac", "bmc", "cmdline", "memory", "cpus", "disk", "base", "boot",
             "firmware", "qemu_args", "users", "groups", "arch")
DEFAULT_KEYS = ("memory", "cpus", "disk", "base", "boot", "firmware", "qemu_args", "users",
                "groups", "arch")


@dataclass(frozen=True)
class UserSpec:
    name: str
    password: str
    privilege: str = "administrator"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    index: int  # 1-based position in the file: picks the tap name
    mac: str
    bmc: str
    ip: str = ""
    cmdline: str = ""
    memory: int = 1024
    cpus: int = 1
    disk: str = "8G"
    base: str = ""
    boot: tuple[str, ...] = ("network", "disk")
    firmware: str = "bios"
    qemu_args: tuple[str, ...] = ()
    users: tuple[UserSpec, ...] = ()
    groups: tuple[str, ...] = ("all", "compute")
    arch: str = "x86_64"

    @property
    def admin(self) -> UserSpec | None:
        return self.users[0] if self.users else None


@dataclass(frozen=True)
class NetworkSpec:
    bridge: str = "br0"
    address: str = "192.168.123.1/24"
    nat: bool = False
    head: str = "lab"  # where the head's address is: "lab" (the bridge) or "host" (a veth)

    @property
    def interface(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(self.address)


@dataclass(frozen=True)
class ProvisionSpec:
    enabled: bool = False
    range: str = ""
    kernel: str = ""
    initrd: str = ""
    cmdline: str = "console=ttyS0,115200"
    http: bool = False  # kernel and initrd over HTTP (pybmc serves them), not TFTP
    http_port: int = 8080


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    state_dir: Path
    network: NetworkSpec
    provision: ProvisionSpec
    nodes: tuple[NodeSpec, ...]
    netns: str = ""
    base_dir: Path = Path(".")
    source: str = "<embedded>"

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise ConfigError(f"{self.source}: no node named {name!r}")

    @property
    def head_outside(self) -> bool:
        """The head's address is on a veth in the caller's namespace, joined to the bridge."""
        return bool(self.netns) and self.network.head == "host"

    def veth_names(self) -> tuple[str, str]:
        """(the end in the caller's namespace, the end on the lab's bridge)."""
        return f"{self.netns[:10]}-head", "head0"

    def tap_name(self, node: NodeSpec) -> str:
        # Interface names are at most 15 bytes; bridge prefix + index stays short and unique.
        return f"{self.network.bridge[:8]}t{node.index}"[:15]

    def resolve(self, path: str) -> Path:
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.base_dir / candidate


def deterministic_mac(cluster: str, node: str) -> str:
    """A locally administered MAC in QEMU's 52:54:00 range, the same on every `up`."""
    digest = hashlib.sha256(f"{cluster}/{node}".encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])


def expand_template(text: str, n: int) -> str:
    def value(match: re.Match[str]) -> str:
        factor = int(match.group(1) or 1)
        offset = int(match.group(2) or 0)
        width = match.group(3)
        number = factor * n + offset
        return f"{number:{width}d}" if width else str(number)
    return TEMPLATE.sub(value, text)


def load_cluster(path: str | Path) -> ClusterSpec:
    path = Path(path)
    return parse_cluster(read_toml(path), str(path), path.resolve().parent)


class _Table:
    """One table of the cluster file; leftover keys are errors (a typo is not a default)."""

    def __init__(self, source: str, where: str, table: Any, known: tuple[str, ...]) -> None:
        self.source, self.where = source, where
        if not isinstance(table, dict):
            raise self.error(None, "must be a table")
        extra = sorted(set(table) - set(known))
        if extra:
            raise self.error(extra[0], "is not a known key")
        self.table: dict[str, Any] = table

    def error(self, key: str | None, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: [{self.where}]" + (f" {key}" if key else "")
                           + f": {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None,
            required: bool = False) -> Any:
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kind):
            raise self.error(key, f"has the wrong type: {value!r}")
        return value


def _ipv4(table: _Table, key: str, value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise table.error(key, f"is not an IPv4 address: {value!r}") from None


def _users(table: _Table, items: Any) -> tuple[UserSpec, ...]:
    if not isinstance(items, list):
        raise table.error("users", "must be a list of tables")
    users = []
    for index, item in enumerate(items):
        entry = _Table(table.source, f"{table.where} users.{index}", item,
                       ("name", "password", "privilege"))
        privilege = entry.get("privilege", str, "administrator")
        if privilege not in PRIVILEGE_NAMES:
            raise entry.error("privilege", f"must be one of {', '.join(PRIVILEGE_NAMES)}")
        users.append(UserSpec(entry.get("name", str, required=True),
                              entry.get("password", str, ""), privilege))
    return tuple(users)


def _node_settings(table: _Table, inherited: dict[str, Any]) -> dict[str, Any]:
    """The per-node settings that [defaults] may give, checked and merged."""
    settings = dict(inherited)
    for key, kind in (("memory", int), ("cpus", int), ("disk", str), ("base", str),
                      ("firmware", str), ("arch", str)):
        if key in table.table:
            settings[key] = table.get(key, kind)
    for key in ("boot", "qemu_args", "groups"):
        if key in table.table:
            value = table.get(key, list)
            if not all(isinstance(v, str) for v in value):
                raise table.error(key, "must be a list of strings")
            settings[key] = tuple(value)
    if "users" in table.table:
        settings["users"] = _users(table, table.table["users"])
    if settings.get("firmware", "bios") not in FIRMWARES:
        raise table.error("firmware", f"must be one of {', '.join(FIRMWARES)}")
    for device in settings.get("boot", ()):
        if device not in BOOT_DEVICES:
            raise table.error("boot", f"{device!r} is not one of {', '.join(BOOT_DEVICES)}")
    if not 16 <= settings.get("memory", 1024) <= 1 << 20:
        raise table.error("memory", "must be between 16 and 1048576 MiB")
    if not 1 <= settings.get("cpus", 1) <= 256:
        raise table.error("cpus", "must be between 1 and 256")
    return settings


def _node_tables(source: str, nodes: Any) -> list[tuple[str, dict[str, Any]]]:
    """[[nodes]] entries as they are, and `[nodes] count = N` generators expanded."""
    if nodes is None:
        return []
    groups = [nodes] if isinstance(nodes, dict) else nodes
    if not isinstance(groups, list):
        raise ConfigError(f"{source}: [nodes]: must be a table or an array of tables")
    expanded: list[tuple[str, dict[str, Any]]] = []
    for index, group in enumerate(groups):
        where = f"nodes.{index}"
        if not isinstance(group, dict):
            raise ConfigError(f"{source}: [{where}]: must be a table")
        if "count" not in group:
            expanded.append((where, group))
            continue
        table = _Table(source, where, group, (*NODE_KEYS, "count", "start"))
        count = table.get("count", int)
        start = table.get("start", int, 1)
        if not 1 <= count <= 4096:
            raise table.error("count", "must be between 1 and 4096")
        if "name" not in group or "{" not in str(group["name"]):
            raise table.error("name", "of a generator must contain {n}, like \"cn{n}\"")
        for n in range(start, start + count):
            entry = {key: expand_template(value, n) if isinstance(value, str) else value
                     for key, value in group.items() if key not in ("count", "start")}
            expanded.append((f"{where} n={n}", entry))
    return expanded


def parse_cluster(data: dict[str, Any], source: str = "<embedded>",
                  base_dir: Path | None = None) -> ClusterSpec:
    base_dir = base_dir or Path(".")
    for key in data:
        if key not in ("cluster", "network", "provision", "defaults", "nodes"):
            raise ConfigError(f"{source}: [{key}]: is not a known section")
    cluster = _Table(source, "cluster", data.get("cluster", {}), ("name", "netns", "state_dir"))
    name = cluster.get("name", str, required=True)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", name):
        raise cluster.error("name", f"must be letters, digits, '-', '_' or '.'; got {name!r}")
    netns = cluster.get("netns", str, "")
    if netns and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", netns):
        raise cluster.error("netns", f"is not a usable namespace name: {netns!r}")
    state_dir = Path(cluster.get("state_dir", str, "state"))
    if not state_dir.is_absolute():
        state_dir = base_dir / state_dir

    net = _Table(source, "network", data.get("network", {}),
                 ("bridge", "address", "nat", "head"))
    network = NetworkSpec(net.get("bridge", str, "br0"),
                          net.get("address", str, "192.168.123.1/24"), net.get("nat", bool, False),
                          net.get("head", str, "lab"))
    if network.head not in HEAD_PLACES:
        raise net.error("head", f"must be one of {', '.join(HEAD_PLACES)}")
    if network.head == "host" and not netns:
        raise net.error("head", "\"host\" needs [cluster] netns (without one the lab is the host)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", network.bridge):
        raise net.error("bridge", "must be 1 to 15 letters, digits, '-', '_' or '.'")
    try:
        subnet = ipaddress.IPv4Interface(network.address).network
    except ValueError:
        raise net.error("address", f"must be like 192.168.123.1/24: {network.address!r}") from None

    prov = _Table(source, "provision", data.get("provision", {}),
                  ("enabled", "range", "kernel", "initrd", "cmdline", "http", "http_port"))
    provision = ProvisionSpec(prov.get("enabled", bool, "provision" in data),
                              prov.get("range", str, ""), prov.get("kernel", str, ""),
                              prov.get("initrd", str, ""),
                              prov.get("cmdline", str, "console=ttyS0,115200"),
                              prov.get("http", bool, False), prov.get("http_port", int, 8080))
    if not 1 <= provision.http_port <= 65535:
        raise prov.error("http_port", "must be between 1 and 65535")
    if provision.enabled:
        for key in ("range", "kernel"):
            if not getattr(provision, key):
                raise prov.error(key, "is required when provisioning is enabled")
        for part in provision.range.split(","):
            if ipaddress.IPv4Address(_ipv4(prov, "range", part.strip())) not in subnet:
                raise prov.error("range", f"{part.strip()} is outside {subnet}")

    defaults_table = _Table(source, "defaults", data.get("defaults", {}), DEFAULT_KEYS)
    defaults = _node_settings(defaults_table, {})
    nodes = _parse_nodes(source, name, data.get("nodes"), defaults, subnet, network)
    return ClusterSpec(name=name, state_dir=state_dir, network=network, provision=provision,
                       nodes=nodes, netns=netns, base_dir=base_dir, source=source)


def _parse_nodes(source: str, cluster: str, raw: Any, defaults: dict[str, Any],
                 subnet: ipaddress.IPv4Network, network: NetworkSpec) -> tuple[NodeSpec, ...]:
    nodes: list[NodeSpec] = []
    seen: dict[str, str] = {str(network.interface.ip): "the host address"}
    for index, (where, entry) in enumerate(_node_tables(source, raw), start=1):
        table = _Table(source, where, entry, NODE_KEYS)
        name = table.get("name", str, required=True)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", name):
            raise table.error("name", f"must be letters, digits, '-', '_' or '.'; got {name!r}")
        if any(n.name == name for n in nodes):
            raise table.error("name", f"node {name!r} is defined twice")
        settings = _node_settings(table, defaults)
        bmc = _ipv4(table, "bmc", table.get("bmc", str, required=True))
        ip = table.get("ip", str, "")
        ip = _ipv4(table, "ip", ip) if ip else ""
        for key, address in (("bmc", bmc), ("ip", ip)):
            if not address:
                continue
            if ipaddress.IPv4Address(address) not in subnet:
                raise table.error(key, f"{address} is outside the bridge's subnet {subnet}")
            if address in seen:
                raise table.error(key, f"{address} is already {seen[address]}")
            seen[address] = f"{key} of {name}"
        mac = table.get("mac", str, "").lower() or deterministic_mac(cluster, name)
        if not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac):
            raise table.error("mac", f"is not a MAC address like 52:54:00:12:34:56: {mac!r}")
        if mac in seen:
            raise table.error("mac", f"{mac} is already {seen[mac]}")
        seen[mac] = f"mac of {name}"
        nodes.append(NodeSpec(name=name, index=index, mac=mac, bmc=bmc, ip=ip,
                              cmdline=table.get("cmdline", str, ""), **settings))
    if not nodes:
        raise ConfigError(f"{source}: [[nodes]]: at least one node is required")
    return tuple(nodes)
