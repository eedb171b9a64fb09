"""tests/guest/build_guest.sh builds the guest from an empty cache on its first run.

apt-get and apt-cache are stand-ins on PATH that behave like the real ones where it matters:
`apt-get download` prints its progress ("Get:1 ...") on stdout and leaves the .deb in the
current directory. The kernel package is a tiny .deb built here with dpkg-deb, so the whole
script runs (busybox, ipmitool, the initramfs) in a few seconds and with no network.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "guest" / "build_guest.sh"
KVER = "9.9.9-1-amd64"
PACKAGE = f"linux-image-{KVER}"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("dpkg-deb", "ipmitool", "busybox", "gzip")),
    reason="needs dpkg-deb, ipmitool, busybox and gzip")


def _kernel_deb(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {PACKAGE}\nVersion: 1.0\nArchitecture: amd64\n"
        "Maintainer: test <test@example.invalid>\nDescription: a stand-in kernel\n")
    (root / "boot").mkdir()
    (root / "boot" / f"vmlinuz-{KVER}").write_bytes(b"stand-in kernel image")
    kernel = root / "lib" / "modules" / KVER / "kernel" / "drivers"
    for module in ("char/ipmi/ipmi_msghandler.ko", "char/ipmi/ipmi_si.ko",
                   "char/ipmi/ipmi_devintf.ko", "input/evdev.ko", "acpi/button.ko",
                   "scsi/scsi_common.ko", "scsi/scsi_mod.ko", "scsi/sr_mod.ko",
                   "ata/libata.ko", "ata/ata_piix.ko", "cdrom/cdrom.ko", "../fs/isofs/isofs.ko"):
        (kernel / module).parent.mkdir(parents=True, exist_ok=True)
        (kernel / module).write_bytes(b"module")
    deb = tmp_path / "kernel.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def _tool(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_builder_works_from_an_empty_cache(tmp_path: Path):
    deb = _kernel_deb(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir / "apt-cache",
          f'[ "$1" = depends ] && echo "  Depends: {PACKAGE}"\n')
    _tool(bin_dir / "apt-get",
          '[ "$1" = download ] || exit 0\n'
          'shift; [ "$1" = -q ] && shift\n'
          'echo "Get:1 http://deb.invalid/debian stable/main amd64 $1 1.0 [1 kB]"\n'
          'echo "Fetched 1 kB in 0s (10 kB/s)"\n'
          f'cp "{deb}" "./$1_1.0_amd64.deb"\n')
    cache = tmp_path / "cache"  # does not exist yet: the coldest cache there is
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "PYBMC_GUEST_CACHE": str(cache), "TMPDIR": str(tmp_path)}
    env.pop("PYBMC_GUEST_KERNEL_DEB", None)
    result = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [str(cache)]
    assert (cache / "vmlinuz").read_bytes() == b"stand-in kernel image"
    assert (cache / "initrd.cpio.gz").stat().st_size > 0
    assert "Get:1" in result.stderr  # apt's progress went to stderr, not into the .deb path
