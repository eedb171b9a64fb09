"""The core promises, proven with real clients against a real `pybmc serve` process."""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    AUTH_CAP_PING,
    BmcProcess,
    base_config,
    next_address,
    udp_roundtrip,
)

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")


@pytest.mark.parametrize("cipher", [None, 3, 17, 1, 2])
def test_ipmitool_lanplus_logs_in_with_each_cipher_suite(bmc_factory, cipher: int | None):
    # Suites 1 and 2 are served only when the config names them (test_secure_defaults.py).
    bmc = bmc_factory(**({"security": {"cipher_suites": [1, 2, 3, 17]}} if cipher in (1, 2)
                         else {}))
    started = time.monotonic()
    result = bmc.ipmitool("raw", "0x06", "0x01", cipher=cipher)
    # No 10 s stall hunting for a cipher suite: the whole call is quick.
    assert time.monotonic() - started < 5
    assert len(result.stdout.split()) >= 11


def test_ipmitool_without_cipher_option_negotiates_suite_17(bmc: BmcProcess):
    result = bmc.ipmitool("-v", "raw", "0x06", "0x01")
    # ipmitool says what it picked; the server logs what the session runs on.
    assert "Using best available cipher suite 17\n" in result.stderr
    assert len(result.stdout.split()) >= 11
    assert re.search(r"session 0x[0-9a-f]{8} opened: user 'admin', ADMINISTRATOR, "
                     r"RMCP\+ suite 17 \(", bmc.log())


def test_ipmitool_ipmi15_lan_interface(bmc: BmcProcess):
    result = bmc.ipmitool("raw", "0x06", "0x01", interface="lan")
    assert len(result.stdout.split()) >= 11


def test_wrong_password_fails_fast(bmc: BmcProcess):
    for interface in ("lanplus", "lan"):
        started = time.monotonic()
        result = bmc.ipmitool("raw", "0x06", "0x01", interface=interface, password="wrong",
                              check=False)
        assert result.returncode != 0
        assert time.monotonic() - started < 1, interface


def test_unknown_user_fails_fast_with_status_0d(bmc: BmcProcess):
    started = time.monotonic()
    # ipmitool names the RAKP 2 status only in verbose mode.
    result = bmc.ipmitool("-v", "raw", "0x06", "0x01", user="nobody", check=False)
    assert result.returncode != 0
    assert time.monotonic() - started < 1
    assert "unauthorized name" in (result.stdout + result.stderr).lower()


def test_cipher_suite_zero_is_refused_by_default(bmc: BmcProcess):
    result = bmc.ipmitool("raw", "0x06", "0x01", cipher=0, check=False)
    assert result.returncode != 0
    assert "open session response message : invalid authentication algorithm" in result.stderr
    assert result.stdout == ""


def test_operator_cannot_get_administrator_privilege(bmc: BmcProcess):
    bmc.ipmitool("chassis", "power", "status", user="oper", password="operpw",
                 privilege="OPERATOR")
    result = bmc.ipmitool("chassis", "power", "status", user="oper", password="operpw",
                          privilege="ADMINISTRATOR", check=False)
    assert result.returncode != 0
    assert "Set Session Privilege Level to ADMINISTRATOR failed" in result.stderr


def test_user_privilege_cannot_power_on(bmc: BmcProcess):
    bmc.ipmitool("chassis", "power", "status", user="viewer", password="viewerpw",
                 privilege="USER")
    result = bmc.ipmitool("chassis", "power", "on", user="viewer", password="viewerpw",
                          privilege="USER", check=False)
    assert result.returncode != 0
    assert "Insufficient privilege level" in result.stderr
    assert bmc.ipmitool("chassis", "power", "status").stdout == "Chassis Power is off\n"


def test_freeipmi_power_on_off_stat_over_lan20_and_lan15(bmc: BmcProcess):
    for driver in ("LAN_2_0", "LAN"):
        bmc.freeipmi("ipmipower", "--on", driver=driver)
        assert bmc.freeipmi("ipmipower", "--stat", driver=driver).stdout.endswith(": on\n")
        bmc.freeipmi("ipmipower", "--off", driver=driver)
        assert bmc.freeipmi("ipmipower", "--stat", driver=driver).stdout.endswith(": off\n")


def test_freeipmi_bmc_info_and_chassis(bmc: BmcProcess):
    info = bmc.freeipmi("bmc-info").stdout
    assert "IPMI Version" in info
    status = bmc.freeipmi("ipmi-chassis", "--get-chassis-status").stdout
    assert "System Power" in status


def test_pyghmi_power_bootdev_and_raw(bmc: BmcProcess):
    ipmi = bmc.pyghmi()
    assert ipmi.get_power()["powerstate"] == "off"
    ipmi.set_power("on", wait=True)
    assert ipmi.get_power()["powerstate"] == "on"
    ipmi.set_bootdev("network", persist=False, uefiboot=True)
    boot = ipmi.get_bootdev()
    assert boot["bootdev"] == "network"
    assert boot["uefimode"] is True
    data = ipmi.xraw_command(netfn=6, command=1)["data"]
    assert len(data) >= 11
    ipmi.ipmi_session.logout()


