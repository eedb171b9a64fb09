"""Domain XML -> inventory, CD-ROM media XML and the in-band <qemu:commandline> snippet."""

import xml.etree.ElementTree as ET

import pytest

from pybmc.model.libvirt_domain import (
    QEMU_NS,
    Cdrom,
    DomainXmlError,
    cdrom_xml,
    parse_domain,
    with_in_band,
)

DOMAIN = """<domain type='qemu'>
  <name>node1</name>
  <uuid>6A5B3C2D-1111-2222-3333-444455556666</uuid>
  <memory unit='KiB'>524288</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <os firmware='efi'><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <cpu mode='custom'><model>Haswell</model><topology sockets='1' cores='2' threads='2'/></cpu>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/libvirt/images/n1.qcow2'/>
      <target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
    <interface type='network'><mac address='52:54:00:AA:BB:01'/><source network='default'/>
      <model type='virtio'/></interface>
    <interface type='user'><mac address='52:54:00:aa:bb:02'/><model type='e1000'/></interface>
  </devices>
</domain>"""


def test_parse_domain_reads_identity_cpus_memory_nics_disks() -> None:
    domain = parse_domain(DOMAIN)
    assert domain.name == "node1"
    assert domain.uuid == "6a5b3c2d-1111-2222-3333-444455556666"
    inventory = domain.inventory
    assert inventory.memory_mib == 256
    assert (inventory.processors.sockets, inventory.processors.cores,
            inventory.processors.threads, inventory.processors.logical) == (1, 2, 2, 4)
    assert inventory.processors.model == "Haswell"
    assert inventory.processors.instruction_set == "x86-64"
    assert [(n.mac, n.model) for n in inventory.nics] == [("52:54:00:aa:bb:01", "virtio"),
                                                          ("52:54:00:aa:bb:02", "e1000")]
    assert [(d.disk_id, d.path, d.interface) for d in inventory.disks] == [
        ("vda", "/var/lib/libvirt/images/n1.qcow2", "virtio")]
    assert inventory.uefi is True
    assert domain.cdroms == (Cdrom("sda", "sata", ""),)


def test_parse_domain_without_topology_gives_one_socket_per_vcpu() -> None:
    domain = parse_domain("<domain><name>x</name><uuid>u</uuid><memory>1048576</memory>"
                          "<vcpu>2</vcpu><os><type>hvm</type></os></domain>")
    assert domain.inventory.processors.sockets == 2
    assert domain.inventory.memory_mib == 1024
    assert domain.inventory.uefi is False


@pytest.mark.parametrize("text", ["<domain", "<network/>"])
def test_parse_domain_rejects_non_domain_xml(text: str) -> None:
    with pytest.raises(DomainXmlError):
        parse_domain(text)


def test_cdrom_xml_inserts_and_ejects() -> None:
    drive = Cdrom("sda", "sata", "")
    inserted = ET.fromstring(cdrom_xml(drive, "/tmp/boot's.iso"))
    assert inserted.get("device") == "cdrom"
    assert inserted.find("source").get("file") == "/tmp/boot's.iso"
    assert inserted.find("target").attrib == {"dev": "sda", "bus": "sata"}
    ejected = ET.fromstring(cdrom_xml(drive, ""))
    assert ejected.find("source") is None
    assert ejected.find("target").get("dev") == "sda"


def _args(xml_text: str) -> list[str]:
    root = ET.fromstring(xml_text)
    return [a.get("value") for a in root.iterfind(f"{{{QEMU_NS}}}commandline/{{{QEMU_NS}}}arg")]


def test_with_in_band_adds_kcs_commandline_once() -> None:
    once = with_in_band(DOMAIN, "/tmp/pybmc,n1.sock")
    assert "xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\"" in once
    expected = ["-chardev", "socket,id=pybmc-ipmi,path=/tmp/pybmc,,n1.sock,reconnect=1",
                "-device", "ipmi-bmc-extern,id=pybmc-bmc,chardev=pybmc-ipmi",
                "-device", "isa-ipmi-kcs,bmc=pybmc-bmc"]
    assert _args(once) == expected
    assert _args(with_in_band(once, "/tmp/pybmc,n1.sock")) == expected  # idempotent
    assert parse_domain(once).uuid == "6a5b3c2d-1111-2222-3333-444455556666"
