"""Secure login defaults against a real `pybmc serve`: RMCP+ suites 3 and 17 and IPMI 1.5 MD5
only; suites 1/2 and IPMI 1.5 straight password/MD2 refused unless the config names them,
and then served with a warning at start."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.e2e.conftest import BmcProcess, wait_for_log
from tests.e2e.rawlogin import RawClient, completion_code, get_session_challenge

pytestmark = pytest.mark.skipif(
    not (os.path.exists("/usr/bin/ipmitool") and shutil.which("ipmipower")),
    reason="ipmitool and FreeIPMI are needed")

WEAK = {"cipher_suites": [1, 2, 3, 17], "auth_types": ["md2", "md5", "password"]}
AUTH_PASSWORD, AUTH_MD2, AUTH_MD5 = 4, 1, 2


def test_default_bmc_offers_suites_3_and_17_and_md5_and_warns_about_nothing(bmc: BmcProcess):
    ciphers = bmc.ipmitool("channel", "getciphers", "ipmi", "1").stdout
    assert [int(line.split()[0]) for line in ciphers.splitlines()[1:] if line.strip()] == [3, 17]
    authcap = bmc.ipmitool("channel", "authcap", "1", "4", interface="lan").stdout
    assert re.search(r"IPMI v1.5\s+auth types\s+: MD5\s*$", authcap, re.MULTILINE), authcap
    assert bmc.ipmitool("raw", "0x06", "0x01").returncode == 0  # ipmitool picks 17
    assert bmc.ipmitool("raw", "0x06", "0x01", cipher=3).returncode == 0
    assert ": off" in bmc.freeipmi("ipmipower", "--stat").stdout  # FreeIPMI: suite 3
    assert bmc.ipmitool("raw", "0x06", "0x01", interface="lan").returncode == 0  # MD5
    assert "weak login options" not in bmc.log()


def test_suites_1_and_2_are_refused_by_default(bmc: BmcProcess):
    for suite in (1, 2):
        result = bmc.ipmitool("raw", "0x06", "0x01", cipher=suite, check=False)
        assert result.returncode != 0, (suite, result.stdout)
    wait_for_log(bmc, "no enabled cipher suite matches the proposal 1/0/0")
    wait_for_log(bmc, "no enabled cipher suite matches the proposal 1/1/0")  # in the summary
    assert "opened" not in bmc.log()


def test_suites_1_and_2_work_when_configured_with_a_warning(bmc_factory):
    bmc = bmc_factory(security=WEAK)
    for suite in (1, 2):
        assert len(bmc.ipmitool("raw", "0x06", "0x01", cipher=suite).stdout.split()) >= 11
    [warning] = [line for line in bmc.log().splitlines() if "weak login options" in line]
    assert " WARNING " in warning
    assert "cipher suite 1 (no integrity" in warning and "cipher suite 2 (no confidentiality" \
        in warning
    assert "auth type md2" in warning and "auth type password" in warning


def test_ipmi15_password_and_md2_are_refused_by_default(bmc: BmcProcess):
    result = bmc.ipmitool("-A", "PASSWORD", "raw", "0x06", "0x01", interface="lan",
                          check=False)
    assert result.returncode != 0  # ipmitool reads the auth caps and gives up
    md2 = bmc.freeipmi("ipmipower", "--stat", "-a", "md2", driver="LAN", check=False)
    assert ": off" not in md2.stdout
    # The BMC itself refuses them too, whatever a client believes: 0xCC (invalid data field).
    with RawClient("127.0.0.1", (bmc.address, bmc.port)) as raw:
        for auth_type in (AUTH_PASSWORD, AUTH_MD2):
            [reply] = raw.exchange([get_session_challenge(b"admin", auth_type)])
            assert completion_code(reply) == 0xCC, auth_type
        [reply] = raw.exchange([get_session_challenge(b"admin", AUTH_MD5)])
        assert completion_code(reply) == 0x00
    assert "opened" not in bmc.log()


def test_ipmi15_password_and_md2_work_when_configured(bmc_factory):
    bmc = bmc_factory(security=WEAK)
    result = bmc.ipmitool("-A", "PASSWORD", "raw", "0x06", "0x01", interface="lan")
    assert len(result.stdout.split()) >= 11
    assert ": off" in bmc.freeipmi("ipmipower", "--stat", "-a", "md2", driver="LAN").stdout
    log = bmc.log()
    assert "IPMI 1.5 auth PASSWORD" in log and "IPMI 1.5 auth MD2" in log
