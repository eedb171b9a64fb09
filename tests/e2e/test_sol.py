"""Serial over LAN with real clients, against a fake guest serial port (no QEMU needed)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess
from tests.e2e.fakeguest import FakeGuestSerial
from tests.e2e.ptyproc import PtyProcess
from tests.e2e.solclients import pyghmi_round_trip


@pytest.fixture
def guest() -> Iterator[FakeGuestSerial]:
    with tempfile.TemporaryDirectory(prefix="pbsol", dir="/tmp") as tmp:
        serial = FakeGuestSerial(str(Path(tmp) / "serial"))
        yield serial
        serial.close()


@pytest.fixture
def sol_bmc(bmc_factory, guest: FakeGuestSerial) -> BmcProcess:
    return bmc_factory(sol={"serial": f"unix:{guest.path}"})


def sol_activate(bmc: BmcProcess, *extra: str) -> PtyProcess:
    return PtyProcess(["ipmitool", "-I", "lanplus", "-H", bmc.address, "-U", ADMIN_USER,
                       "-P", ADMIN_PASSWORD, *extra, "sol", "activate"])


def test_ipmitool_sol_round_trip_and_clean_exit(sol_bmc: BmcProcess, guest: FakeGuestSerial):
    client = sol_activate(sol_bmc)
    try:
        client.read_until(b"SOL Session operational")
        client.read_until(b"fakeguest login: ")  # offered from the history buffer
        client.write(b"hello\r")
        client.read_until(b"HELLO")
        assert b"hello\r" in guest.received
        client.write(b"\r~.")
        assert client.wait() == 0
    finally:
        client.close()
    assert "SOL activated" in sol_bmc.log()


def test_large_guest_output_arrives_complete_and_in_order(sol_bmc: BmcProcess):
    client = sol_activate(sol_bmc)
    try:
        client.read_until(b"fakeguest login: ")
        client.write(b"seq 150000\r")
        text = client.read_until(b"150000\r\n", timeout=120)
        # The fake guest does not echo; its answer follows the prompt directly.
        body = text[text.rindex(b"fakeguest login: ") + len(b"fakeguest login: "):]
        numbers = body.split(b"\r\n")
        expected = [b"%d" % n for n in range(1, 150001)]
        assert numbers[:150000] == expected
        client.write(b"\r~.")
        client.wait()
    finally:
        client.close()


def test_second_activation_is_refused_and_deactivate_frees_it(sol_bmc: BmcProcess):
    first = sol_activate(sol_bmc)
    try:
        first.read_until(b"SOL Session operational")
        second = subprocess.run(
            ["ipmitool", "-I", "lanplus", "-H", sol_bmc.address, "-U", ADMIN_USER, "-P",
             ADMIN_PASSWORD, "sol", "activate"], capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL)
        assert second.returncode != 0
        assert "already active" in (second.stdout + second.stderr).lower()
        # xCAT's rcons: deactivate from another session, then activate.
        sol_bmc.ipmitool("sol", "deactivate")
        third = sol_activate(sol_bmc)
        try:
            third.read_until(b"SOL Session operational")
            third.write(b"again\r")
            third.read_until(b"AGAIN")
            third.write(b"\r~.")
            third.wait()
        finally:
            third.close()
    finally:
        first.close()


def test_activation_works_while_the_console_is_down(bmc_factory):
    with tempfile.TemporaryDirectory(prefix="pbsol", dir="/tmp") as tmp:
        path = str(Path(tmp) / "serial")
        bmc = bmc_factory(sol={"serial": f"unix:{path}"})
        client = sol_activate(bmc)
        try:
            client.read_until(b"SOL Session operational")
            guest = FakeGuestSerial(path, greeting=b"late boot message\r\n")
            try:
                client.read_until(b"late boot message", timeout=20)
            finally:
                guest.close()
            client.write(b"\r~.")
            client.wait()
        finally:
            client.close()


def test_sol_info_and_payload_commands(sol_bmc: BmcProcess):
    info = sol_bmc.ipmitool("sol", "info", "1").stdout
    assert "Enabled" in info and "Payload Port" in info
    sol_bmc.ipmitool("sol", "payload", "enable", "1", "3")
    status = sol_bmc.ipmitool("raw", "0x06", "0x4a", "0x01").stdout.split()
    assert status == ["01", "00", "00"]


@pytest.mark.skipif(shutil.which("ipmiconsole") is None, reason="FreeIPMI ipmiconsole missing")
def test_freeipmi_ipmiconsole_round_trip(sol_bmc: BmcProcess):
    client = PtyProcess(["ipmiconsole", "-h", sol_bmc.address, "-u", ADMIN_USER, "-p",
                         ADMIN_PASSWORD, "--serial-keepalive"])
    try:
        client.read_until(b"SOL established")
        client.write(b"\rfreeipmi\r")
        client.read_until(b"FREEIPMI")
        client.write(b"&.")
        client.wait()
    finally:
        client.close()


def test_pyghmi_console_round_trip(sol_bmc: BmcProcess):
    pyghmi_round_trip(sol_bmc.address, b"login:", b"pyghmi\r", b"PYGHMI")
