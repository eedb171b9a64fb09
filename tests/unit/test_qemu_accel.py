"""The QEMU backend's accelerator choice: KVM only when SeaBIOS runs at speed under it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from pybmc.edge.power import qemu_probe as qemu


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch) -> None:
    monkeypatch.setattr(qemu, "_KVM_WORKS", {})
    monkeypatch.setattr(qemu, "_KVM_PROBING", {})
    monkeypatch.setattr(qemu, "kvm_device_usable", lambda: True)


def fake_qemu(tmp_path: Path, body: str) -> str:
    """A stand-in for qemu-system-x86_64: logs each run, then does `body`."""
    path = tmp_path / "fake-qemu"
    runs = tmp_path / "runs"
    path.write_text(f"#!/bin/sh\necho run >> {runs}\n{body}\n")
    path.chmod(0o755)
    return str(path)


def runs(tmp_path: Path) -> int:
    path = tmp_path / "runs"
    return len(path.read_text().split()) if path.exists() else 0


async def test_kvm_when_seabios_finishes_post_in_time(tmp_path, caplog) -> None:
    binary = fake_qemu(tmp_path, 'echo "SeaBIOS (version 1.16)"; echo "No bootable device."; '
                                 "exec sleep 30")
    with caplog.at_level(logging.INFO, logger="pybmc.power"):
        assert await qemu.kvm_works(binary, timeout=5)
    assert "KVM (SeaBIOS finished POST" in caplog.text
    assert await qemu.kvm_works(binary)  # cached: no second run
    assert runs(tmp_path) == 1


async def test_tcg_when_kvm_is_slow(tmp_path, caplog) -> None:
    binary = fake_qemu(tmp_path, 'echo "SeaBIOS (version 1.16)"; sleep 3; '
                                 'echo "No bootable device."; exec sleep 30')
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="pybmc.power"):
        assert not await qemu.kvm_works(binary, timeout=0.5)
    assert time.monotonic() - started < 2  # the probe is killed, not waited for
    assert "TCG (/dev/kvm works but SeaBIOS did not finish POST within 0.5s" in caplog.text
    assert not await qemu.kvm_works(binary)
    assert runs(tmp_path) == 1


async def test_tcg_when_qemu_fails_with_kvm(tmp_path) -> None:
    binary = fake_qemu(tmp_path, "echo 'failed to initialize kvm' >&2; exit 1")
    assert not await qemu.kvm_works(binary, timeout=5)


async def test_tcg_without_a_usable_device(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(qemu, "kvm_device_usable", lambda: False)
    binary = fake_qemu(tmp_path, 'echo "No bootable device."')
    assert not await qemu.kvm_works(binary)
    assert runs(tmp_path) == 0  # nothing started


async def test_concurrent_launches_share_one_probe(tmp_path) -> None:
    import asyncio

    binary = fake_qemu(tmp_path, 'sleep 0.2; echo "No bootable device."; exec sleep 30')
    results = await asyncio.gather(*(qemu.kvm_works(binary, timeout=5) for _ in range(4)))
    assert results == [True] * 4
    assert runs(tmp_path) == 1


def test_probe_command_runs_seabios_with_its_debug_console_on_stdout() -> None:
    argv = qemu.kvm_probe_argv("qemu-system-x86_64")
    assert argv[:3] == ["qemu-system-x86_64", "-accel", "kvm"]
    assert "isa-debugcon,iobase=0x402,chardev=pybmc-probe" in argv
    assert "stdio,id=pybmc-probe" in argv
