"""Cipher suites, RAKP keys, integrity, AES and IPMI 1.5 authcodes, against captured traffic.

The captures (user admin, password secret) were taken on loopback with tcpdump:
- ipmitool 1.8.19 `-I lanplus -C 3` against OpenIPMI ipmi_sim 2.0.33 (independent of pybmc);
- ipmitool 1.8.19 `-I lanplus -C 17` against pybmc (ipmitool accepted pybmc's RAKP 2/4 and
  replies; its own RAKP 3, AuthCodes and ciphertexts are independent vectors);
- ipmitool 1.8.19 `-I lan -A MD5` against ipmi_sim.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pybmc.config.bmc import SUPPORTED_CIPHER_SUITES
from pybmc.protocol.rmcp import crypto
from pybmc.protocol.rmcp.packet import parse_rmcp, parse_rmcpplus
from pybmc.wire.codes import AuthType
from pybmc.wire.message import decode_request, decode_response

H = bytes.fromhex
KUID = crypto.user_key(b"secret")

# ---- ipmitool -C 3 <-> ipmi_sim
S3_CONSOLE_SID = 0xA0A2A3A4
S3_BMC_SID = 0x00000002
S3_CONSOLE_RANDOM = H("d806b2dfafbc585b9f4757978ca7b7ee")
S3_BMC_RANDOM = H("96c308d4dd8a1a2405b5b646629d22fc")
S3_GUID = H("a123456789abcdefa123456789abcdef")
S3_RAKP2_AUTHCODE = H("8fbf1f156a9b7562304291e878cfb81a92e3f486")
S3_RAKP3_AUTHCODE = H("1ab21bf29a6c7c5be56f883e874129d1ab9572ea")
S3_RAKP4_ICV = H("13919b4dc9b54fd4684852ff")
S3_FIRST_REQUEST = H(
    "0600ff0706c002000000030000002000f5872723a1cf56799706c8cee6d72480ff35285816bd311e3523"
    "3a10ee917003ffff0207022f2eae145962e5e48ecfee")
S3_FIRST_REPLY = H(
    "0600ff0706c0a4a3a2a00100000020004b540e6e9ed50ea3f7119268c900c9baba0a8c0776eec2bdf8c4"
    "a97a728207daffff0207ba678c6cce9620823d2637d6")

# ---- ipmitool -C 17 <-> pybmc
S17_CONSOLE_SID = 0xA0A2A3A4
S17_BMC_SID = 0x5BDDABBA
S17_CONSOLE_RANDOM = H("3a0f691c60a811e436a771487adc45a4")
S17_BMC_RANDOM = H("49c3836dea82e5bc36d51320b9a6e84e")
S17_GUID = H("d5585985eb8c4dbe9652e28c8bf7797c")
S17_RAKP2_AUTHCODE = H("9ac8d2553f3f6439aae6a8be3e5a4c2f14840973d16bb26e5f7fb679e7fba075")
S17_RAKP3_AUTHCODE = H("dc2226eddbb91910e19790eaaac4f2c564546aab72148f818bba0e0cace87401")
S17_RAKP4_ICV = H("579a9cfa39a9a6db56c59191708cad46")
S17_FIRST_REQUEST = H(
    "0600ff0706c0baabdd5b030000002000b5b8f20a0cf8f22256591cb9cb1d2912e35c75c75cfb4e7b4d12"
    "aad2fb9d6c96ffff02078c4c21f195ffa4126851003e79d48de5")


def exchange(suite: int, console_sid: int, bmc_sid: int, console_random: bytes,
             bmc_random: bytes, guid: bytes) -> crypto.RakpExchange:
    return crypto.RakpExchange(auth=crypto.CIPHER_SUITES[suite].auth, console_sid=console_sid,
                               bmc_sid=bmc_sid, console_random=console_random,
                               bmc_random=bmc_random, guid=guid, role=0x14,
                               user_name=b"admin")


def test_suite_table_matches_the_config_contract():
    assert tuple(sorted(crypto.CIPHER_SUITES)) == SUPPORTED_CIPHER_SUITES
    assert crypto.CIPHER_SUITES[3].algorithms == (1, 1, 1)
    assert crypto.CIPHER_SUITES[17].algorithms == (3, 4, 1)
    assert crypto.CIPHER_SUITES[12].algorithms == (2, 3, 1)
    assert crypto.CIPHER_SUITES[17].record() == H("c011034481")


def test_suite_for_matches_only_enabled_suites():
    assert crypto.suite_for((1, 1, 1), (1, 2, 3)).suite_id == 3
    assert crypto.suite_for((1, 1, 1), (1, 2, 17)) is None
    assert crypto.suite_for((0, 0, 0), (0,)).suite_id == 0


def test_rakp_suite3_matches_ipmitool_and_ipmi_sim():
    rakp = exchange(3, S3_CONSOLE_SID, S3_BMC_SID, S3_CONSOLE_RANDOM, S3_BMC_RANDOM, S3_GUID)
    assert rakp.rakp2_authcode(KUID) == S3_RAKP2_AUTHCODE
    assert rakp.rakp3_authcode(KUID) == S3_RAKP3_AUTHCODE
    sik = rakp.session_integrity_key(KUID)
    assert rakp.rakp4_icv(sik) == S3_RAKP4_ICV


def test_suite3_keys_verify_and_decrypt_the_first_request():
    rakp = exchange(3, S3_CONSOLE_SID, S3_BMC_SID, S3_CONSOLE_RANDOM, S3_BMC_RANDOM, S3_GUID)
    sik = rakp.session_integrity_key(KUID)
    keys = crypto.derive_keys(rakp.auth, sik, KUID)
    # Independent spelling of the spec's derivation: HMAC-SHA1 with 20-byte constants.
    assert keys.k1 == hmac.new(sik, b"\x01" * 20, hashlib.sha1).digest()
    assert keys.k2 == hmac.new(sik, b"\x02" * 20, hashlib.sha1).digest()
    suite = crypto.CIPHER_SUITES[3]
    _, body = parse_rmcp(S3_FIRST_REQUEST)
    packet = parse_rmcpplus(body)
    covered, authcode = packet.split_trailer(suite.integrity.authcode_len)
    assert crypto.integrity_ok(suite.integrity, keys, covered, authcode)
    assert not crypto.integrity_ok(suite.integrity, keys, covered[:-1] + b"\x00", authcode)
    request = decode_request(crypto.aes_decrypt(keys.aes_key, packet.payload))
    assert (request.netfn, request.cmd, request.data) == (0x06, 0x3B, b"\x04")
    # ...and ipmi_sim's reply, signed and encrypted with the same keys.
    _, body = parse_rmcp(S3_FIRST_REPLY)
    reply = parse_rmcpplus(body)
    covered, authcode = reply.split_trailer(12)
    assert crypto.integrity_ok(suite.integrity, keys, covered, authcode)
    netfn, cmd, cc, data = decode_response(crypto.aes_decrypt(keys.aes_key, reply.payload))
    assert (netfn, cmd, cc, data) == (0x07, 0x3B, 0x00, b"\x04")


def test_rakp_suite17_sha256_matches_ipmitool():
    rakp = exchange(17, S17_CONSOLE_SID, S17_BMC_SID, S17_CONSOLE_RANDOM, S17_BMC_RANDOM,
                    S17_GUID)
    assert rakp.rakp2_authcode(KUID) == S17_RAKP2_AUTHCODE
    assert rakp.rakp3_authcode(KUID) == S17_RAKP3_AUTHCODE  # computed by ipmitool
    sik = rakp.session_integrity_key(KUID)
    assert len(sik) == 32
    assert rakp.rakp4_icv(sik) == S17_RAKP4_ICV
    keys = crypto.derive_keys(rakp.auth, sik, KUID)
    # SHA-256 keys still come from 20-byte constants (ipmitool and FreeIPMI agree).
    assert keys.k1 == hmac.new(sik, b"\x01" * 20, hashlib.sha256).digest()
    assert keys.k1 != hmac.new(sik, b"\x01" * 32, hashlib.sha256).digest()
    suite = crypto.CIPHER_SUITES[17]
    _, body = parse_rmcp(S17_FIRST_REQUEST)
    packet = parse_rmcpplus(body)
    covered, authcode = packet.split_trailer(16)
    assert crypto.integrity_ok(suite.integrity, keys, covered, authcode)  # ipmitool's AuthCode
    request = decode_request(crypto.aes_decrypt(keys.aes_key, packet.payload))
    assert (request.netfn, request.cmd, request.data) == (0x06, 0x3B, b"\x04")


def test_sik_uses_kg_when_one_is_configured():
    rakp = exchange(3, S3_CONSOLE_SID, S3_BMC_SID, S3_CONSOLE_RANDOM, S3_BMC_RANDOM, S3_GUID)
    assert rakp.session_integrity_key(KUID, kg=b"k" * 20) != rakp.session_integrity_key(KUID)


def test_rakp_none_has_no_authcodes_and_constant_keys():
    rakp = exchange(0, 1, 2, bytes(16), bytes(16), bytes(16))
    assert rakp.rakp2_authcode(KUID) == b""
    assert rakp.rakp4_icv(b"") == b""
    keys = crypto.derive_keys(rakp.auth, b"", KUID)
    assert keys.k1 == b"\x01" * 20 and keys.k2 == b"\x02" * 20


def test_integrity_algorithms_by_hand():
    keys = crypto.SessionKeys(sik=b"s" * 20, k1=b"1" * 16, k2=b"2" * 20, kuid=KUID)
    data = b"\x06\xc0" + bytes(10) + b"payload\xff\x01\x07"
    table = crypto.INTEGRITY_ALGORITHMS
    assert crypto.integrity_authcode(table[1], keys, data) == hmac.new(
        b"1" * 16, data, hashlib.sha1).digest()[:12]
    assert crypto.integrity_authcode(table[2], keys, data) == hmac.new(
        b"1" * 16, data, hashlib.md5).digest()
    assert crypto.integrity_authcode(table[3], keys, data) == hashlib.md5(
        b"secret" + bytes(14) + data + b"secret" + bytes(14)).digest()
    assert crypto.integrity_authcode(table[4], keys, data) == hmac.new(
        b"1" * 16, data, hashlib.sha256).digest()[:16]
    assert crypto.integrity_authcode(table[0], keys, data) == b""


def test_aes_padding_is_one_two_three_then_length():
    key, iv = bytes(range(16)), bytes(16)
    sealed = crypto.aes_encrypt(key, b"hello", iv=iv)
    assert sealed[:16] == iv and len(sealed) == 32
    raw = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor().update(sealed[16:])
    assert raw == b"hello" + bytes(range(1, 11)) + b"\x0a"
    assert crypto.aes_decrypt(key, sealed) == b"hello"
    full = crypto.aes_encrypt(key, bytes(15), iv=iv)  # 15 + length byte: no pad at all
    assert len(full) == 32 and crypto.aes_decrypt(key, full) == bytes(15)


def _seal_raw(key: bytes, block: bytes) -> bytes:
    iv = bytes(16)
    return iv + Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(block)


@pytest.mark.parametrize("tail", [
    bytes(range(1, 11)) + b"\x0b",  # length byte disagrees with the pad
    b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0b\x0a",  # a wrong pad byte
    b"\x00" * 10 + b"\x10",  # pad length 16
])
def test_aes_rejects_bad_padding(tail: bytes):
    key = bytes(range(16))
    with pytest.raises(crypto.CryptoError):
        crypto.aes_decrypt(key, _seal_raw(key, b"hello" + tail))


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_aes_rejects_bad_lengths(length: int):
    with pytest.raises(crypto.CryptoError):
        crypto.aes_decrypt(bytes(16), bytes(length))


def test_md2_rfc1319_vectors():
    assert crypto.md2(b"").hex() == "8350e5a3e24c153df2275c9f80692773"
    assert crypto.md2(b"abc").hex() == "da853b0d3f88d99b30283a69e6ded6bb"
    assert crypto.md2(b"message digest").hex() == "ab4f496bfb2a530b219ff33031fe06b0"
    assert crypto.md2(b"a" * 16).hex() != crypto.md2(b"a" * 17).hex()


# ---- ipmitool -I lan -A MD5 <-> ipmi_sim: Activate Session and the first in-session request
ACTIVATE_MSG = H("2018c8810c3a020422e9c7701b675bb779b2d7578fe2d26de13b8c6f3d")
ACTIVATE_AUTHCODE = H("f401a15c1410acea4b8b1eb8eb4f84c8")
ACTIVATE_REPLY_MSG = H("811c63200c3a0002820000000c794905043f")
ACTIVATE_REPLY_AUTHCODE = H("2928ee8aef0b56c72b0f29153d8e49b4")
SESSION_MSG = H("2018c881103b0430")
SESSION_AUTHCODE = H("879de20775e4078ad30448a730407dbe")


def test_v15_md5_authcodes_match_ipmitool_and_ipmi_sim():
    md5 = AuthType.MD5
    assert crypto.v15_authcode(md5, b"secret", 5, 0, ACTIVATE_MSG) == ACTIVATE_AUTHCODE
    assert crypto.v15_authcode(md5, b"secret", 5, 0x6F8C3BE1,
                               ACTIVATE_REPLY_MSG) == ACTIVATE_REPLY_AUTHCODE
    assert crypto.v15_authcode_ok(md5, b"secret", 0x82, 0x0549790C, SESSION_MSG,
                                  SESSION_AUTHCODE)
    assert not crypto.v15_authcode_ok(md5, b"secreT", 0x82, 0x0549790C, SESSION_MSG,
                                      SESSION_AUTHCODE)


def test_v15_md2_password_and_none_by_hand():
    key = b"secret" + bytes(10)
    message = b"\x20\x18\xc8\x81\x04\x01\x7a"
    expected = crypto.md2(key + (7).to_bytes(4, "little") + message
                          + (9).to_bytes(4, "little") + key)
    assert crypto.v15_authcode(AuthType.MD2, b"secret", 7, 9, message) == expected
    assert crypto.v15_authcode(AuthType.PASSWORD, b"secret", 7, 9, message) == key
    assert crypto.v15_authcode(AuthType.NONE, b"secret", 7, 9, message) == b""
    long_password = b"0123456789abcdefXYZ"  # IPMI 1.5 keys are 16 bytes
    assert crypto.v15_password(long_password) == b"0123456789abcdef"
    with pytest.raises(crypto.CryptoError):
        crypto.v15_authcode(AuthType.OEM, b"secret", 7, 9, message)
