"""The SOL packet protocol, BMC side, driven with a fake clock."""

from __future__ import annotations

import pytest

from pybmc.protocol.sol import (
    OP_FLUSH_OUTBOUND,
    OP_GENERATE_BREAK,
    OP_NACK,
    SLOW_RETRY_INTERVAL,
    SolPacket,
    SolPacketError,
    SolStream,
)


def test_packet_codec_known_bytes():
    # BMC sends "ok" as packet 1: seq 1, no ack, no count, no status.
    assert SolPacket(1, data=b"ok").encode() == bytes.fromhex("010000006f6b")
    # Console acks packet 1 accepting 2 characters.
    assert SolPacket.decode(bytes.fromhex("00010200")) == SolPacket(0, 1, 2, 0, b"")
    with pytest.raises(SolPacketError):
        SolPacket.decode(b"\x01\x00")


def test_guest_output_goes_out_one_packet_at_a_time_until_acked():
    stream = SolStream(chunk=4)
    stream.guest_output(b"abcdefgh", now=0.0)
    assert stream.packets_to_send() == [SolPacket(1, data=b"abcd").encode()]
    stream.guest_output(b"ij", now=0.1)
    assert stream.packets_to_send() == []  # stop-and-wait
    stream.receive(SolPacket(0, 1, 4).encode(), now=0.2)
    assert stream.packets_to_send() == [SolPacket(2, data=b"efgh").encode()]
    stream.receive(SolPacket(0, 2, 4).encode(), now=0.3)
    assert stream.packets_to_send() == [SolPacket(3, data=b"ij").encode()]
    stream.receive(SolPacket(0, 3, 2).encode(), now=0.4)
    assert stream.packets_to_send() == [] and stream.backlog == 0


def test_sequence_numbers_wrap_from_15_to_1():
    stream = SolStream(chunk=1)
    seqs = []
    stream.guest_output(bytes(17), now=0)
    for _ in range(17):
        (raw,) = stream.packets_to_send()
        packet = SolPacket.decode(raw)
        seqs.append(packet.seq)
        stream.receive(SolPacket(0, packet.seq, 1).encode(), now=0)
    assert seqs == [*range(1, 16), 1, 2]


def test_partial_ack_resends_the_rest_first_in_a_new_packet():
    stream = SolStream()
    stream.guest_output(b"hello", now=0)
    stream.packets_to_send()
    stream.guest_output(b"!", now=0)
    stream.receive(SolPacket(0, 1, 3).encode(), now=0)
    assert stream.packets_to_send() == [SolPacket(2, data=b"lo!").encode()]


def test_nack_holds_the_packet_until_the_retry_interval():
    stream = SolStream(retry_interval=0.5)
    stream.guest_output(b"data", now=0)
    stream.packets_to_send()
    stream.receive(SolPacket(0, 1, 0, OP_NACK).encode(), now=0.1)
    assert stream.packets_to_send() == []
    stream.handle_timer(0.6)
    assert stream.packets_to_send() == [SolPacket(1, data=b"data").encode()]


def test_retransmits_on_timeout_then_slower_but_never_drops():
    stream = SolStream(retry_count=2, retry_interval=0.5)
    stream.guest_output(b"x", now=0)
    stream.packets_to_send()
    assert stream.get_timer() == 0.5
    stream.handle_timer(0.4)
    assert stream.packets_to_send() == []
    stream.handle_timer(0.5)
    stream.handle_timer(1.0)
    assert len(stream.packets_to_send()) == 2
    assert stream.get_timer() == 1.0 + SLOW_RETRY_INTERVAL
    stream.handle_timer(1.0 + SLOW_RETRY_INTERVAL)
    assert stream.packets_to_send() == [SolPacket(1, data=b"x").encode()]
    assert stream.backlog == 1


def test_console_data_is_acked_with_the_count_and_delivered_once():
    stream = SolStream()
    stream.receive(SolPacket(5, 0, 0, 0, b"ls\r").encode(), now=0)
    assert stream.packets_to_send() == [SolPacket(0, 5, 3).encode()]
    assert stream.take_console_input() == b"ls\r"
    # The console did not see our ack and resends: ack again, do not type twice.
    stream.receive(SolPacket(5, 0, 0, 0, b"ls\r").encode(), now=0.1)
    assert stream.packets_to_send() == [SolPacket(0, 5, 3).encode()]
    assert stream.take_console_input() == b""


def test_ack_and_data_in_one_console_packet():
    stream = SolStream()
    stream.guest_output(b"login: ", now=0)
    stream.packets_to_send()
    stream.guest_output(b"more", now=0)
    stream.receive(SolPacket(1, 1, 7, 0, b"root\r").encode(), now=0)
    assert stream.packets_to_send() == [SolPacket(0, 1, 5).encode(),
                                        SolPacket(2, data=b"more").encode()]
    assert stream.take_console_input() == b"root\r"


def test_break_and_flush_outbound():
    stream = SolStream(chunk=2)
    stream.guest_output(b"abcdef", now=0)
    stream.packets_to_send()
    stream.receive(SolPacket(1, 0, 0, OP_GENERATE_BREAK | OP_FLUSH_OUTBOUND).encode(), now=0)
    assert stream.breaks == 1
    assert stream.backlog == 2  # only the packet in flight remains


def test_stale_ack_is_ignored():
    stream = SolStream()
    stream.guest_output(b"abc", now=0)
    stream.packets_to_send()
    stream.receive(SolPacket(0, 9, 3).encode(), now=0)
    assert stream.backlog == 3


def test_backlog_full_signals_the_bridge_to_pause():
    stream = SolStream(backlog_limit=10)
    stream.guest_output(b"x" * 10, now=0)
    assert stream.backlog_full
