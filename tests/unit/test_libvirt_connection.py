"""Shared libvirt connection registry: one per URI, capped backoff."""

import itertools

from pybmc.edge.power.libvirt_connection import backoff_delays, connection


def test_one_connection_per_uri() -> None:
    assert connection("qemu:///system") is connection("qemu:///system")
    assert connection("qemu:///system") is not connection("qemu+ssh://h/system")


def test_backoff_doubles_to_cap() -> None:
    assert list(itertools.islice(backoff_delays(0.5, 4.0), 6)) == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_missing_libvirt_python_refuses_the_start_in_one_line(monkeypatch, tmp_path) -> None:
    import sys

    import pytest

    from pybmc.config.bmc import parse_config
    from pybmc.edge.assembly import machine_config
    from pybmc.edge.startup import StartError

    monkeypatch.setitem(sys.modules, "libvirt", None)  # `import libvirt` raises ImportError
    config = parse_config({"bmc": {"name": "n1", "address": "127.0.0.1",
                                   "state_dir": str(tmp_path)},
                           "power": {"backend": "libvirt"}, "libvirt": {"domain": "d"}})
    with pytest.raises(StartError, match=r"n1: .*needs libvirt-python: pip install"):
        machine_config(config)
    simulated = parse_config({"bmc": {"name": "n2", "address": "127.0.0.1"}})
    assert machine_config(simulated) is simulated
