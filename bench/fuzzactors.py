"""The fuzzer's stateful actors: each one is a generator that yields datagrams and is sent
back the replies that came to its address.

An actor yields `(datagram, wait)`; the driver sends the datagram from the actor's own source
address and resumes the generator with the list of replies received for it (after waiting for
one when `wait` is true). Actors hold real sessions (RMCP+ suites 3 and 17, IPMI 1.5 MD5) and
mutate what goes inside them, so the fuzzed bytes get past integrity and confidentiality
checks into the command handlers and the SOL stream. `Legit` is the well-behaved client whose
every exchange must succeed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field

from bench import fuzzmutate as fm
from bench import ipmiclient as ic

Step = Generator[tuple[bytes, bool], list[bytes], None]

FUZZ_USER, FUZZ_PASSWORD = b"fuzz", b"fuzz-pass-1234"
FUZZOP_USER, FUZZOP_PASSWORD = b"fuzzop", b"fuzzop-pass-99"
VICTIM_USER, VICTIM_PASSWORD = b"victim", b"victim-pass-42"
LEGIT_USER, LEGIT_PASSWORD = b"legit", b"legit-Pass-2026"
REQUESTS_PER_SESSION = 400
MAX_PROBLEMS = 40


@dataclass
class Stats:
    """What every actor counts; `problems` are the reasons of failures worth printing."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def problem(self, key: str, text: str) -> None:
        self.counts[key] += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)


@dataclass
class PlusSession:
    suite: int
    keys: ic.SessionKeys
    bmc_sid: int
    console_sid: int
    sequence: int = 0
    rq_seq: int = 0

    def next_seq(self) -> int:
        self.sequence = (self.sequence + 1) & 0xFFFFFFFF or 1
        return self.sequence

    def next_rq(self) -> int:
        self.rq_seq = (self.rq_seq + 1) % 64
        return self.rq_seq


def _first(replies: list[bytes], payload_type: int, console_sid: int | None = None,
           ) -> bytes | None:
    """The payload of the first unprotected RMCP+ reply of this type (to this console
    session ID when given: a late reply to an earlier login is not this one's)."""
    for datagram in replies:
        try:
            packet = ic.parse_rmcpplus(datagram)
        except ic.ClientError:
            continue
        if packet.payload_type != payload_type:
            continue
        if console_sid is None or packet.payload[4:8] == ic.le32(console_sid):
            return packet.payload
    return None


