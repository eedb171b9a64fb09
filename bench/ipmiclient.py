"""A minimal IPMI LAN client codec for the fuzzer, written apart from pybmc's own code.

It builds and checks RMCP, IPMI 1.5 (MD5) and RMCP+ (cipher suites 3 and 17) packets with
hashlib/hmac and `cryptography` only, from the IPMI 2.0 specification (sections 13, 22.17 and
24): sharing pybmc's packet or crypto helpers would make the fuzzer agree with any bug in them.
Everything is pure functions and small records; no sockets here.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

RMCP_IPMI = bytes([0x06, 0x00, 0xFF, 0x07])
ASF_PING = bytes([0x06, 0x00, 0xFF, 0x06]) + struct.pack(">IBBBB", 4542, 0x80, 0x00, 0, 0)

PT_IPMI, PT_SOL = 0x00, 0x01
PT_OPEN_REQ, PT_OPEN_RESP, PT_RAKP1, PT_RAKP2, PT_RAKP3, PT_RAKP4 = 0x10, 0x11, 0x12, 0x13, \
    0x14, 0x15

# suite -> (auth, integrity, confidentiality, hash name, integrity length)
SUITES = {3: (1, 1, 1, "sha1", 12), 17: (3, 4, 1, "sha256", 16)}
RAKP4_ICV_LEN = {"sha1": 12, "sha256": 16}
AUTHTYPE_MD5 = 2


class ClientError(ValueError):
    """A reply this client cannot accept (bad layout, bad AuthCode, wrong session)."""


def le32(value: int) -> bytes:
    return (value & 0xFFFFFFFF).to_bytes(4, "little")


def checksum(data: bytes) -> int:
    return -sum(data) & 0xFF


def ipmi_request(netfn: int, cmd: int, data: bytes, rq_seq: int, rs_addr: int = 0x20,
                 rq_addr: int = 0x81, lun: int = 0) -> bytes:
    """rsAddr netFn/LUN chk1 rqAddr rqSeq/LUN cmd data chk2."""
    head = bytes([rs_addr, (netfn << 2 | lun) & 0xFF])
    body = bytes([rq_addr, (rq_seq << 2) & 0xFF, cmd & 0xFF]) + data
    return head + bytes([checksum(head)]) + body + bytes([checksum(body)])


@dataclass(frozen=True)
class IpmiResponse:
    netfn: int
    cmd: int
    rq_seq: int
    cc: int
    data: bytes


def parse_response(message: bytes) -> IpmiResponse:
    if len(message) < 8:
        raise ClientError(f"IPMI response of {len(message)} bytes")
    if checksum(message[:2]) != message[2] or checksum(message[3:-1]) != message[-1]:
        raise ClientError("IPMI response checksum wrong")
    return IpmiResponse(message[1] >> 2, message[5], message[4] >> 2, message[6],
                        bytes(message[7:-1]))


# ---------------------------------------------------------------------- IPMI 1.5
def v15_authcode(password: bytes, session_id: int, sequence: int, message: bytes) -> bytes:
    key = password[:16].ljust(16, b"\x00")
    return hashlib.md5(key + le32(session_id) + message + le32(sequence) + key).digest()


def v15_packet(message: bytes, session_id: int = 0, sequence: int = 0,
               password: bytes | None = None) -> bytes:
    """An IPMI 1.5 datagram: authtype none without a password, MD5 with one."""
    if password is None:
        head = bytes([0]) + le32(sequence) + le32(session_id)
    else:
        head = (bytes([AUTHTYPE_MD5]) + le32(sequence) + le32(session_id)
                + v15_authcode(password, session_id, sequence, message))
    return RMCP_IPMI + head + bytes([len(message)]) + message


@dataclass(frozen=True)
class V15Reply:
    auth_type: int
    sequence: int
    session_id: int
    authcode: bytes
    message: bytes


def parse_v15(datagram: bytes) -> V15Reply:
    if len(datagram) < 14 or datagram[:4] != RMCP_IPMI or datagram[4] == 0x06:
        raise ClientError("not an IPMI 1.5 datagram")
    auth_type = datagram[4] & 0x0F
    sequence, session_id = struct.unpack("<II", datagram[5:13])
    offset = 13
    authcode = b""
    if auth_type:
        authcode, offset = datagram[13:29], 29
    if len(datagram) <= offset:
        raise ClientError("IPMI 1.5 datagram too short")
    length = datagram[offset]
    message = datagram[offset + 1:offset + 1 + length]
    if len(message) != length:
        raise ClientError("IPMI 1.5 length beyond the datagram")
    return V15Reply(auth_type, sequence, session_id, bytes(authcode), bytes(message))


# ---------------------------------------------------------------------- RMCP+ setup
def rmcpplus(payload_type: int, session_id: int, sequence: int, payload: bytes,
             flags: int = 0) -> bytes:
    """An unprotected RMCP+ datagram (setup payloads, session-less requests)."""
    return (RMCP_IPMI + bytes([0x06, (payload_type & 0x3F) | flags])
            + struct.pack("<IIH", session_id, sequence, len(payload)) + payload)


def open_session_request(tag: int, console_sid: int, suite: int, privilege: int = 0) -> bytes:
    auth, integrity, conf = SUITES[suite][:3]
    return (bytes([tag, privilege, 0, 0]) + le32(console_sid)
            + bytes([0, 0, 0, 8, auth, 0, 0, 0]) + bytes([1, 0, 0, 8, integrity, 0, 0, 0])
            + bytes([2, 0, 0, 8, conf, 0, 0, 0]))


@dataclass(frozen=True)
class PlusPacket:
    payload_type: int
    encrypted: bool
    authenticated: bool
    session_id: int
    sequence: int
    payload: bytes
    covered: bytes  # authtype .. next header, what the AuthCode signs
    authcode: bytes


def parse_rmcpplus(datagram: bytes, authcode_len: int = 0) -> PlusPacket:
    if len(datagram) < 16 or datagram[:4] != RMCP_IPMI or datagram[4] != 0x06:
        raise ClientError("not an RMCP+ datagram")
    flags = datagram[5]
    session_id, sequence, length = struct.unpack("<IIH", datagram[6:16])
    payload = datagram[16:16 + length]
    if len(payload) != length:
        raise ClientError("RMCP+ length beyond the datagram")
    authenticated = bool(flags & 0x40)
    covered, authcode = b"", b""
    if authenticated:
        if len(datagram) < 16 + length + 2 + authcode_len:
            raise ClientError("RMCP+ trailer missing")
        covered = datagram[4:len(datagram) - authcode_len]
        authcode = datagram[len(datagram) - authcode_len:]
    return PlusPacket(flags & 0x3F, bool(flags & 0x80), authenticated, session_id, sequence,
                      bytes(payload), bytes(covered), bytes(authcode))


@dataclass
class Rakp:
    """One RMCP+ login's secrets, as the console computes them."""

    suite: int
    user: bytes
    password: bytes
    console_sid: int
    console_random: bytes
    role: int = 0x14  # administrator, name-only lookup
    bmc_sid: int = 0
    bmc_random: bytes = b""
    guid: bytes = b""

    @property
    def digest(self) -> str:
        return SUITES[self.suite][3]

    @property
    def kuid(self) -> bytes:
        return self.password[:20].ljust(20, b"\x00")

    def _mac(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, self.digest).digest()

    def rakp1(self, tag: int) -> bytes:
        return (bytes([tag, 0, 0, 0]) + le32(self.bmc_sid) + self.console_random
                + bytes([self.role, 0, 0, len(self.user)]) + self.user)

    def check_rakp2(self, payload: bytes) -> None:
        """Accept RAKP 2 (status 0, our session) and keep the BMC's random and GUID."""
        if len(payload) < 40 or payload[1] != 0:
            raise ClientError(f"RAKP 2 status {payload[1] if len(payload) > 1 else None}")
        if payload[4:8] != le32(self.console_sid):
            raise ClientError("RAKP 2 for another console session")
        self.bmc_random, self.guid = bytes(payload[8:24]), bytes(payload[24:40])
        expected = self._mac(self.kuid, le32(self.console_sid) + le32(self.bmc_sid)
                             + self.console_random + self.bmc_random + self.guid
                             + self._role_name())
        if not hmac.compare_digest(payload[40:], expected):
            raise ClientError("RAKP 2 HMAC wrong")

    def _role_name(self) -> bytes:
        return bytes([self.role, len(self.user)]) + self.user

    def rakp3(self, tag: int) -> bytes:
        code = self._mac(self.kuid, self.bmc_random + le32(self.console_sid) + self._role_name())
        return bytes([tag, 0, 0, 0]) + le32(self.bmc_sid) + code

    def keys(self) -> SessionKeys:
        sik = self._mac(self.kuid, self.console_random + self.bmc_random + self._role_name())
        return SessionKeys(self.suite, sik, self._mac(sik, b"\x01" * 20),
                           self._mac(sik, b"\x02" * 20))

    def check_rakp4(self, payload: bytes, keys: SessionKeys) -> None:
        if len(payload) < 8 or payload[1] != 0:
            raise ClientError(f"RAKP 4 status {payload[1] if len(payload) > 1 else None}")
        icv = hmac.new(keys.sik, self.console_random + le32(self.bmc_sid) + self.guid,
                       self.digest).digest()[:RAKP4_ICV_LEN[self.digest]]
        if not hmac.compare_digest(payload[8:], icv):
            raise ClientError("RAKP 4 ICV wrong")