def test_asf_presence_ping_gets_pong(bmc: BmcProcess):
    ping = bytes.fromhex("06 00 ff 06 000011be 80 c4 00 00".replace(" ", ""))
    pong = udp_roundtrip(bmc.address, bmc.port, ping)
    assert pong is not None
    assert pong[:4] == bytes.fromhex("0600ff06")
    assert pong[8] == 0x40 and pong[9] == 0xC4  # pong, same message tag


def test_reply_comes_from_the_address_the_request_was_sent_to(bmc: BmcProcess):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(AUTH_CAP_PING, (bmc.address, bmc.port))
        reply, source = sock.recvfrom(4096)
    assert source == (bmc.address, bmc.port)
    assert reply[:4] == bytes.fromhex("0600ff07")


def test_one_process_serves_many_bmcs(tmp_path: Path):
    configs = [base_config(f"cn{i}", next_address(), tmp_path / f"cn{i}") for i in range(5)]
    process = BmcProcess(tmp_path, configs).start()
    try:
        for config in configs:
            address = config["bmc"]["address"]
            result = process.ipmitool("chassis", "power", "status", address=address)
            assert result.stdout == "Chassis Power is off\n"
        process.ipmitool("chassis", "power", "on", address=configs[2]["bmc"]["address"])
        for index, expected in ((2, "on"), (3, "off")):
            result = process.ipmitool("chassis", "power", "status",
                                      address=configs[index]["bmc"]["address"])
            assert result.stdout == f"Chassis Power is {expected}\n"
    finally:
        process.stop()


def test_garbage_datagrams_leave_the_server_serving(bmc: BmcProcess):
    rng = random.Random(1234)
    valid = [AUTH_CAP_PING, bytes.fromhex("0600ff07" "06" "10" "00000000" "00000000" "2000")
             + bytes(32)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(3000):
            if i % 3 == 0:
                base = rng.choice(valid)
                packet = base[: rng.randrange(len(base) + 1)]
            elif i % 3 == 1:
                base = bytearray(rng.choice(valid))
                for _ in range(rng.randrange(1, 4)):
                    base[rng.randrange(len(base))] = rng.randrange(256)
                packet = bytes(base)
            else:
                packet = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
            sock.sendto(packet, (bmc.address, bmc.port))
    assert bmc.alive()
    assert "Traceback" not in bmc.log()
    bmc.ipmitool("raw", "0x06", "0x01")
    bmc.ipmitool("raw", "0x06", "0x01", interface="lan")


def test_settings_survive_a_restart(bmc: BmcProcess):
    bmc.ipmitool("chassis", "power", "on")
    bmc.ipmitool("chassis", "bootdev", "pxe", "options=persistent")
    bmc.ipmitool("chassis", "policy", "always-on")
    bmc.ipmitool("user", "set", "name", "5", "newuser")
    bmc.ipmitool("user", "set", "password", "5", "newpass")
    bmc.ipmitool("channel", "setaccess", "1", "5", "callin=on", "ipmi=on", "link=on",
                 "privilege=3")
    bmc.ipmitool("user", "enable", "5")
    bmc.ipmitool("lan", "set", "1", "netmask", "255.255.0.0")
    bmc.restart()
    assert bmc.ipmitool("chassis", "power", "status").stdout == "Chassis Power is on\n"
    assert "Force PXE" in bmc.ipmitool("chassis", "bootparam", "get", "5").stdout
    # the whole value: "always" alone would also match always-off
    assert re.search(r"(?m)^Power Restore Policy : always-on$",
                     bmc.ipmitool("chassis", "status").stdout)
    assert "255.255.0.0" in bmc.ipmitool("lan", "print", "1").stdout
    bmc.ipmitool("chassis", "power", "status", user="newuser", password="newpass",
                 privilege="OPERATOR")


def test_check_config_reports_errors_in_one_line(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[bmc]\nname = "x"\naddress = "not-an-ip"\n')
    result = subprocess.run([sys.executable, "-m", "pybmc", "check-config", str(bad)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert str(bad) in result.stderr and "address" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_without_config_runs_the_embedded_default(tmp_path: Path):
    address = next_address()
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "pybmc", "serve", "--address", address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 15
        while udp_roundtrip(address, 623, AUTH_CAP_PING, 0.2) is None:
            assert proc.poll() is None and time.monotonic() < deadline
        state = tmp_path / "pybmc" / f"pybmc-{address}"  # one state dir per address
        password = (state / "default-password").read_text().strip()
        result = subprocess.run(["ipmitool", "-I", "lanplus", "-H", address, "-U", "admin",
                                 "-P", password, "chassis", "power", "status"],
                                capture_output=True, text=True, timeout=30)
        assert "Chassis Power is off" in result.stdout
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert password in err and "ipmitool -I lanplus" in err