class Actor:
    """One source address and what it does; `run()` is the generator the driver steps."""

    kind = "actor"

    def __init__(self, rng: random.Random, stats: Stats, specs: list[fm.CommandSpec]) -> None:
        self.rng = rng
        self.stats = stats
        self.specs = specs
        self.console_sids = rng.getrandbits(24) << 8
        self.last_error = ""

    def count(self, key: str, n: int = 1) -> None:
        self.stats.counts[key] += n

    def new_console_sid(self) -> int:
        self.console_sids = (self.console_sids + 1) & 0xFFFFFFFF or 1
        return self.console_sids

    def run(self) -> Step:
        raise NotImplementedError
        yield  # pragma: no cover

    # ------------------------------------------------------------------ RMCP+ login
    def login_plus(self, suite: int, user: bytes, password: bytes,
                   role: int = 0x14) -> Generator[tuple[bytes, bool], list[bytes],
                                                  PlusSession | None]:
        """A well-formed Open Session / RAKP 1 / RAKP 3; the session, or None if refused."""
        rng = self.rng
        console_sid = self.new_console_sid()
        tag = rng.randrange(256)
        replies = yield ic.rmcpplus(ic.PT_OPEN_REQ, 0, 0, ic.open_session_request(
            tag, console_sid, suite)), True
        opened = _first(replies, ic.PT_OPEN_RESP, console_sid)
        if opened is None or len(opened) < 12 or opened[1] != 0:
            self.count("login_open_refused")
            self.last_error = f"Open Session: {opened.hex() if opened else 'no reply'}"
            return None
        rakp = ic.Rakp(suite, user, password, console_sid, rng.randbytes(16), role,
                       int.from_bytes(opened[8:12], "little"))
        replies = yield ic.rmcpplus(ic.PT_RAKP1, 0, 0, rakp.rakp1(tag)), True
        rakp2 = _first(replies, ic.PT_RAKP2, console_sid)
        try:
            if rakp2 is None:
                raise ic.ClientError("no RAKP 2")
            rakp.check_rakp2(rakp2)
        except ic.ClientError as err:
            self.count("login_rakp2_refused")
            self.last_error = str(err)
            return None
        keys = rakp.keys()
        replies = yield ic.rmcpplus(ic.PT_RAKP3, 0, 0, rakp.rakp3(tag)), True
        rakp4 = _first(replies, ic.PT_RAKP4, console_sid)
        try:
            if rakp4 is None:
                raise ic.ClientError("no RAKP 4")
            rakp.check_rakp4(rakp4, keys)
        except ic.ClientError as err:
            self.count("login_rakp4_refused")
            self.last_error = str(err)
            if rakp4 is None:
                # The BMC may have opened the session and its RAKP 4 got lost on the way:
                # close it with the keys both sides know, or it holds a slot until timeout.
                orphan = PlusSession(suite, keys, rakp.bmc_sid, console_sid)
                yield from self.plus_request(orphan, 0x06, 0x3C, ic.le32(rakp.bmc_sid))
            return None
        self.count(f"login_ok_suite{suite}")
        return PlusSession(suite, keys, rakp.bmc_sid, console_sid)

    def plus_request(self, session: PlusSession, netfn: int, cmd: int, data: bytes,
                     ) -> Generator[tuple[bytes, bool], list[bytes], ic.IpmiResponse | None]:
        """One well-formed request in the session; its checked response or None."""
        rq = session.next_rq()
        message = ic.ipmi_request(netfn, cmd, data, rq)
        replies = yield session.keys.seal(ic.PT_IPMI, session.bmc_sid, session.next_seq(),
                                          message, self.rng.randbytes(16)), True
        return self.match_plus(session, replies, rq)

    def match_plus(self, session: PlusSession, replies: list[bytes],
                   rq: int | None) -> ic.IpmiResponse | None:
        """The IPMI reply to request `rq` among `replies`; a BMC reply that does not verify
        (AuthCode, padding, session ID) is a failure, replies to other requests are skipped."""
        for datagram in replies:
            if len(datagram) < 6 or datagram[4] != 0x06 or not datagram[5] & 0x40:
                continue
            try:
                packet = session.keys.open(datagram)
            except ic.ClientError as err:
                self.stats.problem("bad_replies", f"{self.kind}: BMC reply rejected: {err}: "
                                   f"{datagram.hex()}")
                continue
            if packet.session_id != session.console_sid:
                self.stats.problem("bad_replies", f"{self.kind}: reply for session "
                                   f"{packet.session_id:#x}, ours is {session.console_sid:#x}")
                continue
            if packet.payload_type == ic.PT_SOL:
                self.on_sol(session, packet.payload)
                continue
            try:
                response = ic.parse_response(packet.payload)
            except ic.ClientError as err:
                self.stats.problem("bad_replies", f"{self.kind}: {err}: {packet.payload.hex()}")
                continue
            if rq is None or response.rq_seq == rq:
                return response
        return None

    def on_sol(self, session: PlusSession, payload: bytes) -> None:
        """A SOL packet from the BMC (only SOL-holding actors care)."""


class Sessionless(Actor):
    """(a) Pings, auth caps, cipher suites, challenges and random headers."""

    kind = "sessionless"

    def run(self) -> Step:
        while True:
            replies = yield fm.sessionless_datagram(self.rng, self.specs), False
            self.count("replies", len(replies))


