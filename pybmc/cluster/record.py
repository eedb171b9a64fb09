"""What `up` created, kept in the cluster's state dir so `down` removes exactly that, also after a
crash: the file is rewritten (atomically) after every single thing is created."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pybmc.edge.power.process import process_start_time

RECORD_FILE = "cluster.json"
STOP_WAIT = 10.0  # seconds a process gets after SIGTERM before SIGKILL


@dataclass
class ProcessRecord:
    pid: int
    start_time: int | None
    what: str

    def alive(self) -> bool:
        """Still that very process (a reused pid has another start time)."""
        now = process_start_time(self.pid)
        return now is not None and (self.start_time is None or now == self.start_time)


@dataclass
class Record:
    netns: str = ""  # the namespace up created (removed by down), "" when none
    links: list[str] = field(default_factory=list)  # interfaces up created, in creation order
    addresses: list[tuple[str, str, int]] = field(default_factory=list)  # (ifname, ip, prefix)
    processes: list[ProcessRecord] = field(default_factory=list)
    outer_links: list[str] = field(default_factory=list)  # made in the caller's namespace
    nat: list[str] = field(default_factory=list)  # [namespace ("" = caller's), nft table]
    forwarding: list[str] = field(default_factory=list)  # namespaces where up turned it on
    path: Path = Path(RECORD_FILE)

    @classmethod
    def load(cls, run_dir: Path) -> Record:
        path = run_dir / RECORD_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path=path)
        return cls(netns=data.get("netns", ""), links=list(data.get("links", [])),
                   addresses=[tuple(a) for a in data.get("addresses", [])],
                   processes=[ProcessRecord(**p) for p in data.get("processes", [])],
                   outer_links=list(data.get("outer_links", [])),
                   nat=list(data.get("nat", [])), forwarding=list(data.get("forwarding", [])),
                   path=path)

    def save(self) -> None:
        data = asdict(self)
        data.pop("path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, self.path)

    def forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def add_process(self, pid: int, what: str) -> None:
        self.processes.append(ProcessRecord(pid, process_start_time(pid), what))
        self.save()

    def process(self, what: str) -> ProcessRecord | None:
        for proc in self.processes:
            if proc.what == what and proc.alive():
                return proc
        return None


def stop_process(proc: ProcessRecord, wait: float = STOP_WAIT) -> bool:
    """SIGTERM, then SIGKILL after `wait` s; by pid only, and only if it is still that process.
    True when it is gone."""
    for sig, grace in ((signal.SIGTERM, wait), (signal.SIGKILL, 2.0)):
        if not proc.alive():
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(proc.pid, os.WNOHANG)  # reap it when it is our own child
            if not proc.alive() or _is_zombie(proc.pid):
                return True
            time.sleep(0.05)
    return not proc.alive()


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"
