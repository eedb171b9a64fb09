"""`pybmc import-lanconf`: ipmi_sim lan.conf/.emu files, in the shapes their users write, become
pybmc configs that pybmc accepts; what cannot be translated is a warning naming its line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.config.lanconf import (
    LanConfError,
    check_translation,
    import_lanconf_command,
    parse_fru,
    split_tokens,
    translate_files,
)

# OpenIPMI's sample lan.conf (lanserv/lan.conf), as openipmi.md §1.1 quotes it.
OPENIPMI_LAN_CONF = """\
# sample
name "ipmisim1"
set_working_mc 0x20
  startlan 1
    addr localhost 9001
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
    lan_config_program "./ipmi_sim_lancontrol eth1"
  endlan
  serial 15 localhost 9002 codec VM
  startcmd "qemu-system-x86_64 -chardev socket,id=ipmi0,host=localhost,port=9002 -device x"
  sol "telnet:localhost:9003" 115200
  startnow false
  #poweroff_wait 30
  #kill_wait 5
  user 1 true  ""        "test" user     10       none md2 md5 straight
  user 2 true  "ipmiusr" "test" admin    10       none md2 md5 straight
"""

# OpenIPMI's ipmisim1.emu, as openipmi.md §1.3 quotes it.
OPENIPMI_EMU = """\
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
sensor_add 0x20 0 0 35 0x6f event-only          # watchdog sensor, must be #0
sensor_add 0x20 0 1 0x01 0x01
sensor_set_value 0x20 0 1 0x60 0
sensor_set_threshold 0x20 0 1 settable 111000 0xa0 0x90 0x70 00 00 00
mc_add_fru_data 0x30 3 128 data 0
mc_add 0x30 2 no-device-sdrs 0x98 0x10 1 0xa0 0x1291 0xf03
mc_enable 0x30
mc_enable 0x20
"""

# One compute node of the qemu-ipmi layout (qemu.md §1: CN1/lan.conf).
CN1_LAN_CONF = """\
name "CN1"
set_working_mc 0x20
  startlan 1
    addr 192.168.123.4 623
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid 00112233445566778899aabbccddeeff
    lan_config_program "../scripts/ipmi_sim_lancontrol br0"
  endlan
  serial 15 localhost 9102 codec VM
  startcmd "./CN1-qemu.sh"
  sol "telnet:192.168.123.1:9103" 115200
  startnow false
  user 1 true  ""        "test" user     10       none md2 md5 straight
  user 2 true  "ipmiusr" "test" admin    10       none md2 md5 straight