class LoginFuzzer(Actor):
    """(b) Open Session / RAKP 1 / RAKP 3 with mutated fields, retransmits and steps out of
    order, interleaved with real logins that run a few requests and close."""

    kind = "login"

    def run(self) -> Step:
        rng = self.rng
        while True:
            variant = rng.randrange(6)
            suite = rng.choice((3, 17))
            console_sid = self.new_console_sid()
            tag = rng.randrange(256)
            request = ic.open_session_request(tag, console_sid, suite, rng.choice((0, 4)))
            if variant == 0:  # a mutated Open Session
                replies = yield ic.rmcpplus(ic.PT_OPEN_REQ, rng.choice((0, 0, 1)), 0,
                                            fm.mutate(rng, request)), True
                self.count("replies", len(replies))
                continue
            if variant == 1:  # a real login, a few requests, Close Session
                session = yield from self.login_plus(suite, FUZZ_USER, FUZZ_PASSWORD)
                if session is not None:
                    for _ in range(rng.randint(0, 3)):
                        spec = rng.choice(self.specs)
                        data = fm.guard(rng, spec.netfn, spec.cmd,
                                        fm.request_data(rng, spec), session.bmc_sid)
                        yield from self.plus_request(session, spec.netfn, spec.cmd, data)
                    yield from self.plus_request(session, 0x06, 0x3C, ic.le32(session.bmc_sid))
                continue
            replies = yield ic.rmcpplus(ic.PT_OPEN_REQ, 0, 0, request), True
            opened = _first(replies, ic.PT_OPEN_RESP)
            if opened is None or len(opened) < 12 or opened[1] != 0:
                continue
            bmc_sid = int.from_bytes(opened[8:12], "little")
            user, password = ((VICTIM_USER, VICTIM_PASSWORD) if rng.random() < 0.7
                              else (fm.fuzz_bytes(rng, 0, 18), b"x"))
            rakp = ic.Rakp(suite, user, password, console_sid, rng.randbytes(16),
                           rng.choice((0x14, 0x04, 0x12, 0x10, rng.randrange(256))), bmc_sid)
            rakp1 = rakp.rakp1(tag)
            if variant == 2:  # a mutated RAKP 1
                replies = yield ic.rmcpplus(ic.PT_RAKP1, 0, 0, fm.mutate(rng, rakp1)), True
                self.count("replies", len(replies))
                continue
            if variant == 3:  # RAKP 3 before RAKP 1, then RAKP 1 twice
                yield ic.rmcpplus(ic.PT_RAKP3, 0, 0, bytes([tag, 0, 0, 0]) + ic.le32(bmc_sid)
                                  + rng.randbytes(20)), True
                yield ic.rmcpplus(ic.PT_RAKP1, 0, 0, rakp1), True
            replies = yield ic.rmcpplus(ic.PT_RAKP1, 0, 0, rakp1), True
            rakp2 = _first(replies, ic.PT_RAKP2)
            if rakp2 is None or len(rakp2) < 40 or rakp2[1] != 0:
                continue
            rakp.bmc_random, rakp.guid = rakp2[8:24], rakp2[24:40]
            rakp.password = b"not the password"
            rakp3 = bytearray(rakp.rakp3(tag))  # right layout, wrong password
            choice = rng.randrange(4)
            if choice == 0:
                rakp3[1] = rng.randrange(1, 256)  # the console gives up with a status
            elif choice == 1:
                rakp3 = bytearray(fm.mutate(rng, bytes(rakp3)))
            elif choice == 2:
                del rakp3[rng.randrange(len(rakp3)):]
            replies = yield ic.rmcpplus(ic.PT_RAKP3, 0, 0, bytes(rakp3)), True
            if rng.random() < 0.3:  # the same again: a retransmit of a refused RAKP 3
                replies += yield ic.rmcpplus(ic.PT_RAKP3, 0, 0, bytes(rakp3)), True
            self.count("replies", len(replies))


