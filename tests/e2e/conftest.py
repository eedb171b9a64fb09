"""End-to-end fixtures: a real `pybmc serve` process on a loopback address, and real clients.

Every process started here is stopped by its PID. Each BMC gets its own 127.x.y.z address on
UDP 623, as in a real virtual cluster.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.net import AUTH_CAP_PING, udp_roundtrip
from conformance.procs import LoggedProcess, spawn_logged, wait_for_answers
from tests import tomlw

ADMIN_USER = "admin"
ADMIN_PASSWORD = "secret"
IPMITOOL = shutil.which("ipmitool")

_address_counter = itertools.count(2)


def next_address() -> str:
    """A loopback address no other test in this run uses (127.<pid-derived>.<n>)."""
    n = next(_address_counter)
    return f"127.{100 + os.getpid() % 100}.{n // 250}.{n % 250 + 2}"


def _answers(address: str, port: int) -> bool:
    """Any reply from the address counts: the probe only waits for the listener."""
    return udp_roundtrip(address, port, AUTH_CAP_PING, timeout=0.2) is not None


def base_config(name: str, address: str, state_dir: Path, **sections: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bmc": {"name": name, "address": address, "state_dir": str(state_dir)},
        "users": [
            {"name": ADMIN_USER, "password": ADMIN_PASSWORD, "privilege": "administrator"},
            {"name": "oper", "password": "operpw", "privilege": "operator"},
            {"name": "viewer", "password": "viewerpw", "privilege": "user"},
        ],
        "power": {"backend": "simulated", "soft_off_delay": 0.5, "cycle_interval": 0.3},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


@dataclass
class BmcProcess(LoggedProcess):
    """One `pybmc serve` process serving one or more BMC configs."""

    workdir: Path
    configs: list[dict[str, Any]]
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def address(self) -> str:
        return self.configs[0]["bmc"]["address"]

    @property
    def port(self) -> int:
        return int(self.configs[0]["bmc"].get("port", 623))

    def start(self, timeout: float = 15.0,
              probe: list[tuple[str, int]] | None = None) -> BmcProcess:
        """Start and wait until every BMC answers (at its config address, or at `probe`)."""
        paths = []
        for config in self.configs:
            path = self.workdir / f"{config['bmc']['name']}.toml"
            path.write_text(tomlw.dumps(config))
            paths.append(path)
        args = [sys.executable, "-m", "pybmc", "serve", "--log-level", "debug"]
        for path in paths:
            args += ["--config", str(path)]
        args += self.extra_args
        self.log_path = self.workdir / f"pybmc-{int(time.time() * 1000)}.log"
        self.proc = spawn_logged(args, self.log_path, cwd=self.workdir, new_session=False)
        endpoints = probe or [(c["bmc"]["address"], int(c["bmc"].get("port", 623)))
                              for c in self.configs]
        wait_for_answers(self.proc, endpoints, timeout, "pybmc serve", self.log_path,
                         answers=_answers)
        return self

    def restart(self) -> BmcProcess:
        self.stop()
        return self.start()

    # ---------------------------------------------------------------- clients
    def ipmitool(self, *args: str, interface: str = "lanplus", cipher: int | None = None,
                 user: str = ADMIN_USER, password: str = ADMIN_PASSWORD,
                 privilege: str | None = None, timeout: float = 30.0,
                 address: str | None = None, check: bool = True,
                 ) -> subprocess.CompletedProcess[str]:
        cmd = [IPMITOOL or "ipmitool", "-I", interface, "-H", address or self.address,
               "-p", str(self.port), "-U", user, "-P", password, "-R", "2", "-N", "2"]
        if cipher is not None:
            cmd += ["-C", str(cipher)]
        if privilege is not None:
            cmd += ["-L", privilege]
        result = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd[4:])} {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}")
        return result

    def freeipmi(self, tool: str, *args: str, driver: str = "LAN_2_0",
                 user: str = ADMIN_USER, password: str = ADMIN_PASSWORD,
                 timeout: float = 30.0, check: bool = True,
                 ) -> subprocess.CompletedProcess[str]:
        host = self.address if self.port == 623 else f"{self.address}:{self.port}"
        cmd = [tool, "-h", host, "-u", user, "-p", password, "-D", driver,
               "--session-timeout=5000", "--retransmission-timeout=500"]
        result = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def pyghmi(self, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> Any:
        from pyghmi.ipmi import command

        return command.Command(bmc=self.address, userid=user, password=password,
                               port=self.port, keepalive=False)


def wait_for_log(bmc: BmcProcess, needle: str, timeout: float = 30.0) -> str:
    """The log once it holds `needle` (rate-limited lines arrive with their summary)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = bmc.log()
        if needle in log:
            return log
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} not in the log:\n{bmc.log()[-3000:]}")


@pytest.fixture
def bmc_factory(tmp_path: Path) -> Iterator[Any]:
    """Make (and always stop) pybmc processes: `bmc_factory(**sections)` or with configs=[...]."""
    started: list[BmcProcess] = []

    def make(configs: list[dict[str, Any]] | None = None, extra_args: list[str] | None = None,
             start: bool = True, **sections: Any) -> BmcProcess:
        if configs is None:
            name = f"bmc{len(started) + 1}"
            configs = [base_config(name, next_address(), tmp_path / name, **sections)]
        process = BmcProcess(tmp_path, configs, extra_args or [])
        started.append(process)
        return process.start() if start else process

    yield make
    for process in started:
        process.stop()


@pytest.fixture
def bmc(bmc_factory: Any) -> BmcProcess:
    """A running pybmc serve with one simulated BMC and users admin/oper/viewer."""
    return bmc_factory()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
