"""The ipmi-bmc-extern (OpenIPMI "VM") codec byte for byte, and the server with a fake QEMU.

Frame layouts from QEMU hw/ipmi/ipmi_bmc_extern.c and OpenIPMI lanserv/serial_ipmi.c: the
checksum makes the unescaped frame (seq included) sum to zero; A0/A1/AA travel as AA, b|0x10.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.edge.inband import InBandServer
from pybmc.edge.timer import BmcTimer
from pybmc.protocol.inband import (
    CapabilitiesReceived,
    FrameDecoder,
    FrameDropped,
    GuestReset,
    OtherControl,
    VersionReceived,
    VmCapability,
    VmCommand,
    VmConnection,
    VmRequest,
    encode_control,
    encode_request,
    encode_response,
    escape,
)

QEMU_HELLO = bytes.fromhex("ff01a1" "083fa1")  # what QEMU 7.2+ sends on connect


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# ----------------------------------------------------------------------------- codec
def test_escape_sets_bit_4_of_the_three_framing_bytes():
    assert escape(h("a0a1aa00b0ff")) == h("aab0" "aab1" "aaba" "00b0ff")


def test_get_device_id_request_from_qemu():
    # seq 05, netfn 06 lun 0 -> 18, cmd 01, checksum -(05+18+01) = e2
    assert VmConnection().receive_data(h("051801e2a0")) == [VmRequest(5, 6, 0, 1, b"")]


def test_request_with_escaped_seq():
    # seq a0 travels as aa b0; checksum -(a0+18+01) = 47
    assert VmConnection().receive_data(h("aab0" "1801" "47" "a0")) == [
        VmRequest(0xA0, 6, 0, 1, b"")]


def test_request_with_escaped_checksum_and_lun():
    # netfn 06 lun 2 -> 1a; seq 3b: 3b+1a+01 = 56 -> checksum aa, escaped as aa ba
    assert VmConnection().receive_data(h("3b1a01" "aaba" "a0")) == [
        VmRequest(0x3B, 6, 2, 1, b"")]


def test_request_with_data_split_across_reads():
    # Set Watchdog Timer 44 01 00 00 a0 00 (a0 escaped); 07+18+24+44+01+a0 = 128 -> d8
    connection = VmConnection()
    wire = h("071824" "44010000" "aab0" "00" "d8" "a0")
    events = []
    for byte in wire:
        events += connection.receive_data(bytes([byte]))
    assert events == [VmRequest(7, 6, 0, 0x24, h("44010000a000"))]


def test_response_encoding():
    request = VmRequest(7, 6, 0, 0x31, b"")
    # 07 1c 31 00 00: sum 54 -> checksum ac
    assert encode_response(request, h("0000")) == h("071c31" "0000" "ac" "a0")
    # data 0c makes the sum 60 -> checksum a0, which must be escaped
    assert encode_response(request, h("000c")) == h("071c31" "000c" "aab0" "a0")


def test_response_keeps_the_request_lun_and_escapes_data():
    request = VmRequest(0x10, 0x0A, 2, 0x43, b"")
    # ((0a|1) << 2) | 2 = 2e; data a1 -> aa b1; sum 10+2e+43+00+a1 = 122 -> checksum de
    assert encode_response(request, h("00a1")) == h("102e43" "00" "aab1" "de" "a0")


def test_request_encoding_round_trip_for_every_byte_value():
    data = bytes(range(256))
    request = VmRequest(0xAA, 0x2E, 3, 0xA1, data)
    assert VmConnection().receive_data(encode_request(request)) == [request]


def test_control_encoding():
    assert encode_control(VmCommand.VERSION, b"\x01") == h("ff01a1")
    assert encode_control(VmCommand.ATTN_IRQ) == h("02a1")
    assert encode_control(VmCommand.GRACEFUL_SHUTDOWN) == h("09a1")


def test_qemu_handshake_and_reset_notice():
    connection = VmConnection()
    events = connection.receive_data(QEMU_HELLO + h("04a1"))
    assert events == [VersionReceived(1), CapabilitiesReceived(VmCapability(0x3F)), GuestReset()]
    assert connection.peer_version == 1
    assert connection.capabilities == (VmCapability.POWER | VmCapability.RESET | VmCapability.IRQ
                                       | VmCapability.NMI | VmCapability.ATTN
                                       | VmCapability.GRACEFUL_SHUTDOWN)


def test_older_qemu_without_graceful_shutdown():
    connection = VmConnection()
    connection.receive_data(h("ff01a1" "081fa1"))
    assert connection.send_control(VmCommand.RESET)
    assert not connection.send_control(VmCommand.GRACEFUL_SHUTDOWN)
    assert connection.writes_to_send() == [h("04a1")]


def test_commands_need_the_matching_capability():
    connection = VmConnection()
    connection.connection_made()
    assert connection.writes_to_send() == [h("ff01a1")], "version goes out whatever the caps"
    assert not connection.send_control(VmCommand.ATTN)
    assert not connection.send_control(VmCommand.POWEROFF)
    connection.receive_data(h("0810a1"))  # ATTN only
    assert connection.send_control(VmCommand.ATTN)
    assert not connection.send_control(VmCommand.ATTN_IRQ)
    assert not connection.send_control(VmCommand.SEND_NMI)


def test_each_control_command_is_its_own_write():
    connection = VmConnection()
    connection.receive_data(QEMU_HELLO)
    connection.send_control(VmCommand.DISABLE_IRQ)
    connection.send_control(VmCommand.ATTN)
    connection.send_response(VmRequest(1, 6, 0, 1, b""), h("c1"))
    assert connection.writes_to_send() == [h("06a1"), h("01a1"), h("011c01c1" "21" "a0")]
    assert connection.writes_to_send() == []


def test_empty_frames_are_ignored():
    assert VmConnection().receive_data(h("a0a1a0")) == []


@pytest.mark.parametrize(("wire", "reason"), [
    ("051801e3a0", "bad checksum"),
    ("0518e3a0", "message too short"),
    ("051801aaa0", "frame ends inside an escape"),
    ("aaa1", "frame ends inside an escape"),
])
def test_bad_frames_are_dropped(wire: str, reason: str):
    connection = VmConnection()
    events = connection.receive_data(h(wire) + h("051801e2a0"))
    assert isinstance(events[0], FrameDropped) and events[0].reason == reason
    assert events[1:] == [VmRequest(5, 6, 0, 1, b"")], "the next frame is decoded normally"
    assert connection.writes_to_send() == []


def test_oversized_request_is_answered_c6():
    connection = VmConnection()
    wire = h("091834") + bytes(400) + h("00a0")
    events = connection.receive_data(wire)
    assert isinstance(events[0], FrameDropped)
    # seq 09, netfn 07 lun 0, cmd 34, cc c6: sum 09+1c+34+c6 = 11f -> checksum e1
    assert connection.writes_to_send() == [h("091c34c6e1a0")]


def test_unknown_control_commands_are_reported():
    assert VmConnection().receive_data(h("4242a1")) == [OtherControl(0x42, h("42"))]


def test_decoder_limit_is_per_frame():
    decoder = FrameDecoder(max_frame=4)
    assert decoder.feed(h("0102030405a0")) == [(0xA0, h("01020304"), "frame too long")]
    assert decoder.feed(h("0102a1")) == [(0xA1, h("0102"), None)]


# ----------------------------------------------------------------------------- server
@pytest.fixture
def short_dir() -> Iterator[Path]:
    # Unix socket paths must stay under 108 bytes; pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="pbx", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    return Bmc(parse_config({"bmc": {"name": "t", "address": "127.0.0.2",
                                     "state_dir": str(tmp_path)}}))


@pytest.fixture
async def server(bmc: Bmc, short_dir: Path) -> AsyncIterator[InBandServer]:
    server = InBandServer(bmc, short_dir / "ipmi.sock")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class FakeQemu:
    """The VM end of the link, speaking the protocol through the same codec."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder()
        self.frames: list[tuple[int, bytes]] = []
        self.controls_seen: list[bytes] = []
        self.seq = 0

    @classmethod
    async def connect(cls, server: InBandServer, hello: bytes = QEMU_HELLO) -> FakeQemu:
        if server.path is not None:
            reader, writer = await asyncio.open_unix_connection(str(server.path))
        else:
            reader, writer = await asyncio.open_connection(server.host, server.port)
        qemu = cls(reader, writer)
        if hello:
            writer.write(hello)
            await writer.drain()
        return qemu

    async def frame(self, timeout: float = 2.0) -> tuple[int, bytes]:
        """The next frame from the BMC: (end byte, unescaped contents)."""
        while not self.frames:
            data = await asyncio.wait_for(self.reader.read(4096), timeout)
            if not data:
                raise EOFError("BMC closed the link")
            self.frames += [(end, frame) for end, frame, _ in self.decoder.feed(data)]
        return self.frames.pop(0)

    async def control(self, timeout: float = 2.0) -> bytes:
        end, frame = await self.frame(timeout)
        assert end == 0xA1, f"expected a control command, got message {frame.hex()}"
        return frame

    async def request(self, netfn: int, cmd: int, data: bytes = b"") -> bytes:
        """Send one request and return cc + data of its response (controls are kept)."""
        self.seq = (self.seq + 1) & 0xFF
        self.writer.write(encode_request(VmRequest(self.seq, netfn, 0, cmd, data)))
        await self.writer.drain()
        while True:
            end, frame = await self.frame()
            if end == 0xA0:
                break
            self.controls_seen.append(frame)
        assert sum(frame) & 0xFF == 0, "response checksum"
        assert frame[0] == self.seq
        assert frame[1] == ((netfn | 1) << 2)
        assert frame[2] == cmd
        return frame[3:-1]

    async def handshake(self) -> list[bytes]:
        """Our version, then IRQ enable state and ATN state once capabilities are known."""
        self.controls_seen = []
        return [await self.control(), await self.control(), await self.control()]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def test_handshake_and_capabilities(server: InBandServer):
    assert not server.connected
    qemu = await FakeQemu.connect(server)
    # version 1; receive interrupt is off in the default Global Enables (0x0C); nothing pending
    assert await qemu.handshake() == [h("ff01"), h("06"), h("00")]
    assert await server.wait_connected(1.0)
    assert server.connected
    assert server.capabilities == VmCapability(0x3F)
    await qemu.close()