class PlusSessionFuzzer(Actor):
    """(c)+(e) A real RMCP+ session (suite 3 or 17): every command of the table with fuzzed
    data inside valid integrity and confidentiality, envelope mutations now and then, and
    SOL activated in the session with mutated SOL packets."""

    kind = "plus"

    def __init__(self, rng: random.Random, stats: Stats, specs: list[fm.CommandSpec],
                 suite: int, user: bytes, password: bytes) -> None:
        super().__init__(rng, stats, specs)
        self.suite, self.user, self.password = suite, user, password
        self.kind = f"plus{suite}"
        self.bmc_sol = (0, 0)  # (seq, length) of the BMC's last SOL packet
        self.last_error = ""

    def on_sol(self, session: PlusSession, payload: bytes) -> None:
        self.count("sol_from_bmc")
        if len(payload) >= 4 and payload[0] & 0x0F:
            self.bmc_sol = (payload[0] & 0x0F, len(payload) - 4)

    def run(self) -> Step:
        rng = self.rng
        while True:
            session = yield from self.login_plus(self.suite, self.user, self.password)
            if session is None:
                self.stats.problem("fuzz_login_failed", f"{self.kind}: login failed: "
                                   f"{self.last_error}")
                yield fm.sessionless_datagram(rng, self.specs), False  # keep moving
                continue
            yield from self.plus_request(session, 0x06, 0x3B, b"\x04")  # administrator
            misses = 0
            for _ in range(REQUESTS_PER_SESSION):
                if rng.random() < 0.02:
                    yield from self.sol_burst(session)
                    continue
                got = yield from self.fuzz_one(session)
                misses = 0 if got is not False else misses + 1
                if misses >= 4:  # closed under us (Close Session, privilege, timeout)?
                    self.count("sessions_lost")
                    break
            yield from self.plus_request(session, 0x06, 0x3C, ic.le32(session.bmc_sid))

    def fuzz_one(self, session: PlusSession) -> Generator[tuple[bytes, bool], list[bytes],
                                                          bool | None]:
        """One in-session request: True answered, False unanswered though it was valid,
        None when no answer was due (a broken envelope or message on purpose)."""
        rng = self.rng
        spec = rng.choice(self.specs) if rng.random() < 0.92 else None
        netfn = spec.netfn if spec else rng.choice((0, 2, 4, 6, 8, 0x0A, 0x0C, 0x2C, 0x2E,
                                                     0x30, rng.randrange(64)))
        cmd = spec.cmd if spec else rng.randrange(256)
        data = fm.guard(rng, netfn, cmd, fm.request_data(rng, spec), session.bmc_sid)
        rq = session.next_rq()
        message = ic.ipmi_request(netfn, cmd, data, rq)
        valid = netfn % 2 == 0
        if rng.random() < 0.05:
            message, valid = fm.mutate(rng, message), False
        seq = session.next_seq()
        datagram = session.keys.seal(ic.PT_IPMI, session.bmc_sid, seq, message,
                                     rng.randbytes(16))
        if rng.random() < 0.04:  # the envelope: replay, wrong session, flags, AuthCode, cut
            datagram, valid = self.broken_envelope(session, datagram, message), False
        replies = yield datagram, True
        response = self.match_plus(session, replies, rq if valid else None)
        self.count("replies", len(replies))
        if response is not None:
            self.count(f"cc_{response.cc:02x}")
            return True
        return False if valid else None

    def broken_envelope(self, session: PlusSession, datagram: bytes, message: bytes) -> bytes:
        rng = self.rng
        choice = rng.randrange(5)
        if choice == 0:  # a replayed sequence number
            return session.keys.seal(ic.PT_IPMI, session.bmc_sid,
                                     max(1, session.sequence - rng.randint(1, 40)), message,
                                     rng.randbytes(16))
        if choice == 1:  # unsigned, or signed but clear
            return ic.rmcpplus(ic.PT_IPMI, session.bmc_sid, session.next_seq(), message,
                               rng.choice((0, 0x40, 0x80)))
        if choice == 2:  # a flipped bit under the AuthCode
            out = bytearray(datagram)
            out[rng.randrange(4, len(out))] ^= 1 << rng.randrange(8)
            return bytes(out)
        if choice == 3:
            return datagram[:rng.randrange(len(datagram))]
        return fm.mutate(rng, datagram)

    def sol_burst(self, session: PlusSession) -> Step:
        """Activate SOL, send mutated SOL packets (valid envelope), deactivate."""
        rng = self.rng
        response = yield from self.plus_request(session, 0x06, 0x48,
                                                fm.activate_sol_data(rng))
        self.count("sol_activations" if response is not None and response.cc == 0
                   else "sol_activation_refused")
        if response is not None and response.cc == 0x81 and rng.random() < 0.5:
            # SOL was disabled by a fuzzed Set SOL Configuration: enable it again.
            yield from self.plus_request(session, 0x0C, 0x21, bytes([0x01, 0x01, 0x01]))
        for _ in range(rng.randint(5, 40)):
            packet = fm.sol_packet(rng, *self.bmc_sol)
            datagram = session.keys.seal(ic.PT_SOL, session.bmc_sid, session.next_seq(),
                                         packet, rng.randbytes(16))
            replies = yield datagram, False
            self.count("sol_packets")
            self.match_plus(session, replies, None)
        if rng.random() < 0.8:
            yield from self.plus_request(session, 0x06, 0x49, bytes([1, 1, 0, 0, 0, 0]))


