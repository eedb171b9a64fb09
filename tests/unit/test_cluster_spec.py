"""The cluster file: defaults, generators, deterministic MACs, clear errors, generated configs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pybmc.cluster import generate, nat
from pybmc.cluster.example import EXAMPLE
from pybmc.cluster.spec import deterministic_mac, expand_template, parse_cluster
from pybmc.config.bmc import ConfigError, parse_config

BASE = {
    "cluster": {"name": "lab", "netns": "pybmctunit"},
    "network": {"bridge": "br0", "address": "192.168.123.1/24"},
    "defaults": {"memory": 512, "users": [{"name": "admin", "password": "secret"}]},
    "nodes": [{"name": "cn1", "ip": "192.168.123.3", "mac": "00:00:00:00:00:02",
               "bmc": "192.168.123.4"},
              {"name": "cn2", "bmc": "192.168.123.6", "memory": 2048}],
}


def spec_of(data: dict, base: Path = Path("/lab")):
    return parse_cluster(data, "lab.toml", base)


def with_changes(section: str, **changes) -> dict:
    data = {key: (dict(value) if isinstance(value, dict) else list(value))
            for key, value in BASE.items()}
    data[section] = {**data[section], **changes}
    return data


def test_example_file_parses_into_the_xcat_lab():
    spec = spec_of(tomllib.loads(EXAMPLE))
    assert [(n.name, n.ip, n.bmc, n.mac) for n in spec.nodes] == [
        ("cn1", "192.168.123.3", "192.168.123.4", "00:00:00:00:00:02"),
        ("cn2", "192.168.123.5", "192.168.123.6", "00:00:00:00:00:03")]
    assert spec.state_dir == Path("/lab/state") and not spec.provision.enabled


def test_defaults_apply_and_nodes_override_them():
    spec = spec_of(BASE)
    cn1, cn2 = spec.nodes
    assert (cn1.memory, cn2.memory) == (512, 2048)
    assert cn1.users[0].name == "admin" and cn1.users[0].privilege == "administrator"
    assert cn1.boot == ("network", "disk") and cn1.firmware == "bios"
    assert spec.netns == "pybmctunit"


def test_missing_mac_is_deterministic_and_distinct():
    first, second = spec_of(BASE), spec_of(BASE)
    assert first.nodes[1].mac == second.nodes[1].mac == deterministic_mac("lab", "cn2")
    assert first.nodes[1].mac.startswith("52:54:00:")
    assert deterministic_mac("lab", "cn2") != deterministic_mac("lab", "cn3")
    assert deterministic_mac("lab", "cn2") != deterministic_mac("other", "cn2")


@pytest.mark.parametrize(("template", "n", "expected"), [
    ("cn{n}", 3, "cn3"), ("192.168.123.{2n+2}", 1, "192.168.123.4"),
    ("192.168.123.{2n+2}", 2, "192.168.123.6"), ("x{n-1}", 1, "x0"), ("cn{n:03}", 7, "cn007"),
    ("plain", 5, "plain"),
])
def test_template_expansion(template: str, n: int, expected: str):
    assert expand_template(template, n) == expected


def test_generator_expands_in_order_after_listed_nodes():
    data = dict(BASE)
    data["nodes"] = [{"name": "svc", "bmc": "192.168.123.2"},
                     {"count": 3, "name": "cn{n}", "bmc": "192.168.123.{2n+2}",
                      "ip": "192.168.123.{2n+1}"}]
    spec = spec_of(data)
    assert [n.name for n in spec.nodes] == ["svc", "cn1", "cn2", "cn3"]
    assert [n.bmc for n in spec.nodes[1:]] == ["192.168.123.4", "192.168.123.6", "192.168.123.8"]
    assert [n.index for n in spec.nodes] == [1, 2, 3, 4]
    assert len({n.mac for n in spec.nodes}) == 4


def test_generator_as_a_single_table():
    data = {**BASE, "nodes": {"count": 50, "name": "n{n}", "bmc": "10.0.{n}.1"}}
    data["network"] = {"address": "10.0.0.254/16"}
    spec = spec_of(data)
    assert len(spec.nodes) == 50 and spec.nodes[-1].bmc == "10.0.50.1"
    assert len({spec.tap_name(n) for n in spec.nodes}) == 50
    assert all(len(spec.tap_name(n)) <= 15 for n in spec.nodes)


@pytest.mark.parametrize(("data", "message"), [
    (with_changes("cluster", name="bad name"), "[cluster] name: must be letters"),
    (with_changes("cluster", netns="a/b"), "[cluster] netns: is not a usable namespace"),
    (with_changes("cluster", colour="red"), "[cluster] colour: is not a known key"),
    (with_changes("network", address="300.1.1.1/24"), "[network] address: must be like"),
    (with_changes("network", bridge="a-very-long-bridge-name"), "[network] bridge: must be 1"),
    (with_changes("defaults", firmware="coreboot"), "[defaults] firmware: must be one of"),
    (with_changes("network", head="router"), "[network] head: must be one of lab, host"),
    ({**with_changes("network", head="host"), "cluster": {"name": "lab"}},
     "[network] head: \"host\" needs [cluster] netns"),
    (with_changes("defaults", boot=["floppy"]), "[defaults] boot: 'floppy' is not one of"),
    (with_changes("defaults", memory=True), "[defaults] memory: has the wrong type"),
    ({**BASE, "nodes": [{"name": "cn1", "bmc": "10.1.1.1"}]},
     "[nodes.0] bmc: 10.1.1.1 is outside the bridge's subnet"),
    ({**BASE, "nodes": [{"name": "cn1", "bmc": "192.168.123.1"}]},
     "[nodes.0] bmc: 192.168.123.1 is already the host address"),
    ({**BASE, "nodes": [{"name": "a", "bmc": "192.168.123.4"},
                        {"name": "b", "bmc": "192.168.123.4"}]},
     "[nodes.1] bmc: 192.168.123.4 is already bmc of a"),
    ({**BASE, "nodes": [{"name": "a", "bmc": "192.168.123.4"},
                        {"name": "a", "bmc": "192.168.123.5"}]}, "node 'a' is defined twice"),
    ({**BASE, "nodes": [{"name": "a", "bmc": "192.168.123.4", "mac": "00:11"}]},
     "[nodes.0] mac: is not a MAC address"),
    ({**BASE, "nodes": [{"name": "a", "bmc": "192.168.123.4", "mac": "52:54:00:00:00:01"},
                        {"name": "b", "bmc": "192.168.123.5", "mac": "52:54:00:00:00:01"}]},
     "mac: 52:54:00:00:00:01 is already mac of a"),
    ({**BASE, "nodes": [{"name": "a"}]}, "[nodes.0] bmc: is required"),
    ({**BASE, "nodes": []}, "at least one node is required"),
    ({**BASE, "nodes": {"count": 2, "name": "cn", "bmc": "192.168.123.{n+9}"}},
     "name: of a generator must contain {n}"),
    ({**BASE, "nodes": {"count": 0, "name": "cn{n}", "bmc": "192.168.123.{n}"}},
     "count: must be between 1 and 4096"),
    ({**BASE, "provision": {"range": "192.168.123.100,192.168.123.199"}},
     "[provision] kernel: is required"),
    ({**BASE, "provision": {"range": "10.0.0.1,10.0.0.9", "kernel": "k"}},
     "[provision] range: 10.0.0.1 is outside"),
    ({**BASE, "extra": {}}, "[extra]: is not a known section"),
])
def test_bad_files_name_the_key(data: dict, message: str):
    with pytest.raises(ConfigError) as caught:
        spec_of(data)
    assert message in str(caught.value)
    assert str(caught.value).startswith("lab.toml: ")


def test_generated_bmc_config_is_a_valid_pybmc_config():
    spec = spec_of(BASE)
    cn1 = spec.nodes[0]
    text = generate.to_toml(generate.bmc_config(spec, cn1))
    config = parse_config(tomllib.loads(text), "cn1.toml")
    assert config.name == "cn1" and config.address == "192.168.123.4"
    assert config.power.backend == "qemu"
    assert config.lan_settings.interface == "br0"
    assert config.lan_settings.gateway == "192.168.123.1"
    assert [u.name for u in config.users] == ["admin"]
    args = config.qemu.args
    assert "tap,id=net0-tap,ifname=br0t1,script=no,downscript=no" in args
    assert "virtio-net-pci,netdev=net0-tap,id=net0,mac=00:00:00:00:00:02,bootindex=1" in args
    assert "virtio-blk-pci,drive=disk0-drive,id=disk0,bootindex=2" in args
    assert args[args.index("-m") + 1] == "512"
    assert "-boot" not in args  # the order is the devices' bootindex
    assert config.state_dir == Path("/lab/state/nodes/cn1/bmc")


def test_uefi_node_gets_ovmf_and_strings_are_quoted():
    data = with_changes("defaults", firmware="uefi", qemu_args=["-name", 'odd "quoted" \\ name'])
    spec = spec_of(data)
    config = parse_config(tomllib.loads(generate.to_toml(generate.bmc_config(spec,
                                                                           spec.nodes[0]))))
    assert f"if=pflash,format=raw,readonly=on,file={generate.OVMF_CODE}" in config.qemu.args
    assert "if=pflash,format=raw,file=/lab/state/nodes/cn1/OVMF_VARS.fd" in config.qemu.args
    assert config.qemu.args[-1] == 'odd "quoted" \\ name'


def test_dnsmasq_config_reserves_every_node_and_chains_ipxe():
    data = {**BASE, "provision": {"range": "192.168.123.100,192.168.123.199",
                                  "kernel": "guest/vmlinuz", "initrd": "bmcsetup.img",
                                  "cmdline": "console=ttyS0"}}
    spec = spec_of(data)
    text = generate.dnsmasq_config(spec, Path("/s/tftp"), Path("/s/leases"), Path("/s/pid"))
    lines = text.splitlines()
    assert "interface=br0" in lines and "port=0" in lines and "enable-tftp" in lines
    assert "dhcp-range=192.168.123.100,192.168.123.199,255.255.255.0,12h" in lines
    assert "dhcp-host=00:00:00:00:00:02,cn1,192.168.123.3" in lines
    assert f"dhcp-host={spec.nodes[1].mac},cn2" in lines
    assert "dhcp-boot=tag:ipxe,boot.ipxe" in lines and "tftp-root=/s/tftp" in lines
    script = generate.ipxe_script(spec, spec.nodes[0])
    assert script.splitlines() == ["#!ipxe", "echo pybmc cluster lab: booting cn1",
                                   "initrd bmcsetup.img", "kernel vmlinuz console=ttyS0", "boot"]
    assert generate.ipxe_script_name(spec.nodes[0]) == "00-00-00-00-00-02.ipxe"
    assert "${mac:hexhyp}.ipxe" in generate.ipxe_dispatch()


def test_per_node_cmdline_is_appended():
    data = {**BASE, "provision": {"range": "192.168.123.100,192.168.123.199", "kernel": "k"}}
    data["nodes"] = [{"name": "cn1", "bmc": "192.168.123.4", "cmdline": "quiet"}]
    spec = spec_of(data)
    assert "kernel k console=ttyS0,115200 quiet" in generate.ipxe_script(spec, spec.nodes[0])


def test_head_outside_names_the_veth_and_nat_masquerades_the_subnet():
    data = {**with_changes("network", head="host", nat=True),
            "cluster": {"name": "lab", "netns": "pybmcabcdefghij"}}
    spec = spec_of(data)
    assert spec.head_outside and spec.veth_names() == ("pybmcabcde-head", "head0")
    text = nat.ruleset(nat.table_name(spec), spec.network.interface.network)
    assert "table ip pybmc-lab {}\ndelete table ip pybmc-lab\n" in text
    assert "ip saddr 192.168.123.0/24 ip daddr != 192.168.123.0/24 masquerade" in text


def test_sol_state_comes_from_the_serves_list_answer():
    from pybmc.cluster.status import sol_from_list

    spec = spec_of(BASE)
    names = [node.name for node in spec.nodes]
    bmcs = [{"name": names[0], "state": "running", "sol": "admin@192.168.123.1:40000"},
            {"name": names[1], "state": "failed", "sol": None}]
    assert sol_from_list(spec, bmcs) == {names[0]: ("active", "admin@192.168.123.1:40000")}
    bmcs[0]["sol"] = None
    assert sol_from_list(spec, bmcs) == {names[0]: ("inactive", None)}
    assert sol_from_list(spec, None) == {}
    assert sol_from_list(spec, {"error": "x"}) == {}


def test_serve_gets_a_control_socket_in_the_run_dir():
    from pybmc.cluster.lab import control_socket_path, serve_command

    spec = spec_of(BASE)
    command = serve_command(spec)
    assert command[command.index("--control") + 1] == str(control_socket_path(spec))


def test_http_boot_puts_urls_of_the_head_in_the_ipxe_script():
    data = {**BASE, "provision": {"range": "192.168.123.100,192.168.123.199",
                                  "kernel": "guest/vmlinuz", "initrd": "bmcsetup.img",
                                  "http": True, "http_port": 8081}}
    spec = spec_of(data)
    lines = generate.ipxe_script(spec, spec.nodes[0]).splitlines()
    assert "initrd http://192.168.123.1:8081/bmcsetup.img" in lines
    assert any(line.startswith("kernel http://192.168.123.1:8081/vmlinuz ") for line in lines)
    bad = {**data, "provision": {**data["provision"], "http_port": 0}}
    with pytest.raises(ConfigError, match="http_port: must be between 1 and 65535"):
        spec_of(bad)


def test_ironic_redfish_export_names_each_bmcs_redfish_service():
    import json

    from pybmc.cluster.export import export

    spec = spec_of(BASE)
    nodes = json.loads(export(spec, "ironic-redfish", {"cn1": "192.168.123.44"}))["nodes"]
    assert [n["driver"] for n in nodes] == ["redfish", "redfish"]
    info = nodes[0]["driver_info"]
    assert info["redfish_address"] == "https://192.168.123.44"
    assert info["redfish_system_id"] == "/redfish/v1/Systems/cn1"
    assert (info["redfish_username"], info["redfish_password"]) == ("admin", "secret")
    assert nodes[1]["driver_info"]["redfish_address"] == "https://192.168.123.6"
    assert nodes[0]["ports"] == [{"address": "00:00:00:00:00:02"}]
