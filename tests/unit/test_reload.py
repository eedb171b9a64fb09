"""SIGHUP reload: which BMCs a new set of configs adds, removes, restarts or leaves alone
(`diff_configs`, pure), and how the reloader applies that to a running set."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from pybmc.config.bmc import BmcConfig, ConfigError, parse_config
from pybmc.edge.reload import ConfigReloader, diff_configs, same_config


def config(name: str, address: str = "127.0.0.2", source: str = "/etc/pybmc/x.toml",
           **sections: Any) -> BmcConfig:
    data: dict[str, Any] = {"bmc": {"name": name, "address": address,
                                    "state_dir": f"/tmp/pybmc-test-{name}"},
                            "users": [{"name": "admin", "password": "pw",
                                       "privilege": "administrator"}]}
    data.update(sections)
    return parse_config(data, source)


# ------------------------------------------------------------------ diff_configs
def test_identical_configs_are_unchanged():
    old = [config("a"), config("b", "127.0.0.3")]
    new = [config("a"), config("b", "127.0.0.3")]
    diff = diff_configs(old, new)
    assert diff.empty and diff.unchanged == ("a", "b")
    assert diff.describe() == "2 unchanged"


def test_added_removed_and_changed_are_told_apart():
    old = [config("a"), config("b", "127.0.0.3"), config("gone", "127.0.0.4")]
    new = [config("a"), config("b", "127.0.0.9"), config("c", "127.0.0.5")]
    diff = diff_configs(old, new)
    assert [c.name for c in diff.added] == ["c"]
    assert diff.removed == ("gone",)
    assert [(c.name, c.address) for c in diff.changed] == [("b", "127.0.0.9")]
    assert diff.unchanged == ("a",)
    assert diff.describe() == "added c; removed gone; restarted b; 1 unchanged"


@pytest.mark.parametrize("sections", [
    {"users": [{"name": "admin", "password": "other", "privilege": "administrator"}]},
    {"power": {"soft_off_delay": 3.0}},
    {"security": {"cipher_suites": [17]}},  # not the default [3, 17]
    # Only in the raw tables: the platform is built from them.
    {"sel": {"capacity": 100}},
    {"sensors": [{"name": "Temp", "number": 3, "type": "temperature", "unit": "degrees C",
                  "behaviour": "constant", "nominal": 40}]},
])
def test_any_setting_makes_a_bmc_changed(sections: dict[str, Any]):
    diff = diff_configs([config("a")], [config("a", **sections)])
    assert [c.name for c in diff.changed] == ["a"] and not diff.unchanged


def test_a_renamed_file_in_the_same_directory_is_the_same_bmc():
    assert same_config(config("a", source="/etc/pybmc/a.toml"),
                       config("a", source="/etc/pybmc/node-a.toml"))


def test_a_file_moved_to_another_directory_is_changed():
    # Relative paths inside it (state_dir, FRU files) now resolve elsewhere.
    assert not same_config(config("a", source="/etc/pybmc/a.toml"),
                           config("a", source="/srv/pybmc/a.toml"))


def test_a_renamed_bmc_is_removed_and_added():
    diff = diff_configs([config("a")], [config("a2")])
    assert diff.removed == ("a",) and [c.name for c in diff.added] == ["a2"]


# ------------------------------------------------------------------ the reloader
class Loaded:
    """Config sources whose load() is the given function."""

    def __init__(self, load: Callable[[], list[BmcConfig]]) -> None:
        self.load = load


class FakeServer:
    """The running set as the reloader sees it; records what it was asked to do."""

    def __init__(self, configs: list[BmcConfig], refuse: set[tuple[str, str]] | None = None):
        self.configs = {c.name: c for c in configs}
        self.calls: list[str] = []
        self.refuse = refuse or set()  # (name, address) pairs whose start fails

    @property
    def running_configs(self) -> list[BmcConfig]:
        return list(self.configs.values())

    async def add_bmc(self, cfg: BmcConfig) -> None:
        self.calls.append(f"start {cfg.name} {cfg.address}")
        if (cfg.name, cfg.address) in self.refuse:
            raise OSError(98, "Address already in use")
        self.configs[cfg.name] = cfg

    async def remove_bmc(self, name: str) -> None:
        self.calls.append(f"stop {name}")
        del self.configs[name]


async def test_stops_come_before_starts_so_addresses_can_move():
    server = FakeServer([config("a"), config("b", "127.0.0.3"), config("keep", "127.0.0.7")])
    # b takes a's address, a is removed, c is new.
    new = [config("b", "127.0.0.2"), config("c", "127.0.0.4"), config("keep", "127.0.0.7")]
    diff = await ConfigReloader(server, Loaded(lambda: new)).reload()
    assert diff is not None
    assert server.calls == ["stop a", "stop b", "start b 127.0.0.2", "start c 127.0.0.4"]
    assert sorted(server.configs) == ["b", "c", "keep"]


async def test_a_config_error_keeps_the_running_set(caplog: pytest.LogCaptureFixture):
    server = FakeServer([config("a")])

    def broken() -> list[BmcConfig]:
        raise ConfigError("/etc/pybmc/b.toml: not valid TOML: Expected '=' (at line 2)")

    with caplog.at_level(logging.INFO, logger="pybmc.reload"):
        assert await ConfigReloader(server, Loaded(broken)).reload() is None
    assert server.calls == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "b.toml" in errors[0].getMessage()
    assert "previous configuration" in errors[0].getMessage()


async def test_a_changed_bmc_that_cannot_start_gets_its_previous_config_back(
        caplog: pytest.LogCaptureFixture):
    server = FakeServer([config("a")], refuse={("a", "127.0.0.9")})
    with caplog.at_level(logging.INFO, logger="pybmc.reload"):
        await ConfigReloader(server, Loaded(lambda: [config("a", "127.0.0.9")])).reload()
    assert server.calls == ["stop a", "start a 127.0.0.9", "start a 127.0.0.2"]
    assert server.configs["a"].address == "127.0.0.2"
    text = caplog.text
    assert "a: cannot start on 127.0.0.9:623" in text and "previous config" in text


async def test_a_new_bmc_that_cannot_start_does_not_stop_the_others(
        caplog: pytest.LogCaptureFixture):
    server = FakeServer([config("a")], refuse={("c", "127.0.0.4")})
    new = [config("a"), config("c", "127.0.0.4"), config("d", "127.0.0.5")]
    with caplog.at_level(logging.INFO, logger="pybmc.reload"):
        await ConfigReloader(server, Loaded(lambda: new)).reload()
    assert server.calls == ["start c 127.0.0.4", "start d 127.0.0.5"]
    assert sorted(server.configs) == ["a", "d"]
    assert "reload: added c, d; 1 unchanged; could not start c" in caplog.text


async def test_a_hangup_during_a_reload_runs_one_more():
    server = FakeServer([config("a")])
    loads: list[int] = []

    def load() -> list[BmcConfig]:
        loads.append(1)
        if len(loads) == 1:
            reloader.request()  # a second SIGHUP while the first reload runs
            reloader.request()  # ... and a third: still only one more
        return [config("a", f"127.0.0.{len(loads) + 1}")]

    reloader = ConfigReloader(server, Loaded(load))
    reloader.request()
    await reloader.wait_idle()
    assert len(loads) == 2
    assert server.configs["a"].address == "127.0.0.3"

