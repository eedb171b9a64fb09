"""What each node of a running cluster is doing: power, current BMC address, MAC, SOL, uptime.

Power and uptime come from the node's QEMU process (the qemu backend's pid file); whether SOL
is in use comes from the BMC itself, over the LAN as a client sees it: Get Payload Activation
Status for SOL, asked with ipmitool (inside the lab's namespace), every BMC at once.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from pybmc.cluster.record import ProcessRecord
from pybmc.cluster.spec import ClusterSpec, NodeSpec
from pybmc.config.bmc import BmcConfig, ConfigError, load_config
from pybmc.config.paths import run_dir
from pybmc.edge.power.process import process_start_time

LAN_IP_PARAMETER = "3"  # LAN configuration parameter 3: IP address, as saved in state.json
# Get Payload Activation Status (App 0x4A) for payload type 1 (SOL).
SOL_ACTIVATION_STATUS = ("raw", "0x06", "0x4a", "0x01")
SOL_QUERY_TIMEOUT = 8.0
SOL_QUERY_PARALLEL = 16


@dataclass(frozen=True)
class NodeStatus:
    name: str
    power: str  # on | off | unknown
    bmc: str  # where the BMC is now (a client or bmcsetup may have moved it)
    configured_bmc: str
    mac: str
    ip: str
    uptime: float | None  # seconds since QEMU started, None when off
    sol: str = "unknown"  # active | inactive | unknown (BMC not answering, no ipmitool)


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


def parse_sol_activation(output: str) -> str:
    """ipmitool's hex bytes of the reply: instance capacity, then the activated instances."""
    try:
        data = bytes.fromhex(output.strip().replace("\n", " "))
    except ValueError:
        return "unknown"
    if len(data) < 3:
        return "unknown"
    return "active" if data[1] or data[2] else "inactive"


def sol_activation(node: NodeSpec, bmc: str) -> str:
    """Whether the node's BMC reports a SOL session active (asked as its first user)."""
    binary = shutil.which("ipmitool")
    user = node.admin
    if binary is None or user is None:
        return "unknown"
    try:
        result = subprocess.run(
            [binary, "-I", "lanplus", "-H", bmc, "-U", user.name, "-E", "-R", "1", "-N", "2",
             *SOL_ACTIVATION_STATUS],
            env={**os.environ, "IPMI_PASSWORD": user.password},  # not on the command line
            capture_output=True, text=True, timeout=SOL_QUERY_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return parse_sol_activation(result.stdout) if result.returncode == 0 else "unknown"


def sol_activations(spec: ClusterSpec, addresses: dict[str, str],
                    enter: Callable[[], None] | None) -> dict[str, str]:
    # Each worker thread enters the namespace once; the children it forks are born there
    # (a preexec_fn is not safe while other threads run).
    with ThreadPoolExecutor(max_workers=SOL_QUERY_PARALLEL, initializer=enter) as pool:
        answers = {node.name: pool.submit(sol_activation, node, addresses[node.name])
                   for node in spec.nodes}
        return {name: answer.result() for name, answer in answers.items()}


def node_statuses(spec: ClusterSpec, ask_bmcs: bool = False,
                  enter: Callable[[], None] | None = None) -> list[NodeStatus]:
    """Every node's status; with ask_bmcs (the BMCs are served), SOL as each BMC reports it,
    asked from inside the lab's namespace (`enter` moves a child process there)."""
    addresses = current_addresses(spec)
    sol = sol_activations(spec, addresses, enter) if ask_bmcs else {}
    statuses = []
    for node in spec.nodes:
        proc = qemu_process(spec, node)
        statuses.append(NodeStatus(
            name=node.name, power="on" if proc else "off", bmc=addresses[node.name],
            configured_bmc=node.bmc, mac=node.mac, ip=node.ip,
            uptime=_uptime(proc) if proc else None, sol=sol.get(node.name, "unknown")))
    return statuses


SOL_CELLS = {"active": "active", "inactive": "-", "unknown": "?"}


def format_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"


def status_table(statuses: list[NodeStatus], serve_running: bool) -> str:
    rows = [("NODE", "POWER", "BMC", "MAC", "IP", "SOL", "UPTIME")]
    for s in statuses:
        moved = "" if s.bmc == s.configured_bmc else f" (was {s.configured_bmc})"
        rows.append((s.name, s.power, s.bmc + moved, s.mac, s.ip or "-", SOL_CELLS[s.sol],
                     format_uptime(s.uptime)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.append(f"BMCs: {'served' if serve_running else 'not running'}")
    return "\n".join(lines) + "\n"


def status_json(statuses: list[NodeStatus], serve_running: bool) -> str:
    return json.dumps({"serve_running": serve_running, "checked_at": time.time(),
                       "nodes": [asdict(s) for s in statuses]}, indent=2) + "\n"
