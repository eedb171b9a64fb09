"""pybmc against ipmi_sim: `python -m conformance` finds no unexpected difference."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("ipmi_sim", "ipmitool", "ipmipower", "bmc-info")

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason=f"needs {', '.join(TOOLS)}")


def test_conformance_suite_has_no_unexpected_difference():
    result = subprocess.run([sys.executable, "-m", "conformance", "--jobs", "6"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]


def test_conformance_lists_at_least_sixty_scenarios():
    result = subprocess.run([sys.executable, "-m", "conformance", "--list"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    names = result.stdout.split()
    assert result.returncode == 0
    assert len(names) >= 60
    categories = {name.split("/")[0] for name in names}
    assert {"session", "error", "chassis", "boot", "lan", "user", "channel", "sol", "sdr",
            "sel", "fru"} <= categories
