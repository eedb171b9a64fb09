"""Cipher suites, RAKP key exchange, integrity, AES-CBC-128 and the IPMI 1.5 authcodes.

Facts checked against the clients (read, not copied): ipmitool lanplus_crypt.c and FreeIPMI
ipmi-rmcpplus-util.c both derive K1/K2 from 20-byte constants (0x01 * 20, 0x02 * 20) for every
authentication algorithm, SHA-256 included; both key HMAC-MD5-128 integrity with K1; FreeIPMI's
MD5-128 integrity is MD5(password padded to 20 + data + password padded to 20).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pybmc.wire.codes import AuthType


class CryptoError(ValueError):
    """Bad padding, bad length or an unsupported algorithm."""


# Algorithm numbers (IPMI 2.0 tables 13-17, 13-18, 13-19).
AUTH_RAKP_NONE = 0x00
AUTH_RAKP_HMAC_SHA1 = 0x01
AUTH_RAKP_HMAC_MD5 = 0x02
AUTH_RAKP_HMAC_SHA256 = 0x03

INTEGRITY_NONE = 0x00
INTEGRITY_HMAC_SHA1_96 = 0x01
INTEGRITY_HMAC_MD5_128 = 0x02
INTEGRITY_MD5_128 = 0x03
INTEGRITY_HMAC_SHA256_128 = 0x04

CONFIDENTIALITY_NONE = 0x00
CONFIDENTIALITY_AES_CBC_128 = 0x01

USER_KEY_LEN = 20  # Kuid: the password, zero-padded to 20 bytes
V15_PASSWORD_LEN = 16
AES_BLOCK = 16
KEY_CONSTANT_LEN = 20
MD2_BLOCK = 16


# ------------------------------------------------------------------------- algorithms
@dataclass(frozen=True)
class AuthAlgorithm:
    """A RAKP authentication algorithm: the HMAC for RAKP 2/3, SIK, K1, K2 and RAKP 4."""

    number: int
    name: str
    digest: str | None  # hashlib name, None for RAKP-none
    icv_len: int  # RAKP 4 integrity check value length

    def mac(self, key: bytes, data: bytes) -> bytes:
        if self.digest is None:
            return b""
        return hmac.new(key, data, self.digest).digest()


@dataclass(frozen=True)
class IntegrityAlgorithm:
    number: int
    name: str
    authcode_len: int


@dataclass(frozen=True)
class ConfidentialityAlgorithm:
    number: int
    name: str


AUTH_ALGORITHMS = {
    a.number: a
    for a in (
        AuthAlgorithm(AUTH_RAKP_NONE, "RAKP-none", None, 0),
        AuthAlgorithm(AUTH_RAKP_HMAC_SHA1, "RAKP-HMAC-SHA1", "sha1", 12),
        AuthAlgorithm(AUTH_RAKP_HMAC_MD5, "RAKP-HMAC-MD5", "md5", 16),
        AuthAlgorithm(AUTH_RAKP_HMAC_SHA256, "RAKP-HMAC-SHA256", "sha256", 16),
    )
}
INTEGRITY_ALGORITHMS = {
    a.number: a
    for a in (
        IntegrityAlgorithm(INTEGRITY_NONE, "none", 0),
        IntegrityAlgorithm(INTEGRITY_HMAC_SHA1_96, "HMAC-SHA1-96", 12),
        IntegrityAlgorithm(INTEGRITY_HMAC_MD5_128, "HMAC-MD5-128", 16),
        IntegrityAlgorithm(INTEGRITY_MD5_128, "MD5-128", 16),
        IntegrityAlgorithm(INTEGRITY_HMAC_SHA256_128, "HMAC-SHA256-128", 16),
    )
}
CONFIDENTIALITY_ALGORITHMS = {
    a.number: a
    for a in (
        ConfidentialityAlgorithm(CONFIDENTIALITY_NONE, "none"),
        ConfidentialityAlgorithm(CONFIDENTIALITY_AES_CBC_128, "AES-CBC-128"),
    )
}


@dataclass(frozen=True)
class CipherSuite:
    suite_id: int
    auth: AuthAlgorithm
    integrity: IntegrityAlgorithm
    confidentiality: ConfidentialityAlgorithm

    @property
    def algorithms(self) -> tuple[int, int, int]:
        return self.auth.number, self.integrity.number, self.confidentiality.number

    def record(self) -> bytes:
        """The Get Channel Cipher Suites record: C0 id auth 40|integrity 80|confidentiality."""
        return bytes([0xC0, self.suite_id, self.auth.number, 0x40 | self.integrity.number,
                      0x80 | self.confidentiality.number])

    def __str__(self) -> str:
        return (f"suite {self.suite_id} ({self.auth.name}/{self.integrity.name}/"
                f"{self.confidentiality.name})")


def _suite(suite_id: int, auth: int, integrity: int, conf: int) -> CipherSuite:
    return CipherSuite(suite_id, AUTH_ALGORITHMS[auth], INTEGRITY_ALGORITHMS[integrity],
                       CONFIDENTIALITY_ALGORITHMS[conf])


# IPMI 2.0 table 22-20 (suites 15-17 from the errata); must match config.SUPPORTED_CIPHER_SUITES.
CIPHER_SUITES: dict[int, CipherSuite] = {
    s.suite_id: s
    for s in (
        _suite(0, AUTH_RAKP_NONE, INTEGRITY_NONE, CONFIDENTIALITY_NONE),
        _suite(1, AUTH_RAKP_HMAC_SHA1, INTEGRITY_NONE, CONFIDENTIALITY_NONE),
        _suite(2, AUTH_RAKP_HMAC_SHA1, INTEGRITY_HMAC_SHA1_96, CONFIDENTIALITY_NONE),
        _suite(3, AUTH_RAKP_HMAC_SHA1, INTEGRITY_HMAC_SHA1_96, CONFIDENTIALITY_AES_CBC_128),
        _suite(6, AUTH_RAKP_HMAC_MD5, INTEGRITY_NONE, CONFIDENTIALITY_NONE),
        _suite(7, AUTH_RAKP_HMAC_MD5, INTEGRITY_HMAC_MD5_128, CONFIDENTIALITY_NONE),
        _suite(8, AUTH_RAKP_HMAC_MD5, INTEGRITY_HMAC_MD5_128, CONFIDENTIALITY_AES_CBC_128),
        _suite(11, AUTH_RAKP_HMAC_MD5, INTEGRITY_MD5_128, CONFIDENTIALITY_NONE),
        _suite(12, AUTH_RAKP_HMAC_MD5, INTEGRITY_MD5_128, CONFIDENTIALITY_AES_CBC_128),
        _suite(15, AUTH_RAKP_HMAC_SHA256, INTEGRITY_NONE, CONFIDENTIALITY_NONE),
        _suite(16, AUTH_RAKP_HMAC_SHA256, INTEGRITY_HMAC_SHA256_128, CONFIDENTIALITY_NONE),
        _suite(17, AUTH_RAKP_HMAC_SHA256, INTEGRITY_HMAC_SHA256_128,
               CONFIDENTIALITY_AES_CBC_128),
    )
}


def suite_for(algorithms: tuple[int, int, int], enabled: tuple[int, ...]) -> CipherSuite | None:
    """The enabled suite with exactly these (auth, integrity, confidentiality) numbers."""
    for suite_id in enabled:
        suite = CIPHER_SUITES.get(suite_id)
        if suite is not None and suite.algorithms == algorithms:
            return suite
    return None


# ------------------------------------------------------------------------- RAKP
def user_key(password: bytes) -> bytes:
    """Kuid: the user's password, zero-padded to 20 bytes."""
    return password[:USER_KEY_LEN].ljust(USER_KEY_LEN, b"\x00")


