"""A libvirt domain's XML read into the inventory, and the XML snippets pybmc writes back to it.

Pure (stdlib xml.etree, no libvirt import): the libvirt backend passes `XMLDesc()` text in and
hands the returned device/domain XML to `updateDeviceFlags` / `defineXML`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from pybmc.model.inventory_types import Disk, Inventory, Nic, Processors

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
MEMORY_UNIT_MIB = {"b": 1 / (1 << 20), "bytes": 1 / (1 << 20), "kb": 1000 / (1 << 20),
                   "k": 1 / 1024, "kib": 1 / 1024, "mb": 1e6 / (1 << 20), "m": 1, "mib": 1,
                   "gb": 1e9 / (1 << 20), "g": 1024, "gib": 1024, "t": 1 << 20, "tib": 1 << 20}
ARCHITECTURES = {"x86_64": ("x86", "x86-64"), "i686": ("x86", "x86"),
                 "aarch64": ("ARM", "ARM-A64"), "ppc64le": ("Power", "PowerISA"),
                 "riscv64": ("RISC-V", "RV64")}


class DomainXmlError(ValueError):
    """The text is not a libvirt domain definition."""


@dataclass(frozen=True)
class Cdrom:
    target: str  # the guest-side name (hdc, sda ...): what updateDeviceFlags matches on
    bus: str
    source: str  # "" when the tray is empty


@dataclass(frozen=True)
class Domain:
    name: str
    uuid: str  # the system GUID
    inventory: Inventory
    cdroms: tuple[Cdrom, ...]


def domain_root(xml_text: str) -> ET.Element:
    """The <domain> element of a domain's XML; DomainXmlError for anything else."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as err:
        raise DomainXmlError(f"domain XML does not parse: {err}") from err
    if root.tag != "domain":
        raise DomainXmlError(f"expected <domain>, found <{root.tag}>")
    return root


def parse_domain(xml_text: str) -> Domain:
    """Identity, vCPUs, memory, NICs, disks and CD-ROM drives of a domain's XML."""
    root = domain_root(xml_text)
    disks: list[Disk] = []
    cdroms: list[Cdrom] = []
    for element in root.iterfind("devices/disk"):
        target = element.find("target")
        dev = target.get("dev", "") if target is not None else ""
        bus = target.get("bus", "") if target is not None else ""
        source = _disk_source(element)
        if element.get("device", "disk") == "cdrom":
            cdroms.append(Cdrom(dev, bus, source))
        elif element.get("device", "disk") == "disk":
            disks.append(Disk(dev or f"disk{len(disks)}", source, bus, None))
    nics = []
    for index, element in enumerate(root.iterfind("devices/interface")):
        mac = element.find("mac")
        model = element.find("model")
        nics.append(Nic(f"nic{index}", mac.get("address", "").lower() if mac is not None else "",
                        model.get("type", "") if model is not None else ""))
    loader = root.find("os/loader")
    uefi = root.find("os").get("firmware") == "efi" if root.find("os") is not None else False
    uefi = uefi or (loader is not None and loader.get("type") == "pflash")
    return Domain(root.findtext("name", ""), root.findtext("uuid", "").lower(),
                  Inventory(_processors(root), _memory_mib(root), tuple(nics), tuple(disks),
                            uefi), tuple(cdroms))


def _disk_source(disk: ET.Element) -> str:
    source = disk.find("source")
    if source is None:
        return ""
    return source.get("file") or source.get("dev") or source.get("name") or ""


def _memory_mib(root: ET.Element) -> int:
    memory = root.find("currentMemory")
    if memory is None:
        memory = root.find("memory")
    if memory is None or not (memory.text or "").strip():
        return 0
    factor = MEMORY_UNIT_MIB.get(memory.get("unit", "KiB").lower(), 1 / 1024)
    return int(int(memory.text.strip()) * factor)


