"""The Redfish benchmark runs to the end with tiny counts (its numbers are judged by people)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = ("GET ServiceRoot", "GET Systems/{id}", "PATCH Boot")
NUMBERS = r"median +\d+\.\d\d ms  p95 +\d+\.\d\d ms +\d+\.\d req/s"


def test_bench_redfish_prints_latency_rate_and_ratios():
    result = subprocess.run([sys.executable, "-m", "bench.bench_redfish", "--requests", "5",
                             "--rounds", "2", "--max-seconds", "60"], cwd=REPO,
                            capture_output=True, text=True, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "5 requests per operation, server and round, 2 round(s)" in output, output
    for operation in OPERATIONS:
        assert re.search(rf"^{re.escape(operation)} +pybmc +{NUMBERS}$", output, re.M), output
    if importlib.util.find_spec("sushy_tools") is None:
        assert "sushy-tools: not installed" in output
        return
    for operation in OPERATIONS:
        assert re.search(rf"^{re.escape(operation)} +sushy-tools +{NUMBERS}$", output, re.M)
        assert re.search(rf"^{re.escape(operation)} +ratio pybmc/sushy-tools: median latency "
                         r"\d+\.\d\d, p95 \d+\.\d\d, req/s \d+\.\d\d$", output, re.M), output
    assert re.search(r"^connections opened by pybmc: 6 \(6 when", output, re.M), output
