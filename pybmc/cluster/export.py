"""The inventory in the formats cluster managers read: xcat, ironic, warewulf, hosts, csv."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from pybmc.cluster.spec import ClusterSpec, NodeSpec


def _disk_gib(node: NodeSpec) -> int:
    text = node.disk.strip().upper().removesuffix("B")
    scale = {"K": 1 / (1 << 20), "M": 1 / 1024, "G": 1, "T": 1024}
    try:
        if text and text[-1] in scale:
            return max(1, int(float(text[:-1]) * scale[text[-1]]))
        return max(1, int(text) >> 30)
    except ValueError:
        return 1


def _credentials(node: NodeSpec) -> tuple[str, str]:
    admin = node.admin
    return (admin.name, admin.password) if admin else ("", "")


def export_xcat(spec: ClusterSpec, addresses: dict[str, str]) -> str:
    """Node stanzas, as `mkdef -z` reads them (`cat file | mkdef -z`)."""
    out = []
    for node in spec.nodes:
        user, password = _credentials(node)
        attributes = {
            "objtype": "node", "groups": ",".join(node.groups), "ip": node.ip, "mac": node.mac,
            "bmc": addresses.get(node.name, node.bmc), "bmcusername": user,
            "bmcpassword": password, "mgt": "ipmi", "cons": "ipmi", "serialport": "0",
            "serialspeed": "115200", "netboot": "xnba" if node.firmware == "bios" else "grub2",
            "arch": node.arch,
        }
        out.append(f"{node.name}:")
        out += [f"    {key}={value}" for key, value in attributes.items() if value != ""]
        out.append("")
    return "\n".join(out)


def _ipmi_driver_info(address: str, user: str, password: str) -> dict[str, object]:
    return {"ipmi_address": address, "ipmi_username": user, "ipmi_password": password,
            "ipmi_port": 623}


def _redfish_driver_info(address: str, user: str, password: str,
                         name: str) -> dict[str, object]:
    # Each BMC serves Redfish on 443 with a self-signed certificate, its System named after it.
    return {"redfish_address": f"https://{address}", "redfish_system_id":
            f"/redfish/v1/Systems/{name}", "redfish_username": user,
            "redfish_password": password, "redfish_verify_ca": False}


def export_ironic(spec: ClusterSpec, addresses: dict[str, str], driver: str = "ipmi") -> str:
    """The `nodes` JSON `baremetal create` and Bifrost's inventory read."""
    nodes = []
    for node in spec.nodes:
        user, password = _credentials(node)
        address = addresses.get(node.name, node.bmc)
        nodes.append({
            "name": node.name,
            "driver": driver,
            "driver_info": (_redfish_driver_info(address, user, password, node.name)
                            if driver == "redfish" else
                            _ipmi_driver_info(address, user, password)),
            "properties": {"cpus": node.cpus, "memory_mb": node.memory,
                           "local_gb": _disk_gib(node), "cpu_arch": node.arch},
            "ports": [{"address": node.mac}],
        })
    return json.dumps({"nodes": nodes}, indent=2) + "\n"


def export_warewulf(spec: ClusterSpec, addresses: dict[str, str]) -> str:
    """nodes.conf entries (Warewulf 4) with the node's network device and IPMI settings."""
    netmask = str(spec.network.interface.netmask)
    out = ["nodeprofiles: {}", "nodes:"]
    for node in spec.nodes:
        user, password = _credentials(node)
        out += [f"  {node.name}:", "    profiles:", "    - default",
                "    ipmi:", f"      username: {json.dumps(user)}",
                f"      password: {json.dumps(password)}",
                f"      ipaddr: {addresses.get(node.name, node.bmc)}",
                f"      netmask: {netmask}", "      port: \"623\"",
                "      interface: lanplus",
                "    network devices:", "      default:", f"        hwaddr: {node.mac}"]
        if node.ip:
            out += [f"        ipaddr: {node.ip}", f"        netmask: {netmask}"]
    return "\n".join(out) + "\n"


def export_hosts(spec: ClusterSpec, addresses: dict[str, str]) -> str:
    """/etc/hosts lines: each node and its BMC as NAME-bmc."""
    out = [f"{spec.network.interface.ip}\t{spec.name}-head"]
    for node in spec.nodes:
        if node.ip:
            out.append(f"{node.ip}\t{node.name}")
        out.append(f"{addresses.get(node.name, node.bmc)}\t{node.name}-bmc")
    return "\n".join(out) + "\n"


def export_csv(spec: ClusterSpec, addresses: dict[str, str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "ip", "mac", "bmc", "bmc_user", "bmc_password", "cpus",
                     "memory_mb", "disk", "firmware"])
    for node in spec.nodes:
        user, password = _credentials(node)
        writer.writerow([node.name, node.ip, node.mac, addresses.get(node.name, node.bmc), user,
                         password, node.cpus, node.memory, node.disk, node.firmware])
    return buffer.getvalue()


EXPORTERS: dict[str, Callable[[ClusterSpec, dict[str, str]], str]] = {
    "xcat": export_xcat, "ironic": export_ironic,
    "ironic-redfish": lambda spec, addresses: export_ironic(spec, addresses, "redfish"),
    "warewulf": export_warewulf,
    "hosts": export_hosts, "csv": export_csv,
}


def export(spec: ClusterSpec, fmt: str, addresses: dict[str, str] | None = None) -> str:
    """`addresses`: BMC addresses as they are now (discovery may have moved them)."""
    return EXPORTERS[fmt](spec, addresses or {})
