"""`up` and `down`: build the lab (namespace, bridge, taps, addresses, disks, dnsmasq, one
`pybmc serve`) from its spec, and remove exactly what was built, idempotently."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pybmc.cluster import generate, nat
from pybmc.cluster.record import Record, stop_process
from pybmc.cluster.spec import ClusterSpec
from pybmc.cluster.status import bmc_config_path, current_addresses, qemu_process
from pybmc.config.bmc import ConfigError
from pybmc.edge import netlink
from pybmc.model.state import create_private_file

log = logging.getLogger("pybmc.cluster")

UP_TIMEOUT = 60.0
IPXE_ROMS = (Path("/usr/lib/ipxe/undionly.kpxe"), Path("/usr/lib/ipxe/ipxe.efi"))
# IPMI 1.5 Get Channel Authentication Capabilities, session-less: every BMC answers it.
AUTH_CAP_PING = bytes.fromhex("0600ff07" "00" "00000000" "00000000" "09" "2018c8" "8100388e04b5")


class ClusterError(Exception):
    """Something up/down could not do, phrased for the user."""


def run_dir(spec: ClusterSpec) -> Path:
    return spec.state_dir / "run"


UNIX_PATH_MAX = 108  # sun_path, NUL included


def control_socket_path(spec: ClusterSpec) -> Path:
    """The serve's control socket: a filesystem socket, reachable from outside the lab's
    network namespace (status reads each BMC's SOL state there, no IPMI client needed)."""
    return run_dir(spec) / "control.sock"


def serve_command(spec: ClusterSpec) -> list[str]:
    command = [sys.executable, "-m", "pybmc", "serve", "--stop-vms-on-exit"]
    control = control_socket_path(spec)
    if len(str(control)) < UNIX_PATH_MAX:  # a deeper state_dir goes without (status: SOL "?")
        command += ["--control", str(control)]
    for node in spec.nodes:
        command += ["-c", str(bmc_config_path(spec, node.name))]
    return command


def in_lab(spec: ClusterSpec) -> Callable[[], None] | None:
    return netlink.namespace_entry(spec.netns) if spec.netns else None


def up(spec: ClusterSpec, timeout: float = UP_TIMEOUT) -> Record:
    """Create whatever is missing, start what does not run, return once every BMC answers."""
    record = Record.load(run_dir(spec))
    try:
        _network_up(spec, record)
        if spec.network.nat:
            _nat_up(spec, record)
        _write_files(spec)
        if spec.provision.enabled and record.process("dnsmasq") is None:
            _start_dnsmasq(spec, record)
        if spec.provision.enabled and spec.provision.http and record.process("http") is None:
            _start_http(spec, record)
        if record.process("serve") is None:
            _start(spec, record, "serve", serve_command(spec), "serve.log")
        _wait_for_bmcs(spec, record, timeout)
    except (OSError, LookupError, netlink.NetlinkError, subprocess.SubprocessError,
            nat.NatError) as err:
        raise ClusterError(f"up failed: {err} (`pybmc cluster down` removes what was made)") \
            from None
    return record


def _network_up(spec: ClusterSpec, record: Record) -> None:
    if spec.netns and netlink.create_namespace(spec.netns):
        record.netns = spec.netns
        record.save()
    bridge = spec.network.bridge
    prefix = spec.network.interface.network.prefixlen
    with netlink.open_handle(spec.netns) as handle:
        if netlink.ensure_bridge(handle, bridge):
            _note_link(record, bridge)
        # Where each BMC is now: a client or bmcsetup may have moved it, and the BMC's state
        # (kept across down/up, as on real hardware) says so.
        wanted = list(current_addresses(spec).values())
        if not spec.head_outside:
            wanted.insert(0, str(spec.network.interface.ip))
        present = set(netlink.interface_addresses(handle, bridge))
        for address in (a for a in wanted if a not in present):
            netlink.add_address(handle, bridge, address, prefix)
            record.addresses.append((bridge, address, prefix))
        record.save()
        # Taps in one batch: one dump of what exists, the missing ones made in one go.
        taps = [spec.tap_name(node) for node in spec.nodes]
        indexes = netlink.link_indexes(handle)
        created = netlink.create_taps(spec.netns, [t for t in taps if t not in indexes])
        record.links += [t for t in created if t not in record.links]
        record.save()
        indexes = netlink.link_indexes(handle)
        for tap in taps:
            netlink.attach(handle, indexes[tap], indexes[bridge])
    if spec.head_outside:
        _head_veth_up(spec, record)


def _head_veth_up(spec: ClusterSpec, record: Record) -> None:
    """The head outside the namespace: a veth from the caller's namespace to the bridge, with
    the head's address on the caller's end."""
    outer, inner = spec.veth_names()
    head = str(spec.network.interface.ip)
    prefix = spec.network.interface.network.prefixlen
    with netlink.open_handle() as handle:
        if netlink.ensure_veth(handle, outer, inner, spec.netns, spec.network.bridge):
            record.outer_links.append(outer)
            record.save()
        netlink.add_address(handle, outer, head, prefix)  # goes with the link on down


def _head_namespace(spec: ClusterSpec) -> str:
    """Where the head's address is ("" = the caller's namespace): where NAT belongs."""
    return "" if spec.head_outside else spec.netns


def _nat_up(spec: ClusterSpec, record: Record) -> None:
    where = _head_namespace(spec)
    enter = netlink.namespace_entry(where) if where else None
    table = nat.table_name(spec)
    record.nat = [where, table]
    record.save()  # before it exists: a crash half-way still leaves down something to delete
    nat.add_table(table, spec.network.interface.network, enter)
    if not netlink.run_in_namespace(where, nat.forwarding):
        netlink.run_in_namespace(where, lambda: nat.set_forwarding(True))
        record.forwarding.append(where)
        record.save()
    log.info("masquerading %s (nft table ip %s%s)", spec.network.interface.network, table,
             f" in namespace {where}" if where else "")


def _note_link(record: Record, name: str) -> None:
    if name not in record.links:
        record.links.append(name)
        record.save()


def _write_files(spec: ClusterSpec) -> None:
    disks: list[list[str]] = []
    for node in spec.nodes:
        path = bmc_config_path(spec, node.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # It holds the BMC passwords: 0600 from creation (a new file each time), no chmod.
        path.unlink(missing_ok=True)
        create_private_file(path, generate.to_toml(generate.bmc_config(spec, node)))
        disk = generate.disk_path(spec, node)
        if not disk.exists():
            disk.parent.mkdir(parents=True, exist_ok=True)
            command = ["qemu-img", "create", "-q", "-f", "qcow2"]
            if node.base:
                command += ["-b", str(spec.resolve(node.base).resolve()), "-F", "qcow2"]
            command += [str(disk)] + ([] if node.base else [node.disk])
            disks.append(command)
        uefi_vars = generate.uefi_vars_path(spec, node)
        if node.firmware == "uefi" and not uefi_vars.exists():
            if not Path(generate.OVMF_VARS).is_file():
                raise ClusterError(f"{node.name}: firmware = \"uefi\" needs OVMF "
                                   f"({generate.OVMF_VARS}: apt-get install ovmf)")
            uefi_vars.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(generate.OVMF_VARS, uefi_vars)  # the node's own NVRAM, kept
    _run_all(disks)


def _run_all(commands: list[list[str]], parallel: int = 8, timeout: float = 60.0) -> None:
    """Run the commands, `parallel` at a time; the first failure is raised (after the rest)."""
    failures: list[str] = []
    for start in range(0, len(commands), parallel):
        batch = [(c, subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT))
                 for c in commands[start:start + parallel]]
        for command, proc in batch:
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            if proc.returncode != 0:
                failures.append(f"{' '.join(command)}: {out.decode(errors='replace').strip()}")
    if failures:
        raise ClusterError(failures[0])


def tftp_root(spec: ClusterSpec) -> Path:
    return spec.state_dir / "tftp"


def _start_dnsmasq(spec: ClusterSpec, record: Record) -> None:
    binary = shutil.which("dnsmasq")
    if binary is None:
        raise ClusterError("[provision] needs dnsmasq (apt-get install dnsmasq)")
    root = tftp_root(spec)
    root.mkdir(parents=True, exist_ok=True)
    for source in (spec.provision.kernel, spec.provision.initrd):
        if source:
            path = spec.resolve(source)
            if not path.is_file():
                raise ClusterError(f"{spec.source}: [provision]: no such file {path}")
            shutil.copyfile(path, root / path.name)
    for rom in IPXE_ROMS:  # for real PXE ROMs; QEMU's NIC ROMs are iPXE already
        if rom.is_file():
            shutil.copyfile(rom, root / rom.name)
    (root / "boot.ipxe").write_text(generate.ipxe_dispatch())
    for node in spec.nodes:
        (root / generate.ipxe_script_name(node)).write_text(generate.ipxe_script(spec, node))
    conf = run_dir(spec) / "dnsmasq.conf"
    conf.write_text(generate.dnsmasq_config(spec, root, run_dir(spec) / "dnsmasq.leases",
                                            run_dir(spec) / "dnsmasq.pid"))
    _start(spec, record, "dnsmasq", [binary, "--keep-in-foreground", f"--conf-file={conf}",
                                     f"--log-facility={run_dir(spec) / 'dnsmasq.log'}"],
           "dnsmasq.out")


def _start_http(spec: ClusterSpec, record: Record) -> None:
    """pybmc's HTTP boot server, on the head's address, in the namespace that holds it."""
    _start(spec, record, "http", [sys.executable, "-m", "pybmc.cluster.httpboot",
                                  "--root", str(tftp_root(spec)),
                                  "--bind", str(spec.network.interface.ip),
                                  "--port", str(spec.provision.http_port)], "http.log",
           netns=_head_namespace(spec))


def _start(spec: ClusterSpec, record: Record, what: str, command: list[str],
           log_name: str, netns: str | None = None) -> None:
    """Start a detached process in the lab's namespace, or in `netns` ("" = the caller's)."""
    run_dir(spec).mkdir(parents=True, exist_ok=True)
    netns = spec.netns if netns is None else netns
    preexec = netlink.namespace_entry(netns) if netns else None
    with open(run_dir(spec) / log_name, "ab") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, preexec_fn=preexec)
    record.add_process(proc.pid, what)
    log.info("started %s (pid %d)", what, proc.pid)


