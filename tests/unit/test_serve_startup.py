"""Start-up guards (state_dir lock, bind error hints), log formatting and serve's options."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
from pathlib import Path

import pytest

from pybmc.cli_serve import ServeOptions, embedded_state_dir
from pybmc.config.bmc import parse_config
from pybmc.edge.logs import BmcFields, JsonFormatter, TextFormatter, bmc_context, setup_logging
from pybmc.edge.startup import (
    StartError,
    StateDirLock,
    address_is_local,
    bind_error,
    state_dir_problem,
)
from pybmc.model.platform.event_text import event_words


def test_a_state_dir_has_one_owner_whose_pid_is_in_the_lock(tmp_path: Path):
    first = StateDirLock.acquire("cn1", tmp_path / "s")
    assert (tmp_path / "s" / "lock").read_text().strip().isdigit()
    with pytest.raises(StartError, match=r"^cn2: state dir .* is in use by pybmc process \d+"):
        StateDirLock.acquire("cn2", tmp_path / "s")  # a second descriptor, even in-process
    first.release()
    StateDirLock.acquire("cn2", tmp_path / "s").release()


def test_a_state_dir_below_a_file_is_not_writable(tmp_path: Path):
    (tmp_path / "f").write_text("")
    with pytest.raises(StartError, match="is not writable: Not a directory"):
        StateDirLock.acquire("cn1", tmp_path / "f" / "s")
    assert state_dir_problem(tmp_path / "f" / "s") == f"{tmp_path}/f is not a directory"
    assert state_dir_problem(tmp_path / "new" / "deeper") is None
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("code", "port", "embedded", "hint"), [
    (errno.EADDRINUSE, 623, True, "use another port: --port 6230"),
    (errno.EADDRINUSE, 623, False, "[bmc] port = 6230 in its config"),
    (errno.EACCES, 623, False, "CAP_NET_BIND_SERVICE"),
    (errno.EADDRNOTAVAIL, 623, False, "is on no local interface"),
])
def test_bind_errors_give_a_hint(code: int, port: int, embedded: bool, hint: str):
    message = str(bind_error("cn1", "IPMI", "127.0.0.5", port,
                             OSError(code, "reason"), embedded))
    assert message.startswith("cn1: cannot serve IPMI on 127.0.0.5:623: reason (")
    assert hint in message


def test_no_hint_for_an_unprivileged_port_refused():
    assert str(bind_error("cn1", "IPMI", "127.0.0.5", 6230, OSError(errno.EACCES, "no"))) == \
        "cn1: cannot serve IPMI on 127.0.0.5:6230: no"


def test_loopback_addresses_are_local():
    assert address_is_local("127.0.0.1") and address_is_local("127.201.3.4")
    assert not address_is_local("198.51.100.9")


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("pybmc.state", logging.ERROR, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    BmcFields().filter(entry)
    return entry


def test_lines_name_their_bmc_once_in_text_and_as_a_field_in_json():
    with bmc_context("cn1"):
        plain = record("cannot read %s", "/x")
        prefixed = record("%s: serving", "cn1")
    assert TextFormatter().format(plain).endswith("pybmc.state: cn1: cannot read /x")
    assert TextFormatter().format(prefixed).endswith("pybmc.state: cn1: serving")
    entry = json.loads(JsonFormatter().format(prefixed))
    assert entry["bmc"] == "cn1" and entry["message"] == "serving"
    assert entry["level"] == "error" and entry["time"].endswith("Z")
    assert "bmc" not in json.loads(JsonFormatter().format(record("stopped")))
    assert json.loads(JsonFormatter().format(record("x", session="0x1")))["session"] == "0x1"


async def test_tasks_made_in_a_bmc_context_keep_its_name():
    async def name() -> str:
        return record("later").bmc  # type: ignore[attr-defined, no-any-return]

    with bmc_context("cn7"):
        task = asyncio.get_running_loop().create_task(name())
    assert await task == "cn7"


def test_setup_logging_refuses_unknown_levels_and_quiets_qmp(tmp_path: Path):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with pytest.raises(ValueError, match="unknown log level 'verbose'"):
            setup_logging("verbose")
        setup_logging("debug", "json", tmp_path / "log")
        setup_logging("debug", "json", tmp_path / "log")  # again: still one handler
        assert len(root.handlers) == 1
        assert logging.getLogger("qemu.qmp").getEffectiveLevel() >= logging.WARNING
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def test_sel_events_in_words():
    assert event_words(0x09, 0x6F, bytes([0x00, 0xFF, 0xFF])) == "power off"
    assert event_words(0x22, 0x6F, bytes([0x05])) == "S5/G2 soft-off"
    assert event_words(0x01, 0x01, bytes([0x09])) == "upper critical going high"
    assert event_words(0xC0, 0x70, bytes([0x03])) == "type 0xc0 event 0x70 offset 3"


def test_serve_options_cross_the_exec_unchanged():
    options = ServeOptions(files=("a.toml", "b c.toml"), config_dir="conf.d", log_level="debug",
                           log_format="json", log_file="/tmp/x.log", reset_state=True)
    assert ServeOptions.from_json(options.to_json()) == options
    sources = options.sources()
    assert sources is not None and [str(p) for p in sources.files] == ["a.toml", "b c.toml"]
    assert ServeOptions().sources() is None


def test_the_default_bmc_state_dir_is_per_address(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert embedded_state_dir("127.0.0.1", 623) == tmp_path / "pybmc" / "pybmc-127.0.0.1"
    assert embedded_state_dir("127.0.0.2", 6230) == tmp_path / "pybmc" / "pybmc-127.0.0.2-6230"
    assert parse_config({"bmc": {"name": "x", "address": "127.0.0.1"}}).state_dir == \
        tmp_path / "pybmc" / "x"


def test_two_configs_naming_one_state_dir_are_an_error(tmp_path: Path):
    from pybmc.config.bmc import ConfigError
    from pybmc.config.sources import ConfigSources

    conf = tmp_path / "conf.d"
    conf.mkdir()
    for name, address in (("a", "127.0.0.2"), ("b", "127.0.0.3")):
        (conf / f"{name}.toml").write_text(
            f'[bmc]\nname = "{name}"\naddress = "{address}"\nstate_dir = "../shared"\n')
    (conf / "README").write_text("not a config")
    sources = ConfigSources(config_dir=conf)
    assert [p.name for p in sources.paths()] == ["a.toml", "b.toml"]
    with pytest.raises(ConfigError, match=r"b\.toml: \[bmc\] state_dir: .* is also used in"):
        sources.load()
