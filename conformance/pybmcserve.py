"""Run `pybmc serve` with generated configs; wait until every BMC answers; stop it by PID."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from conformance import toml
from conformance.net import answers_auth_caps

REPO = Path(__file__).resolve().parent.parent


@dataclass
class PybmcServe:
    """One `pybmc serve` process serving every config in `configs`."""

    configs: list[dict[str, Any]]
    workdir: Path
    log_level: str = "info"
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / "pybmc.log"

    @property
    def endpoints(self) -> list[tuple[str, int]]:
        return [(c["bmc"]["address"], int(c["bmc"].get("port", 623))) for c in self.configs]

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def command(self) -> list[str]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "pybmc", "serve", "--log-level", self.log_level]
        for config in self.configs:
            path = self.workdir / f"{config['bmc']['name']}.toml"
            path.write_text(toml.dumps(config))
            args += ["--config", str(path)]
        return args + self.extra_args

    def start(self, timeout: float = 30.0) -> PybmcServe:
        command = self.command()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=REPO,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        pending = list(self.endpoints)
        while pending:
            if not self.alive():
                code = self.proc.returncode
                raise RuntimeError(f"pybmc serve exited {code}:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                output = self.log()
                self.stop()
                raise RuntimeError(f"pybmc serve: {pending[0][0]} did not answer within "
                                   f"{timeout}s:\n{output[-3000:]}")
            if answers_auth_caps(*pending[0], timeout=0.2):
                pending.pop(0)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def __enter__(self) -> PybmcServe:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
