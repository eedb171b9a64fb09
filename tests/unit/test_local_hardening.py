"""Unit checks for the local interfaces and secrets: log redaction byte vectors, the in-band
listen check, the private run directory and sockets, SOL deactivation by privilege, and the
state files (orphans, files 0600 from creation)."""

from __future__ import annotations

import logging
import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pybmc.commands.dispatch import CommandTable, Context, Dispatcher
from pybmc.commands.payload import deactivate_payload
from pybmc.config.bmc import ConfigError, parse_config
from pybmc.config.paths import UnsafeRunDirectory, private_directory, run_base
from pybmc.edge.unix_socket import bind_private
from pybmc.model.state import StateStore, create_private_file
from pybmc.wire.codes import Cc, NetFn, Privilege
from pybmc.wire.errors import CommandError
from pybmc.wire.redact import (
    redact_ipmi15_packet,
    redact_payload,
    redact_request,
    redact_response,
)

PASSWORD = b"hunter2".ljust(16, b"\0")


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# ------------------------------------------------------------------------ redaction
def test_set_user_password_keeps_the_user_and_operation_only():
    assert redact_request(0x06, 0x47, bytes([0x83, 0x02]) + PASSWORD) == \
        "8302<16 bytes redacted>"
    assert redact_request(0x07, 0x47, bytes([0x03, 0x02]) + PASSWORD * 2)[:4] == "0302"


def test_lan_community_string_is_redacted_other_parameters_are_not():
    community = b"public".ljust(18, b"\0")
    assert redact_request(0x0C, 0x01, bytes([1, 16]) + community) == "0110<18 bytes redacted>"
    assert redact_request(0x0C, 0x01, bytes([1, 16]) + community, start=2) == \
        "<18 bytes redacted>"
    assert redact_request(0x0C, 0x01, h("0103c0a80001"), start=2) == "c0a80001"
    # Get LAN parameter 16 answers the community: cc, revision, then the secret.
    assert redact_response(0x0C, 0x02, h("01100000"), b"\x00\x11" + community) == \
        "0011<18 bytes redacted>"
    assert redact_response(0x0C, 0x02, h("01030000"), h("0011c0a80001")) == "0011c0a80001"


def test_serial_community_string_is_redacted_other_parameters_are_not():
    community = b"sekrit".ljust(18, b"\x00")
    assert redact_request(0x0C, 0x10, bytes([2, 15]) + community) == "020f<18 bytes redacted>"
    assert redact_request(0x0C, 0x10, h("020381"), start=2) == "81"
    assert redact_response(0x0C, 0x11, h("020f0000"), b"\x00\x11" + community) == \
        "0011<18 bytes redacted>"
    assert redact_response(0x0C, 0x11, h("02030000"), h("001181")) == "001181"
    # The LAN rule is the LAN's: parameter 15 there is the backup gateway MAC, not secret.
    assert redact_request(0x0C, 0x01, h("010f525400000002"), start=2) == "525400000002"


def test_channel_keys_challenges_and_bridged_messages():
    assert redact_request(0x06, 0x56, h("0101 01") + b"K" * 20) == "010101<20 bytes redacted>"
    assert redact_response(0x06, 0x56, h("010001"), h("0002") + b"K" * 20) == \
        "0002<20 bytes redacted>"
    assert redact_request(0x06, 0x3A, h("0204") + b"C" * 16 + h("01000000")) == \
        "0204<16 bytes redacted>01000000"
    # Send Message to IPMB carrying a Set User Password: the inner password is hidden.
    inner = h("20 18 c8 81 04 47") + bytes([3, 2]) + PASSWORD + b"\x99"
    shown = redact_request(0x06, 0x34, b"\x00" + inner)
    assert shown == "00" "2018c8810447" "0302" "<16 bytes redacted>" "99"
    assert "68756e74657232" not in shown
    # Get Message: a bridged response whose request we never saw keeps its header only.
    assert redact_response(0x06, 0x33, b"", h("00 00 1c c4 20 04 56 00") + b"K" * 20) == \
        "0000" "1cc4200456" "<21 bytes redacted>"


