"""Rewrite a libvirt domain XML's boot order for a boot override (pure XML, no libvirt).

libvirt accepts either `<os><boot dev=...>` or per-device `<boot order=...>`, never a mix,
so the override keeps whichever style the domain already uses.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pybmc.model.power import BootChoice

# BootChoice device -> <os><boot dev>, and -> device elements that match it.
_OS_DEV = {"pxe": "network", "disk": "hd", "cdrom": "cdrom", "floppy": "fd"}


def _matches(element: ET.Element, device: str) -> bool:
    if device == "pxe":
        return element.tag == "interface"
    if element.tag != "disk":
        return False
    kind = element.get("device", "disk")
    return {"disk": "disk", "cdrom": "cdrom", "floppy": "floppy"}.get(device) == kind


def uses_device_boot_order(root: ET.Element) -> bool:
    devices = root.find("devices")
    return devices is not None and any(e.find("boot") is not None for e in devices)


def boot_override_xml(domain_xml: str, choice: BootChoice) -> str | None:
    """The domain XML booting `choice.device` first, or None when nothing needs changing
    (default/bios, or no device of that kind)."""
    dev = _OS_DEV.get(choice.device)
    if dev is None:
        return None
    root = ET.fromstring(domain_xml)
    if uses_device_boot_order(root):
        devices = root.find("devices")
        assert devices is not None
        chosen = [e for e in devices if _matches(e, choice.device)]
        if not chosen:
            return None
        others = [e for e in devices if e.find("boot") is not None and e not in chosen]
        others.sort(key=lambda e: int(e.find("boot").get("order", "99")))  # type: ignore[union-attr]
        for order, element in enumerate(chosen + others, start=1):
            boot = element.find("boot")
            if boot is None:
                boot = ET.SubElement(element, "boot")
            boot.set("order", str(order))
    else:
        os_el = root.find("os")
        if os_el is None:
            return None
        old = [b.get("dev") for b in os_el.findall("boot")]
        for b in os_el.findall("boot"):
            os_el.remove(b)
        index = list(os_el).index(os_el.find("type")) + 1 if os_el.find("type") is not None else 0
        for offset, name in enumerate([dev] + [d for d in old if d and d != dev]):
            boot = ET.Element("boot", {"dev": name})
            boot.tail = "\n    "
            os_el.insert(index + offset, boot)
    return ET.tostring(root, encoding="unicode")


def loader_is_efi(domain_xml: str) -> bool:
    """Whether the domain boots UEFI firmware (`<os firmware='efi'>` or a pflash loader)."""
    root = ET.fromstring(domain_xml)
    os_el = root.find("os")
    if os_el is None:
        return False
    loader = os_el.find("loader")
    return os_el.get("firmware") == "efi" or (loader is not None and loader.get("type") == "pflash")


def boot_order(domain_xml: str) -> tuple[str, ...]:
    """What the firmware tries, in order, as the XML says: `<os><boot dev>` names, or the
    devices with a `<boot order>` (as tag:target or tag:mac) sorted by it. Two XMLs with the
    same boot_order boot alike, whatever else differs."""
    root = ET.fromstring(domain_xml)
    if not uses_device_boot_order(root):
        return tuple(b.get("dev", "") for b in root.findall("os/boot"))
    devices = root.find("devices")
    assert devices is not None
    ordered = []
    for element in devices:
        boot = element.find("boot")
        if boot is None:
            continue
        target, mac = element.find("target"), element.find("mac")
        name = (target.get("dev", "") if target is not None and element.tag == "disk"
                else mac.get("address", "") if mac is not None else "")
        ordered.append((int(boot.get("order", "99")), f"{element.tag}:{name}"))
    return tuple(name for _, name in sorted(ordered))
