"""The [redfish] section: on by default (443, TLS); `enabled = true` written makes it required."""

from __future__ import annotations

from pybmc.config.bmc import parse_config

MINIMAL = {"bmc": {"name": "cn1", "address": "127.0.0.2"}}


def test_redfish_is_on_by_default_but_not_required():
    redfish = parse_config(MINIMAL).redfish
    assert (redfish.enabled, redfish.required, redfish.port, redfish.tls) == (
        True, False, 443, True)
    assert redfish.system_id == "cn1"


def test_enabled_written_true_makes_redfish_required():
    redfish = parse_config({**MINIMAL, "redfish": {"enabled": True, "port": 8443}}).redfish
    assert (redfish.enabled, redfish.required, redfish.port) == (True, True, 8443)


def test_enabled_false_turns_redfish_off():
    redfish = parse_config({**MINIMAL, "redfish": {"enabled": False}}).redfish
    assert (redfish.enabled, redfish.required) == (False, False)
