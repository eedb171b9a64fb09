"""The SOL benchmark runs to the end against a real guest (its numbers are judged by people)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guest.vm import QEMU, require_guest

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("ipmi_sim", "ipmitool")

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                       reason=f"needs {', '.join(TOOLS)}"),
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
]


def test_bench_sol_quick_completes_and_prints_both_sides():
    require_guest()
    result = subprocess.run([sys.executable, "-m", "bench.bench_sol", "--quick"], cwd=REPO,
                            capture_output=True, text=True, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"pybmc +throughput median +\d+\.\d kB/s \(all complete\); echo median "
                     r"\d+\.\d ms", output), output
    assert re.search(r"ipmi_sim +throughput median +\d+\.\d kB/s", output), output
    assert re.search(r"ratio pybmc/ipmi_sim: throughput \d+\.\d\d .* echo latency \d+\.\d\d",
                     output), output
