"""Shared libvirt connection registry: one per URI, capped backoff."""

import itertools

from pybmc.edge.power.libvirt_connection import backoff_delays, connection


def test_one_connection_per_uri() -> None:
    assert connection("qemu:///system") is connection("qemu:///system")
    assert connection("qemu:///system") is not connection("qemu+ssh://h/system")


def test_backoff_doubles_to_cap() -> None:
    assert list(itertools.islice(backoff_delays(0.5, 4.0), 6)) == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
