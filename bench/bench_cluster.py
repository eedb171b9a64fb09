"""How long `pybmc cluster up` and `down` take for N nodes (network + BMCs, nodes off).

    sudo python -m bench.bench_cluster              # 50 nodes
    sudo python -m bench.bench_cluster --nodes 200 --rounds 3

Everything is built in a network namespace the cluster file names (fresh per run, removed by
`down`, and by this script if `down` failed); nothing touches the host's own network. Prints
the time of each phase: `up` until every BMC answers, `status`, `down`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0  # the goal for 50 nodes on a 2-core machine


def cluster_file(workdir: Path, netns: str, nodes: int) -> Path:
    """N nodes (up to 254) on a /16, one generator entry: node n's BMC at 10.77.n.2."""
    path = workdir / "bench.toml"
    path.write_text(f'''[cluster]
name = "bench"
netns = "{netns}"
state_dir = "state"

[network]
bridge = "brbench"
address = "10.77.0.1/16"

[defaults]
memory = 128
disk = "16M"
users = [{{ name = "admin", password = "secret" }}]

[[nodes]]
count = {nodes}
name = "n{{n:03}}"
bmc = "10.77.{{n}}.2"
''')
    return path


def cluster(command: str, path: Path, *args: str, timeout: float = 300.0) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pybmc", "cluster", command, str(path),
                             *args], capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"pybmc cluster {command} failed:\n{result.stdout}{result.stderr}")
    return elapsed, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    options = parser.parse_args()
    if not 1 <= options.nodes <= 254:
        parser.error("--nodes must be between 1 and 254")
    if os.geteuid() != 0:
        print("bench_cluster needs root (namespaces, bridges, taps)", file=sys.stderr)
        return 2
    for round_number in range(1, options.rounds + 1):
        netns = f"pybmcb{secrets.token_hex(3)}"
        with tempfile.TemporaryDirectory(prefix="pybmcb", dir="/tmp") as tmp:
            path = cluster_file(Path(tmp), netns, options.nodes)
            try:
                up, _ = cluster("up", path, "--timeout", "120")
                status_time, out = cluster("status", path, "--json")
                nodes = json.loads(out)["nodes"]
                assert len(nodes) == options.nodes, len(nodes)
                down, _ = cluster("down", path)
            finally:
                with contextlib.suppress(Exception):
                    subprocess.run([sys.executable, "-m", "pybmc", "cluster", "down",
                                    str(path)], capture_output=True, timeout=120)
                if Path("/var/run/netns", netns).exists():
                    subprocess.run(["ip", "netns", "delete", netns], check=False)
        verdict = ""
        if options.nodes == 50:
            met = "met" if up < TARGET_SECONDS else "MISSED"
            verdict = f" (goal < {TARGET_SECONDS:.0f} s: {met})"
        print(f"round {round_number}: {options.nodes} nodes: up {up:.2f} s{verdict}, "
              f"status {status_time:.2f} s, down {down:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