"""

# A full sensor record (IPMI 2.0 §43.1) for sensor 3 "CPU Temp": M=2, B=10, R exp -1,
# so reading = (2 raw + 10) / 10.
CPU_TEMP_SDR = ("00 00 51 01 33 20 00 03 07 01 7f 48 01 01 00 00 00 00 12 12 00 01 00 00 02 00 "
                "0a 00 00 f0 00 30 50 00 ff 00 00 5a 55 00 00 00 00 00 00 00 00 c8 43 50 55 "
                "20 54 65 6d 70")

# A FRU image: chassis (rack mount, CHS-1, CH0001), board (pybmc, Virtual board, SN0001,
# PN0001, made 2024-01-01 00:00 UTC) and product areas (pybmc, Virtual server, VS-1, 1.0,
# VS0001, ASSET1).
FRU_IMAGE = bytes.fromhex(
    "010001040a0000f0010317c54348532d31c6434830303031c100000000000011010600e0b6e0c57079626d63"
    "cd5669727475616c20626f617264c6534e30303031c6504e30303031c0c10000000000f9010700c5707962"
    "6d63ce5669727475616c20736572766572c456532d31c3312e30c6565330303031c6415353455431c0c1"
    "0000000000000000") + bytes(128)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def translated(tmp_path: Path, lan: str, emu: str | None = None) -> tuple[dict, list[str]]:
    lan_path = write(tmp_path, "lan.conf", lan)
    emu_path = write(tmp_path, "node.emu", emu) if emu is not None else None
    result = translate_files(lan_path, emu_path)
    assert check_translation(result.toml) is None, result.toml
    return tomllib.loads(result.toml), list(result.warnings)


def warning_for(warnings: list[str], where: str) -> str:
    """The first warning about `where` ("lan.conf:12"); warnings name the file by its path."""
    found = [w for w in warnings if re.match(rf"^(\S*/)?{re.escape(where)}: ", w)]
    assert found, f"no warning for {where}: {warnings}"
    return found[0]


# ------------------------------------------------------------------ lexer
def test_tokens_quotes_variables_and_comments():
    tokens = split_tokens('sol "telnet:"$HOST":9003" 115200 # trailing', {"HOST": "10.0.0.1"})
    assert tokens == ["sol", "telnet:10.0.0.1:9003", "115200"]
    assert tokens[1].quoted and not tokens[2].quoted
    assert split_tokens("  #poweroff_wait 30", {}) == []
    with pytest.raises(ValueError, match="unterminated"):
        split_tokens('name "open', {})
    with pytest.raises(ValueError, match=r"\$NOPE"):
        split_tokens("addr $NOPE", {})


def test_emu_single_quote_is_a_character_not_a_string():
    assert split_tokens("main_sdr_add 0x20 'D 'J", {}, quotes='"') == [
        "main_sdr_add", "0x20", "'D", "'J"]


# ------------------------------------------------------------------ the sample files
def test_openipmi_sample_lan_conf_and_emu(tmp_path: Path):
    data, warnings = translated(tmp_path, OPENIPMI_LAN_CONF, OPENIPMI_EMU)
    config = parse_config(data)
    assert config.name == "ipmisim1"
    assert (config.address, config.port) == ("127.0.0.1", 9001)
    # The GUID clients see is the same 16 bytes ipmi_sim sent.
    assert config.guid.bytes[::-1] == bytes.fromhex("a123456789abcdefa123456789abcdef")
    assert [(u.user_id, u.name, u.password, u.privilege.name) for u in config.users] == [
        (2, "ipmiusr", "test", "ADMINISTRATOR")]
    assert config.security.auth_types == ("none", "md2", "md5", "password")
    assert config.power.backend == "command"
    assert config.power.command_on[:2] == ("/bin/sh", "-c")
    assert config.power.command_on[2].startswith(
        f"cd {tmp_path} && qemu-system-x86_64 -chardev socket")
    assert config.power.command_off_wait == 20.0  # ipmi_sim's default kill_wait
    assert config.power.restore_policy == "always-off"  # startnow false
    assert config.sol.serial == "telnet:localhost:9003"
    assert data["identity"] == {"device_id": 0, "device_revision": 3,
                                "firmware_version": "9.08", "manufacturer_id": 0x1291,
                                "product_id": 0xF02}
    assert data["sel"] == {"capacity": 1000}
    (sensor,) = data["sensors"]  # the watchdog (sensor 0) is pybmc's own
    assert sensor["number"] == 1 and sensor["type"] == 1
    assert sensor["nominal"] == 0x60
    assert sensor["thresholds"] == {"unc": 0x70, "uc": 0x90, "unr": 0xA0}
    # serial 15 localhost 9002 codec VM: the listener QEMU's ipmi-bmc-extern connects to.
    assert config.in_band.listen == "tcp:127.0.0.1:9002"
    assert config.lan_settings.config_program == f"{tmp_path}/ipmi_sim_lancontrol eth1"
    assert not [w for w in warnings if re.match(r"\S*lan\.conf:(12|14): ", w)], warnings
    assert "anonymous" in warning_for(warnings, "lan.conf:20")
    assert "MC 0x30" in warning_for(warnings, "node.emu:8")
    assert "MC 0x30" in warning_for(warnings, "node.emu:9")
    assert "no SDR" in warning_for(warnings, "node.emu:5")


def test_qemu_ipmi_compute_node_layout(tmp_path: Path):
    data, warnings = translated(tmp_path, CN1_LAN_CONF)
    assert data["bmc"]["address"] == "192.168.123.4"
    assert "port" not in data["bmc"]  # 623 is the default
    assert data["power"]["command_on"] == f"cd {tmp_path} && ./CN1-qemu.sh"
    assert data["in_band"] == {"listen": "tcp:127.0.0.1:9102"}
    assert data["lan"] == {"config_program": f"{tmp_path}/../scripts/ipmi_sim_lancontrol br0"}
    assert data["sol"]["serial"] == "telnet:192.168.123.1:9103"
    assert [u["name"] for u in data["users"]] == ["ipmiusr"]
    assert any("no .emu" in w for w in warnings)
    assert not [w for w in warnings if re.match(r"\S*lan\.conf:(11|13): ", w)], warnings


def test_every_warning_names_its_file_and_line(tmp_path: Path):
    _, warnings = translated(tmp_path, OPENIPMI_LAN_CONF + "frobnicate 1\nconsole 0.0.0.0 9000\n",
                             OPENIPMI_EMU + "bogus_cmd 1\n")
    located = [w for w in warnings if not w.startswith("no .emu")]
    assert located
    assert all(re.match(rf"^{re.escape(str(tmp_path))}/(lan\.conf|node\.emu):\d+: ", w)
               for w in located), located
    assert "unknown directive 'frobnicate'" in warning_for(warnings, "lan.conf:22")
    assert "console" in warning_for(warnings, "lan.conf:23")
    assert "unknown command 'bogus_cmd'" in warning_for(warnings, "node.emu:12")


# ------------------------------------------------------------------ single directives
def minimal(extra: str = "", lan: str = "") -> str:
    return f'name "n1"\nstartlan 1\n  addr 127.0.0.9 623\n{lan}endlan\n{extra}'


def test_define_and_joined_strings(tmp_path: Path):
    text = 'define IP "127.0.0.7"\ndefine SUFFIX "b"\nname "a"$SUFFIX\nstartlan 1\n' \
           "  addr $IP\nendlan\n"
    data, _ = translated(tmp_path, text)
    assert data["bmc"]["name"] == "ab"
    assert data["bmc"]["address"] == "127.0.0.7"


def test_users_hex_forms_disabled_and_out_of_range(tmp_path: Path):
    users = ("user 3 false \"alice\" \"pw\" operator 4\n"
             f"user 4 true {b'bob'.hex().ljust(32, '0')} {b'bobpw'.hex().ljust(32, '0')} user 4\n"
             "user 20 true \"carol\" \"pw\" admin 4\n"
             "user 5 true \"dave\" \"pw\" superuser 4\n")
    data, warnings = translated(tmp_path, minimal(users))
    assert data["users"] == [
        {"id": 3, "name": "alice", "password": "pw", "privilege": "operator", "enabled": False},
        {"id": 4, "name": "bob", "password": "bobpw", "privilege": "user"}]
    assert "IDs 2..16" in warning_for(warnings, "lan.conf:7")
    assert "superuser" in warning_for(warnings, "lan.conf:8")


def test_ipmi_sim_truncates_names_to_15_and_passwords_to_19(tmp_path: Path):
    data, _ = translated(tmp_path, minimal(f'user 2 true "{"n" * 16}" "{"p" * 20}" admin 1\n'))
    assert data["users"][0]["name"] == "n" * 15
    assert data["users"][0]["password"] == "p" * 19


def test_guid_string_form_and_different_auths(tmp_path: Path):
    lan = ('  guid "0123456789abcdef"\n  allowed_auths_admin md5\n'
           "  allowed_auths_user md5 straight\n")
    data, warnings = translated(tmp_path, minimal(lan=lan))
    assert parse_config(data).guid.bytes[::-1] == b"0123456789abcdef"
    assert data["security"]["auth_types"] == ["md5", "password"]
    assert "union" in warning_for(warnings, "lan.conf:5")


def test_no_allowed_auths_means_no_ipmi15_sessions(tmp_path: Path):
    data, _ = translated(tmp_path, minimal())
    assert data["security"]["auth_types"] == []


def test_power_waits_and_startnow(tmp_path: Path):
    extra = 'startcmd "./vm.sh"\nstartnow true\npoweroff_wait 30\nkill_wait 7\n'
    data, warnings = translated(tmp_path, minimal(extra))
    assert data["power"] == {"backend": "command", "command_on": f"cd {tmp_path} && ./vm.sh",
                             "command_off_wait": 7.0, "restore_policy": "always-on"}
    assert "poweroff_wait" in warning_for(warnings, "lan.conf:7")


def test_power_options_without_startcmd_are_warnings(tmp_path: Path):
    data, warnings = translated(tmp_path, minimal("kill_wait 7\n"))
    assert "power" not in data
    assert "no startcmd" in warning_for(warnings, "lan.conf:5")


def test_other_mc_and_second_lan_channel_are_warnings(tmp_path: Path):
    extra = ("startlan 2\n  addr 127.0.0.10\nendlan\nset_working_mc 0x30\n"
             'user 2 true "x" "y" admin 1\nchassis_control "./ctl"\n')
    data, warnings = translated(tmp_path, minimal(extra))
    assert data["bmc"]["address"] == "127.0.0.9"
    assert "one LAN channel" in warning_for(warnings, "lan.conf:5")
    assert "MC 0x30" in warning_for(warnings, "lan.conf:9")
    assert "MC 0x30" in warning_for(warnings, "lan.conf:10")
    assert "users" not in data


def test_sol_options(tmp_path: Path):
    extra = 'sol "/dev/ttyS1" 9600 history=4096,backupfile=/tmp/h nortscts readclear\n'
    data, warnings = translated(tmp_path, minimal(extra))
    assert data["sol"] == {"history_size": 4096}
    joined = " ".join(w for w in warnings if w.startswith(f"{tmp_path}/lan.conf:5:"))
    assert "tty" in joined and "9600" in joined and "backupfile" in joined
    assert "readclear" in joined


def test_sdr_gives_sensor_name_unit_and_conversion(tmp_path: Path):
    emu = ("mc_setbmc 0x20\n"
           "sensor_add 0x20 0 3 0x01 0x01\n"
           "sensor_set_value 0x20 0 3 0x30 0\n"
           "sensor_set_threshold 0x20 0 3 settable 011000 0 0x5a 0x55 0 0 0\n"
           "main_sdr_add 0x20 \\\n  " + " ".join(f"0x{b}" for b in CPU_TEMP_SDR.split()) + "\n")
    data, _ = translated(tmp_path, minimal(), emu)
    (sensor,) = data["sensors"]
    assert sensor["name"] == "CPU Temp"
    assert sensor["unit"] == 1 and sensor["entity"] == 7
    assert sensor["nominal"] == pytest.approx(10.6)  # (2 * 0x30 + 10) / 10
    assert (sensor["min"], sensor["max"]) == (pytest.approx(1.0), pytest.approx(52.0))
    assert sensor["thresholds"] == {"unc": pytest.approx(18.0), "uc": pytest.approx(19.0)}


def test_discrete_sensor_states(tmp_path: Path):
    emu = ("sensor_add 0x20 0 5 0x08 0x6f\n"  # power supply, sensor-specific
           "sensor_set_bit_clr_rest 0x20 0 5 1 0\n"
           "sensor_set_bit 0x20 0 5 0 1 0\n"
           "main_sdr_add 0x20 0x00 0x00 0x51 0x02 0x20 0x20 0x00 0x05 0x0a 0x01 0x67 0x40 "
           "0x08 0x6f 0x07 0x00 0x07 0x00 0x07 0x00 0xc0 0x00 0x00 0x01 0x00 0x00 0x00 0x00 "
           "0x00 0x00 0x00 0xc3 'P 'S 'U\n")
    data, _ = translated(tmp_path, minimal(), emu)
    (sensor,) = data["sensors"]
    assert sensor["name"] == "PSU"
    assert sensor["behaviour"] == "static" and sensor["reading_type"] == 0x6F
    assert sensor["states"] == [0, 1]


def test_fru_file_becomes_fru_tables(tmp_path: Path):
    (tmp_path / "fru.bin").write_bytes(FRU_IMAGE)
    emu = 'mc_add 0x20 0x20 no-device-sdrs 1 1 0 0xbf 0xbeef 1\n' \
          'mc_add_fru_data 0x20 0 256 file 0 "fru.bin"\n'
    data, _ = translated(tmp_path, minimal(), emu)
    assert data["fru"] == {
        "size": 256,
        "chassis": {"type": 23, "part_number": "CHS-1", "serial_number": "CH0001"},
        "board": {"manufacturer": "pybmc", "product_name": "Virtual board",
                  "serial_number": "SN0001", "part_number": "PN0001",
                  "manufacture_date": "2024-01-01 00:00"},
        "product": {"manufacturer": "pybmc", "product_name": "Virtual server",
                    "part_number": "VS-1", "version": "1.0", "serial_number": "VS0001",
                    "asset_tag": "ASSET1"},
    }


def test_fru_data_that_is_not_a_fru_is_a_warning(tmp_path: Path):
    data, warnings = translated(tmp_path, minimal(), "mc_add_fru_data 0x20 0 128 data 1 2 3\n")
    assert data["fru"] == {"size": 128}
    assert "not a FRU image" in warning_for(warnings, "node.emu:1")


def test_parse_fru_rejects_bad_header():
    with pytest.raises(ValueError, match="common header"):
        parse_fru(bytes(16))


def test_emu_include_and_continuation(tmp_path: Path):
    write(tmp_path, "more.emu", "sel_enable 0x20 \\\n  50 0x0a\n")
    data, _ = translated(tmp_path, minimal(), 'include "more.emu"\n')
    assert data["sel"] == {"capacity": 50}


# ------------------------------------------------------------------ fatal problems and CLI
def test_missing_name_or_address_is_fatal(tmp_path: Path):
    with pytest.raises(LanConfError, match="no `name`"):
        translate_files(write(tmp_path, "a.conf", "startlan 1\n addr 127.0.0.2\nendlan\n"))
    with pytest.raises(LanConfError, match="addr"):
        translate_files(write(tmp_path, "b.conf", 'name "x"\n'))


def test_command_prints_toml_on_stdout_and_warnings_on_stderr(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture):
    status = import_lanconf_command(write(tmp_path, "lan.conf", OPENIPMI_LAN_CONF), None)
    out, err = capsys.readouterr()
    assert status == 0
    assert tomllib.loads(out)["bmc"]["name"] == "ipmisim1"
    assert f"warning: {tmp_path}/lan.conf:20: " in err
    assert "Traceback" not in err


def test_command_exit_2_with_one_line_on_a_missing_file(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture):
    status = import_lanconf_command(tmp_path / "nope.conf", None)
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "nope.conf" in err


def test_conformance_profile_round_trips_through_ipmi_sim_files(tmp_path: Path):
    """The files the conformance suite gives ipmi_sim translate back into its pybmc config."""
    from conformance.profile import Profile
    from conformance.refsim import RefSim

    profile = Profile.default("rt")
    sim = RefSim(profile, "127.0.0.44", tmp_path, chassis_control=False, lan_control=False,
                 sol=False)
    sim.write_files()
    result = translate_files(sim.lan_conf_path, sim.emu_path)
    assert check_translation(result.toml) is None
    got = tomllib.loads(result.toml)
    want = profile.pybmc_config("127.0.0.44", tmp_path)
    assert got["bmc"]["guid"] == want["bmc"]["guid"]
    assert got["users"] == want["users"]
    assert got["security"]["auth_types"] == want["security"]["auth_types"]
    assert got["identity"] == want["identity"]
    assert got["sel"] == want["sel"]
    assert got["fru"] == want["fru"]
    (sensor,) = got["sensors"]
    assert {k: sensor[k] for k in ("name", "number", "nominal", "thresholds")} == {
        k: want["sensors"][0][k] for k in ("name", "number", "nominal", "thresholds")}


def test_a_later_user_line_replaces_an_earlier_one(tmp_path: Path):
    users = 'user 2 true "old" "pw" admin 1\nuser 2 true "new" "pw2" operator 1\n'
    data, warnings = translated(tmp_path, minimal(users))
    assert [(u["id"], u["name"]) for u in data["users"]] == [(2, "new")]
    assert "lan.conf:5" in warning_for(warnings, "lan.conf:6")


# ------------------------------------------------------------------ issue 11 item 14
def test_serial_vm_codec_becomes_the_in_band_listener(tmp_path: Path):
    data, warnings = translated(tmp_path, minimal("serial 15 127.0.0.1 9102 codec VM\n"))
    assert data["in_band"] == {"listen": "tcp:127.0.0.1:9102"}
    assert not any("lan.conf:5" in w for w in warnings), warnings


def test_serial_on_another_address_is_translated_with_a_warning(tmp_path: Path):
    data, warnings = translated(tmp_path, minimal("serial 15 192.0.2.7 9102 codec VM\n"))
    assert data["in_band"] == {"listen": "tcp:127.0.0.1:9102"}  # [in_band] takes loopback only
    assert "loopback" in warning_for(warnings, "lan.conf:5")
    assert "translated to 127.0.0.1" in warning_for(warnings, "lan.conf:5")


@pytest.mark.parametrize(("line", "reason"), [
    ("serial 15 localhost 9102 codec VM connect", "connect"),
    ("serial 15 localhost 9102 codec TerminalMode", "VM) codec only"),
    ("serial 15 localhost 9102", "codec '(none)'"),
    ("serial 15 :: 9102 codec VM", "IPv6 is not supported"),
    ("serial 15 localhost 70000 codec VM", "1..65535"),
])
def test_serial_lines_pybmc_cannot_serve_are_warnings(tmp_path: Path, line: str, reason: str):
    data, warnings = translated(tmp_path, minimal(line + "\n"))
    assert "in_band" not in data
    assert reason in warning_for(warnings, "lan.conf:5")


def test_lan_config_program_paths(tmp_path: Path):
    for program, expected in (("/usr/local/bin/lanctl br0", "/usr/local/bin/lanctl br0"),
                              ("lanctl br0", "lanctl br0"),  # found on PATH, as by ipmi_sim
                              ("scripts/lan ctl 'a b'", f"{tmp_path}/scripts/lan ctl 'a b'")):
        data, _ = translated(tmp_path, minimal(lan=f'  lan_config_program "{program}"\n'))
        assert data["lan"]["config_program"] == expected


def test_a_relative_lan_conf_path_is_resolved_and_named_as_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    node = tmp_path / "CN1"
    node.mkdir()
    write(node, "lan.conf", minimal('startcmd "./CN1-qemu.sh"\nfrobnicate\n'))
    monkeypatch.chdir(tmp_path)
    result = translate_files(Path("CN1/lan.conf"))
    assert tomllib.loads(result.toml)["power"]["command_on"] == f"cd {node} && ./CN1-qemu.sh"
    assert "CN1/lan.conf:6: not translated: frobnicate" in result.warnings[0]
    assert result.warnings[0].startswith("CN1/lan.conf:6: ")


def test_an_ipv6_addr_is_fatal_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture):
    lan = write(tmp_path, "lan.conf", 'name "v6"\nfrobnicate\nstartlan 1\n  addr :: 9001\n'
                                      "endlan\n")
    with pytest.raises(LanConfError, match="IPv6 is not supported"):
        translate_files(lan)
    assert import_lanconf_command(lan, None) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"pybmc: {lan}:4: addr :: 9001: :: is an IPv6 address: IPv6 is not supported" in err
    assert f"warning: {lan}:2: not translated: frobnicate" in err  # found before, still shown
    assert "Traceback" not in err


def test_warnings_of_an_included_emu_file_name_its_path(tmp_path: Path):
    (tmp_path / "inc").mkdir()
    write(tmp_path / "inc", "more.emu", "bogus_cmd 1\n")
    _, warnings = translated(tmp_path, minimal(), 'include "inc/more.emu"\n')
    assert "unknown command" in warning_for(warnings, f"{tmp_path}/inc/more.emu:1")
