"""What `up` made survives in its record; `down` stops processes by pid, never a reused one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pybmc.cluster.record import ProcessRecord, Record, stop_process


def test_record_round_trip(tmp_path: Path):
    record = Record.load(tmp_path)
    assert record.links == [] and record.processes == []
    record.netns = "pybmctx"
    record.links.append("br0")
    record.addresses.append(("br0", "192.168.123.1", 24))
    record.outer_links.append("pybmctx-head")
    record.nat = ["", "pybmc-lab"]
    record.forwarding.append("")
    record.save()
    again = Record.load(tmp_path)
    assert (again.outer_links, again.nat, again.forwarding) == (["pybmctx-head"],
                                                                ["", "pybmc-lab"], [""])
    assert (again.netns, again.links, again.addresses) == ("pybmctx", ["br0"],
                                                           [("br0", "192.168.123.1", 24)])
    again.forget()
    again.forget()  # idempotent
    assert Record.load(tmp_path).netns == ""


def test_stop_process_by_pid_and_start_time(tmp_path: Path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        record = Record.load(tmp_path)
        record.add_process(child.pid, "sleeper")
        proc = Record.load(tmp_path).process("sleeper")
        assert proc is not None and proc.alive()
        # The same pid with another start time is somebody else's process: left alone.
        impostor = ProcessRecord(child.pid, (proc.start_time or 0) + 1, "sleeper")
        assert not impostor.alive()
        assert stop_process(impostor) is True and child.poll() is None
        assert stop_process(proc, wait=5.0) is True
        assert not proc.alive()  # gone (and reaped: it was our child)
        assert Record.load(tmp_path).process("sleeper") is None
    finally:
        child.kill()
        child.wait(timeout=5)