async def test_requests_run_through_the_dispatcher(server: InBandServer):
    qemu = await FakeQemu.connect(server)
    await qemu.handshake()
    assert (await qemu.request(0x06, 0x31)).hex() == "0000"
    assert (await qemu.request(0x06, 0x22)).hex() == "80"
    assert (await qemu.request(0x06, 0x24, h("04010000 6400"))).hex() == "00"
    assert (await qemu.request(0x06, 0x25)).hex() == "00" "04010000" "6400" "6400"
    assert (await qemu.request(0x3E, 0x99)).hex() == "c1"
    await qemu.close()


async def test_message_queue_raises_and_drops_attention(server: InBandServer):
    qemu = await FakeQemu.connect(server)
    await qemu.handshake()
    # Send Message to the BMC's own IPMB address queues a response for Get Message.
    assert (await qemu.request(0x06, 0x34, h("00" "2018c8" "811425" "46"))).hex() == "00"
    assert await qemu.control() == h("01"), "ATN without IRQ: receive interrupt is off"
    assert (await qemu.request(0x06, 0x31)).hex() == "0001"
    assert (await qemu.request(0x06, 0x33))[:7].hex() == "00" "00" "1c6320" "1425"
    assert await qemu.control() == h("00"), "queue drained: ATN off"
    await qemu.close()


