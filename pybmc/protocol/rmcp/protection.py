"""RMCP+ payload protection of an active session: integrity, sequence window, encryption."""

from __future__ import annotations

from collections.abc import Callable

from pybmc.protocol.rmcp import crypto
from pybmc.protocol.rmcp.packet import PacketError, RmcpPlusPacket, build_rmcpplus
from pybmc.protocol.rmcp.session_record import Session


class ProtectionMismatch(PacketError):
    """A packet's authenticated/encrypted flags are not what the session's suite says (the
    session layer logs these, rate-limited: they point at a confused client)."""


def unwrap(session: Session, packet: RmcpPlusPacket) -> bytes:
    """Check integrity, sequence and confidentiality; the plain payload or PacketError."""
    suite, keys = session.suite, session.keys
    assert suite is not None and keys is not None
    signed = suite.integrity.number != crypto.INTEGRITY_NONE
    sealed = suite.confidentiality.number != crypto.CONFIDENTIALITY_NONE
    if packet.authenticated != signed or packet.encrypted != sealed:
        raise ProtectionMismatch(
            f"session {session.session_id:#010x}: packet "
            f"{'authenticated' if packet.authenticated else 'unauthenticated'}/"
            f"{'encrypted' if packet.encrypted else 'clear'} does not match {suite}")
    if signed:
        covered, authcode = packet.split_trailer(suite.integrity.authcode_len)
        if not crypto.integrity_ok(suite.integrity, keys, covered, authcode):
            raise PacketError(f"bad AuthCode on session {session.session_id:#010x}")
    window = session.authenticated_window if signed else session.unauthenticated_window
    if not window.accept(packet.sequence):
        raise PacketError(f"sequence {packet.sequence:#010x} replayed or out of window")
    if sealed:
        return crypto.aes_decrypt(keys.aes_key, packet.payload)
    return packet.payload


def wrap(session: Session, payload_type: int, payload: bytes,
         random: Callable[[int], bytes]) -> bytes:
    """Sign and/or encrypt a payload for the session; `random` gives the AES-CBC IV."""
    suite, keys = session.suite, session.keys
    assert suite is not None and keys is not None
    signed = suite.integrity.number != crypto.INTEGRITY_NONE
    sealed = suite.confidentiality.number != crypto.CONFIDENTIALITY_NONE
    body = (crypto.aes_encrypt(keys.aes_key, payload, random(crypto.AES_BLOCK)) if sealed
            else payload)
    sign = (lambda data: crypto.integrity_authcode(suite.integrity, keys, data)) \
        if signed else None
    sequence = session.next_rmcpplus_sequence(signed)
    return build_rmcpplus(payload_type, session.console_sid, sequence, body,
                          encrypted=sealed, sign=sign)
