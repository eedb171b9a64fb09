"""VirtualBMC's per-domain config files (`~/.vbmc/<domain>/config`) as pybmc TOML tables.

Each is an INI file with one [VirtualBMC] section: username, password, address, port,
domain_name, libvirt_uri, libvirt_sasl_username/password (written as `None` when unset) and,
in newer releases, active (True/False: whether `vbmc start` left it running).
"""

from __future__ import annotations

import configparser
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECTION = "VirtualBMC"


class VbmcError(Exception):
    """A VirtualBMC config that cannot be imported, phrased as one line."""


@dataclass(frozen=True)
class VbmcEntry:
    source: str  # the config file
    domain: str
    username: str
    password: str
    address: str
    port: int
    libvirt_uri: str
    active: bool


def _value(parser: configparser.ConfigParser, key: str, default: str = "") -> str:
    value = parser.get(SECTION, key, fallback=default)
    return default if value in ("None", "") else value


def read_vbmc_config(path: Path) -> VbmcEntry:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as err:
        raise VbmcError(f"{path}: cannot read: {err.strerror or err}") from None
    except configparser.Error as err:
        raise VbmcError(f"{path}: not a VirtualBMC config: {err.message}") from None
    if not parser.has_section(SECTION):
        raise VbmcError(f"{path}: no [{SECTION}] section")
    domain = _value(parser, "domain_name", path.parent.name)
    port_text = _value(parser, "port", "623")
    try:
        port = int(port_text)
    except ValueError:
        raise VbmcError(f"{path}: port: not a number: {port_text!r}") from None
    for key in ("username", "password"):
        if not _value(parser, key):
            raise VbmcError(f"{path}: {key}: missing")
    return VbmcEntry(source=str(path), domain=domain, username=_value(parser, "username"),
                     password=_value(parser, "password"),
                     address=_value(parser, "address", "::"), port=port,
                     libvirt_uri=_value(parser, "libvirt_uri", "qemu:///system"),
                     active=_value(parser, "active", "True").lower() == "true")


def read_vbmc_dir(directory: Path) -> list[VbmcEntry]:
    """Every `<domain>/config` under `directory`, in domain order."""
    if not directory.is_dir():
        raise VbmcError(f"{directory}: not a directory")
    paths = sorted(p / "config" for p in directory.iterdir()
                   if p.is_dir() and (p / "config").is_file())
    if not paths:
        raise VbmcError(f"{directory}: no <domain>/config files (VirtualBMC's ~/.vbmc)")
    return [read_vbmc_config(path) for path in paths]


def serving_address(entry: VbmcEntry, fallback: str | None) -> str:
    """The one IPv4 address pybmc serves the BMC on; VbmcError when there is none."""
    try:
        parsed = ipaddress.ip_address(entry.address)
    except ValueError:
        raise VbmcError(f"{entry.source}: address: not an IP address: "
                        f"{entry.address!r}") from None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if parsed.is_unspecified or isinstance(parsed, ipaddress.IPv6Address):
        if fallback is None:
            raise VbmcError(
                f"{entry.source}: address {entry.address}: pybmc serves each BMC on one IPv4 "
                f"address (IPv6 and every-address listeners are not supported); give "
                f"--address A for such BMCs")
        return fallback
    return str(parsed)


def vbmc_tables(entry: VbmcEntry, fallback_address: str | None,
                simulated: bool) -> dict[str, Any]:
    """The pybmc TOML tables of one VirtualBMC BMC (a stopped one stays stopped)."""
    name = entry.domain if _is_name(entry.domain) else "".join(
        c if c.isalnum() or c in "-_." else "-" for c in entry.domain)
    bmc: dict[str, Any] = {"name": name, "address": serving_address(entry, fallback_address),
                           "port": entry.port}
    if not entry.active:
        bmc["enabled"] = False
    data: dict[str, Any] = {
        "bmc": bmc,
        "users": [{"name": entry.username, "password": entry.password,
                   "privilege": "administrator"}],
    }
    if simulated:
        data["power"] = {"backend": "simulated"}
    else:
        data["power"] = {"backend": "libvirt"}
        data["libvirt"] = {"uri": entry.libvirt_uri, "domain": entry.domain}
    return data


def _is_name(text: str) -> bool:
    return bool(text) and all(c.isalnum() or c in "-_." for c in text)
