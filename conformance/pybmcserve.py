"""Run `pybmc serve` with generated configs; wait until every BMC answers; stop it by PID."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import toml
from conformance.procs import LoggedProcess, spawn_logged, wait_for_answers

REPO = Path(__file__).resolve().parent.parent


@dataclass
class PybmcServe(LoggedProcess):
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
        self.proc = spawn_logged(self.command(), self.log_path, cwd=REPO)
        wait_for_answers(self.proc, self.endpoints, timeout, "pybmc serve", self.log_path,
                         tail=3000)
        return self
