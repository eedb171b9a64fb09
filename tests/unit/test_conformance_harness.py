"""The conformance harness itself: verdicts, normalisation, the ipmi_sim files and helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import chassis_control, lan_control
from conformance.clients import Sleep
from conformance.normalize import normalise
from conformance.profile import Profile
from conformance.records import checksum, fru_image, full_sensor_sdr
from conformance.refsim import RefSim
from conformance.runner import (
    EXPECTED_DIFF,
    PYBMC_ONLY,
    SAME,
    UNEXPECTED,
    Row,
    Runner,
    SideResult,
    _chains,
    judge,
)
from conformance.scenarios import Scenario, catalogue
from pybmc.config.lanconf import parse_fru


def row(name: str, ref: SideResult, py: SideResult) -> Row:
    result = Row(Scenario(name, ()), ref, py)
    judge(result)
    return result


def test_verdicts():
    ok = SideResult(text="a")
    assert row("x/same", ok, SideResult(text="a")).verdict == SAME
    assert row("x/new", ok, SideResult(text="b")).verdict == UNEXPECTED
    listed = row("session/getciphers", ok, SideResult(text="b"))
    assert listed.verdict == EXPECTED_DIFF and "suites" in listed.reason
    ref_fails = SideResult(text="Error: nope\n[exit 1]", as_expected=False,
                           failed_allowed_step=True)
    only = row("x/only", ref_fails, SideResult(text="fine"))
    assert only.verdict == PYBMC_ONLY and only.reason == "ipmi_sim: Error: nope [exit 1]"
    # pybmc misbehaving is unexpected even when the outputs are equal.
    wrong = SideResult(text="a", as_expected=False, failed_allowed_step=True)
    assert row("x/wrong", ok, wrong).verdict == UNEXPECTED


def test_a_difference_is_retried_alone_and_a_lasting_one_stays_unexpected(
        monkeypatch: pytest.MonkeyPatch):
    calls: dict[str, int] = {}

    def side(scenario: Scenario, target: str | None) -> SideResult:
        calls[scenario.name] = calls.get(scenario.name, 0) + 1
        flaky_first = scenario.name == "x/flaky" and target == "ref" and calls[scenario.name] <= 2
        lasting = scenario.name == "x/real" and target == "ref"
        return SideResult(text="lost" if flaky_first or lasting else "kept")

    monkeypatch.setattr(Runner, "_side", staticmethod(side))
    runner = Runner(reference="ref", pybmc="py", jobs=2)  # type: ignore[arg-type]
    rows = {r.scenario.name: r for r in runner.run(
        [Scenario("x/flaky", ()), Scenario("x/real", ()), Scenario("x/fine", ())])}
    assert rows["x/flaky"].verdict == SAME and "retry" in rows["x/flaky"].reason
    assert rows["x/real"].verdict == UNEXPECTED
    assert rows["x/fine"].verdict == SAME and calls["x/fine"] == 2  # run once, both sides


def test_a_reference_restart_inside_a_chain_makes_its_later_differences_not_comparable(
        monkeypatch: pytest.MonkeyPatch):
    def side(scenario: Scenario, target: str | None) -> SideResult:
        lost = target == "ref" and scenario.name == "x/read-back"
        return SideResult(text="default" if lost else "set")

    monkeypatch.setattr(Runner, "_side", staticmethod(side))
    answers = iter([None, "ipmi_sim died (exit -11) and was restarted"])
    runner = Runner(reference="ref", pybmc="py", jobs=1,  # type: ignore[arg-type]
                    ensure_reference=lambda: next(answers, None))
    rows = {r.scenario.name: r for r in runner.run(
        [Scenario("x/set", (), lock="x"), Scenario("x/read-back", (), lock="x")])}
    assert rows["x/read-back"].verdict == PYBMC_ONLY
    assert "restarted" in rows["x/read-back"].reason
    # Without a restart the same difference is a real one.
    runner = Runner(reference="ref", pybmc="py", jobs=1)  # type: ignore[arg-type]
    rows = {r.scenario.name: r for r in runner.run(
        [Scenario("x/set", (), lock="x"), Scenario("x/read-back", (), lock="x")])}
    assert rows["x/read-back"].verdict == UNEXPECTED


def test_normalise_keeps_macs_and_replaces_addresses_times_and_counts():
    text = ("IP 127.150.0.2 / 11 7f 96 00 02\nMAC 52:54:00:ab:cd:01 at 12:01:02 on 11/25/2026\n"
            "Active Session Count  : 3\nTemp   |  40   | ok")
    assert normalise(text, "127.150.0.2") == (
        "IP <BMC> / 11 <BMC>\nMAC 52:54:00:ab:cd:01 at <TIME> on <DATE>\n"
        "Active Session Count  : <N>\nTemp | 40 | ok")


def test_locked_scenarios_form_one_chain_in_catalogue_order():
    chains = _chains([Scenario("a/1", (), lock="p"), Scenario("b/1", ()),
                      Scenario("a/2", (Sleep(3),), lock="p")])
    assert [[s.name for s in chain] for chain in chains] == [["a/1", "a/2"], ["b/1"]]


def test_catalogue_is_big_enough_and_every_reason_names_a_scenario():
    from conformance.expected import EXPECTED

    names = {s.name for s in catalogue()}
    assert len(names) >= 60
    assert set(EXPECTED) <= names
    assert all(s.reference or s.name in EXPECTED for s in catalogue())


def test_fru_image_is_a_valid_fru():
    profile = Profile.default()
    image = fru_image(profile)
    assert len(image) == 256 and checksum(image[:7]) == image[7]
    areas = parse_fru(image)
    assert areas["board"]["product_name"] == "Virtual board"
    assert areas["product"]["asset_tag"] == "ASSET1"
    assert areas["chassis"]["type"] == 23


def test_full_sensor_sdr_layout():
    sdr = full_sensor_sdr(Profile.default().sensors[0], record_id=1)
    assert sdr[:5] == bytes([0x01, 0x00, 0x51, 0x01, len(sdr) - 5])
    assert sdr[7] == 1 and sdr[47] == 0xC4 and sdr[48:] == b"Temp"


def test_lan_conf_has_guid_in_wire_order_and_users(tmp_path: Path):
    profile = Profile.default()
    text = RefSim(profile, "127.0.0.5", tmp_path).lan_conf_text()
    assert f"guid {profile.guid.bytes[::-1].hex()}" in text
    assert "addr 127.0.0.5 623" in text
    assert 'user 2 true "admin" "secret" admin 10 md2 md5 straight' in text


def test_chassis_control_program(tmp_path: Path, capsys: pytest.CaptureFixture):
    state = str(tmp_path / "power.json")
    assert chassis_control.main([state, "set", "power", "1", "boot", "pxe"]) == 0
    assert chassis_control.main([state, "get", "power", "boot"]) == 0
    assert capsys.readouterr().out == "power:1\nboot:pxe\n"
    assert chassis_control.main([state, "set", "boot", "floppy"]) == 1
    assert chassis_control.main([state, "set", "shutdown", "1"]) == 0
    assert json.loads(Path(state).read_text())["power"] == 0


def test_lan_control_program(tmp_path: Path, capsys: pytest.CaptureFixture):
    state = tmp_path / "lan.json"
    state.write_text(json.dumps({"ip_addr": "10.0.0.2"}))
    assert lan_control.main([str(state), "set", "ip_addr", "10.0.0.3"]) == 0
    assert lan_control.main([str(state), "get", "ip_addr"]) == 0
    assert capsys.readouterr().out == "ip_addr:10.0.0.3\n"
    assert lan_control.main([str(state), "get", "mac_addr"]) == 1
    assert lan_control.main([str(state), "check", "ip_addr_src", "dhcp"]) == 0
    assert lan_control.main([str(state), "check", "ip_addr_src", "magic"]) == 1
