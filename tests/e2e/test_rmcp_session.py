"""The session layer with real clients: every cipher suite, every IPMI 1.5 auth type, the
session commands, and the refusals, against a real `pybmc serve` process."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(
    not (os.path.exists("/usr/bin/ipmitool") and shutil.which("ipmipower")),
    reason="ipmitool and FreeIPMI are needed")

ALL_SUITES = [1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17]
IPMITOOL_SUITES = [1, 2, 3, 6, 7, 8, 15, 16, 17]  # ipmitool has no MD5-128 integrity (11, 12)


@pytest.fixture
def wide_bmc(bmc_factory) -> BmcProcess:
    """Every suite but 0, and every IPMI 1.5 auth type including none."""
    return bmc_factory(security={"cipher_suites": ALL_SUITES,
                                 "auth_types": ["none", "md2", "md5", "password"]})


def test_ipmitool_logs_in_with_every_suite_it_knows(wide_bmc: BmcProcess):
    for suite in IPMITOOL_SUITES:
        result = wide_bmc.ipmitool("raw", "0x06", "0x01", cipher=suite)
        assert len(result.stdout.split()) >= 11, suite
    log = wide_bmc.log()
    for suite in IPMITOOL_SUITES:
        assert f"suite {suite} (" in log


def test_freeipmi_logs_in_with_every_suite(wide_bmc: BmcProcess):
    for suite in ALL_SUITES:
        result = wide_bmc.freeipmi("ipmipower", "--stat", "-I", str(suite))
        assert ": off" in result.stdout, (suite, result.stdout, result.stderr)


@pytest.mark.parametrize("auth", ["MD5", "PASSWORD", "NONE"])
def test_ipmitool_ipmi15_auth_types(wide_bmc: BmcProcess, auth: str):
    result = wide_bmc.ipmitool("-A", auth, "raw", "0x06", "0x01", interface="lan")
    assert len(result.stdout.split()) >= 11
    assert f"IPMI 1.5 auth {auth}" in wide_bmc.log()


@pytest.mark.parametrize("auth", ["md2", "md5", "none"])
def test_freeipmi_ipmi15_auth_types(wide_bmc: BmcProcess, auth: str):
    result = wide_bmc.freeipmi("ipmipower", "--stat", "-a", auth, driver="LAN")
    assert ": off" in result.stdout
    info = wide_bmc.freeipmi("bmc-info", "-a", auth, driver="LAN").stdout
    assert "IPMI Version" in info


def test_ipmi15_auth_type_none_is_refused_by_default(bmc: BmcProcess):
    result = bmc.ipmitool("-A", "NONE", "raw", "0x06", "0x01", interface="lan", check=False)
    assert result.returncode != 0  # ipmitool reads the auth caps and does not even try
    assert "opened" not in bmc.log()


def test_channel_cipher_suites_and_authcap(bmc: BmcProcess):
    ciphers = bmc.ipmitool("channel", "getciphers", "ipmi", "1").stdout
    listed = [int(line.split()[0]) for line in ciphers.splitlines()[1:] if line.strip()]
    assert listed == [3, 17]  # the defaults: integrity and AES on every suite
    authcap = bmc.ipmitool("channel", "authcap", "1", "4").stdout
    assert "IPMI v1.5  auth types      : MD5 \n" in authcap
    assert "Channel supports IPMI v2.0 : yes" in authcap
    assert "Non-null user names exist  : yes" in authcap


def test_session_info_reports_the_current_session(bmc: BmcProcess):
    plus = bmc.ipmitool("session", "info", "active").stdout
    assert "IPMIv2/RMCP+" in plus and "ADMINISTRATOR" in plus and "127.0.0.1" in plus
    lan = bmc.ipmitool("session", "info", "active", interface="lan").stdout
    assert "IPMIv1.5" in lan and "user id                       : 2" in lan


def test_unknown_user_is_refused_at_once_with_status_0d(bmc: BmcProcess):
    started = time.monotonic()
    result = bmc.ipmitool("-v", "raw", "0x06", "0x01", user="nobody", check=False)
    assert result.returncode != 0 and time.monotonic() - started < 3
    assert "unauthorized name" in (result.stdout + result.stderr).lower()
    assert "unknown user 'nobody'" in bmc.log()


def test_wrong_password_is_refused_and_logged(bmc: BmcProcess):
    # ipmitool notices the RAKP 2 mismatch itself and never sends RAKP 3.
    assert bmc.ipmitool("raw", "0x06", "0x01", password="wrong", check=False).returncode
    result = bmc.ipmitool("raw", "0x06", "0x01", password="wrong", interface="lan",
                          check=False)
    assert result.returncode and "Insufficient privilege" in result.stderr
    assert "bad password for user 'admin' (IPMI 1.5 authcode mismatch)" in bmc.log()
    assert "opened" not in bmc.log()


def test_operator_session_stays_operator(bmc: BmcProcess):
    result = bmc.ipmitool("session", "info", "active", user="oper", password="operpw",
                          privilege="OPERATOR").stdout
    assert "OPERATOR" in result
    status = bmc.freeipmi("ipmipower", "--stat", user="oper", password="operpw")
    assert ": off" in status.stdout  # ipmipower asks for operator by default


def test_pyghmi_logs_in_and_logs_out(bmc: BmcProcess):
    ipmi = bmc.pyghmi()
    try:
        assert ipmi.get_power()["powerstate"] == "off"
    finally:
        ipmi.ipmi_session.logout()
    time.sleep(0.2)
    log = bmc.log()
    assert "suite 17" in log and "closed (close session)" in log
