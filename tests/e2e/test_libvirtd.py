"""The private libvirt daemon of tests/e2e/libvirtd.py: a TCG domain runs under it and
everything it started is gone afterwards."""

from __future__ import annotations

from tests.e2e.libvirtd import LibvirtDaemon, _alive, define_domain, require_libvirtd


def test_private_daemon_runs_a_tcg_domain_and_leaves_nothing() -> None:
    require_libvirtd()
    daemon = LibvirtDaemon()
    try:
        daemon.start()
        daemon_pids = dict(daemon.pids)
        assert set(daemon_pids) == {"libvirtd", "virtlogd"}
        dom = define_domain(daemon, "pybmc-smoke")
        assert dom.state() == "shut off"
        assert "type='qemu'" in dom.xml() or 'type="qemu"' in dom.xml()
        dom.virsh("start", dom.name)
        dom.wait_state("running", 10)
        qemu = daemon.qemu_pids()
        assert len(qemu) == 1, qemu
        dom.virsh("destroy", dom.name)
        dom.wait_state("shut off", 10)
        dom.virsh("undefine", dom.name)
        assert dom.virsh("domstate", dom.name, check=False).returncode != 0
        daemon.restart_libvirtd()
        assert daemon.pids["libvirtd"] != daemon_pids["libvirtd"]
        daemon_pids["libvirtd"] = daemon.pids["libvirtd"]
    finally:
        base = daemon.base
        daemon.stop()
    for name, pid in daemon_pids.items():
        assert not _alive(pid), f"{name} ({pid}) still runs"
    assert not any(_alive(pid) for pid in qemu)
    assert not base.exists()
    with open("/proc/mounts") as mounts:
        assert str(base) not in mounts.read()
