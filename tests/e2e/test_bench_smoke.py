"""The core benchmark runs to the end (its numbers are judged by people, not by this test)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("ipmi_sim", "ipmitool", "ipmipower")

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason=f"needs {', '.join(TOOLS)}")


def test_bench_core_quick_completes_and_prints_a_ratio():
    result = subprocess.run([sys.executable, "-m", "bench.bench_core", "--quick"], cwd=REPO,
                            capture_output=True, text=True, timeout=180)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"median ratio pybmc/ipmi_sim: \d+\.\d\d", output), output
    assert re.search(r"rss: 1 BMC: \d+\.\d MB", output), output
    assert re.search(r"fan-out: .*: \d+/\d+ answered", output), output
