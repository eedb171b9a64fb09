"""NAT for the lab: one nftables table, named after the cluster, that masquerades the bridge's
subnet on its way out and enables IPv4 forwarding; `down` deletes the table whole.

Written with the `nft` tool (`nft -f -`, Debian's nftables): pyroute2's nftables support does
not build NAT rules, and libnftables' Python binding is not on PyPI. Run in the namespace that
holds the head's address: the lab's own, or the caller's when the head is outside it.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pybmc.cluster.spec import ClusterSpec

NFT_TIMEOUT = 10.0
FORWARDING = Path("/proc/sys/net/ipv4/ip_forward")


class NatError(Exception):
    """nft is missing or refused the table."""


def table_name(spec: ClusterSpec) -> str:
    return f"pybmc-{spec.name}"


def ruleset(table: str, subnet: ipaddress.IPv4Network) -> str:
    """The table, replaced whole if it exists (declare, delete, declare: one transaction)."""
    return (f"table ip {table} {{}}\n"
            f"delete table ip {table}\n"
            f"table ip {table} {{\n"
            f"  chain postrouting {{\n"
            f"    type nat hook postrouting priority srcnat; policy accept;\n"
            f"    ip saddr {subnet} ip daddr != {subnet} masquerade\n"
            f"  }}\n"
            f"}}\n")


def _nft(args: list[str], enter: Callable[[], None] | None,
         script: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("nft")
    if binary is None:
        raise NatError("[network] nat needs nft (apt-get install nftables)")
    return subprocess.run([binary, *args], input=script, capture_output=True, text=True,
                          timeout=NFT_TIMEOUT, preexec_fn=enter, check=False)


def add_table(table: str, subnet: ipaddress.IPv4Network,
              enter: Callable[[], None] | None) -> None:
    result = _nft(["-f", "-"], enter, ruleset(table, subnet))
    if result.returncode != 0:
        raise NatError(f"nft: {result.stderr.strip()}")


def has_table(table: str, enter: Callable[[], None] | None) -> bool:
    return _nft(["list", "table", "ip", table], enter).returncode == 0


def delete_table(table: str, enter: Callable[[], None] | None) -> bool:
    """Delete the table; False when it was not there (nor could be: no nft, no table of ours)."""
    if shutil.which("nft") is None or not has_table(table, enter):
        return False
    result = _nft(["delete", "table", "ip", table], enter)
    if result.returncode != 0:
        raise NatError(f"nft delete table ip {table}: {result.stderr.strip()}")
    return True


def forwarding() -> bool:
    """IPv4 forwarding in the calling thread's namespace."""
    return FORWARDING.read_text().strip() == "1"


def set_forwarding(on: bool) -> None:
    FORWARDING.write_text("1\n" if on else "0\n")
