"""What each node of a running cluster is doing: power, current BMC address, MAC, SOL, uptime.

Power and uptime come from the node's QEMU process (the qemu backend's pid file); whether SOL
is in use (and by whom) comes from the cluster's `pybmc serve` over its control socket, one
`list` request for every BMC (no IPMI client, no namespace entry: the socket is a file).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pybmc.cluster.record import ProcessRecord
from pybmc.cluster.spec import ClusterSpec, NodeSpec
from pybmc.config.bmc import BmcConfig, ConfigError, load_config
from pybmc.config.paths import run_dir
from pybmc.edge.power.process import process_start_time

LAN_IP_PARAMETER = "3"  # LAN configuration parameter 3: IP address, as saved in state.json
CONTROL_TIMEOUT = 5.0


@dataclass(frozen=True)
class NodeStatus:
    name: str
    power: str  # on | off | unknown
    bmc: str  # where the BMC is now (a client or bmcsetup may have moved it)
    configured_bmc: str
    mac: str
    ip: str
    uptime: float | None  # seconds since QEMU started, None when off
    sol: str = "unknown"  # active | inactive | unknown (serve not answering)
    sol_user: str | None = None  # who holds SOL: user@client-address:port


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


def ask_serve(path: Path, request: dict[str, object]) -> dict[str, object] | None:
    """One request to the cluster's serve over its control socket; None when it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONTROL_TIMEOUT)
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            with sock.makefile("rb") as stream:
                response = json.loads(stream.readline())
    except (OSError, ValueError):
        return None
    return response if isinstance(response, dict) and response.get("ok") else None


def sol_states(spec: ClusterSpec, control: Path) -> dict[str, tuple[str, str | None]]:
    """Each node's SOL state from the serve: (active|inactive, user@client or None)."""
    response = ask_serve(control, {"op": "list"})
    return sol_from_list(spec, response.get("bmcs") if response else None)


def sol_from_list(spec: ClusterSpec, bmcs: object) -> dict[str, tuple[str, str | None]]:
    """Each served node's SOL state out of the control socket's `list` answer."""
    if not isinstance(bmcs, list):
        return {}
    by_name = {entry.get("name"): entry for entry in bmcs if isinstance(entry, dict)}
    states: dict[str, tuple[str, str | None]] = {}
    for node in spec.nodes:
        entry = by_name.get(node.name)
        if entry is None or entry.get("state") != "running":
            continue
        holder = entry.get("sol")
        states[node.name] = (("active", str(holder)) if holder else ("inactive", None))
    return states


def node_statuses(spec: ClusterSpec, control: Path | None = None) -> list[NodeStatus]:
    """Every node's status; with `control` (the serve's control socket), SOL as serve has it."""
    addresses = current_addresses(spec)
    sol = sol_states(spec, control) if control is not None else {}
    statuses = []
    for node in spec.nodes:
        proc = qemu_process(spec, node)
        statuses.append(NodeStatus(
            name=node.name, power="on" if proc else "off", bmc=addresses[node.name],
            configured_bmc=node.bmc, mac=node.mac, ip=node.ip,
            uptime=_uptime(proc) if proc else None,
            sol=sol.get(node.name, ("unknown", None))[0],
            sol_user=sol.get(node.name, ("unknown", None))[1]))
    return statuses


SOL_CELLS = {"active": "active", "inactive": "-", "unknown": "?"}


def _sol_cell(status: NodeStatus) -> str:
    if status.sol == "active" and status.sol_user:
        return status.sol_user
    return SOL_CELLS[status.sol]


def format_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"


def status_table(statuses: list[NodeStatus], serve_running: bool) -> str:
    rows = [("NODE", "POWER", "BMC", "MAC", "IP", "SOL", "UPTIME")]
    for s in statuses:
        moved = "" if s.bmc == s.configured_bmc else f" (was {s.configured_bmc})"
        rows.append((s.name, s.power, s.bmc + moved, s.mac, s.ip or "-", _sol_cell(s),
                     format_uptime(s.uptime)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.append(f"BMCs: {'served' if serve_running else 'not running'}")
    return "\n".join(lines) + "\n"


def status_json(statuses: list[NodeStatus], serve_running: bool) -> str:
    return json.dumps({"serve_running": serve_running, "checked_at": time.time(),
                       "nodes": [asdict(s) for s in statuses]}, indent=2) + "\n"