def _le32(value: int) -> bytes:
    return (value & 0xFFFFFFFF).to_bytes(4, "little")


@dataclass(frozen=True)
class RakpExchange:
    """Everything both sides know after RAKP 1/2; every HMAC of the exchange derives from it.

    `role` is the RAKP 1 role byte exactly as received (name-only lookup bit included).
    """

    auth: AuthAlgorithm
    console_sid: int
    bmc_sid: int
    console_random: bytes
    bmc_random: bytes
    guid: bytes
    role: int
    user_name: bytes

    def _role_and_name(self) -> bytes:
        return bytes([self.role, len(self.user_name)]) + self.user_name

    def rakp2_authcode(self, kuid: bytes) -> bytes:
        return self.auth.mac(kuid, _le32(self.console_sid) + _le32(self.bmc_sid)
                             + self.console_random + self.bmc_random + self.guid
                             + self._role_and_name())

    def rakp3_authcode(self, kuid: bytes) -> bytes:
        return self.auth.mac(kuid, self.bmc_random + _le32(self.console_sid)
                             + self._role_and_name())

    def session_integrity_key(self, kuid: bytes, kg: bytes | None = None) -> bytes:
        """SIK, keyed by Kg when a BMC key is configured, otherwise by Kuid."""
        return self.auth.mac(kg or kuid, self.console_random + self.bmc_random
                             + self._role_and_name())

    def rakp4_icv(self, sik: bytes) -> bytes:
        icv = self.auth.mac(sik, self.console_random + _le32(self.bmc_sid) + self.guid)
        return icv[:self.auth.icv_len]