def _wait_for_bmcs(spec: ClusterSpec, record: Record, timeout: float) -> None:
    pending = set(current_addresses(spec).values())
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        if record.process("serve") is None:
            raise ClusterError(f"pybmc serve exited; see {run_dir(spec) / 'serve.log'}")
        pending -= probe_all(spec, pending, 0.3)
        if pending:
            time.sleep(0.2)
    if pending:
        raise ClusterError(f"BMCs at {', '.join(sorted(pending))} did not answer within "
                           f"{timeout:.0f} s; see {run_dir(spec) / 'serve.log'}")


def probe_all(spec: ClusterSpec, addresses: set[str], timeout: float) -> set[str]:
    """Which of the BMCs answer at address:623 (inside the lab's namespace): one socket asks
    them all at once, and listens for `timeout` s."""
    def ask() -> set[str]:
        answered: set[str] = set()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for address in addresses:
                with contextlib.suppress(OSError):  # not there (yet): it stays pending
                    sock.sendto(AUTH_CAP_PING, (address, 623))
            deadline = time.monotonic() + timeout
            while len(answered) < len(addresses) and (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    _, peer = sock.recvfrom(512)
                except OSError:  # timeout, or an ICMP error reported on the socket
                    continue
                answered.add(peer[0])
        return answered & addresses
    try:
        return netlink.run_in_namespace(spec.netns, ask, timeout + 2.0)
    except (OSError, TimeoutError):
        return set()


def down(spec: ClusterSpec) -> list[str]:
    """Stop and remove what the record says `up` made; returns what was removed."""
    try:
        return _down(spec)
    except (OSError, netlink.NetlinkError, subprocess.SubprocessError, nat.NatError) as err:
        raise ClusterError(f"down failed: {err} (what is left is still recorded: run down "
                           "again)") from None


def _down(spec: ClusterSpec) -> list[str]:
    record = Record.load(run_dir(spec))
    removed: list[str] = []
    for proc in reversed(record.processes):
        if proc.alive():
            if not stop_process(proc):
                raise ClusterError(f"{proc.what} (pid {proc.pid}) does not stop")
            removed.append(f"{proc.what} (pid {proc.pid})")
    removed += _stop_leftover_vms(spec)
    record.processes.clear()
    record.save()
    removed += _remove_outer(record)
    if record.netns:
        if netlink.remove_namespace(record.netns):
            removed.append(f"namespace {record.netns}")
    elif record.links or record.addresses:
        if spec.netns and spec.netns not in netlink.namespaces():
            pass  # someone else's namespace, gone already: and all it held with it
        else:
            removed += _remove_links(spec, record)
    record.forget()
    return removed


def _usable(namespace: str) -> bool:
    return not namespace or namespace in netlink.namespaces()


def _remove_outer(record: Record) -> list[str]:
    """NAT, forwarding and links up made outside the namespace it removes whole (or in it,
    when up did not create it)."""
    removed = []
    if record.nat and _usable(record.nat[0]):
        where, table = record.nat
        if nat.delete_table(table, netlink.namespace_entry(where) if where else None):
            removed.append(f"nft table ip {table}" + (f" in {where}" if where else ""))
    for where in record.forwarding:
        if _usable(where):
            netlink.run_in_namespace(where, lambda: nat.set_forwarding(False))
            removed.append("IPv4 forwarding (off again)" + (f" in {where}" if where else ""))
    record.nat, record.forwarding = [], []
    if record.outer_links:
        with netlink.open_handle() as handle:
            for name in reversed(record.outer_links):
                if netlink.delete_link(handle, name):
                    removed.append(f"interface {name}")
        record.outer_links = []
    record.save()
    return removed


def _remove_links(spec: ClusterSpec, record: Record) -> list[str]:
    removed = []
    with netlink.open_handle(spec.netns) as handle:
        for interface, address, prefix in record.addresses:
            if netlink.remove_address(handle, interface, address, prefix):
                removed.append(f"address {address}/{prefix} on {interface}")
        for name in reversed(record.links):
            if netlink.delete_link(handle, name):
                removed.append(f"interface {name}")
    return removed


def _stop_leftover_vms(spec: ClusterSpec) -> list[str]:
    """QEMUs the serve process left running (it crashed, or was killed): by their pid files."""
    removed = []
    for node in spec.nodes:
        proc = qemu_process(spec, node)
        if proc is not None and stop_process(proc, wait=3.0):
            removed.append(f"QEMU of {node.name} (pid {proc.pid})")
    return removed


def require_root() -> None:
    import os

    if os.geteuid() != 0:
        raise ConfigError("pybmc cluster up/down needs root (bridges, taps, namespaces)")
