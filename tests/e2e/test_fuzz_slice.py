"""A bounded slice of the fuzz harness (bench/fuzz.py) with fixed seeds, both modes.

In-process: 30,000 datagrams through Bmc.receive_datagram. Over UDP: 20,000 datagrams at a
real `pybmc serve` while ipmitool and pyghmi log in throughout. Each must end with no
traceback, no ERROR line, no BMC reply that fails to verify, and every legitimate client run
successful. The full run (1,000,000 datagrams) is `python -m bench.fuzz`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.fuzz import report, run_in_process
from bench.fuzzudp import run_udp

SEED = 20261203


def _check(result) -> None:
    text = "\n".join(report(result))
    assert result.logs.tracebacks == 0, text
    assert result.logs.errors == 0, text
    assert result.logs.format_errors == 0, text
    assert result.stats.counts["bad_replies"] == 0, text
    assert result.legit_failed == 0, text
    assert result.legit_ok > 0, text
    assert result.datagrams == result.wanted, text
    assert result.failures() == [], text


def test_fuzz_slice_in_process(tmp_path: Path) -> None:
    result = run_in_process(30_000, 60.0, SEED, tmp_path)
    _check(result)
    counts = result.stats.counts
    # The slice reached every layer: real logins of both suites and IPMI 1.5, in-session
    # commands answered, SOL activated and fed.
    assert counts["login_ok_suite3"] and counts["login_ok_suite17"], report(result)
    assert counts["v15_login_ok"] and counts["cc_00"], report(result)
    assert counts["sol_activations"] and counts["sol_packets"], report(result)


def test_fuzz_slice_in_process_is_deterministic(tmp_path: Path) -> None:
    first = run_in_process(3_000, 60.0, SEED, tmp_path / "a")
    second = run_in_process(3_000, 60.0, SEED, tmp_path / "b")
    assert first.stats.counts == second.stats.counts
    assert first.replies == second.replies


@pytest.mark.skipif(shutil.which("ipmitool") is None, reason="needs ipmitool")
def test_fuzz_slice_udp(tmp_path: Path) -> None:
    result = run_udp(20_000, 60.0, SEED, senders=2, rate=2000.0, workdir=tmp_path)
    _check(result)
    assert result.replies > 0, report(result)
