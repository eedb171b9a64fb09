"""DMTF's Redfish Service and Protocol Validators over a real `pybmc serve`, offline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess
from tests.e2e.test_redfish import PORT
from tests.e2e.test_redfish_inventory import SYSTEM_SECTION, wait_redfish

CSDL = Path(__file__).resolve().parents[2].parent / "shared" / "redfish" / "csdl"
if not CSDL.is_dir():
    CSDL = Path("/work/shared/redfish/csdl")
VALIDATOR = shutil.which("rf_service_validator") or str(
    Path(sys.executable).parent / "rf_service_validator")
PROTOCOL_VALIDATOR = shutil.which("rf_protocol_validator") or str(
    Path(sys.executable).parent / "rf_protocol_validator")


@pytest.fixture
def redfish_bmc(bmc_factory: Any) -> BmcProcess:
    """A BMC whose host has NICs and disks, so their resources are validated too."""
    return wait_redfish(bmc_factory(redfish={"enabled": True, "port": PORT},
                                    system=SYSTEM_SECTION))


@pytest.mark.skipif(not Path(VALIDATOR).exists(), reason="redfish-service-validator missing")
@pytest.mark.skipif(not CSDL.is_dir(), reason="DMTF CSDL test data missing")
def test_service_validator_reports_no_failures(redfish_bmc: BmcProcess,
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


@pytest.mark.skipif(not Path(PROTOCOL_VALIDATOR).exists(),
                    reason="redfish-protocol-validator missing")
def test_protocol_validator_reports_no_failures(redfish_bmc: BmcProcess,
                                                tmp_path: Path) -> None:
    cert = Path(redfish_bmc.configs[0]["bmc"]["state_dir"]) / "redfish-cert.pem"
    # requests lets REQUESTS_CA_BUNDLE override a session's own CA bundle: without these the
    # validator's session requests would not trust the BMC's certificate given below.
    env = {k: v for k, v in os.environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    result = subprocess.run(
        [PROTOCOL_VALIDATOR, "-r", f"https://{redfish_bmc.address}:{PORT}", "-u", ADMIN_USER,
         "-p", ADMIN_PASSWORD, "--ca-bundle", str(cert), "--avoid-http-redirect",
         "--report-dir", str(tmp_path / "report"), "--report-type", "tsv"],
        capture_output=True, text=True, timeout=400, cwd=tmp_path, env=env)
    summary = re.search(r"PASS: (\d+), WARN: (\d+), FAIL: (\d+), NOT_TESTED: (\d+)",
                        result.stdout)
    assert summary is not None, result.stdout[-2000:] + result.stderr[-2000:]
    passed, _, failed, _ = (int(n) for n in summary.groups())
    failures = [line for report in (tmp_path / "report").glob("*.tsv")
                for line in report.read_text().splitlines() if "\tFAIL\t" in line]
    assert failed == 0, "\n".join(failures)
    assert passed > 250  # sessions, headers, accounts, ETags and events were all exercised
