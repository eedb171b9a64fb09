"""Boot-order rewrites of libvirt domain XML."""

import xml.etree.ElementTree as ET

from pybmc.model.libvirt_boot import boot_override_xml, loader_is_efi
from pybmc.model.power import BootChoice

OS_STYLE = """<domain><os><type>hvm</type><boot dev='hd'/><boot dev='network'/></os>
<devices><disk device='disk'/><interface type='network'/></devices></domain>"""
DEVICE_STYLE = """<domain><os><type>hvm</type></os><devices>
<disk device='disk'><boot order='1'/></disk><interface type='network'><boot order='2'/></interface>
</devices></domain>"""


def test_os_style_puts_network_first() -> None:
    root = ET.fromstring(boot_override_xml(OS_STYLE, BootChoice("pxe")))
    assert [b.get("dev") for b in root.find("os").findall("boot")] == ["network", "hd"]


def test_device_style_renumbers_and_never_mixes() -> None:
    root = ET.fromstring(boot_override_xml(DEVICE_STYLE, BootChoice("pxe")))
    assert root.find("devices/interface/boot").get("order") == "1"
    assert root.find("devices/disk/boot").get("order") == "2"
    assert root.find("os/boot") is None


def test_default_changes_nothing() -> None:
    assert boot_override_xml(OS_STYLE, BootChoice("default")) is None


def test_efi_from_loader() -> None:
    assert loader_is_efi("<domain><os firmware='efi'/></domain>")
    assert loader_is_efi("<domain><os><loader type='pflash'>x</loader></os></domain>")
    assert not loader_is_efi(OS_STYLE)
