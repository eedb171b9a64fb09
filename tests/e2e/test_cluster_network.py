"""`pybmc cluster` network extras, as root, only in namespaces the tests create: NAT (an nft
table in the namespace that holds the head's address, gone after `down`) and the head outside
the lab's namespace (a veth from the lab's bridge into the namespace `up` runs in; the tests
make that one too and run `up` in it, so nothing lands on the host's own network)."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import tomlw
from tests.e2e import clusterlab
from tests.e2e.clusterlab import cluster_file, namespace_exists, recorded_pids, run_cluster

try:
    import pyroute2
except ImportError:  # pragma: no cover
    pyroute2 = None

pytestmark = [*clusterlab.CLUSTER_MARKS,
              pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed"),
              pytest.mark.skipif(shutil.which("nsenter") is None, reason="no nsenter")]
lab = clusterlab.lab  # the fixture


@pytest.fixture
def outer() -> Iterator[str]:
    """A namespace standing for "the host": made and removed here, by name."""
    name = f"pybmco{secrets.token_hex(3)}"
    pyroute2.netns.create(name)
    try:
        yield name
    finally:
        if namespace_exists(name):
            pyroute2.netns.remove(name)


def in_ns(netns: str, *command: str, check: bool = True) -> str:
    """A command in a namespace's network only (nsenter --net, not `ip netns exec`, which
    would give it a mount namespace of its own that later commands cannot see)."""
    result = subprocess.run(["nsenter", f"--net=/var/run/netns/{netns}", *command],
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout


def cluster_in(outer: str, command: str, path: Path) -> str:
    return in_ns(outer, sys.executable, "-m", "pybmc", "cluster", command, str(path))


def edit(path: Path, **sections: dict) -> None:
    data = tomllib.loads(path.read_text())
    for name, changes in sections.items():
        data.setdefault(name, {}).update(changes)
    path.write_text(tomlw.dumps(data))


def forwarding(netns: str) -> str:
    return in_ns(netns, "cat", "/proc/sys/net/ipv4/ip_forward").strip()


def test_nat_table_in_the_lab_namespace_and_gone_after_down(outer: str, tmp_path: Path) -> None:
    # The file names a namespace the test made: up builds in it, down leaves it (not its own).
    path = cluster_file(tmp_path, outer)
    edit(path, network={"nat": True})
    try:
        run_cluster("up", path, timeout=90)
        table = in_ns(outer, "nft", "list", "table", "ip", "pybmc-lab")
        assert "masquerade" in table and "ip saddr 192.168.123.0/24" in table
        assert "hook postrouting" in table
        assert forwarding(outer) == "1"
        run_cluster("up", path, timeout=90)  # again: the table is replaced, not doubled
        assert in_ns(outer, "nft", "list", "ruleset").count("table ip pybmc-lab") == 1
        out = run_cluster("down", path)
        assert "removed nft table ip pybmc-lab in " + outer in out
        assert namespace_exists(outer)
        assert "pybmc-lab" not in in_ns(outer, "nft", "list", "ruleset")
        assert forwarding(outer) == "0"
        assert "br0" not in in_ns(outer, "ip", "-o", "link")
    finally:
        run_cluster("down", path, check=False)


def test_head_outside_the_namespace_through_a_veth(lab, outer: str) -> None:
    netns, workdir = lab
    path = cluster_file(workdir, netns)
    edit(path, network={"head": "host", "nat": True})
    veth = f"{netns[:10]}-head"
    try:
        cluster_in(outer, "up", path)
        # "The host" (the outer namespace) has the head's address, on the veth.
        assert "inet 192.168.123.1/24" in in_ns(outer, "ip", "-o", "addr", "show", "dev", veth)
        inner = in_ns(netns, "ip", "-o", "addr", "show", "dev", "br0")
        assert "192.168.123.4/24" in inner and "192.168.123.1/" not in inner
        assert "master br0" in in_ns(netns, "ip", "-o", "link", "show", "dev", "head0")
        # NAT where the head is, not in the lab.
        assert "masquerade" in in_ns(outer, "nft", "list", "table", "ip", "pybmc-lab")
        assert "pybmc-lab" not in in_ns(netns, "nft", "list", "ruleset")
        # The head reaches a BMC across the veth and the bridge.
        out = in_ns(outer, "ipmitool", "-I", "lanplus", "-H", "192.168.123.4", "-U", "admin",
                    "-P", "secret", "-R", "2", "-N", "2", "chassis", "power", "status")
        assert "Chassis Power is off" in out
        pids = recorded_pids(workdir / "state")
        out = cluster_in(outer, "down", path)
        assert f"interface {veth}" in out and f"namespace {netns}" in out
        assert not namespace_exists(netns)
        assert veth not in in_ns(outer, "ip", "-o", "link")
        assert "pybmc-lab" not in in_ns(outer, "nft", "list", "ruleset")
        assert forwarding(outer) == "0"
        assert recorded_pids(workdir / "state") == [] and pids
    finally:
        with contextlib.suppress(AssertionError):
            cluster_in(outer, "down", path)
