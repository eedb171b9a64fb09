"""Config parsing: defaults, validation, and one-line errors naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.config.bmc import ConfigError, load_config, parse_config
from pybmc.wire.codes import Privilege

MINIMAL = {"bmc": {"name": "cn1", "address": "127.0.0.2"}}


def test_minimal_config_gets_documented_defaults():
    config = parse_config(MINIMAL)
    assert config.port == 623
    assert config.power.backend == "simulated"
    assert config.security.cipher_suites == (3, 17)
    assert config.security.auth_types == ("md5",)
    assert (config.security.login_rate, config.security.login_burst) == (20.0, 60)
    assert config.security.weak_options() == []
    assert config.security.session_timeout == 60.0
    assert config.state_dir.name == "cn1"
    # The GUID is stable for a name, so a restart keeps the identity.
    assert config.guid == parse_config(MINIMAL).guid


def test_weak_options_are_named_only_when_the_config_asks_for_them():
    config = parse_config({**MINIMAL, "security": {
        "cipher_suites": [0, 1, 2, 3, 17], "auth_types": ["none", "md2", "md5", "password"],
        "login_rate": 0}})
    weak = config.security.weak_options()
    assert [w.split(" (")[0] for w in weak] == [
        "cipher suite 0", "cipher suite 1", "cipher suite 2", "IPMI 1.5 auth type none",
        "IPMI 1.5 auth type md2", "IPMI 1.5 auth type password", "no login throttling"]
    assert "inject commands" in weak[1] and "in clear" in weak[2]
    strong = parse_config({**MINIMAL, "security": {"cipher_suites": [3, 8, 12, 17],
                                                   "auth_types": ["md5"]}})
    assert strong.security.weak_options() == []


def test_users_get_ids_from_2_and_privileges():
    config = parse_config({**MINIMAL, "users": [
        {"name": "admin", "password": "secret"},
        {"name": "op", "password": "x", "privilege": "operator", "id": 5},
        {"name": "u", "password": "y", "privilege": "user"},
    ]})
    assert [(u.name, u.user_id, u.privilege) for u in config.users] == [
        ("admin", 2, Privilege.ADMINISTRATOR), ("op", 5, Privilege.OPERATOR),
        ("u", 3, Privilege.USER)]


@pytest.mark.parametrize(("data", "needle"), [
    ({}, "[bmc]: is required"),
    ({"bmc": {"address": "127.0.0.2"}}, "[bmc] name: is required"),
    ({"bmc": {"name": "a", "address": "localhost"}}, "[bmc] address: is not an IPv4"),
    ({"bmc": {"name": "a", "address": "127.0.0.2", "port": 70000}}, "[bmc] port: must be"),
    ({"bmc": {"name": "a", "address": "127.0.0.2", "prot": 1}}, "[bmc] prot: is not a known key"),
    ({**MINIMAL, "users": [{"name": "a", "privilege": "god"}]}, "[users.0] privilege"),
    ({**MINIMAL, "users": [{"name": "a", "password": "x" * 21}]}, "[users.0] password"),
    ({**MINIMAL, "users": [{"name": "a"}, {"name": "a"}]}, "defined twice"),
    ({**MINIMAL, "security": {"cipher_suites": [3, 4]}}, "[security] cipher_suites"),
    ({**MINIMAL, "security": {"auth_types": ["md4"]}}, "[security] auth_types"),
    ({**MINIMAL, "security": {"login_rate": -1}}, "[security] login_rate"),
    ({**MINIMAL, "security": {"login_burst": 0}}, "[security] login_burst"),
    ({**MINIMAL, "power": {"backend": "vbox"}}, "[power] backend"),
    ({**MINIMAL, "power": {"backend": "command"}}, "[power] command_on: is required"),
    ({**MINIMAL, "power": {"soft_off_delay": True}}, "not a boolean"),
    ({**MINIMAL, "nonsense": {}}, "[nonsense]: is not a known section"),
])
def test_errors_name_the_key(data: dict, needle: str):
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="cn1.toml")
    message = str(err.value)
    assert message.startswith("cn1.toml: ")
    assert needle in message
    assert "\n" not in message


def test_load_config_reports_toml_syntax_errors_with_the_file(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text("[bmc\nname = 1\n")
    with pytest.raises(ConfigError, match=f"{path}: not valid TOML"):
        load_config(path)


def test_relative_state_dir_is_relative_to_the_config_file(tmp_path: Path):
    path = tmp_path / "cn1.toml"
    path.write_text('[bmc]\nname = "cn1"\naddress = "127.0.0.2"\nstate_dir = "state/cn1"\n')
    assert load_config(path).state_dir == tmp_path / "state" / "cn1"
