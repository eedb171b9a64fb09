"""Login throttling and log flooding against a real `pybmc serve`: a per-source burst of
RAKP 1s (from 127.0.0.2, a raw client) is throttled while ipmitool logs in from 127.0.0.1 at
once; a harvesting flood with the default limits gets a few RAKP 2s, not thousands; 1,000
refused logins write a bounded number of log lines."""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.e2e.conftest import BmcProcess, wait_for_log
from tests.e2e.rawlogin import (
    RawClient,
    completion_code,
    get_session_challenge,
)

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is needed")

FLOOD_SOURCE = "127.0.0.2"  # ipmitool's logins come from 127.0.0.1
LOG_LINE = re.compile(r" (INFO|WARNING|ERROR) pybmc\.session: ")


def session_lines(bmc: BmcProcess) -> list[str]:
    return [line for line in bmc.log().splitlines() if LOG_LINE.search(line)]


def test_a_rakp1_burst_is_throttled_while_another_address_logs_in_at_once(bmc_factory):
    # 10 tokens, then one every 10 s: the counts below hold however slow the machine is.
    bmc = bmc_factory(security={"login_rate": 0.1, "login_burst": 10})
    with RawClient(FLOOD_SOURCE, (bmc.address, bmc.port)) as flood:
        sessions = flood.open_sessions(6)  # 6 of the 10 tokens
        assert len(sessions) == 6
        rakp2 = flood.rakp1_burst(sessions)  # 6 RAKP 1 at once: 4 tokens left (+ refill)
        assert 4 <= len(rakp2) <= 5, len(rakp2)
        assert all(payload[1] == 0 for payload in rakp2)
        started = time.monotonic()
        result = bmc.ipmitool("raw", "0x06", "0x01")  # from 127.0.0.1: its own bucket
        assert len(result.stdout.split()) >= 11
        assert time.monotonic() - started < 10  # no retransmit waits (-R 2 -N 2 would show)
        assert len(flood.open_sessions(3, first_sid=100)) <= 1  # 127.0.0.2: still throttled
    log = bmc.log()
    warnings = [line for line in log.splitlines() if "possible RAKP 2 hash harvesting" in line]
    assert len(warnings) == 1 and " WARNING " in warnings[0]
    assert f"RAKP 1 from {FLOOD_SOURCE}:" in warnings[0]
    assert "from 127.0.0.1" not in warnings[0]
    assert "opened: user 'admin'" in log and "from 127.0.0.1:" in log


def test_a_harvesting_flood_with_default_limits_gets_a_few_hashes(bmc: BmcProcess):
    pairs = 400
    with RawClient(FLOOD_SOURCE, (bmc.address, bmc.port)) as flood:
        started = time.monotonic()
        sessions = flood.open_sessions(pairs)
        rakp2 = flood.rakp1_burst(sessions)
        elapsed = time.monotonic() - started
    # 60 tokens at once and 20 a second after: each hash costs 2 (Open Session, RAKP 1).
    assert len(sessions) <= 60 + 20 * elapsed + 1, (len(sessions), elapsed)
    assert len(rakp2) < len(sessions) or len(sessions) < pairs / 2
    assert len(rakp2) < pairs / 4, (len(rakp2), elapsed)
    assert bmc.ipmitool("raw", "0x06", "0x01").returncode == 0  # 127.0.0.1 is unaffected
    wait_for_log(bmc, f"similar messages from {FLOOD_SOURCE} (login throttled)")


def test_a_head_node_burst_of_real_clients_passes_the_default_limits(bmc: BmcProcess):
    """Several tools from one head node to one BMC at once, as a conductor runs them."""
    import subprocess

    command = ["ipmitool", "-I", "lanplus", "-H", bmc.address, "-p", str(bmc.port), "-U",
               "admin", "-P", "secret", "-R", "1", "-N", "5", "raw", "0x06", "0x01"]
    freeipmi = ["ipmipower", "-h", bmc.address, "-u", "admin", "-p", "secret", "--stat",
                "--session-timeout=5000"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(12)]
    procs += [subprocess.Popen(freeipmi, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for _ in range(8)]
    try:
        codes = [proc.wait(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert codes == [0] * 20
    assert "possible RAKP 2 hash harvesting" not in bmc.log()


@pytest.mark.parametrize("security", [{"login_rate": 0}, {}], ids=["unthrottled", "defaults"])
def test_a_thousand_refused_logins_write_a_bounded_number_of_lines(bmc_factory,
                                                                   security: dict):
    bmc = bmc_factory(security=security)
    before = len(session_lines(bmc))
    answered = 0
    started = time.monotonic()
    with RawClient(FLOOD_SOURCE, (bmc.address, bmc.port)) as flood:
        for chunk in range(20):  # 1,000 unknown users, 50 at a time
            replies = flood.exchange([get_session_challenge(b"nobody%d" % (chunk * 50 + n),
                                                            seq=n) for n in range(50)],
                                     quiet=0.5)
            assert all(completion_code(reply) == 0x81 for reply in replies)  # invalid user
            answered += len(replies)
    if not security:
        assert answered < 1000  # the default throttle dropped most of them
    else:
        assert answered == 1000
    wait_for_log(bmc, f"similar messages from {FLOOD_SOURCE}")
    windows = (time.monotonic() - started) / 10 + 2  # 10 s windows, each with one summary
    lines = session_lines(bmc)[before:]
    # Per kind of line (refused, and with the defaults throttled): the first, then summaries.
    assert 2 <= len(lines) <= 2 * windows, "\n".join(lines)
    assert sum("refused: unknown user" in line and "suppressed" not in line
               for line in lines) == 1