@dataclass(frozen=True)
class SessionKeys:
    sik: bytes
    k1: bytes
    k2: bytes
    kuid: bytes  # MD5-128 integrity signs with the password itself

    @property
    def aes_key(self) -> bytes:
        return self.k2[:AES_BLOCK]


def derive_keys(auth: AuthAlgorithm, sik: bytes, kuid: bytes) -> SessionKeys:
    """K1 = HMAC(SIK, 01 x 20), K2 = HMAC(SIK, 02 x 20); RAKP-none uses the constants."""
    const1 = b"\x01" * KEY_CONSTANT_LEN
    const2 = b"\x02" * KEY_CONSTANT_LEN
    if auth.digest is None:
        return SessionKeys(sik, const1, const2, kuid)
    return SessionKeys(sik, auth.mac(sik, const1), auth.mac(sik, const2), kuid)


# ------------------------------------------------------------------------- integrity
@functools.lru_cache(maxsize=256)
def _keyed_hmac(key: bytes, digest: str) -> Any:
    """An HMAC with the key already absorbed; copying it is cheaper than keying a new one for
    every packet of a session. (Any: hmac.HMAC or OpenSSL's HMAC object, both copy())."""
    return hmac.new(key, None, digest)


def _hmac(key: bytes, digest: str, data: bytes) -> bytes:
    mac = _keyed_hmac(key, digest).copy()
    mac.update(data)
    return mac.digest()


def integrity_authcode(integrity: IntegrityAlgorithm, keys: SessionKeys, data: bytes) -> bytes:
    """The AuthCode over `data` (authtype byte through next header)."""
    number = integrity.number
    if number == INTEGRITY_NONE:
        return b""
    if number == INTEGRITY_HMAC_SHA1_96:
        return _hmac(keys.k1, "sha1", data)[:12]
    if number == INTEGRITY_HMAC_MD5_128:
        return _hmac(keys.k1, "md5", data)
    if number == INTEGRITY_MD5_128:
        return hashlib.md5(keys.kuid + data + keys.kuid).digest()
    if number == INTEGRITY_HMAC_SHA256_128:
        return _hmac(keys.k1, "sha256", data)[:16]
    raise CryptoError(f"integrity algorithm {number:#04x} is not supported")


def integrity_ok(integrity: IntegrityAlgorithm, keys: SessionKeys, data: bytes,
                 authcode: bytes) -> bool:
    return hmac.compare_digest(integrity_authcode(integrity, keys, data), authcode)


# ------------------------------------------------------------------------- AES-CBC-128
# An IPMI payload is one or two AES blocks, so setting up a cipher context per packet cost more
# than the cipher. Each key gets one long-lived AES block function (ECB, which keeps no state
# between whole blocks) and the CBC chaining is done here: C[i] = E(P[i] ^ C[i-1]), C[-1] = IV.
# Only whole blocks ever reach update(), so a context never holds a partial block between calls
# (and pybmc's protocol code runs in its event loop's one thread).
@functools.lru_cache(maxsize=256)
def _aes_blocks(key: bytes) -> tuple[Any, Any]:
    """(encrypt, decrypt) for whole 16-byte blocks under `key` (ValueError: bad key size)."""
    # Imported at the first AES session: cryptography is ~7 MB of a process's memory, which a
    # fleet nobody logged into with confidentiality does not need.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.ECB())
    return cipher.encryptor().update, cipher.decryptor().update


# The confidentiality trailer for n pad bytes: 01 02 .. n, then n itself.
_AES_PADS = tuple(bytes(range(1, n + 1)) + bytes([n]) for n in range(AES_BLOCK))


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def aes_encrypt(key: bytes, plaintext: bytes, iv: bytes | None = None) -> bytes:
    """IV + AES-CBC(plaintext + 01 02 .. n + n), padded to a whole number of blocks."""
    iv = os.urandom(AES_BLOCK) if iv is None else bytes(iv)
    if len(iv) != AES_BLOCK:
        raise ValueError(f"AES-CBC IV must be {AES_BLOCK} bytes, not {len(iv)}")
    padded = plaintext + _AES_PADS[-(len(plaintext) + 1) % AES_BLOCK]
    encrypt = _aes_blocks(key)[0]
    blocks = [iv]
    for start in range(0, len(padded), AES_BLOCK):
        blocks.append(encrypt(_xor(padded[start:start + AES_BLOCK], blocks[-1])))
    return b"".join(blocks)


