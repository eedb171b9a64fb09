"""`pybmc cluster` at a dozen nodes, functionally (how long 50 take is bench/bench_cluster.py's
job, judged by people): one generator entry makes N nodes, `up` makes one tap and one BMC
address per node and records each once, every BMC answers, a second `up` makes nothing, and
`down` removes it all. Inside a namespace the cluster file names, made and removed by the test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests import tomlw
from tests.e2e import clusterlab
from tests.e2e.clusterlab import cluster_file, namespace_exists, run_cluster

pytestmark = clusterlab.CLUSTER_MARKS
lab = clusterlab.lab  # the fixture
NODES = 12
REPO = Path(__file__).resolve().parents[2]


def in_ns(netns: str, *command: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns, *command], check=True,
                          capture_output=True, text=True, timeout=30).stdout


def test_a_generated_dozen_nodes_up_again_and_down(lab) -> None:
    netns, workdir = lab
    path = cluster_file(workdir, netns)
    data = tomllib.loads(path.read_text())
    data["nodes"] = [{"count": NODES, "name": "n{n:02}", "bmc": "192.168.123.{n+100}"}]
    path.write_text(tomlw.dumps(data))
    run_cluster("up", path, timeout=90)
    record_file = workdir / "state" / "run" / "cluster.json"
    record = json.loads(record_file.read_text())
    taps = [f"br0t{n}" for n in range(1, NODES + 1)]
    assert record["links"] == ["br0", *taps]
    bmcs = [f"192.168.123.{n + 100}" for n in range(1, NODES + 1)]
    assert [a[1] for a in record["addresses"]] == ["192.168.123.1", *bmcs]
    assert [p["what"] for p in record["processes"]] == ["serve"]
    ports = re.findall(r"^\d+: (\S+?)[@:]", in_ns(netns, "ip", "-o", "link", "show", "master",
                                                  "br0"), re.M)
    assert sorted(ports) == sorted(taps)
    on_bridge = in_ns(netns, "ip", "-o", "-4", "addr", "show", "dev", "br0")
    assert all(f"inet {a}/24" in on_bridge for a in ["192.168.123.1", *bmcs])
    # Every BMC answers over IPMI (status asks each about SOL), all nodes off.
    status = json.loads(run_cluster("status", path, "--json"))
    assert [(n["name"], n["power"], n["sol"]) for n in status["nodes"]] == [
        (f"n{n:02}", "off", "inactive") for n in range(1, NODES + 1)]
    # Again: nothing new is made or recorded.
    run_cluster("up", path, timeout=90)
    again = json.loads(record_file.read_text())
    assert (again["links"], again["addresses"]) == (record["links"], record["addresses"])
    run_cluster("down", path)
    assert not namespace_exists(netns) and not record_file.exists()


def test_bench_cluster_runs_and_prints_its_times() -> None:
    result = subprocess.run([sys.executable, "-m", "bench.bench_cluster", "--nodes", "4"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"round 1: 4 nodes: up \d+\.\d\d s, status \d+\.\d\d s, down \d+\.\d\d s",
                     result.stdout), result.stdout


def test_fifty_nodes_come_up_in_under_ten_seconds() -> None:
    """Issue 14's scale goal: network + 50 BMCs (nodes off) in < 10 s; the best of two rounds,
    so one stall of this shared machine does not decide it. A timing goal says nothing on a
    machine already running several times more work than it has cores: skipped there."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 2 * cores:
        pytest.skip(f"load average {load:.1f} on {cores} cores: no timing goal holds")
    result = subprocess.run([sys.executable, "-m", "bench.bench_cluster", "--nodes", "50",
                             "--rounds", "2"], cwd=REPO, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    ups = [float(s) for s in re.findall(r"50 nodes: up (\d+\.\d\d) s", result.stdout)]
    assert len(ups) == 2, result.stdout
    assert min(ups) < 10.0, result.stdout