def test_rakp_payloads_and_ipmi15_auth_code():
    rakp3 = h("01 00 0000 11223344") + b"H" * 20
    assert redact_payload(0x14, rakp3) == "010000001122334" "4<20 bytes redacted>"
    assert redact_payload(0x01, b"console") == b"console".hex()
    # RMCP, auth type 4 (straight password), seq, session id, the 16-byte auth code, length,
    # then Set User Password inside the session.
    message = h("20 18 c8 81 04 47") + bytes([3, 2]) + PASSWORD + b"\x00"
    packet = (h("06 00 ff 07") + b"\x04" + bytes(4) + h("01020304") + PASSWORD
              + bytes([len(message)]) + message)
    shown = redact_ipmi15_packet(packet)
    assert PASSWORD.hex() not in shown and shown.count("<16 bytes redacted>") == 2
    assert shown.startswith("0600ff07" "04" "00000000" "01020304" "<16 bytes redacted>")


def test_the_dispatchers_exception_line_redacts_the_request(caplog: pytest.LogCaptureFixture):
    table = CommandTable()

    @table.command(NetFn.APP, 0x47, Privilege.USER)
    def broken(ctx: Context, data: bytes) -> bytes:
        raise RuntimeError("a handler bug")

    ctx = Context(SimpleNamespace(name="t"), 1, Privilege.ADMINISTRATOR)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        reply = Dispatcher(table).dispatch(ctx, NetFn.APP, 0x47, bytes([3, 2]) + PASSWORD)
    assert reply == bytes([Cc.UNSPECIFIED])
    assert "handler broken failed on data 0302<16 bytes redacted>" in caplog.text
    assert PASSWORD.hex() not in caplog.text


# ------------------------------------------------------------------------ in-band listen
def config_with_listen(listen: str) -> Any:
    return parse_config({"bmc": {"name": "t", "address": "127.0.0.1"},
                         "in_band": {"listen": listen}}, source="t.toml")


@pytest.mark.parametrize("listen", ["tcp:0.0.0.0:9002", "tcp:10.0.0.5:9002", "tcp:[::]:9002",
                                    "tcp:bmc.example:9002"])
def test_a_non_loopback_in_band_listener_is_a_config_error(listen: str):
    with pytest.raises(ConfigError, match=r"\[in_band\] listen: .*not a loopback address"):
        config_with_listen(listen)


@pytest.mark.parametrize("listen", ["tcp:127.0.0.1:9002", "tcp:127.1.2.3:9002",
                                    "tcp:[::1]:9002", "tcp:localhost:9002", "unix:/x/ipmi.sock"])
def test_loopback_and_unix_listeners_are_accepted(listen: str):
    assert config_with_listen(listen).in_band.listen == listen


# ------------------------------------------------------------------------ run directory
@pytest.fixture
def short_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pbu", dir="/tmp") as tmp:
        yield Path(tmp)


def test_a_new_run_directory_is_0700_even_under_umask_0(short_dir: Path):
    old = os.umask(0)
    try:
        path = private_directory(short_dir / "run")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700


def test_a_planted_run_directory_is_refused(short_dir: Path):
    target = short_dir / "target"
    target.mkdir()
    (short_dir / "link").symlink_to(target)
    with pytest.raises(UnsafeRunDirectory, match="symbolic link"):
        private_directory(short_dir / "link")
    (short_dir / "file").write_text("")
    with pytest.raises(UnsafeRunDirectory, match="not a directory"):
        private_directory(short_dir / "file")
    shared = short_dir / "shared"
    shared.mkdir()
    shared.chmod(0o770)
    with pytest.raises(UnsafeRunDirectory, match="writable by others"):
        private_directory(shared)
    if os.getuid() == 0:
        foreign = short_dir / "foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 65534, 65534)
        with pytest.raises(UnsafeRunDirectory, match="uid 65534"):
            private_directory(foreign)
    ours = short_dir / "ours"
    ours.mkdir(mode=0o755)  # readable is fine: sockets inside are 0600
    assert private_directory(ours) == ours