async def test_irq_enable_follows_global_enables(server: InBandServer, bmc: Bmc):
    qemu = await FakeQemu.connect(server)
    await qemu.handshake()
    bmc.state.global_enables = 0x0D  # as if the guest's Set BMC Global Enables turned bit 0 on
    assert (await qemu.request(0x06, 0x31)).hex() == "0000"
    assert await qemu.control() == h("05"), "ENABLE_IRQ after the request"
    bmc.system_interface.queue_message(0x01, b"\x42")
    assert await qemu.control() == h("02"), "ATN with IRQ now"
    await qemu.close()


async def test_power_controls_are_separate_writes(server: InBandServer):
    assert not server.send_reset(), "nothing connected yet"
    qemu = await FakeQemu.connect(server)
    await qemu.handshake()
    assert server.send_graceful_shutdown()
    assert server.send_nmi()
    assert server.send_reset()
    assert server.send_power_off()
    assert [await qemu.control() for _ in range(4)] == [h("09"), h("07"), h("04"), h("03")]
    await qemu.close()


async def test_capabilities_limit_what_is_sent(server: InBandServer):
    qemu = await FakeQemu.connect(server, hello=h("ff01a1" "0811a1"))  # POWER | ATTN
    assert await qemu.control() == h("ff01")
    assert await qemu.control() == h("00"), "no IRQ capability: no IRQ enable command"
    assert not server.send_reset()
    assert not server.send_nmi()
    assert server.send_power_off()
    assert await qemu.control() == h("03")
    await qemu.close()


