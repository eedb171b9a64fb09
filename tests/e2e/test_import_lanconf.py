"""An ipmi_sim node directory (CN1/lan.conf + .emu, as the qemu-ipmi layout has them) goes
through `pybmc import-lanconf`, and `pybmc serve` serves the result: ipmitool sees the .emu's
identity and the lan.conf's users, QEMU's ipmi-bmc-extern reaches the in-band listener the
`serial ... codec VM` line became, and the relative `startcmd` and `lan_config_program` run
from the lan.conf's directory."""

from __future__ import annotations

import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.procs import read_log, spawn_logged, stop_process, wait_for_answers
from pybmc.config.bmc import load_config
from pybmc.config.paths import run_dir
from pybmc.protocol.inband import FrameDecoder, VmRequest, encode_control, encode_request
from tests.e2e.conftest import IPMITOOL, _answers, next_address
from tests.guest.vm import kill_from_run_dir, wait_until

pytestmark = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def seed_node(root: Path, address: str, in_band_port: int, sol_port: int) -> Path:
    """CN1/lan.conf, CN1/ipmisim1.emu, CN1/CN1-vm.sh and scripts/lancontrol, shaped like
    dhilst/qemu-ipmi's compute node (its addresses moved to loopback)."""
    node = root / "CN1"
    node.mkdir()
    (node / "lan.conf").write_text(f"""\
name "CN1"
set_working_mc 0x20
  startlan 1
    addr {address} 623
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid 00112233445566778899aabbccddeeff
    lan_config_program "../scripts/lancontrol br0"
  endlan
  serial 15 localhost {in_band_port} codec VM
  startcmd "./CN1-vm.sh"
  sol "telnet:127.0.0.1:{sol_port}" 115200
  startnow false
  user 1 true  ""        "test" user     10       none md2 md5 straight
  user 2 true  "ipmiusr" "test" admin    10       none md2 md5 straight
""")
    (node / "ipmisim1.emu").write_text("""\
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
sensor_add 0x20 0 0 35 0x6f event-only
sensor_add 0x20 0 1 0x01 0x01
sensor_set_value 0x20 0 1 0x60 0
sensor_set_threshold 0x20 0 1 settable 111000 0xa0 0x90 0x70 00 00 00
mc_enable 0x20
""")
    # The VM stand-in: proves it runs from CN1 (a relative file), then lives until power off.
    executable(node / "CN1-vm.sh", "#!/bin/sh\necho \"$PYBMC_BOOT_DEVICE\" > started-here\n"
                                   "exec sleep 600\n")
    (root / "scripts").mkdir()
    executable(root / "scripts" / "lancontrol",
               f"#!/bin/sh\necho \"$@\" >> {root / 'lancontrol.calls'}\n")
    return node


class FakeQemuLink:
    """The VM end of ipmi-bmc-extern: QEMU's hello, then requests, over TCP."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.decoder = FrameDecoder()
        self.frames: list[tuple[int, bytes]] = []
        self.sock.sendall(encode_control(0xFF, b"\x01") + encode_control(0x08, b"\x3f"))

    def request(self, seq: int, netfn: int, cmd: int, data: bytes = b"") -> bytes:
        """Completion code and data of the response."""
        self.sock.sendall(encode_request(VmRequest(seq, netfn, 0, cmd, data)))
        while True:
            while not self.frames:
                chunk = self.sock.recv(4096)
                assert chunk, "the BMC closed the in-band link"
                self.frames += [(end, frame) for end, frame, _ in self.decoder.feed(chunk)]
            end, frame = self.frames.pop(0)
            if end == 0xA0:  # a message; control commands (version, ATN) are skipped
                assert frame[0] == seq and frame[1] == (netfn | 1) << 2 and frame[2] == cmd
                assert sum(frame) & 0xFF == 0
                return frame[3:-1]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the BMC's default state
    yield tmp_path


def test_imported_seed_node_serves_in_band_included(node_dir: Path):
    address, in_band_port = next_address(), free_port()
    node = seed_node(node_dir, address, in_band_port, free_port())

    # Translate from the directory above the node, as a user with several nodes would.
    result = subprocess.run([sys.executable, "-m", "pybmc", "import-lanconf", "CN1/lan.conf",
                             "--emu", "CN1/ipmisim1.emu"], capture_output=True, text=True,
                            cwd=node_dir, timeout=60)
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert all(line.startswith(("warning: CN1/lan.conf:", "warning: CN1/ipmisim1.emu:"))
               for line in warnings), warnings
    assert not [w for w in warnings if re.match(r"warning: CN1/lan.conf:(11|13|14):", w)]
    toml = node_dir / "cn1.toml"
    toml.write_text(result.stdout)
    config = load_config(toml)
    assert config.in_band.listen == f"tcp:127.0.0.1:{in_band_port}"

    log_path = node_dir / "serve.log"
    proc = spawn_logged([sys.executable, "-m", "pybmc", "serve", "--log-level", "debug",
                         "-c", str(toml)], log_path, cwd=node_dir, new_session=False)
    try:
        wait_for_answers(proc, [(address, 623)], 30.0, "pybmc serve", log_path,
                         answers=_answers)

        def ipmitool(*args: str, host: str = address) -> str:
            done = subprocess.run([IPMITOOL or "ipmitool", "-I", "lanplus", "-H", host,
                                   "-U", "ipmiusr", "-P", "test", "-R", "2", "-N", "2", *args],
                                  capture_output=True, text=True, timeout=30,
                                  stdin=subprocess.DEVNULL)
            assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
            return done.stdout

        # The .emu's identity, the lan.conf's user.
        info = ipmitool("mc", "info")
        assert re.search(r"Manufacturer ID\s*:\s*4753\b", info), info
        assert re.search(r"Product ID\s*:\s*3842 \(0x0f02\)", info), info
        assert re.search(r"Firmware Revision\s*:\s*9\.08", info), info

        # The in-band listener answers the VM protocol (what QEMU's ipmi-bmc-extern speaks).
        link = FakeQemuLink(in_band_port)
        try:
            reply = link.request(1, 0x06, 0x01)  # Get Device ID
        finally:
            link.close()
        assert reply[0] == 0 and reply[7:10] == bytes.fromhex("911200"), reply.hex()

        # The relative startcmd runs from CN1 (startnow false: only when powered on).
        assert not (node / "started-here").exists()
        ipmitool("chassis", "power", "on")
        assert wait_until(lambda: (node / "started-here").exists(), 30), read_log(log_path)
        assert "is on" in ipmitool("chassis", "power", "status")

        # The relative lan_config_program runs when a client moves the BMC.
        new = next_address()
        ipmitool("lan", "set", "1", "ipsrc", "static")
        ipmitool("lan", "set", "1", "ipaddr", new)
        calls = node_dir / "lancontrol.calls"
        assert wait_until(lambda: calls.exists() and f"br0 set ip_addr {new}" in
                          calls.read_text(), 30), read_log(log_path)
        ipmitool("chassis", "power", "off", host=new)
        assert "Traceback" not in read_log(log_path)
    finally:
        assert stop_process(proc, 15.0) == 0, read_log(log_path)
        kill_from_run_dir(run_dir(config))