def test_the_run_base_prefers_xdg_runtime_dir(short_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PYBMC_RUN_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    assert run_base() == short_dir / "pybmc"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir / "missing"))
    assert run_base() == Path(f"/tmp/pybmc-{os.getuid()}")
    monkeypatch.setenv("PYBMC_RUN_DIR", str(short_dir / "override"))
    assert run_base() == short_dir / "override"


def test_a_private_unix_socket_is_0600_even_under_umask_0(short_dir: Path):
    old = os.umask(0)
    try:
        sock = bind_private(short_dir / "s.sock")
    finally:
        os.umask(old)
    try:
        assert stat.S_IMODE(os.stat(short_dir / "s.sock").st_mode) == 0o600
        assert os.umask(old) == old  # restored
    finally:
        sock.close()


# ------------------------------------------------------------------------ SOL takeover
class FakeSol:
    def __init__(self, owner: Any) -> None:
        self.active = SimpleNamespace(session=owner) if owner is not None else None
        self.reasons: list[str] = []

    def deactivate(self, reason: str) -> None:
        self.reasons.append(reason)
        self.active = None


def session(privilege: Privilege, active: bool = True) -> Any:
    return SimpleNamespace(session_id=0x1234, privilege=privilege, active=active)


def deactivate(sol: FakeSol, requester: Any, privilege: Privilege | None = None) -> None:
    parts = SimpleNamespace(name="t", sol=sol)
    ctx = Context(parts, 1, privilege or requester.privilege, requester)  # type: ignore[arg-type]
    deactivate_payload(ctx, h("010100000000"))


def test_a_lower_privilege_cannot_deactivate_another_sessions_sol():
    sol = FakeSol(session(Privilege.ADMINISTRATOR))
    with pytest.raises(CommandError) as refused:
        deactivate(sol, session(Privilege.USER))
    assert refused.value.cc == Cc.INSUFFICIENT_PRIVILEGE and sol.active is not None
    with pytest.raises(CommandError):
        deactivate(sol, session(Privilege.OPERATOR))


def test_equal_privilege_the_owner_itself_or_a_dead_owner_may_deactivate():
    sol = FakeSol(session(Privilege.ADMINISTRATOR))
    deactivate(sol, session(Privilege.ADMINISTRATOR))  # Ironic's second admin session
    assert sol.active is None and "another session" in sol.reasons[0]
    owner = session(Privilege.USER)
    sol = FakeSol(owner)
    deactivate(sol, owner)
    assert sol.reasons == ["Deactivate Payload"]
    sol = FakeSol(session(Privilege.ADMINISTRATOR, active=False))
    deactivate(sol, session(Privilege.USER))
    assert sol.active is None
    sol = FakeSol(session(Privilege.OPERATOR))
    deactivate(sol, session(Privilege.ADMINISTRATOR))
    assert sol.active is None


# ------------------------------------------------------------------------ state files
def test_orphaned_temp_files_are_removed_and_nothing_else(tmp_path: Path):
    store = StateStore(tmp_path)
    (tmp_path / ".state.abc").write_text("{}")
    (tmp_path / ".state.dir").mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.write_text("x")
    (tmp_path / ".state.link").symlink_to(outside)
    (tmp_path / "state.json.bad-1").write_text("{}")
    (tmp_path / "x.state.y").write_text("{}")
    assert store.remove_orphans() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".state.dir", ".state.link", "state.json.bad-1", "x.state.y"]
    assert outside.exists()
    outside.unlink()
    assert StateStore(tmp_path / "missing").remove_orphans() == 0


