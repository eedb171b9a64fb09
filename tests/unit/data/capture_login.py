"""Record a real client's login + command exchange with a BMC whose randomness is seeded.

Run by hand when a transcript has to be made again (needs ipmitool):
    python -m tests.unit.data.capture_login 17 > tests/unit/data/login_ipmitool_c17.txt
(17 or 3: RMCP+ with that cipher suite; lan: IPMI 1.5 with MD5.)
The BMC is built exactly as tests/unit/test_login_replay.py builds it; the test feeds the
recorded requests back and expects every reply byte for byte.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc

ADDRESS = "127.0.0.1"
SEED = 20261203


def seeded_random(seed: int = SEED):
    import random

    source = random.Random(seed)
    return source.randbytes


def transcript_bmc(state_dir: Path, now: float = 1000.0) -> Bmc:
    config = parse_config({
        "bmc": {"name": "replay", "address": ADDRESS, "state_dir": str(state_dir),
                "guid": "7a2f0e9c-1d3b-4c5e-8f60-123456789abc"},
        "users": [{"name": "admin", "password": "secret", "privilege": "administrator"}],
        # The transcripts were made with these (the defaults before suites 1/2 and IPMI 1.5
        # MD2/password had to be asked for): the auth caps and suite list replies show them.
        "security": {"cipher_suites": [1, 2, 3, 17], "auth_types": ["md2", "md5", "password"]},
    })
    return Bmc(config, clock=lambda: now, random=seeded_random())


class Recorder(asyncio.DatagramProtocol):
    def __init__(self, bmc: Bmc) -> None:
        self.bmc = bmc
        self.lines: list[str] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.lines.append(f"> {data.hex()}")
        self.bmc.receive_datagram(data, ("127.0.0.1", 40000), 1000.0)
        for reply, _ in self.bmc.datagrams_to_send():
            self.lines.append(f"< {reply.hex()}")
            self.transport.sendto(reply, addr)


async def capture(suite: str) -> list[str]:
    with tempfile.TemporaryDirectory() as state:
        bmc = transcript_bmc(Path(state))
        loop = asyncio.get_running_loop()
        transport, recorder = await loop.create_datagram_endpoint(
            lambda: Recorder(bmc), local_addr=(ADDRESS, 0))
        port = transport.get_extra_info("sockname")[1]
        interface = ["-I", "lan", "-A", "MD5"] if suite == "lan" else [
            "-I", "lanplus", "-C", suite]
        process = await asyncio.create_subprocess_exec(
            "ipmitool", *interface, "-H", ADDRESS, "-p", str(port),
            "-U", "admin", "-P", "secret", "-R", "1", "-N", "5", "raw", "0x06", "0x01",
            stdout=subprocess.PIPE)
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        transport.close()
        return [f"# ipmitool {' '.join(interface)} raw 0x06 0x01 -> {out.decode().strip()}",
                *recorder.lines]


if __name__ == "__main__":
    print("\n".join(asyncio.run(capture(sys.argv[1]))))
