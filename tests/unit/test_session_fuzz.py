"""Random datagrams at the session layer never raise, log no internal error and leave live
RMCP+ and IPMI 1.5 sessions working."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybmc.core.bmc import Bmc
from tests.unit.conftest import MakeBmc
from tests.unit.rmcp_clients import (  # noqa: F401  (fixtures)
    GET_DEVICE_ID,
    OTHER,
    PlusClient,
    V15Client,
    Wire,
    three_users,
    wire_on_bmc,
)

# ============================================================================ robustness
FUZZ_SEEDS = [
    bytes.fromhex("0600ff07000000000000000000092018c88100388e04b5"),
    bytes.fromhex("0600ff0706100000000000000000200000000000a4a3a2a000000008010000000100000801"
                  "0000000200000801000000"),
    bytes.fromhex("0600ff06000011be80000000"),
    bytes.fromhex("0600ff07020000000005000000f401a15c1410acea4b8b1eb8eb4f84c81d2018c8810c3a02"
                  "0422e9c7701b675bb779b2d7578fe2d26de13b8c6f3d"),
]


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from(FUZZ_SEEDS), st.integers(0, 80)).map(lambda t: t[0][:t[1]]),
    st.tuples(st.sampled_from(FUZZ_SEEDS), st.integers(0, 79), st.integers(0, 255)).map(
        lambda t: t[0][:t[1] % len(t[0])] + bytes([t[2]]) + t[0][t[1] % len(t[0]) + 1:]),
    st.tuples(st.sampled_from([b"\x06\x00\xff\x07\x06", b"\x06\x00\xff\x07\x02",
                               b"\x06\x00\xff\x07\x00"]), st.binary(max_size=80)).map(
        lambda t: t[0] + t[1]),
))
def test_random_datagrams_never_raise_and_sessions_keep_working(
        tmp_path_factory: pytest.TempPathFactory, make_bmc: MakeBmc, datagram: bytes) -> None:
    bmc = fuzz_bmc(tmp_path_factory, make_bmc)
    wire = Wire(bmc.sessions)
    handler = _WarningCatcher()
    logging.getLogger("pybmc").addHandler(handler)
    try:
        bmc.sessions.receive_datagram(datagram, OTHER, wire.now)
        bmc.sessions.datagrams_to_send()
    finally:
        logging.getLogger("pybmc").removeHandler(handler)
    assert handler.records == []  # no internal error path was taken
    assert FUZZ_STATE["plus"].request(*GET_DEVICE_ID)[0] == 0
    assert FUZZ_STATE["v15"].request(*GET_DEVICE_ID)[0] == 0


FUZZ_STATE: dict[str, Any] = {}


def fuzz_bmc(factory: pytest.TempPathFactory, make_bmc: MakeBmc) -> Bmc:
    """One BMC with two live sessions shared by every fuzz example."""
    if "bmc" not in FUZZ_STATE:
        # Every example arrives at the same `now`: a login bucket would soon be empty and
        # the login code no longer explored.
        bmc = make_bmc(factory.mktemp("fuzz"), security={"login_rate": 0})
        wire = Wire(bmc.sessions)
        FUZZ_STATE.update(bmc=bmc, plus=PlusClient(wire, suite=17).login(),
                          v15=V15Client(wire).login())
    return FUZZ_STATE["bmc"]


class _WarningCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