class V15SessionFuzzer(Actor):
    """(d) IPMI 1.5 sessions with MD5: mutated challenges and activations, then fuzzed
    requests with valid authcodes and envelope mutations."""

    kind = "v15"

    def run(self) -> Step:
        rng = self.rng
        while True:
            active = yield from self.activate(mutated=rng.random() < 0.25)
            if active is None:
                yield fm.sessionless_datagram(rng, self.specs), False
                continue
            sid, sequence = active
            rq = 0
            for _ in range(rng.randint(20, REQUESTS_PER_SESSION)):
                sequence = (sequence + 1) & 0xFFFFFFFF or 1
                rq = (rq + 1) % 64
                spec = rng.choice(self.specs)
                data = fm.guard(rng, spec.netfn, spec.cmd, fm.request_data(rng, spec), sid)
                message = ic.ipmi_request(spec.netfn, spec.cmd, data, rq)
                if len(message) > 255:
                    message = message[:255]
                if rng.random() < 0.05:
                    message = fm.mutate(rng, message)[:255]
                seq = sequence if rng.random() > 0.03 else max(1, sequence - rng.randint(1, 20))
                datagram = ic.v15_packet(message, sid, seq, FUZZ_PASSWORD)
                if rng.random() < 0.03:
                    datagram = fm.mutate(rng, datagram)
                replies = yield datagram, True
                self.count("replies", len(replies))
                self.check_replies(replies, sid)
            message = ic.ipmi_request(0x06, 0x3C, ic.le32(sid), (rq + 1) % 64)
            yield ic.v15_packet(message, sid, (sequence + 1) & 0xFFFFFFFF or 1,
                                FUZZ_PASSWORD), True

    def check_replies(self, replies: list[bytes], sid: int) -> None:
        for datagram in replies:
            try:
                reply = ic.parse_v15(datagram)
            except ic.ClientError:
                continue
            if reply.session_id != sid or reply.auth_type != ic.AUTHTYPE_MD5:
                continue
            expected = ic.v15_authcode(FUZZ_PASSWORD, sid, reply.sequence, reply.message)
            if expected != reply.authcode:
                self.stats.problem("bad_replies", f"v15: reply authcode wrong: {datagram.hex()}")

    def activate(self, mutated: bool) -> Generator[tuple[bytes, bool], list[bytes],
                                                   tuple[int, int] | None]:
        """Get Session Challenge + Activate Session (+ administrator); (session ID, the
        console's last sequence number) or None."""
        rng = self.rng
        name = FUZZ_USER.ljust(16, b"\x00")
        data = bytes([ic.AUTHTYPE_MD5]) + name
        replies = yield ic.v15_packet(ic.ipmi_request(0x06, 0x39, data, 1)), True
        response = _v15_response(replies)
        if response is None or response.cc != 0 or len(response.data) != 20:
            self.count("v15_challenge_refused")
            return None
        temp_sid, challenge = int.from_bytes(response.data[:4], "little"), response.data[4:]
        outbound = rng.getrandbits(32) | 1
        data = fm.v15_activate_data(challenge, outbound)
        if mutated:
            data = fm.mutate(rng, data)
        message = ic.ipmi_request(0x06, 0x3A, data, 2)
        password = FUZZ_PASSWORD if not mutated or rng.random() < 0.5 else b"wrong"
        datagram = ic.v15_packet(message, temp_sid, 0, password)
        replies = yield datagram, True
        if mutated and rng.random() < 0.3:  # a retransmit of the activation
            replies += yield datagram, True
        response = _v15_response(replies)
        if response is None or response.cc != 0 or len(response.data) < 10:
            self.count("v15_activate_refused")
            return None
        sid = int.from_bytes(response.data[1:5], "little")
        inbound = int.from_bytes(response.data[5:9], "little")
        message = ic.ipmi_request(0x06, 0x3B, b"\x04", 3)
        replies = yield ic.v15_packet(message, sid, inbound, FUZZ_PASSWORD), True
        self.count("v15_login_ok")
        return sid, inbound