def test_a_private_file_is_created_0600_by_open_never_chmodded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    opened: list[tuple[int, int]] = []

    def spy(path: str, flags: int, mode: int = 0o777) -> int:
        opened.append((flags, mode))
        return os.open(path, flags, mode)

    def no_chmod(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("chmod after creation: the file was readable before it")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    old = os.umask(0)
    try:
        assert create_private_file(tmp_path / "secret", "pw\n", opener=spy)
    finally:
        os.umask(old)
    flags, mode = opened[0]
    assert mode == 0o600 and flags & os.O_CREAT and flags & os.O_EXCL and flags & os.O_NOFOLLOW
    assert stat.S_IMODE(os.stat(tmp_path / "secret").st_mode) == 0o600
    assert not create_private_file(tmp_path / "secret", "other\n")  # never overwritten
    assert (tmp_path / "secret").read_text() == "pw\n"


def test_the_default_password_file_is_made_through_open_with_0600(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from pybmc import cli_serve as cli

    modes: list[int] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if str(path).endswith("default-password"):
            modes.append(mode)
        return real_open(path, flags, mode, **kwargs)

    def no_chmod(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("chmod after creation")

    monkeypatch.setattr(os, "open", spy)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    monkeypatch.setattr(os, "chmod", no_chmod)
    old = os.umask(0)
    try:
        password = cli._default_password(tmp_path / "state")
    finally:
        os.umask(old)
    assert modes == [0o600]
    assert (tmp_path / "state" / "default-password").read_text().strip() == password
    assert stat.S_IMODE(os.stat(tmp_path / "state" / "default-password").st_mode) == 0o600
    assert cli._default_password(tmp_path / "state") == password


# ------------------------------------------------------------------------ group sockets
def a_group() -> int:
    """A GID this process may give a file to, other than its own group where it can."""
    if os.geteuid() == 0:
        return 4242
    others = [g for g in os.getgroups() if g != os.getegid()]
    return others[0] if others else os.getegid()


def test_a_group_socket_is_0660_and_that_groups_only_once_reachable(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """[in_band] socket_group: bound 0600 in a 0700 directory, given its group and 0660 there,
    then linked into place; at no moment is it reachable at its path with another mode."""
    gid = a_group()
    seen: list[tuple[bool, int, int, int, int]] = []
    real_link = os.link

    def link(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        staged, parent = os.stat(source), os.stat(Path(source).parent)
        seen.append((Path(target).exists(), stat.S_IMODE(staged.st_mode), staged.st_gid,
                     stat.S_IMODE(parent.st_mode), parent.st_uid))
        real_link(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "link", link)
    old = os.umask(0)
    try:
        sock = bind_private(short_dir / "g.sock", group=gid)
    finally:
        os.umask(old)
    try:
        assert seen == [(False, 0o660, gid, 0o700, os.geteuid())]
        final = os.stat(short_dir / "g.sock")
        assert stat.S_ISSOCK(final.st_mode) and stat.S_IMODE(final.st_mode) == 0o660
        assert final.st_gid == gid
        assert os.listdir(short_dir) == ["g.sock"]  # the staging directory is gone
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(short_dir / "g.sock"))  # the listener answers at its path
        with pytest.raises(FileExistsError):  # never replaces what is there
            bind_private(short_dir / "g.sock", group=gid)
        assert os.listdir(short_dir) == ["g.sock"]
    finally:
        sock.close()


async def test_the_in_band_server_honours_socket_group(short_dir: Path, tmp_path: Path):
    from pybmc.core.bmc import Bmc
    from pybmc.edge.inband import InBandServer, socket_gid

    gid = a_group()
    config = parse_config({"bmc": {"name": "t", "address": "127.0.0.2",
                                   "state_dir": str(tmp_path)},
                           "in_band": {"listen": f"unix:{short_dir}/i.sock",
                                       "socket_group": str(gid)}})
    assert config.in_band.socket_group == str(gid)
    server = InBandServer(Bmc(config), short_dir / "i.sock", group=config.in_band.socket_group)
    await server.start()
    try:
        final = os.stat(short_dir / "i.sock")
        assert stat.S_IMODE(final.st_mode) == 0o660 and final.st_gid == gid
    finally:
        await server.stop()
    assert not (short_dir / "i.sock").exists()
    with pytest.raises(OSError, match="no such group"):
        socket_gid("pybmc-no-such-group")
    with pytest.raises(ConfigError, match="socket_group"):
        parse_config({"bmc": {"name": "t", "address": "127.0.0.2"},
                      "in_band": {"listen": "tcp:127.0.0.1:9002", "socket_group": "kvm"}})
