"""The fleet benchmark runs at N = 200 and prints its table (numbers judged by people)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("ipmi_sim", "ipmipower")

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                 reason=f"needs {', '.join(TOOLS)}")]


def test_bench_fleet_at_200_prints_its_table():
    result = subprocess.run([sys.executable, "-m", "bench.bench_fleet", "--n", "200",
                             "--live-adds", "10"], cwd=REPO, capture_output=True, text=True,
                            timeout=600)
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output
    for side in ("pybmc", "ipmi_sim"):
        block = output.split(side, 1)[1]
        assert re.search(r"all answering: \d+\.\d\d s", block), output
        assert re.search(r"rss: \d+\.\d MB total, \d+ KB per BMC", block), output
        assert re.search(r"200/200 answered in \d+\.\d\d s, \d+ sessions/s", block), output
    assert re.search(r"live add: 10 BMCs .* \(10/10 answering, 0 refused\)", output), output
    assert re.search(r"ratios pybmc/ipmi_sim \(per BMC\): start \d", output), output