@dataclass
class SessionKeys:
    suite: int
    sik: bytes
    k1: bytes
    k2: bytes
    _aes: Cipher | None = field(default=None, repr=False)

    @property
    def authcode_len(self) -> int:
        return SUITES[self.suite][4]

    def sign(self, data: bytes) -> bytes:
        return hmac.new(self.k1, data, SUITES[self.suite][3]).digest()[:self.authcode_len]

    def _cipher(self, iv: bytes) -> Cipher:
        return Cipher(algorithms.AES(self.k2[:16]), modes.CBC(iv))

    def encrypt(self, plain: bytes, iv: bytes) -> bytes:
        pad = -(len(plain) + 1) % 16
        padded = plain + bytes(range(1, pad + 1)) + bytes([pad])
        encryptor = self._cipher(iv).encryptor()
        return iv + encryptor.update(padded) + encryptor.finalize()

    def decrypt(self, data: bytes) -> bytes:
        if len(data) < 32 or len(data) % 16:
            raise ClientError(f"encrypted payload of {len(data)} bytes")
        decryptor = self._cipher(data[:16]).decryptor()
        plain = decryptor.update(data[16:]) + decryptor.finalize()
        pad = plain[-1]
        if pad >= 16 or plain[-1 - pad:-1] != bytes(range(1, pad + 1)):
            raise ClientError("confidentiality pad wrong")
        return plain[:-1 - pad]

    def seal(self, payload_type: int, session_id: int, sequence: int, payload: bytes,
             iv: bytes) -> bytes:
        """A payload encrypted and signed for an active session (suites 3 and 17)."""
        body = self.encrypt(payload, iv)
        head = (bytes([0x06, 0xC0 | payload_type])
                + struct.pack("<IIH", session_id, sequence, len(body)) + body)
        pad = -(len(head) + 2) % 4
        covered = head + b"\xff" * pad + bytes([pad, 0x07])
        return RMCP_IPMI + covered + self.sign(covered)

    def open(self, datagram: bytes) -> PlusPacket:
        """Check a reply's AuthCode and decrypt it; the packet with its plain payload."""
        packet = parse_rmcpplus(datagram, self.authcode_len)
        if not (packet.authenticated and packet.encrypted):
            raise ClientError("session reply not signed and encrypted")
        if not hmac.compare_digest(self.sign(packet.covered), packet.authcode):
            raise ClientError("session reply AuthCode wrong")
        return PlusPacket(packet.payload_type, True, True, packet.session_id, packet.sequence,
                          self.decrypt(packet.payload), packet.covered, packet.authcode)
