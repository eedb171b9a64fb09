"""The [libvirt] section: which libvirt domain a `[power] backend = "libvirt"` BMC drives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pybmc.config.section import _Section

DEFAULT_URI = "qemu:///system"


@dataclass(frozen=True)
class LibvirtConfig:
    uri: str = DEFAULT_URI  # any libvirt URI: qemu:///system, qemu+ssh://host/system, test:///default
    domain: str = ""  # the domain's name or UUID
    # Not read from TOML: the domain's XML as read when the BMC was built, for the inventory
    # (pybmc.model.inventory); "" until then.
    domain_xml: str = ""


def parse_libvirt(source: str, table: Any, backend: str) -> LibvirtConfig:
    section = _Section(source, "libvirt", table)
    uri = section.get("uri", str, DEFAULT_URI)
    domain = section.get("domain", str, "")
    section.finish()
    if not uri:
        raise section.error("uri", "must not be empty")
    if backend == "libvirt" and not domain:
        raise section.error("domain", "is required with [power] backend = \"libvirt\" "
                            "(the domain's name or UUID)")
    return LibvirtConfig(uri=uri, domain=domain)
