"""What lets one process hold a thousand BMCs: shared config sections, a config dir that an
add does not read again, first files written after every BMC answers, shared empty records."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pybmc.config import sources
from pybmc.config.bmc import ConfigError, parse_config
from pybmc.config.share import memo_by_section, share_sections
from pybmc.config.sources import ConfigSources
from pybmc.core.bmc import Bmc
from pybmc.model.platform.sel import SEL_FILE
from pybmc.model.state import STATE_FILE, UserRecord
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from tests.unit.test_config_sources import write_bmc


def tables(name: str, address: str, state_dir: Path) -> dict[str, Any]:
    return {"bmc": {"name": name, "address": address, "state_dir": str(state_dir)},
            "users": [{"name": "admin", "password": "secret"}],
            "sensors": [{"name": "Temp", "type": "temperature", "behaviour": "constant",
                         "nominal": 40.0}],
            "fru": {"board": {"serial_number": "SN1"}}}


def test_equal_sections_of_two_bmcs_are_one_object_and_configs_stay_as_parsed(tmp_path: Path):
    first_data = tables("cn1", "127.0.0.2", tmp_path / "cn1")
    first = parse_config(first_data)
    second = parse_config(tables("cn2", "127.0.0.3", tmp_path / "cn2"))
    assert first.raw["sensors"] is second.raw["sensors"]
    assert first.raw["fru"] is second.raw["fru"]
    assert "bmc" not in first.raw  # its keys are the config's fields
    assert first.raw == {k: v for k, v in first_data.items() if k != "bmc"}
    assert first_data["bmc"]["name"] == "cn1"  # the caller's tables are left as they were
    assert first.security is second.security and first.users is second.users
    other = parse_config({**tables("cn3", "127.0.0.4", tmp_path / "cn3"),
                          "sensors": [{"name": "Temp", "type": "temperature",
                                       "behaviour": "constant", "nominal": 41.0}]})
    assert other.raw["sensors"] is not first.raw["sensors"]
    assert other.raw["sensors"][0]["nominal"] == 41.0


def test_equal_values_of_other_types_are_not_shared():
    ints = share_sections({"power": {"cycle_interval": 1}})
    floats = share_sections({"power": {"cycle_interval": 1.0}})
    assert type(ints["power"]["cycle_interval"]) is int
    assert type(floats["power"]["cycle_interval"]) is float


def test_a_section_parse_is_remembered_but_not_its_error():
    section = share_sections({"sensors": [{"name": "X"}]})["sensors"]
    calls: list[int] = []

    def failing() -> int:
        calls.append(1)
        raise ConfigError("bad")

    for _ in range(2):
        with pytest.raises(ConfigError):
            memo_by_section("test-fail", section, failing)
    assert len(calls) == 2
    assert memo_by_section("test-ok", section, lambda: 7) == 7
    assert memo_by_section("test-ok", section, lambda: 8) == 7


def test_an_add_sees_new_and_removed_files_without_reading_the_others_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    parsed: list[str] = []
    real = sources.load_checked

    def counting(path: Path):  # type: ignore[no-untyped-def]
        parsed.append(path.name)
        return real(path)

    monkeypatch.setattr(sources, "load_checked", counting)
    edited = write_bmc(tmp_path, "cn1", "127.0.0.2")
    removed = write_bmc(tmp_path, "cn2", "127.0.0.3")
    fleet = ConfigSources(config_dir=tmp_path, allow_empty=True)
    assert [c.name for c in fleet.load_all()] == ["cn1", "cn2"]
    parsed.clear()
    edited.write_text(edited.read_text().replace("127.0.0.2", "127.0.0.9"))
    os.utime(edited, ns=(1, 1))  # a new mtime whatever the clock's resolution
    removed.unlink()
    write_bmc(tmp_path, "cn3", "127.0.0.4")
    quick = fleet.load_all(recheck_files=False)
    assert [(c.name, c.address) for c in quick] == [("cn1", "127.0.0.2"), ("cn3", "127.0.0.4")]
    assert parsed == ["cn3.toml"]
    assert [(c.name, c.address) for c in fleet.load_all()] == [
        ("cn1", "127.0.0.9"), ("cn3", "127.0.0.4")]
    assert parsed == ["cn3.toml", "cn1.toml"]


def test_collisions_are_still_refused_by_a_quick_load(tmp_path: Path):
    write_bmc(tmp_path, "cn1", "127.0.0.2")
    fleet = ConfigSources(config_dir=tmp_path, allow_empty=True)
    fleet.load_all()
    write_bmc(tmp_path, "cn2", "127.0.0.2")
    with pytest.raises(ConfigError, match=r"127\.0\.0\.2:623 is also used"):
        fleet.load_all(recheck_files=False)


def test_first_files_wait_for_write_deferred_and_a_change_is_saved_before_its_reply(
        tmp_path: Path):
    bmc = Bmc(parse_config(tables("cn1", "127.0.0.2", tmp_path)), begin=False)
    bmc.begin(defer_writes=True)
    assert not (tmp_path / STATE_FILE).exists() and not (tmp_path / SEL_FILE).exists()
    assert len(bmc.platform.sel.entries) == 1  # the start event, in memory already
    bmc.write_deferred(durable=False)
    assert json.loads((tmp_path / SEL_FILE).read_text())["entries"] == [
        bmc.platform.sel.entries[0].hex()]
    assert (tmp_path / STATE_FILE).exists()

    other = tmp_path / "other"
    again = Bmc(parse_config(tables("cn2", "127.0.0.3", other)), begin=False)
    again.begin(defer_writes=True)
    ctx = again.context(LAN_CHANNEL, Privilege.ADMINISTRATOR)
    # Set User Name 5 "x": the state is written before the reply, as always.
    assert again.execute(ctx, 0x06, 0x45, bytes([5]) + b"x".ljust(16, b"\0")) == b"\x00"
    saved = json.loads((other / STATE_FILE).read_text())
    assert bytes.fromhex(saved["users"]["5"]["name"]) == b"x"
    again.write_deferred(durable=False)
    assert json.loads((other / STATE_FILE).read_text()) == saved


def test_empty_user_records_share_no_access_until_one_is_given_some():
    a, b = UserRecord(user_id=5), UserRecord(user_id=6)
    assert a.access is b.access and not a.access
    a.access_on(LAN_CHANNEL).privilege = 2
    assert a.access[LAN_CHANNEL].privilege == 2
    assert not b.access and not UserRecord(user_id=7).access


def test_configured_users_share_their_access_until_one_is_changed(tmp_path: Path):
    first = Bmc(parse_config(tables("cn1", "127.0.0.2", tmp_path / "a")), begin=False)
    second = Bmc(parse_config(tables("cn2", "127.0.0.3", tmp_path / "b")), begin=False)
    mine, theirs = first.users.get(2), second.users.get(2)
    assert mine is not None and theirs is not None and mine.access is theirs.access
    mine.access_on(LAN_CHANNEL).privilege = 2
    assert first.users.privilege_limit(mine) == Privilege.USER
    assert second.users.privilege_limit(theirs) == Privilege.ADMINISTRATOR
