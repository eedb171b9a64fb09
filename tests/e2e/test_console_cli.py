"""`pybmc console NAME --config F` on a pseudo-terminal, against a running `pybmc serve` whose
guest serial port is a fake one (tests/e2e/fakeguest.py: a login banner, upper-cased echoes)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess
from tests.e2e.fakeguest import FakeGuestSerial
from tests.e2e.ptyproc import PtyProcess
from tests.guest.vm import wait_until

CTRL_RIGHT_BRACKET = b"\x1d"


@pytest.fixture
def guest() -> Iterator[FakeGuestSerial]:
    with tempfile.TemporaryDirectory(prefix="pbcon", dir="/tmp") as tmp:
        serial = FakeGuestSerial(str(Path(tmp) / "serial"))
        yield serial
        serial.close()


@pytest.fixture
def console_bmc(bmc_factory, guest: FakeGuestSerial) -> BmcProcess:
    return bmc_factory(sol={"serial": f"unix:{guest.path}"})


def config_path(bmc: BmcProcess) -> Path:
    return bmc.workdir / f"{bmc.configs[0]['bmc']['name']}.toml"


def pybmc_console(bmc: BmcProcess, name: str | None = None) -> PtyProcess:
    return PtyProcess([sys.executable, "-m", "pybmc", "console",
                       name or bmc.configs[0]["bmc"]["name"], "--config", str(config_path(bmc))])


def since(client: PtyProcess, mark: int, needle: bytes, timeout: float = 10.0) -> None:
    """`needle` appears in the client's output after offset `mark`."""
    deadline = time.monotonic() + timeout
    while client.output.find(needle, mark) < 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not seen: {bytes(client.output[mark:])!r}")
        client._read(0.05)


def finish(client: PtyProcess) -> int:
    """Exit status, once the client has exited and all it wrote has been read."""
    code = client.wait()
    while client._read(0.2):
        pass
    return code


def test_console_shows_history_round_trips_and_detaches(console_bmc: BmcProcess,
                                                        guest: FakeGuestSerial) -> None:
    console = pybmc_console(console_bmc)
    try:
        console.read_until(b"connected; Ctrl-] detaches")
        console.read_until(b"fakeguest login: ")  # what the guest printed before: history
        mark = len(console.output)
        console.write(b"hello\r")
        since(console, mark, b"HELLO")
        assert b"hello\r" in guest.received
        console.write(CTRL_RIGHT_BRACKET)
        assert finish(console) == 0
        assert b"detached" in console.output
    finally:
        console.close()
    assert wait_until(lambda: "local console detached" in console_bmc.log(), 5)


def test_console_and_sol_share_the_guest_console(console_bmc: BmcProcess) -> None:
    sol = PtyProcess(["ipmitool", "-I", "lanplus", "-H", console_bmc.address, "-U", ADMIN_USER,
                      "-P", ADMIN_PASSWORD, "sol", "activate"])
    first, second = pybmc_console(console_bmc), pybmc_console(console_bmc)
    try:
        sol.read_until(b"SOL Session operational")
        first.read_until(b"fakeguest login: ")
        second.read_until(b"fakeguest login: ")

        marks = [len(c.output) for c in (sol, first, second)]
        first.write(b"fromconsole\r")
        for client, mark in zip((sol, first, second), marks, strict=True):
            since(client, mark, b"FROMCONSOLE")

        marks = [len(c.output) for c in (sol, first, second)]
        sol.write(b"fromsol\r")
        for client, mark in zip((sol, first, second), marks, strict=True):
            since(client, mark, b"FROMSOL")

        # A console leaving changes nothing for SOL or the other console.
        first.write(CTRL_RIGHT_BRACKET)
        assert first.wait() == 0
        marks = [len(c.output) for c in (sol, second)]
        second.write(b"after\r")
        for client, mark in zip((sol, second), marks, strict=True):
            since(client, mark, b"AFTER")
        sol.write(b"\r~.")
        assert sol.wait() == 0
    finally:
        for client in (sol, first, second):
            client.close()


def test_console_ends_when_the_bmc_stops(console_bmc: BmcProcess) -> None:
    console = pybmc_console(console_bmc)
    try:
        console.read_until(b"fakeguest login: ")
        console_bmc.stop()
        assert finish(console) == 0
        assert b"detached" in console.output
    finally:
        console.close()


def test_console_errors_are_one_line(console_bmc: BmcProcess, tmp_path: Path) -> None:
    unknown = subprocess.run([sys.executable, "-m", "pybmc", "console", "nosuchbmc", "--config",
                              str(config_path(console_bmc))], capture_output=True, text=True,
                             timeout=30, stdin=subprocess.DEVNULL)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().startswith("pybmc: no BMC named 'nosuchbmc'")

    console_bmc.stop()  # a valid config, but nothing serves it
    down = subprocess.run([sys.executable, "-m", "pybmc", "console",
                           console_bmc.configs[0]["bmc"]["name"], "--config",
                           str(config_path(console_bmc))], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)
    assert down.returncode == 1
    assert "cannot reach the console" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1