def _v15_response(replies: list[bytes]) -> ic.IpmiResponse | None:
    for datagram in replies:
        try:
            return ic.parse_response(ic.parse_v15(datagram).message)
        except ic.ClientError:
            continue
    return None


class Legit(Actor):
    """The legitimate client: clean logins (suites 17 and 3, IPMI 1.5 MD5), Get Device ID,
    Close Session. Every exchange must succeed; `legit_ok` / `legit_failed` count them."""

    kind = "legit"

    def run(self) -> Step:
        round_number = 0
        while True:
            round_number += 1
            how = ("suite17", "suite3", "v15")[round_number % 3]
            ok, why = yield from self.one_round(how)
            if ok:
                self.count("legit_ok")
            else:
                self.stats.problem("legit_failed", f"legit {how}: {why}")

    def one_round(self, how: str) -> Generator[tuple[bytes, bool], list[bytes],
                                               tuple[bool, str]]:
        if how == "v15":
            return (yield from self.v15_round())
        suite = 17 if how == "suite17" else 3
        self.last_error = ""
        session = yield from self.login_plus(suite, LEGIT_USER, LEGIT_PASSWORD)
        if session is None:
            return False, f"login refused: {self.last_error}"
        response = yield from self.plus_request(session, 0x06, 0x01, b"")
        if response is None or response.cc != 0 or len(response.data) < 11:
            return False, f"Get Device ID: {response}"
        response = yield from self.plus_request(session, 0x06, 0x3C, ic.le32(session.bmc_sid))
        if response is None or response.cc != 0:
            return False, f"Close Session: {response}"
        return True, ""

    def v15_round(self) -> Generator[tuple[bytes, bool], list[bytes], tuple[bool, str]]:
        data = bytes([ic.AUTHTYPE_MD5]) + LEGIT_USER.ljust(16, b"\x00")
        replies = yield ic.v15_packet(ic.ipmi_request(0x06, 0x39, data, 1)), True
        response = _v15_response(replies)
        if response is None or response.cc != 0:
            return False, f"Get Session Challenge: {response}"
        temp_sid = int.from_bytes(response.data[:4], "little")
        message = ic.ipmi_request(0x06, 0x3A, fm.v15_activate_data(response.data[4:], 7), 2)
        replies = yield ic.v15_packet(message, temp_sid, 0, LEGIT_PASSWORD), True
        response = _v15_response(replies)
        if response is None or response.cc != 0:
            return False, f"Activate Session: {response}"
        sid, inbound = (int.from_bytes(response.data[i:i + 4], "little") for i in (1, 5))
        for step, (cmd, body) in enumerate(((0x01, b""), (0x3C, ic.le32(sid)))):
            message = ic.ipmi_request(0x06, cmd, body, 3 + step)
            replies = yield ic.v15_packet(message, sid, inbound + step, LEGIT_PASSWORD), True
            response = _v15_response(replies)
            if response is None or response.cc != 0:
                return False, f"IPMI 1.5 cmd {cmd:#04x}: {response}"
        return True, ""