async def test_guest_reset_clears_host_state_and_stops_the_watchdog(server: InBandServer,
                                                                   bmc: Bmc):
    resets: list[bool] = []
    server.add_reset_listener(lambda: resets.append(True))
    qemu = await FakeQemu.connect(server)
    await qemu.handshake()
    assert (await qemu.request(0x06, 0x24, h("04010000 6400"))).hex() == "00"
    assert (await qemu.request(0x06, 0x22)).hex() == "00"
    bmc.system_interface.queue_message(0x01, b"\x42")
    assert await qemu.control() == h("01")
    qemu.writer.write(h("04a1"))
    assert await qemu.control() == h("00"), "flags cleared: ATN off"
    assert resets == [True]
    assert not bmc.watchdog.running
    await qemu.close()


async def test_bad_frames_do_not_break_the_link(server: InBandServer):
    qemu = await FakeQemu.connect(server)
    await qemu.handshake()
    qemu.writer.write(h("051801e3a0" "05aaa0"))
    assert (await qemu.request(0x06, 0x31)).hex() == "0000"
    await qemu.close()


async def test_reconnect_after_qemu_goes_away(server: InBandServer):
    first = await FakeQemu.connect(server)
    await first.handshake()
    await first.close()
    await until(lambda: not server.connected)
    assert server.capabilities == VmCapability.NONE
    assert not server.send_reset()
    second = await FakeQemu.connect(server)
    assert await second.handshake() == [h("ff01"), h("06"), h("00")]
    assert (await second.request(0x06, 0x31)).hex() == "0000"
    await second.close()


async def test_a_second_connection_is_refused_while_the_link_is_live(
        server: InBandServer, caplog: pytest.LogCaptureFixture):
    first = await FakeQemu.connect(server)
    await first.handshake()
    second = await FakeQemu.connect(server)
    with pytest.raises((EOFError, ConnectionResetError)):
        await second.frame()
    assert (await first.request(0x06, 0x31)).hex() == "0000"  # the VM keeps its link
    assert any(r.levelname == "WARNING" and "refused: a VM link is already connected" in
               r.getMessage() and "pid " in r.getMessage() for r in caplog.records)
    await first.close()


async def test_a_new_connection_takes_over_once_the_old_one_hung_up(server: InBandServer):
    """QEMU restarting closes its old connection and opens a new one at once; the event loop
    may accept the new one before it has read the old one's EOF (the socket is peeked)."""
    first = await FakeQemu.connect(server)
    await first.handshake()
    assert server.path is not None
    old = first.writer.get_extra_info("socket")
    with socket.socket(fileno=os.dup(old.fileno())) as raw:
        raw.shutdown(socket.SHUT_WR)  # the EOF is in the BMC's socket, unread
    second = await FakeQemu.connect(server)  # no yield to the loop in between
    assert await second.handshake() == [h("ff01"), h("06"), h("00")]
    assert (await second.request(0x06, 0x31)).hex() == "0000"
    await second.close()
    await first.close()


async def test_watchdog_pretimeout_is_delivered_on_time(server: InBandServer, bmc: Bmc):
    timer = BmcTimer(bmc)  # the BMC's one timer, as the edge arms it
    server.after_input = timer.arm
    qemu = await FakeQemu.connect(server)
    await qemu.handshake()
    # messaging pre-timeout + no action, pre-timeout 0 s, countdown 0.3 s: the BMC's timer
    # must fire it at its deadline (the sensor update is a whole second away).
    assert (await qemu.request(0x06, 0x24, h("04300010 0300"))).hex() == "00"
    assert (await qemu.request(0x06, 0x22)).hex() == "00"
    started = asyncio.get_running_loop().time()
    assert await qemu.control(timeout=1.0) == h("01")
    assert asyncio.get_running_loop().time() - started < 0.6
    assert (await qemu.request(0x06, 0x31)).hex() == "0008"
    assert (await qemu.request(0x06, 0x25)).hex() == "00" "04300010" "0300" "0000"
    assert (await qemu.request(0x06, 0x30, h("08"))).hex() == "00"
    assert await qemu.control() == h("00")
    await qemu.close()
    timer.cancel()


