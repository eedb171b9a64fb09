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
