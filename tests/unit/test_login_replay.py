"""Captured ipmitool logins replay byte for byte through the session layer.

Each transcript (tests/unit/data/login_*.txt, made by capture_login.py against a BMC with a
seeded random source) lists the client's datagrams (">") and the BMC's replies ("<"). With the
same seed, the same config and the same `now`, feeding the client's side back must give every
reply exactly: session IDs, RAKP nonces and HMACs, IVs, sequence numbers and authcodes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.core.bmc import Bmc
from tests.unit.data.capture_login import seeded_random, transcript_bmc

DATA = Path(__file__).parent / "data"
TRANSCRIPTS = sorted(DATA.glob("login_*.txt"))
PEER = ("127.0.0.1", 40000)


def read_transcript(path: Path) -> list[tuple[bytes, list[bytes]]]:
    """[(request, [replies])] in order."""
    exchanges: list[tuple[bytes, list[bytes]]] = []
    for line in path.read_text().splitlines():
        if line.startswith("> "):
            exchanges.append((bytes.fromhex(line[2:]), []))
        elif line.startswith("< "):
            exchanges[-1][1].append(bytes.fromhex(line[2:]))
    return exchanges


def replay(bmc: Bmc, exchanges: list[tuple[bytes, list[bytes]]]) -> list[list[bytes]]:
    answers = []
    for request, _ in exchanges:
        bmc.receive_datagram(request, PEER, 1000.0)
        answers.append([data for data, dest in bmc.datagrams_to_send() if dest == PEER])
    return answers


def test_the_transcripts_are_there():
    assert {p.name for p in TRANSCRIPTS} == {
        "login_ipmitool_c17.txt", "login_ipmitool_c3.txt", "login_ipmitool_lan.txt"}


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_replay_is_byte_for_byte(path: Path, tmp_path: Path):
    exchanges = read_transcript(path)
    assert len(exchanges) >= 6  # auth caps, the login, the command and Close Session
    answers = replay(transcript_bmc(tmp_path), exchanges)
    for index, ((request, expected), got) in enumerate(zip(exchanges, answers, strict=True)):
        assert got == expected, f"exchange {index}: request {request.hex()}"
    assert "20 01 01 00" in path.read_text().splitlines()[0]  # the client got its answer


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_another_random_source_gives_other_replies(path: Path, tmp_path: Path):
    """The replay depends on the injected source: nothing random is made behind its back."""
    bmc = transcript_bmc(tmp_path)
    bmc.sessions.host.random = seeded_random(1)
    exchanges = read_transcript(path)
    answers = replay(bmc, exchanges)
    assert answers != [expected for _, expected in exchanges]
    # The login fails at the password proof: from then on no session exists to answer.
    assert bmc.sessions.sessions == []
