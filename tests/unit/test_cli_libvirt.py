"""`pybmc libvirt attach`: the snippet it prints and how it recognises a domain it already
attached (the libvirt calls themselves are covered by tests/e2e/test_libvirt_console.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from typer.testing import CliRunner

from pybmc.cli import app
from pybmc.cli_libvirt import attached_args, is_attached, snippet
from pybmc.model.libvirt_domain import in_band_args, with_in_band

DOMAIN = "<domain type='qemu'><name>n1</name><devices/></domain>"


def test_print_shows_the_snippet_and_needs_no_libvirt() -> None:
    result = CliRunner().invoke(app, ["libvirt", "attach", "n1", "--print",
                                      "--socket", "/run/pybmc/n1.sock"])
    assert result.exit_code == 0, result.output
    assert "path=/run/pybmc/n1.sock,reconnect=1" in result.output
    assert "isa-ipmi-kcs,bmc=pybmc-bmc" in result.output


def test_the_snippet_is_the_qemu_commandline_with_bt_when_asked() -> None:
    text = snippet("/tmp/s.sock", "bt")
    xml = text.split("\n", 1)[1].replace(
        "<qemu:commandline>",
        "<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>", 1)
    values = [arg.get("value") for arg in ET.fromstring(xml)]
    assert values == in_band_args("/tmp/s.sock", "bt")


def test_attached_is_recognised_for_the_same_socket_only() -> None:
    assert not is_attached(DOMAIN, "/tmp/a.sock")
    attached = with_in_band(DOMAIN, "/tmp/a.sock")
    assert is_attached(attached, "/tmp/a.sock")
    assert not is_attached(attached, "/tmp/b.sock")
    assert not is_attached(attached, "/tmp/a.sock", "bt")
    moved = with_in_band(attached, "/tmp/b.sock")
    assert attached_args(moved) == in_band_args("/tmp/b.sock")  # replaced, not added


def test_bad_options_are_refused_in_one_line() -> None:
    runner = CliRunner()
    relative = runner.invoke(app, ["libvirt", "attach", "n1", "--print", "--socket", "x.sock"])
    assert relative.exit_code == 2 and "absolute" in relative.output
    interface = runner.invoke(app, ["libvirt", "attach", "n1", "--print", "--interface", "smic"])
    assert interface.exit_code == 2 and "kcs or bt" in interface.output


def test_seclabel_runs_qemu_as_the_given_owner_and_replaces_only_a_dac_label() -> None:
    from pybmc.model.libvirt_domain import dac_label, with_dac_seclabel

    domain = ("<domain type='kvm'><name>n1</name><devices><disk/></devices>"
              "<seclabel type='dynamic' model='apparmor'/>"
              "<seclabel type='dynamic' model='dac' relabel='yes'/></domain>")
    assert dac_label(domain) is None
    labelled = with_dac_seclabel(with_in_band(domain, "/run/pybmc/n1.sock"), 1000, 1001)
    root = ET.fromstring(labelled)
    labels = root.findall("seclabel")
    assert [(s.get("model"), s.get("type")) for s in labels] == [
        ("dac", "static"), ("apparmor", "dynamic")]
    dac = labels[0]
    assert dac.get("relabel") == "no" and dac.findtext("label") == "+1000:+1001"
    assert [child.tag for child in root][:3] == ["name", "devices", "seclabel"]
    assert dac_label(labelled) == "+1000:+1001"
    assert is_attached(labelled, "/run/pybmc/n1.sock")  # the in-band device is kept
    again = with_dac_seclabel(labelled, 0, 0)  # replaced, never a second DAC label
    assert [s.findtext("label") for s in ET.fromstring(again).findall("seclabel")
            if s.get("model") == "dac"] == ["+0:+0"]


def test_seclabel_print_and_bad_owner() -> None:
    import os

    runner = CliRunner()
    printed = runner.invoke(app, ["libvirt", "attach", "n1", "--print", "--seclabel"])
    assert printed.exit_code == 0, printed.output
    assert (f"<seclabel type='static' model='dac' relabel='no'>"
            f"<label>+{os.getuid()}:+{os.getgid()}</label></seclabel>") in printed.output
    owned = runner.invoke(app, ["libvirt", "attach", "n1", "--print", "--seclabel",
                                "--seclabel-owner", "64055:108"])
    assert "<label>+64055:+108</label>" in owned.output
    bad = runner.invoke(app, ["libvirt", "attach", "n1", "--print", "--seclabel",
                              "--seclabel-owner", "pybmc"])
    assert bad.exit_code == 2 and "UID:GID" in bad.output
    plain = runner.invoke(app, ["libvirt", "attach", "n1", "--print"])
    assert "seclabel" not in plain.output
