"""What each node of a running cluster is doing: power, current BMC address, MAC, uptime."""

from __future__ import annotations

import ipaddress
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pybmc.cluster.record import ProcessRecord
from pybmc.cluster.spec import ClusterSpec, NodeSpec
from pybmc.config.bmc import BmcConfig, ConfigError, load_config
from pybmc.config.paths import run_dir
from pybmc.edge.power.process import process_start_time

LAN_IP_PARAMETER = "3"  # LAN configuration parameter 3: IP address, as saved in state.json


@dataclass(frozen=True)
class NodeStatus:
    name: str
    power: str  # on | off | unknown
    bmc: str  # where the BMC is now (a client or bmcsetup may have moved it)
    configured_bmc: str
    mac: str
    ip: str
    uptime: float | None  # seconds since QEMU started, None when off


def bmc_config_path(spec: ClusterSpec, name: str) -> Path:
    return spec.state_dir / "bmc" / f"{name}.toml"


def bmc_config_of(spec: ClusterSpec, node: NodeSpec) -> BmcConfig | None:
    try:
        return load_config(bmc_config_path(spec, node.name))
    except ConfigError:
        return None


def qemu_process(spec: ClusterSpec, node: NodeSpec) -> ProcessRecord | None:
    """The node's QEMU as the qemu backend recorded it, when that very process still runs."""
    config = bmc_config_of(spec, node)
    if config is None:
        return None
    try:
        record = json.loads((run_dir(config) / "qemu.pid").read_text())
        proc = ProcessRecord(int(record["pid"]), record.get("start_time"), "qemu")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return proc if proc.alive() else None


def current_bmc_address(spec: ClusterSpec, node: NodeSpec) -> str:
    state = spec.state_dir / "nodes" / node.name / "bmc" / "state.json"
    try:
        raw = json.loads(state.read_text()).get("lan", {}).get(LAN_IP_PARAMETER, "")
        return str(ipaddress.IPv4Address(bytes.fromhex(raw))) if raw else node.bmc
    except (OSError, ValueError, AttributeError):
        return node.bmc


def current_addresses(spec: ClusterSpec) -> dict[str, str]:
    return {node.name: current_bmc_address(spec, node) for node in spec.nodes}


def _uptime(proc: ProcessRecord) -> float | None:
    started = process_start_time(proc.pid)
    if started is None:
        return None
    try:
        boot_seconds = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError):
        return None
    return max(0.0, boot_seconds - started / os.sysconf("SC_CLK_TCK"))


def node_statuses(spec: ClusterSpec) -> list[NodeStatus]:
    statuses = []
    for node in spec.nodes:
        proc = qemu_process(spec, node)
        statuses.append(NodeStatus(
            name=node.name, power="on" if proc else "off",
            bmc=current_bmc_address(spec, node), configured_bmc=node.bmc, mac=node.mac,
            ip=node.ip, uptime=_uptime(proc) if proc else None))
    return statuses


def format_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"


def status_table(statuses: list[NodeStatus], serve_running: bool) -> str:
    rows = [("NODE", "POWER", "BMC", "MAC", "IP", "UPTIME")]
    for s in statuses:
        moved = "" if s.bmc == s.configured_bmc else f" (was {s.configured_bmc})"
        rows.append((s.name, s.power, s.bmc + moved, s.mac, s.ip or "-", format_uptime(s.uptime)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.append(f"BMCs: {'served' if serve_running else 'not running'}")
    return "\n".join(lines) + "\n"


def status_json(statuses: list[NodeStatus], serve_running: bool) -> str:
    return json.dumps({"serve_running": serve_running, "checked_at": time.time(),
                       "nodes": [asdict(s) for s in statuses]}, indent=2) + "\n"
