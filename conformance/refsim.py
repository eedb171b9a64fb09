"""Run OpenIPMI's `ipmi_sim` as the reference BMC, configured like a pybmc profile.

    with RefSim(Profile.default(), "127.150.0.2", workdir).start() as sim:
        ...  # ipmitool -H 127.150.0.2 -U admin -P secret ...

The generated lan.conf/.emu pair follows openipmi.md §1: one LAN channel on `address:port`, the
profile's users and IPMI 1.5 auth types ("password" is ipmi_sim's `straight`), a `guid` (without
one RMCP+ is not advertised), an MC with chassis/SEL/SDR/FRU support, the watchdog as sensor 0, the
profile's threshold sensors with their SDRs, a SEL and a FRU image. ipmi_sim runs with `-n` (no
stdio console: EOF on stdin would stop it) and its own state directory, and is stopped by PID.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance import records
from conformance.procs import LoggedProcess, spawn_logged, wait_for_answers
from conformance.profile import Profile

IPMI_SIM = shutil.which("ipmi_sim") or "/usr/bin/ipmi_sim"
HERE = Path(__file__).resolve().parent
FRU_SIZE = 256


def _helper(script: str, state: Path) -> str:
    """A lan.conf program line: run one of our helper scripts with this interpreter, fast."""
    return f"{shlex.quote(sys.executable)} -S -E {shlex.quote(str(HERE / script))} " \
           f"{shlex.quote(str(state))}"


@dataclass
class RefSim(LoggedProcess):
    """One ipmi_sim process serving one BMC on a loopback address."""

    stop_timeout = 5.0

    profile: Profile
    address: str
    workdir: Path
    port: int = 623
    chassis_control: bool = True  # power state and boot device through chassis_control.py
    lan_control: bool = True  # IP/MAC/gateway parameters through lan_control.py
    sol: bool = True  # a `sol` line, so the SOL configuration commands exist at all
    auth_none: bool = False  # also allow IPMI 1.5 auth type "none"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ files
    @property
    def lan_conf_path(self) -> Path:
        return self.workdir / "lan.conf"

    @property
    def emu_path(self) -> Path:
        return self.workdir / f"{self.profile.name}.emu"

    @property
    def state_dir(self) -> Path:
        return self.workdir / "state"

    @property
    def log_path(self) -> Path:
        return self.workdir / "ipmi_sim.log"

    def lan_conf_text(self) -> str:
        profile = self.profile
        auths = " ".join((["none"] if self.auth_none else []) + [
            "straight" if name == "password" else name for name in self.profile.auth_types])
        lines = [
            f'name "{profile.name}"',
            "set_working_mc 0x20",
            "  startlan 1",
            f"    addr {self.address} {self.port}",
            "    priv_limit admin",
            *(f"    allowed_auths_{level} {auths}"
              for level in ("callback", "user", "operator", "admin")),
            # The bytes as they go on the wire, in the order pybmc sends its UUID (IPMI order).
            f"    guid {profile.guid.bytes[::-1].hex()}",
        ]
        if self.lan_control:
            lines.append(f'    lan_config_program "{_helper("lan_control.py", self._lan_state)}"')
        lines.append("  endlan")
        if self.chassis_control:
            lines.append(f'  chassis_control "{_helper("chassis_control.py", self._power_state)}"')
        if self.sol:
            # Nothing listens there: ipmi_sim retries every 10 s, which is harmless, and the
            # SOL configuration commands answer instead of 0xC1.
            lines.append(f'  sol "tcp:127.0.0.1:{self._unused_tcp_port()}" 115200')
        for user in profile.users:
            lines.append(f'  user {user.user_id} true "{user.name}" "{user.password}" '
                         f"{user.lanconf_privilege} 10 {auths}")
        return "\n".join(lines) + "\n"

    def emu_text(self) -> str:
        p = self.profile
        lines = [
            "mc_setbmc 0x20",
            f"mc_add 0x20 {p.device_id:#04x} no-device-sdrs {p.device_revision:#04x} "
            f"{p.firmware[0]} {p.firmware[1]} {p.device_support:#04x} {p.manufacturer_id:#x} "
            f"{p.product_id:#x}",
            f"sel_enable 0x20 {p.sel_size} 0x0a",
            "sensor_add 0x20 0 0 35 0x6f event-only",  # the watchdog must be sensor 0, LUN 0
        ]
        for index, sensor in enumerate(p.sensors, start=1):
            sdr = records.full_sensor_sdr(sensor, record_id=index)
            lines += [
                f"sensor_add 0x20 0 {sensor.number} {sensor.sensor_type:#04x} 0x01",
                f"sensor_set_value 0x20 0 {sensor.number} {sensor.reading:#04x} 0",
                f"sensor_set_threshold 0x20 0 {sensor.number} settable 011000 "
                f"0 {sensor.upper_critical:#04x} {sensor.upper_critical - 5:#04x} 0 0 0",
                f"sensor_set_hysteresis 0x20 0 {sensor.number} settable 2 2",
                # Events on UNC (bit 7) and UC (bit 9) going high, supported and enabled.
                f"sensor_set_event_support 0x20 0 {sensor.number} enable scanning per-state "
                + " ".join(["000001010000000"] * 4),
                "main_sdr_add 0x20 " + " ".join(f"{b:#04x}" for b in sdr),
            ]
        lines += [
            f'mc_add_fru_data 0x20 0 {FRU_SIZE} file 0 "{self._fru_path}"',
            "mc_enable 0x20",
        ]
        return "\n".join(lines) + "\n"

    @property
    def _power_state(self) -> Path:
        return self.workdir / "power.json"

    @property
    def _lan_state(self) -> Path:
        return self.workdir / "lan.json"

    @property
    def _fru_path(self) -> Path:
        return self.workdir / "fru0.bin"

    @staticmethod
    def _unused_tcp_port() -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def write_files(self) -> None:
        import json

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(exist_ok=True)
        p = self.profile
        self._power_state.write_text(json.dumps({"power": 0, "boot": "none"}))
        self._lan_state.write_text(json.dumps({
            "ip_addr": self.address, "ip_addr_src": "static", "mac_addr": p.mac,
            "subnet_mask": p.netmask, "default_gw_ip_addr": p.gateway,
            "default_gw_mac_addr": p.gateway_mac, "backup_gw_ip_addr": "0.0.0.0",
            "backup_gw_mac_addr": "00:00:00:00:00:00"}))
        self._fru_path.write_bytes(records.fru_image(p, FRU_SIZE))
        self.lan_conf_path.write_text(self.lan_conf_text())
        self.emu_path.write_text(self.emu_text())

    # ------------------------------------------------------------------ process
    def command(self) -> list[str]:
        return [IPMI_SIM, "-n", "-c", str(self.lan_conf_path), "-f", str(self.emu_path),
                "-s", str(self.state_dir)]

    def start(self, timeout: float = 10.0) -> RefSim:
        self.write_files()
        # A process group of its own: its chassis_control children go with it.
        self.proc = spawn_logged(self.command(), self.log_path, cwd=self.workdir)
        wait_for_answers(self.proc, [(self.address, self.port)], timeout, "ipmi_sim",
                         self.log_path, tail=2000)
        return self

    def restart(self, timeout: float = 10.0) -> RefSim:
        """Start again with a clean state directory (after a crash, or between runs)."""
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        time.sleep(0.05)
        return self.start(timeout)
