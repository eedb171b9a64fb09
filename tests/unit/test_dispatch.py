"""The dispatcher: lookup, privilege, length and the never-raise guarantee."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.commands.dispatch import CommandTable, Context, Dispatcher
from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.wire.codes import Cc, Privilege
from pybmc.wire.errors import CommandError

table = CommandTable()


@table.command(0x30, 0x01, Privilege.OPERATOR, length=(1, 2))
def echo(ctx: Context, data: bytes) -> bytes:
    if data[0] == 0xFF:
        raise CommandError(Cc.INVALID_DATA_FIELD)
    if data[0] == 0xEE:
        raise RuntimeError("handler bug")
    return data


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    return Bmc(parse_config({"bmc": {"name": "t", "address": "127.0.0.2",
                                     "state_dir": str(tmp_path)}}))


def run(bmc: Bmc, privilege: Privilege, cmd: int, data: bytes) -> bytes:
    return Dispatcher(table).dispatch(bmc.context(1, privilege), 0x30, cmd, data)


def test_success_prefixes_completion_code_zero(bmc: Bmc):
    assert run(bmc, Privilege.ADMINISTRATOR, 0x01, b"\x01\x02") == b"\x00\x01\x02"


def test_unknown_command_is_c1(bmc: Bmc):
    assert run(bmc, Privilege.ADMINISTRATOR, 0x02, b"") == bytes([Cc.INVALID_COMMAND])


def test_insufficient_privilege_is_d4_before_length(bmc: Bmc):
    assert run(bmc, Privilege.USER, 0x01, b"") == bytes([Cc.INSUFFICIENT_PRIVILEGE])


def test_wrong_length_is_c7(bmc: Bmc):
    assert run(bmc, Privilege.OPERATOR, 0x01, b"") == bytes([Cc.REQUEST_DATA_LENGTH_INVALID])
    assert run(bmc, Privilege.OPERATOR, 0x01, b"123") == bytes([Cc.REQUEST_DATA_LENGTH_INVALID])


def test_command_error_becomes_its_completion_code(bmc: Bmc):
    assert run(bmc, Privilege.OPERATOR, 0x01, b"\xff") == bytes([Cc.INVALID_DATA_FIELD])


def test_handler_exception_is_ff_and_logged(bmc: Bmc, caplog: pytest.LogCaptureFixture):
    assert run(bmc, Privilege.OPERATOR, 0x01, b"\xee") == bytes([Cc.UNSPECIFIED])
    assert "handler echo failed" in caplog.text


def test_duplicate_registration_is_refused():
    other = CommandTable()
    other.command(0x30, 0x01, Privilege.USER)(echo)
    with pytest.raises(ValueError):
        Dispatcher(table, other)


def test_every_registered_command_has_a_sane_privilege(bmc: Bmc):
    for (netfn, cmd), command in bmc.dispatcher.commands.items():
        assert netfn % 2 == 0, f"{command.name}: request netfns are even"
        assert Privilege.NONE <= command.privilege <= Privilege.ADMINISTRATOR, command.name
        assert 0 <= cmd <= 0xFF