async def test_tcp_listener(bmc: Bmc):
    server = InBandServer(bmc, host="127.0.0.1", port=0)
    await server.start()
    try:
        assert server.port
        qemu = await FakeQemu.connect(server)
        assert (await qemu.handshake())[0] == h("ff01")
        assert (await qemu.request(0x06, 0x31)).hex() == "0000"
        await qemu.close()
    finally:
        await server.stop()


async def test_stale_socket_file_is_replaced_and_removed(bmc: Bmc, short_dir: Path):
    path = short_dir / "s.sock"
    first = InBandServer(bmc, path)
    await first.start()
    first._server.close()  # simulate a crashed process: the file stays behind
    await first._server.wait_closed()
    assert path.exists()
    second = InBandServer(bmc, path)
    await second.start()
    qemu = await FakeQemu.connect(second)
    assert (await qemu.handshake())[0] == h("ff01")
    await qemu.close()
    await second.stop()
    assert not path.exists()


async def test_refuses_to_steal_a_live_socket(server: InBandServer, bmc: Bmc):
    assert server.path is not None
    with pytest.raises(OSError, match="in use"):
        await InBandServer(bmc, server.path).start()
    qemu = await FakeQemu.connect(server)
    assert (await qemu.handshake())[0] == h("ff01"), "the first listener still serves"
    await qemu.close()


async def test_refuses_to_replace_a_regular_file(bmc: Bmc, short_dir: Path):
    path = short_dir / "not-a-socket"
    path.write_text("x")
    with pytest.raises(FileExistsError):
        await InBandServer(bmc, path).start()


def test_qemu_args(bmc: Bmc):
    server = InBandServer(bmc, "/run/p/ipmi.sock")
    assert server.qemu_args() == [
        "-chardev", "socket,id=ipmi0,path=/run/p/ipmi.sock,reconnect=1",
        "-device", "ipmi-bmc-extern,chardev=ipmi0,id=bmc0",
        "-device", "isa-ipmi-kcs,bmc=bmc0"]
    tcp = InBandServer(bmc, host="127.0.0.1", port=9002)
    assert tcp.qemu_args(reconnect="reconnect-ms=1000")[1] == (
        "socket,id=ipmi0,host=127.0.0.1,port=9002,reconnect-ms=1000")


def test_needs_exactly_one_address(bmc: Bmc):
    with pytest.raises(ValueError):
        InBandServer(bmc)
    with pytest.raises(ValueError):
        InBandServer(bmc, "/tmp/x.sock", port=1)


class _SocketTransport:
    """Just enough of an asyncio transport for _Link.is_dead."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> object:
        return self.sock if name == "socket" else None


def test_a_link_is_dead_only_after_an_eof_even_one_not_read_yet():
    from pybmc.edge.inband import _Link

    ours, vm = socket.socketpair()
    link = _Link.__new__(_Link)
    link.eof_seen = False
    link.transport = _SocketTransport(ours)  # type: ignore[assignment]
    assert not link.is_dead()  # quiet is not dead
    vm.sendall(b"\x01")
    assert not link.is_dead()  # unread data: alive
    assert ours.recv(1) == b"\x01"
    vm.close()
    assert link.is_dead()  # the EOF is still in the socket, unread
    assert ours.recv(1) == b""  # the peek left it there for the event loop
    ours.close()


async def test_a_tcp_listener_warns_and_refuses_a_name_that_binds_off_loopback(
        bmc: Bmc, caplog: pytest.LogCaptureFixture):
    server = InBandServer(bmc, host="127.0.0.1", port=0)
    await server.start()
    try:
        assert "any local process can connect" in caplog.text
        qemu = await FakeQemu.connect(server)
        await qemu.handshake()
        await qemu.close()
    finally:
        await server.stop()
    # A "localhost" that resolved off loopback is refused after bind (faked: tests bind
    # loopback only).
    wide = InBandServer(bmc, host="localhost", port=9002)

    class Bound:
        def getsockname(self) -> tuple[str, int]:
            return ("192.0.2.7", 9002)

    class Listening:
        sockets = [Bound()]
        closed = False

        def close(self) -> None:
            self.closed = True

    listening = Listening()
    wide._server = listening  # type: ignore[assignment]
    with pytest.raises(OSError, match=r"192\.0\.2\.7, which is not a loopback address"):
        wide._refuse_non_loopback()
    assert listening.closed and wide._server is None