def aes_decrypt(key: bytes, data: bytes) -> bytes:
    """Inverse of aes_encrypt; rejects bad lengths and any pad that is not 01 02 .. n, n."""
    if len(data) < 2 * AES_BLOCK or len(data) % AES_BLOCK:
        raise CryptoError(f"AES payload length {len(data)} is not IV + whole blocks")
    # P[i] = D(C[i]) ^ C[i-1]: every block at once, then one XOR with the shifted ciphertext.
    plain = _xor(_aes_blocks(key)[1](data[AES_BLOCK:]), data[:-AES_BLOCK])
    pad = plain[-1]
    if pad >= AES_BLOCK:
        raise CryptoError(f"AES pad length {pad} is not below 16")
    body_end = len(plain) - 1 - pad
    if plain[body_end:] != _AES_PADS[pad]:
        raise CryptoError("AES pad bytes are not 01 02 .. n")
    return plain[:body_end]


# ------------------------------------------------------------------------- IPMI 1.5
# RFC 1319 MD2 substitution table (digits of pi).
_MD2_S = bytes.fromhex(
    "292E43C9A2D87C013D3654A1ECF0061362A705F3C0C7738C98932BD9BC4C82CA"
    "1E9B573CFDD4E01667426F188A17E512BE4EC4D6DA9EDE49A0FBF58EBB2FEE7A"
    "A968799115B2073F94C210890B225F21807F5D9A5A903227353ECCE7BFF79703"
    "FF1930B348A5B5D1D75E922AAC56AAC64FB838D296A47DB676FC6BE29C7404F1"
    "459D705964718720865BCF65E62DA8021B6025ADAEB0B9F61C46616934407E0F"
    "5547A323DD51AF3AC35CF9CEBAC5EA262C530D6E85288409D3DFCDF441814D52"
    "6ADC37C86CC1ABFA24E17B080CBDB14A7888958BE363E86DE9CBD5FE3B001D39"
    "F2EFB70E6658D0E4A67772F8EB754B0A314450B48FED1F1ADB998D339F118314"
)


def md2(message: bytes) -> bytes:
    """MD2 (RFC 1319): IPMI 1.5 auth type 1. Small, and no longer in OpenSSL."""
    pad = MD2_BLOCK - len(message) % MD2_BLOCK
    data = message + bytes([pad]) * pad
    checksum = bytearray(16)
    last = 0
    for block in range(0, len(data), 16):
        for j in range(16):
            checksum[j] ^= _MD2_S[data[block + j] ^ last]
            last = checksum[j]
    data += bytes(checksum)
    state = bytearray(48)
    for block in range(0, len(data), 16):
        for j in range(16):
            state[16 + j] = data[block + j]
            state[32 + j] = state[16 + j] ^ state[j]
        t = 0
        for round_number in range(18):
            for k in range(48):
                state[k] ^= _MD2_S[t]
                t = state[k]
            t = (t + round_number) & 0xFF
    return bytes(state[:16])


def v15_password(password: bytes) -> bytes:
    """IPMI 1.5 keys are 16 bytes: the password truncated or zero-padded."""
    return password[:V15_PASSWORD_LEN].ljust(V15_PASSWORD_LEN, b"\x00")


def _digest_authcode(digest: Callable[[bytes], bytes], password: bytes, session_id: int,
                     sequence: int, message: bytes) -> bytes:
    key = v15_password(password)
    return digest(key + _le32(session_id) + message + _le32(sequence) + key)


def v15_authcode(auth_type: int, password: bytes, session_id: int, sequence: int,
                 message: bytes) -> bytes:
    """The 16-byte session authcode for an IPMI 1.5 packet (IPMI 2.0 section 22.17.1)."""
    if auth_type == AuthType.NONE:
        return b""
    if auth_type == AuthType.PASSWORD:
        return v15_password(password)
    if auth_type == AuthType.MD5:
        return _digest_authcode(lambda b: hashlib.md5(b).digest(), password, session_id,
                                sequence, message)
    if auth_type == AuthType.MD2:
        return _digest_authcode(md2, password, session_id, sequence, message)
    raise CryptoError(f"IPMI 1.5 auth type {auth_type} is not supported")


def v15_authcode_ok(auth_type: int, password: bytes, session_id: int, sequence: int,
                    message: bytes, authcode: bytes) -> bool:
    expected = v15_authcode(auth_type, password, session_id, sequence, message)
    return hmac.compare_digest(expected, authcode)
