"""The client invocations a scenario is made of: ipmitool, FreeIPMI tools, pyghmi, raw UDP.

Each step is a small frozen object with `run(target, timeout) -> Outcome`. A step never raises:
a timeout, a missing tool or a crash is an Outcome that failed, with the reason as its text.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance.net import udp_roundtrip
from conformance.profile import ADMIN


@dataclass(frozen=True)
class Target:
    """One server under test, as the clients see it."""

    label: str  # "ipmi_sim" or "pybmc"
    address: str
    port: int
    workdir: Path  # per-target scratch space (FreeIPMI SDR caches, ipmitool files)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str
    seconds: float = 0.0


def _run(argv: list[str], timeout: float) -> Outcome:
    started = time.monotonic()
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        return Outcome(False, f"{argv[0]}: not installed")
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired:
        return Outcome(False, f"timed out after {timeout:.0f}s", time.monotonic() - started)
    text = result.stdout + result.stderr
    if result.returncode != 0:
        text += f"[exit {result.returncode}]"
    return Outcome(result.returncode == 0, text, time.monotonic() - started)


@dataclass(frozen=True)
class Ipmitool:
    """`ipmitool -I lanplus -C 3 ... ARGS` (or `-I lan` for IPMI 1.5)."""

    args: tuple[str, ...]
    interface: str = "lanplus"
    cipher: int | None = 3
    user: str = ADMIN[0]
    password: str = ADMIN[1]
    privilege: str | None = None
    auth_type: str | None = None  # -A for IPMI 1.5: NONE, MD2, MD5, PASSWORD
    expect_ok: bool = True

    def describe(self) -> str:
        opts = [f"-I {self.interface}"]
        if self.interface == "lanplus" and self.cipher is not None:
            opts.append(f"-C {self.cipher}")
        if self.auth_type:
            opts.append(f"-A {self.auth_type}")
        if self.user != ADMIN[0] or self.password != ADMIN[1]:
            shown_user = self.user or '""'
            opts.append(f"-U {shown_user} -P {self.password}")
        if self.privilege:
            opts.append(f"-L {self.privilege}")
        return "ipmitool " + " ".join(opts + list(self.args))

    def run(self, target: Target, timeout: float) -> Outcome:
        argv = ["ipmitool", "-I", self.interface, "-H", target.address, "-p", str(target.port),
                "-U", self.user, "-P", self.password, "-R", "2", "-N", "1"]
        if self.interface == "lanplus" and self.cipher is not None:
            argv += ["-C", str(self.cipher)]
        if self.auth_type:
            argv += ["-A", self.auth_type]
        if self.privilege:
            argv += ["-L", self.privilege]
        return _run(argv + list(self.args), timeout)


@dataclass(frozen=True)
class FreeIpmi:
    """A FreeIPMI tool: `TOOL -h HOST -u USER -p PASSWORD -D DRIVER ARGS`."""

    tool: str
    args: tuple[str, ...] = ()
    driver: str = "LAN"  # LAN (1.5) or LAN_2_0
    user: str = ADMIN[0]
    password: str = ADMIN[1]
    privilege: str | None = None  # -l USER|OPERATOR|ADMIN
    sdr_cache: bool = False  # give the tool a per-target SDR cache directory
    expect_ok: bool = True

    def describe(self) -> str:
        opts = [f"-D {self.driver}"]
        if self.user != ADMIN[0] or self.password != ADMIN[1]:
            opts.append(f"-u {self.user} -p {self.password}")
        if self.privilege:
            opts.append(f"-l {self.privilege}")
        return " ".join([self.tool, *opts, *self.args])

    def run(self, target: Target, timeout: float) -> Outcome:
        host = target.address if target.port == 623 else f"{target.address}:{target.port}"
        argv = [self.tool, "-h", host, "-u", self.user, "-p", self.password, "-D", self.driver,
                "--session-timeout=4000", "--retransmission-timeout=400"]
        if self.privilege:
            argv += ["-l", self.privilege]
        if self.sdr_cache:
            cache = target.workdir / "sdr-cache"
            cache.mkdir(parents=True, exist_ok=True)
            argv += [f"--sdr-cache-directory={cache}", "--quiet-cache"]
        return _run(argv + list(self.args), timeout)


@dataclass(frozen=True)
class Pyghmi:
    """One pyghmi `Command` call, run in a child Python (pyghmi keeps global session state)."""

    action: str
    args: tuple[str, ...] = ()
    user: str = ADMIN[0]
    password: str = ADMIN[1]
    expect_ok: bool = True

    def describe(self) -> str:
        return f"pyghmi {self.action} {' '.join(self.args)}".rstrip()

    def run(self, target: Target, timeout: float) -> Outcome:
        argv = [sys.executable, "-m", "conformance.pyghmi_client", target.address,
                str(target.port), self.user, self.password, self.action, *self.args]
        return _run(argv, timeout)


@dataclass(frozen=True)
class Udp:
    """One raw datagram; the reply bytes (hex) or "no reply" are the output."""

    payload: bytes
    what: str
    expect_reply: bool | None = True  # None: a reply and silence are both acceptable
    show_bytes: slice = field(default_factory=lambda: slice(None))

    @property
    def expect_ok(self) -> bool:
        return self.expect_reply is not False

    def describe(self) -> str:
        return f"udp {self.what}"

    def run(self, target: Target, timeout: float) -> Outcome:
        started = time.monotonic()
        reply = udp_roundtrip(target.address, target.port, self.payload, min(timeout, 1.0))
        text = "no reply" if reply is None else reply[self.show_bytes].hex(" ")
        ok = (reply is not None) if self.expect_reply is not None else True
        return Outcome(ok, text, time.monotonic() - started)


@dataclass(frozen=True)
class Sleep:
    """Let a timed action (power cycle, soft off) finish before the next step looks."""

    seconds: float
    expect_ok: bool = True

    def describe(self) -> str:
        return f"sleep {self.seconds:g}"

    def run(self, target: Target, timeout: float) -> Outcome:
        time.sleep(self.seconds)
        return Outcome(True, "")


Step = Ipmitool | FreeIpmi | Pyghmi | Udp | Sleep