def _processors(root: ET.Element) -> Processors:
    vcpus = int((root.findtext("vcpu") or "1").strip())
    topology = root.find("cpu/topology")
    sockets, cores, threads = vcpus, 1, 1
    if topology is not None:
        sockets = int(topology.get("sockets", "1"))
        cores = int(topology.get("cores", "1"))
        threads = int(topology.get("threads", "1"))
    os_type = root.find("os/type")
    arch = os_type.get("arch", "x86_64") if os_type is not None else "x86_64"
    architecture, instruction_set = ARCHITECTURES.get(arch, ("OEM", "OEM"))
    cpu = root.find("cpu")
    model = (root.findtext("cpu/model") or cpu.get("mode", "")) if cpu is not None else ""
    return Processors(sockets, cores, threads, model.strip() or "qemu64", architecture,
                      instruction_set)


def cdrom_xml(cdrom: Cdrom, source: str) -> str:
    """The <disk device='cdrom'> for updateDeviceFlags: `source` inserted, or "" to eject."""
    source_xml = f"<source file={quoteattr(source)}/>" if source else ""
    bus = f" bus={quoteattr(cdrom.bus)}" if cdrom.bus else ""
    return (f"<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>{source_xml}"
            f"<target dev={quoteattr(cdrom.target)}{bus}/><readonly/></disk>")


def in_band_args(socket_path: str, interface: str = "kcs") -> list[str]:
    """QEMU args connecting an ipmi-bmc-extern + isa-ipmi-<interface> to pybmc's socket."""
    path = socket_path.replace(",", ",,")  # QEMU's option escaping
    return ["-chardev", f"socket,id=pybmc-ipmi,path={path},reconnect=1",
            "-device", "ipmi-bmc-extern,id=pybmc-bmc,chardev=pybmc-ipmi",
            "-device", f"isa-ipmi-{interface},bmc=pybmc-bmc"]


def with_in_band(xml_text: str, socket_path: str, interface: str = "kcs") -> str:
    """The domain XML with the in-band device added through <qemu:commandline> (replacing a
    previous pybmc one), ready for defineXML."""
    ET.register_namespace("qemu", QEMU_NS)
    root = domain_root(xml_text)
    commandline = root.find(f"{{{QEMU_NS}}}commandline")
    if commandline is None:
        commandline = ET.SubElement(root, f"{{{QEMU_NS}}}commandline")
    args = list(commandline)
    for index, arg in enumerate(args):  # drop an earlier pybmc snippet: attach is idempotent
        if "pybmc-ipmi" in arg.get("value", "") or "pybmc-bmc" in arg.get("value", ""):
            commandline.remove(arg)
            flag = args[index - 1] if index > 0 else None
            if flag is not None and flag.get("value") in ("-chardev", "-device") \
                    and flag in list(commandline):
                commandline.remove(flag)
    for value in in_band_args(socket_path, interface):
        ET.SubElement(commandline, f"{{{QEMU_NS}}}arg", {"value": value})
    return ET.tostring(root, encoding="unicode")


def dac_seclabel_xml(uid: int, gid: int) -> str:
    """A per-domain DAC label: QEMU runs as uid:gid (numeric), libvirt chowns nothing."""
    return (f"<seclabel type='static' model='dac' relabel='no'>"
            f"<label>+{uid}:+{gid}</label></seclabel>")


def with_dac_seclabel(xml_text: str, uid: int, gid: int) -> str:
    """The domain XML with QEMU running as uid:gid (`dac_seclabel_xml`), replacing a
    domain-level DAC <seclabel> it had; labels of other models (SELinux, AppArmor) stay."""
    root = domain_root(xml_text)
    ET.register_namespace("qemu", QEMU_NS)
    for old in root.findall("seclabel"):
        if old.get("model") == "dac":
            root.remove(old)
    label = ET.fromstring(dac_seclabel_xml(uid, gid))
    devices = list(root).index(root.find("devices")) if root.find("devices") is not None \
        else len(root) - 1
    root.insert(devices + 1, label)  # where libvirt writes it: after <devices>
    return ET.tostring(root, encoding="unicode")


def dac_label(xml_text: str) -> str | None:
    """The domain-level DAC <seclabel>'s label ("+UID:+GID", "user:group"), or None."""
    root = ET.fromstring(xml_text)
    for element in root.findall("seclabel"):
        if element.get("model") == "dac" and element.get("type") == "static":
            return (element.findtext("label") or "").strip() or None
    return None
