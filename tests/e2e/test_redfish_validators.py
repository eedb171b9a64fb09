"""DMTF's Redfish Service Validator, offline against DMTF's CSDL, over a real `pybmc serve`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess
from tests.e2e.test_redfish import PORT
from tests.e2e.test_redfish import bmc as redfish_bmc  # noqa: F401  (the fixture)

CSDL = Path(__file__).resolve().parents[2].parent / "shared" / "redfish" / "csdl"
if not CSDL.is_dir():
    CSDL = Path("/work/shared/redfish/csdl")
VALIDATOR = shutil.which("rf_service_validator") or str(
    Path(sys.executable).parent / "rf_service_validator")


@pytest.mark.skipif(not Path(VALIDATOR).exists(), reason="redfish-service-validator missing")
@pytest.mark.skipif(not CSDL.is_dir(), reason="DMTF CSDL test data missing")
def test_service_validator_reports_no_failures(redfish_bmc: BmcProcess,  # noqa: F811
                                               tmp_path: Path, bmc_factory: Any) -> None:
    result = subprocess.run(
        [VALIDATOR, "--ip", f"https://{redfish_bmc.address}:{PORT}", "-u", ADMIN_USER,
         "-p", ADMIN_PASSWORD, "--schema_directory", str(CSDL), "--nooemcheck",
         "--logdir", str(tmp_path / "validator")],
        capture_output=True, text=True, timeout=240, cwd=tmp_path)
    table = re.search(r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", result.stdout)
    assert table is not None, result.stdout[-2000:] + result.stderr[-2000:]
    passed, _, failed, _ = (int(n) for n in table.groups())
    assert failed == 0, result.stdout[-4000:]
    assert passed > 200  # the whole tree was walked, not only the service root
    assert result.returncode == 0
