"""Bad-password lockout and session room against a real `pybmc serve`, with ipmitool and FreeIPMI.

Each test names the cipher suites and IPMI 1.5 auth types it uses, so none depends on the
defaults. Logins from one source stay few and spaced; the session-filling logins come from
distinct loopback addresses.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import BmcProcess
from tests.e2e.rmcplogin import LoginResult, login

pytestmark = pytest.mark.skipif(shutil.which("ipmitool") is None, reason="needs ipmitool")

SECURITY = {"cipher_suites": [3, 17], "auth_types": ["md5"]}
LANPLUS = {"interface": "lanplus", "cipher": 17}
LAN_MD5 = {"interface": "lan"}


def ipmi15(bmc: BmcProcess, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return bmc.ipmitool("-A", "MD5", *args, **LAN_MD5, **kwargs)


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             interval: float = 0.2) -> float:
    """Poll `condition` until it holds; the time it first held (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_lockout_over_rmcpplus_set_with_ipmitool(bmc_factory: Any):
    bmc = bmc_factory(security=SECURITY)
    # 3 bad passwords, a 60 s count, a 10 s lockout (the parameter counts in tens of seconds).
    bmc.ipmitool("lan", "set", "1", "bad_pass_thresh", "3", "1", "6", "1", **LANPLUS)
    printed = bmc.ipmitool("lan", "print", "1", **LANPLUS).stdout
    assert "Bad Password Threshold  : 3" in printed
    assert "User Lockout Interval   : 10" in printed
    wrong = ""
    for _ in range(3):
        # ipmitool checks the RAKP 2 HMAC itself and sends no RAKP 3: the BMC counts a RAKP 2
        # left unanswered for 5 s as the bad password.
        wrong = refusal(bmc.ipmitool("raw", "0x06", "0x01", password="wrong", check=False,
                                     **LANPLUS))
    locked_at = wait_for(lambda: "locked out on channel 1 after 3 bad passwords" in bmc.log(),
                         30, "the lockout")
    right = refusal(bmc.ipmitool("raw", "0x06", "0x01", check=False, **LANPLUS))
    assert time.monotonic() - locked_at < 10, "too slow to see the lock"
    assert right == wrong  # the lock looks exactly like a wrong password
    assert "user 'admin' is locked out" in bmc.log()
    # Others still log in, and see the lockout in the SEL.
    sel = bmc.ipmitool("sel", "list", user="oper", password="operpw", privilege="OPERATOR",
                       **LANPLUS).stdout
    assert "Session Audit" in sel
    unlocked_at = wait_for(
        lambda: bmc.ipmitool("raw", "0x06", "0x01", check=False, **LANPLUS).returncode == 0,
        40, "the lockout to end", interval=1.0)
    assert unlocked_at - locked_at >= 9.0  # 10 s, less the log line's head start
    assert "no longer locked out" in bmc.log()


def test_lockout_over_ipmi15_from_config(bmc_factory: Any):
    lockout_seconds = 8
    bmc = bmc_factory(security={**SECURITY, "lockout_threshold": 2,
                                "lockout_seconds": lockout_seconds})
    printed = bmc.ipmitool("lan", "print", "1", **LANPLUS).stdout
    assert "Bad Password Threshold  : 2" in printed
    assert "Invalid password disable: yes" in printed
    wrong = refusal(ipmi15(bmc, "raw", "0x06", "0x01", password="wrong", check=False))
    assert "Insufficient privilege" in wrong
    assert "locked out" not in bmc.log()
    refusal(ipmi15(bmc, "raw", "0x06", "0x01", password="wrong", check=False))
    locked_at = time.monotonic()  # a wrong Activate Session counts at once
    assert "user 2 ('admin') locked out on channel 1 after 2 bad passwords, for 8 s" in bmc.log()
    right = refusal(ipmi15(bmc, "raw", "0x06", "0x01", check=False))
    assert time.monotonic() - locked_at < lockout_seconds, "too slow to see the lock"
    assert right == wrong
    # One lock for both session formats.
    refusal(bmc.ipmitool("raw", "0x06", "0x01", check=False, **LANPLUS))
    assert time.monotonic() - locked_at < lockout_seconds, "too slow to see the lock"
    unlocked_at = wait_for(
        lambda: ipmi15(bmc, "raw", "0x06", "0x01", check=False).returncode == 0,
        30, "the lockout to end", interval=1.0)
    assert unlocked_at - locked_at >= lockout_seconds - 1
    sel = bmc.ipmitool("sel", "list", **LANPLUS).stdout
    assert "Session Audit" in sel and "Asserted" in sel
    if shutil.which("ipmi-sel"):
        decoded = bmc.freeipmi("ipmi-sel").stdout
        assert "Session Audit" in decoded and "Invalid Password Disable" in decoded


def test_administrator_enables_a_locked_user(bmc_factory: Any):
    bmc = bmc_factory(security={**SECURITY, "lockout_threshold": 1, "lockout_seconds": 0})
    viewer = {"user": "viewer", "privilege": "USER"}
    refusal(ipmi15(bmc, "raw", "0x06", "0x01", password="wrong", check=False, **viewer))
    assert "until an administrator enables it again" in bmc.log()
    refusal(ipmi15(bmc, "raw", "0x06", "0x01", password="viewerpw", check=False, **viewer))
    bmc.ipmitool("user", "enable", "4", **LANPLUS)
    assert "user 4 ('viewer') unlocked on channel 1" in bmc.log()
    ipmi15(bmc, "raw", "0x06", "0x01", password="viewerpw", **viewer)


# ============================================================================ session room
@pytest.fixture
def held() -> Iterator[list[LoginResult]]:
    """Raw sessions the test holds; their sockets are closed at the end."""
    results: list[LoginResult] = []
    yield results
    for result in results:
        result.sock.close()


def hold(bmc: BmcProcess, held: list[LoginResult], index: int, user: str,
         password: str) -> LoginResult:
    source = f"127.{200 + index // 250}.{index % 250 + 1}.9"  # one source address each
    result = login((bmc.address, bmc.port), source, user, password)
    held.append(result)
    return result


def test_administrator_logs_in_while_a_user_holds_every_session(
        bmc_factory: Any, held: list[LoginResult]):
    bmc = bmc_factory(security={**SECURITY, "max_sessions": 4})
    for n in range(4):
        assert hold(bmc, held, n, "viewer", "viewerpw").status == 0
    assert bmc.log().count("opened: user 'viewer'") == 4
    more = hold(bmc, held, 4, "viewer", "viewerpw")
    assert (more.status, more.step) == (0x01, "rakp4")  # insufficient resources
    # ipmitool as administrator gets in: the viewer session idle longest makes room.
    result = bmc.ipmitool("raw", "0x06", "0x01", **LANPLUS)
    assert len(result.stdout.split()) >= 11
    assert "evicted to make room for a login at ADMINISTRATOR" in bmc.log()
    assert bmc.log().count("closed (evicted for a login at ADMINISTRATOR): user 'viewer'") == 1
    # ipmitool closed its session on exit: a viewer takes that slot, and the next finds none.
    assert hold(bmc, held, 5, "viewer", "viewerpw").status == 0
    assert hold(bmc, held, 6, "viewer", "viewerpw").status == 0x01


def test_per_user_session_limit_set_with_set_user_access(
        bmc_factory: Any, held: list[LoginResult]):
    bmc = bmc_factory(security={**SECURITY, "max_sessions": 8})
    # Set User Access, LAN: IPMI messaging on, user 4 (viewer), USER, at most 2 sessions.
    bmc.ipmitool("raw", "0x06", "0x43", "0x91", "0x04", "0x02", "0x02", **LANPLUS)
    for n in range(2):
        assert hold(bmc, held, n, "viewer", "viewerpw").status == 0
    third = hold(bmc, held, 2, "viewer", "viewerpw")
    assert (third.status, third.step) == (0x0B, "rakp4")  # no resources at that role
    assert "user 'viewer': the user's session limit is reached" in bmc.log()
    refused = ipmi15(bmc, "raw", "0x06", "0x01", user="viewer", password="viewerpw",
                     privilege="USER", check=False)
    assert refused.returncode != 0
    bmc.ipmitool("raw", "0x06", "0x01", **LANPLUS)  # the administrator is not limited
    # The limit survives a restart (Set User Access is persisted).
    for result in held:
        result.sock.close()
    held.clear()
    bmc.restart()
    for n in range(2):
        assert hold(bmc, held, 10 + n, "viewer", "viewerpw").status == 0
    assert hold(bmc, held, 12, "viewer", "viewerpw").status == 0x0B


# ============================================================================ Redfish
def test_wrong_redfish_passwords_lock_ipmi_and_redfish(bmc_factory: Any):
    from tests.e2e.test_redfish import PORT, https

    bmc = bmc_factory(security={**SECURITY, "lockout_threshold": 2, "lockout_seconds": 600},
                      redfish={"enabled": True, "port": PORT})
    wait_for(lambda: _answers_https(bmc, https), 10, "the Redfish listener")
    assert https(bmc, "GET", "/redfish/v1/Systems", user=("admin", "wrong"))[0] == 401
    assert https(bmc, "POST", "/redfish/v1/SessionService/Sessions", user=None,
                 body={"UserName": "admin", "Password": "wrong"})[0] == 401
    assert "user 2 ('admin') locked out on channel 1 after 2 bad passwords" in bmc.log()
    assert https(bmc, "GET", "/redfish/v1/Systems", user=("admin", "secret"))[0] == 401
    refusal(bmc.ipmitool("raw", "0x06", "0x01", check=False, **LANPLUS))
    assert https(bmc, "GET", "/redfish/v1/Systems", user=("oper", "operpw"))[0] == 200


def _answers_https(bmc: BmcProcess, https: Callable[..., tuple[int, Any]]) -> bool:
    try:
        https(bmc, "GET", "/redfish/v1", user=None)
    except OSError:
        return False
    return True
