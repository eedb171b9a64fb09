"""Inventory exports parse as what each manager reads, and follow BMCs that moved."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from pybmc.cluster.export import EXPORTERS, export
from pybmc.cluster.spec import parse_cluster
from pybmc.cluster.status import NodeStatus, status_json, status_table

DATA = {
    "cluster": {"name": "lab"},
    "network": {"address": "192.168.123.1/24"},
    "defaults": {"users": [{"name": "admin", "password": "secret"}], "disk": "8G", "cpus": 2},
    "nodes": [{"name": "cn1", "ip": "192.168.123.3", "mac": "00:00:00:00:00:02",
               "bmc": "192.168.123.4"},
              {"name": "cn2", "ip": "192.168.123.5", "mac": "00:00:00:00:00:03",
               "bmc": "192.168.123.6", "firmware": "uefi"}],
}
SPEC = parse_cluster(DATA, "lab.toml", Path("/lab"))
MOVED = {"cn1": "192.168.123.40", "cn2": "192.168.123.6"}


def parse_xcat_stanzas(text: str) -> dict[str, dict[str, str]]:
    """The stanza format `mkdef -z` reads: 'name:' then indented key=value lines."""
    nodes: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith((" ", "\t")):
            assert line.endswith(":"), line
            current = nodes.setdefault(line[:-1], {})
            continue
        key, sep, value = line.strip().partition("=")
        assert sep, line
        current[key] = value
    return nodes


def test_xcat_stanzas():
    nodes = parse_xcat_stanzas(export(SPEC, "xcat", MOVED))
    assert set(nodes) == {"cn1", "cn2"}
    cn1 = nodes["cn1"]
    assert cn1 == {"objtype": "node", "groups": "all,compute", "ip": "192.168.123.3",
                   "mac": "00:00:00:00:00:02", "bmc": "192.168.123.40", "bmcusername": "admin",
                   "bmcpassword": "secret", "mgt": "ipmi", "cons": "ipmi", "serialport": "0",
                   "serialspeed": "115200", "netboot": "xnba", "arch": "x86_64"}
    assert nodes["cn2"]["netboot"] == "grub2" and nodes["cn2"]["bmc"] == "192.168.123.6"


def test_ironic_nodes_json():
    nodes = json.loads(export(SPEC, "ironic", MOVED))["nodes"]
    assert [n["name"] for n in nodes] == ["cn1", "cn2"]
    cn1 = nodes[0]
    assert cn1["driver"] == "ipmi"
    assert cn1["driver_info"] == {"ipmi_address": "192.168.123.40", "ipmi_username": "admin",
                                  "ipmi_password": "secret", "ipmi_port": 623}
    assert cn1["ports"] == [{"address": "00:00:00:00:00:02"}]
    assert cn1["properties"] == {"cpus": 2, "memory_mb": 1024, "local_gb": 8,
                                 "cpu_arch": "x86_64"}


def test_warewulf_nodes_conf():
    text = export(SPEC, "warewulf", MOVED)
    assert text.startswith("nodeprofiles: {}\nnodes:\n  cn1:\n")
    assert "      ipaddr: 192.168.123.40\n" in text
    assert "        hwaddr: 00:00:00:00:00:03\n" in text
    assert '      username: "admin"\n' in text


def test_hosts_and_csv():
    hosts = [line.split("\t") for line in export(SPEC, "hosts", MOVED).splitlines()]
    assert ["192.168.123.1", "lab-head"] in hosts and ["192.168.123.40", "cn1-bmc"] in hosts
    assert ["192.168.123.3", "cn1"] in hosts
    rows = list(csv.DictReader(io.StringIO(export(SPEC, "csv"))))
    assert rows[0]["bmc"] == "192.168.123.4" and rows[1]["firmware"] == "uefi"


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_every_format_ends_with_a_newline_and_names_every_node(fmt: str):
    text = export(SPEC, fmt)
    assert text.endswith("\n") and "cn1" in text and "cn2" in text


def test_status_table_and_json():
    statuses = [NodeStatus("cn1", "on", "192.168.123.40", "192.168.123.4", "00:00:00:00:00:02",
                           "192.168.123.3", 3725.0, "active"),
                NodeStatus("cn2", "off", "192.168.123.6", "192.168.123.6", "00:00:00:00:00:03",
                           "", None)]
    lines = status_table(statuses, True).splitlines()
    assert lines[0].split() == ["NODE", "POWER", "BMC", "MAC", "IP", "SOL", "UPTIME"]
    assert lines[1].split() == ["cn1", "on", "192.168.123.40", "(was", "192.168.123.4)",
                                "00:00:00:00:00:02", "192.168.123.3", "active", "1:02:05"]
    assert lines[2].split() == ["cn2", "off", "192.168.123.6", "00:00:00:00:00:03", "-", "?",
                                "-"]
    assert lines[3] == "BMCs: served"
    data = json.loads(status_json(statuses, False))
    assert data["serve_running"] is False and data["nodes"][0]["bmc"] == "192.168.123.40"
    assert [n["sol"] for n in data["nodes"]] == ["active", "unknown"]
