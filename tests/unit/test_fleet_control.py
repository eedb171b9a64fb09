"""The control socket's sans-IO protocol (pybmc.core.control) and the VirtualBMC importer
(pybmc.config.vbmc): requests in, decisions and responses out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import parse_config
from pybmc.config.sources import ConfigSources
from pybmc.config.vbmc import VbmcError, read_vbmc_config, read_vbmc_dir, vbmc_tables
from pybmc.core import control
from pybmc.core.bmc import Bmc


def tables(name: str, address: str, tmp_path: Path, **bmc: Any) -> dict[str, Any]:
    return {"bmc": {"name": name, "address": address, "port": 6230,
                    "state_dir": str(tmp_path / "state" / name), **bmc},
            "users": [{"name": "admin", "password": "s3cret", "privilege": "administrator"}]}


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "conf.d"
    directory.mkdir()
    return directory


def config_in(conf_dir: Path, data: dict[str, Any]):
    path = conf_dir / f"{data['bmc']['name']}.toml"
    return parse_config(data, str(path), base_dir=conf_dir)


def fleet_of(conf_dir: Path, tmp_path: Path, running: tuple[str, ...] = ("a",)) -> control.Fleet:
    a = config_in(conf_dir, tables("a", "127.0.0.2", tmp_path))
    b = config_in(conf_dir, tables("b", "127.0.0.3", tmp_path, enabled=False))
    bmcs = {c.name: Bmc(c) for c in (a, b) if c.name in running}
    return control.Fleet((a, b), bmcs, conf_dir)


def request(**fields: Any) -> control.Request:
    return control.parse_request(json.dumps(fields).encode())


@pytest.mark.parametrize("line, message", [
    (b"not json", "not a JSON object"),
    (b"[1]", "not a JSON object"),
    (b'{"op": "reboot"}', "unknown op 'reboot'"),
    (b'{"op": "stop"}', "stop: needs a BMC name"),
    (b'{"op": "show", "name": 3}', "show: needs a BMC name"),
    (b'{"op": "add"}', "add: needs a config"),
    (b"{" + b" " * control.MAX_REQUEST_BYTES + b"}", "request longer than"),
])
def test_bad_requests_are_refused_with_the_reason(line: bytes, message: str):
    with pytest.raises(control.RequestError, match=message):
        control.parse_request(line)


def test_list_shows_running_and_stopped_without_passwords(conf_dir: Path, tmp_path: Path):
    response = control.plan(request(op="list"), fleet_of(conf_dir, tmp_path))
    assert response["ok"] is True
    rows = {row["name"]: row for row in response["bmcs"]}
    assert rows["a"]["state"] == "running" and rows["a"]["power"] == "off"
    assert rows["a"]["sessions"] == 0 and rows["a"]["sol"] is None
    assert rows["b"]["state"] == "stopped" and rows["b"]["power"] is None
    assert rows["b"]["managed"] is True and rows["b"]["users"] == ["admin"]
    assert "s3cret" not in json.dumps(response)


def test_show_of_an_unknown_bmc_is_an_error(conf_dir: Path, tmp_path: Path):
    fleet = fleet_of(conf_dir, tmp_path)
    assert control.plan(request(op="show", name="b"), fleet)["bmc"]["state"] == "stopped"
    assert control.plan(request(op="show", name="zz"), fleet) == {
        "ok": False, "error": "no BMC named 'zz'"}


def test_start_stop_delete_name_the_action_for_the_edge(conf_dir: Path, tmp_path: Path):
    fleet = fleet_of(conf_dir, tmp_path)
    stop = control.plan(request(op="stop", name="a"), fleet)
    assert isinstance(stop, control.Action)
    assert (stop.kind, stop.running, stop.config.enabled) == ("stop", True, False)
    assert stop.path == conf_dir / "a.toml"
    start = control.plan(request(op="start", name="b"), fleet)
    assert isinstance(start, control.Action)
    assert (start.kind, start.running, start.config.enabled) == ("start", False, True)
    delete = control.plan(request(op="delete", name="b"), fleet)
    assert isinstance(delete, control.Action) and not delete.running
    assert control.done(delete, fleet) == {"ok": True, "deleted": "b",
                                           "file": str(conf_dir / "b.toml")}


def test_bmcs_from_the_command_line_are_not_edited(conf_dir: Path, tmp_path: Path):
    outside = parse_config(tables("c", "127.0.0.4", tmp_path), str(tmp_path / "c.toml"))
    fleet = control.Fleet((outside,), {}, conf_dir)
    response = control.plan(request(op="stop", name="c"), fleet)
    assert response["ok"] is False and "given on serve's command line" in response["error"]


def test_add_checks_the_config_and_collisions(conf_dir: Path, tmp_path: Path):
    fleet = fleet_of(conf_dir, tmp_path)
    action = control.plan(request(op="add", config=tables("n", "127.0.0.9", tmp_path)), fleet)
    assert isinstance(action, control.Action) and action.path == conf_dir / "n.toml"
    assert action.config.source == str(conf_dir / "n.toml")
    refusals = [
        (tables("a", "127.0.0.9", tmp_path), "a BMC named 'a' exists already"),
        (tables("n", "127.0.0.3", tmp_path), "127.0.0.3:6230 is the address of b"),
        ({"bmc": {"name": "n", "address": "::"}}, "[bmc] address: is not an IPv4 address"),
        ({"bmc": {"name": "n", "address": "127.0.0.9", "bogus": 1}}, "is not a known key"),
        ({"bmc": {"address": "127.0.0.9"}}, "[bmc] name is required"),
    ]
    for data, message in refusals:
        response = control.plan(request(op="add", config=data), fleet)
        assert response["ok"] is False and message in response["error"], response
    no_dir = control.Fleet(fleet.configs, fleet.running, None)
    response = control.plan(request(op="add", config=tables("n", "127.0.0.9", tmp_path)),
                            no_dir)
    assert "no --config-dir" in response["error"]


def test_a_config_dir_that_does_not_load_blocks_changes_not_list(conf_dir: Path,
                                                                 tmp_path: Path):
    fleet = fleet_of(conf_dir, tmp_path)
    broken = control.Fleet((), fleet.running, conf_dir, load_error="x.toml: not valid TOML")
    listed = control.plan(request(op="list"), broken)
    assert [row["name"] for row in listed["bmcs"]] == ["a"] and "not valid TOML" in \
        listed["warning"]
    assert "fix them first" in control.plan(request(op="stop", name="a"), broken)["error"]


def test_sources_keep_stopped_bmcs_out_of_serving_but_in_the_checks(conf_dir: Path,
                                                                    tmp_path: Path):
    from tests import tomlw

    (conf_dir / "a.toml").write_text(tomlw.dumps(tables("a", "127.0.0.2", tmp_path)))
    (conf_dir / "b.toml").write_text(tomlw.dumps(tables("b", "127.0.0.3", tmp_path,
                                                        enabled=False)))
    sources = ConfigSources((), conf_dir)
    assert [c.name for c in sources.load()] == ["a"]
    assert [(c.name, c.enabled) for c in sources.load_all()] == [("a", True), ("b", False)]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ConfigSources((), empty, allow_empty=True).load() == []


VBMC = """[VirtualBMC]
username = admin
password = password
address = {address}
port = 6231
domain_name = {domain}
libvirt_uri = qemu+ssh://host/system
libvirt_sasl_username = None
libvirt_sasl_password = None
active = {active}
"""


def write_vbmc(directory: Path, domain: str, address: str, active: str = "True") -> Path:
    (directory / domain).mkdir(parents=True)
    path = directory / domain / "config"
    path.write_text(VBMC.format(address=address, domain=domain, active=active))
    return path


def test_vbmc_configs_become_tables(tmp_path: Path):
    write_vbmc(tmp_path, "vm-b", "::ffff:127.0.0.5", "False")
    write_vbmc(tmp_path, "vm-a", "::")
    (tmp_path / "not-a-domain").mkdir()
    entries = read_vbmc_dir(tmp_path)
    assert [e.domain for e in entries] == ["vm-a", "vm-b"]
    assert entries[0].libvirt_uri == "qemu+ssh://host/system" and entries[0].port == 6231
    with pytest.raises(VbmcError, match="give --address A"):
        vbmc_tables(entries[0], None, simulated=True)
    a = vbmc_tables(entries[0], "127.0.0.9", simulated=False)
    assert a["bmc"] == {"name": "vm-a", "address": "127.0.0.9", "port": 6231}
    assert a["power"] == {"backend": "libvirt"}
    assert a["libvirt"] == {"uri": "qemu+ssh://host/system", "domain": "vm-a"}
    b = vbmc_tables(entries[1], None, simulated=True)
    assert b["bmc"] == {"name": "vm-b", "address": "127.0.0.5", "port": 6231, "enabled": False}
    assert b["users"] == [{"name": "admin", "password": "password",
                           "privilege": "administrator"}]
    config = parse_config(b)
    assert (config.enabled, config.power.backend) == (False, "simulated")


def test_bad_vbmc_configs_name_the_file(tmp_path: Path):
    path = tmp_path / "x" / "config"
    path.parent.mkdir()
    path.write_text("[Other]\n")
    with pytest.raises(VbmcError, match=r"x/config: no \[VirtualBMC\] section"):
        read_vbmc_config(path)
    path.write_text("[VirtualBMC]\nusername = a\npassword = b\nport = many\n")
    with pytest.raises(VbmcError, match="port: not a number"):
        read_vbmc_config(path)
    with pytest.raises(VbmcError, match="no <domain>/config files"):
        read_vbmc_dir(tmp_path / "x")


def test_stop_marker_keeps_the_file_and_its_mode(tmp_path: Path):
    import os
    import stat

    from pybmc.config.bmc import load_config
    from pybmc.edge.control import set_enabled, toml_text, write_new_file

    path = tmp_path / "n.toml"
    write_new_file(path, "# my comment\n" + toml_text(tables("n", "127.0.0.9", tmp_path)))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    set_enabled(path, False)
    assert load_config(path).enabled is False
    assert path.read_text().startswith("# my comment\n")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    set_enabled(path, True)
    assert load_config(path).enabled is True and "enabled" not in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.toml"]  # no temporary left
    with pytest.raises(FileExistsError):
        write_new_file(path, "")


def test_add_flags_become_a_config_that_parses():
    import typer

    from pybmc.cli_fleet import backend_tables, bmc_tables, check_address

    qemu = backend_tables("n", None, None, "-m 256 -append 'console=ttyS0 quiet'", False)
    config = parse_config(bmc_tables("n", "127.0.0.9", 6230, "admin", "pw", qemu))
    assert config.power.backend == "qemu"
    assert config.qemu.args == ("-m", "256", "-append", "console=ttyS0 quiet")
    assert config.users[0].name == "admin" and config.users[0].privilege.name == "ADMINISTRATOR"
    assert check_address("::ffff:127.0.0.9") == "127.0.0.9"
    for bad in ("::", "0.0.0.0", "fe80::1", "host"):
        with pytest.raises(typer.Exit):
            check_address(bad)
    libvirt = parse_config(bmc_tables("n", "127.0.0.9", 623, "admin", "pw",
                                      backend_tables("n", None, None, None, False)))
    assert libvirt.power.backend == "libvirt"  # no backend flag: NAME is the domain
    assert (libvirt.libvirt.domain, libvirt.libvirt.uri) == ("n", "qemu:///system")
    other = backend_tables("n", "vm", "qemu+ssh://h/system", None, False)
    assert other["libvirt"] == {"domain": "vm", "uri": "qemu+ssh://h/system"}
    with pytest.raises(typer.Exit):
        backend_tables("n", None, None, "-m 1", True)  # two backends
