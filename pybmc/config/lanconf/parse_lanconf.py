"""lan.conf directives (name, startlan ... endlan, user, startcmd, ...) become [bmc], [[users]],
[security], [lan], [power], [in_band] and [sol] entries, or warnings naming their line.

Relative paths in the lan.conf (the `startcmd` and its arguments, the `lan_config_program`)
are resolved against the lan.conf's directory, where ipmi_sim users start ipmi_sim: pybmc
runs commands from its own working directory, which is usually another one.
"""

from __future__ import annotations

import ipaddress
import shlex
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pybmc.config.lanconf.document import Document, Table
from pybmc.config.lanconf.lexer import (
    BMC_IPMB,
    BOOLEANS,
    LanConfError,
    Line,
    Notes,
    Skip,
    arg,
    boolean,
    byte_string,
    c_int,
    printable,
)

LAN_CHANNEL = 1
PRIVILEGES = {"callback": "callback", "user": "user", "operator": "operator",
              "admin": "administrator"}
AUTH_TYPES = {"none": "none", "md2": "md2", "md5": "md5", "straight": "password"}
AUTH_ORDER = ("none", "md2", "md5", "password")
MAX_PYBMC_USER = 16


# ====================================================================== lan.conf
@dataclass
class LanState:
    """What the lan.conf said, as far as translation needs to remember across lines."""

    working_mc: int = BMC_IPMB
    in_lan: Line | None = None  # the open startlan line
    lan_done: bool = False
    address: Line | None = None
    address_refused: tuple[Line, str] | None = None  # an addr pybmc cannot serve, and why
    auths: dict[str, tuple[Line, list[str]]] = field(default_factory=dict)
    startcmd: Line | None = None
    power_lines: list[Line] = field(default_factory=list)  # startnow/poweroff_wait/kill_wait


class LanConfTranslator:
    def __init__(self, doc: Document, notes: Notes, base_dir: Path) -> None:
        self.doc = doc
        self.notes = notes
        self.base_dir = base_dir.absolute()  # relative paths in the file start here
        self.state = LanState()
        self.handlers: dict[str, Callable[[Line], None]] = {
            "name": self.name, "set_working_mc": self.set_working_mc,
            "startlan": self.startlan, "endlan": self.endlan, "user": self.user,
            "serial": self.serial, "sol": self.sol, "chassis_control": self.chassis_control,
            "startcmd": self.startcmd, "startnow": self.power_option,
            "poweroff_wait": self.power_option, "kill_wait": self.power_option,
            "console": self.unsupported("the telnet console of .emu commands has no pybmc "
                                        "equivalent (it was a security hole)"),
            "loadlib": self.unsupported("loadable ipmi_sim modules cannot run in pybmc"),
            "ipmb": self.unsupported("real IPMB devices are not emulated by pybmc"),
        }
        self.lan_handlers: dict[str, Callable[[Line], None]] = {
            "addr": self.addr, "priv_limit": self.priv_limit, "guid": self.guid,
            "bmc_key": self.bmc_key, "PEF_alerting": self.pef_alerting,
            "per_msg_auth": self.per_msg_auth, "lan_config_program": self.lan_config_program,
            **{f"allowed_auths_{level}": self.allowed_auths for level in PRIVILEGES},
        }

    # ---------------------------------------------------------------- driver
    def feed(self, line: Line) -> None:
        keyword = line.tokens[0]
        try:
            if self.state.in_lan is not None and keyword != "endlan":
                handler = self.lan_handlers.get(keyword)
                if handler is None:
                    raise Skip(f"{keyword!r} is not a startlan directive")
            else:
                handler = self.handlers.get(keyword)
                if handler is None:
                    raise Skip(f"unknown directive {keyword!r}")
            handler(line)
        except Skip as why:
            self.notes.warn(line, f"not translated: {line.text}: {why}")

    def finish(self, source: str) -> None:
        bmc = self.doc.table("bmc")
        if not bmc.has("name"):
            raise LanConfError(f"{source}: no `name` directive (ipmi_sim refuses such a file "
                               "too: \"name not set in config file\")")
        if self.state.in_lan is not None:
            self.notes.warn(self.state.in_lan, "startlan without endlan; translated anyway")
            self.endlan(self.state.in_lan)
        if self.state.address is None and self.state.address_refused is not None:
            line, reason = self.state.address_refused
            raise LanConfError(f"{line.where}: {line.text}: {reason}")
        if self.state.address is None:
            raise LanConfError(f"{source}: no `startlan` block with an `addr`: pybmc needs the "
                               "address the BMC answers on")
        self._finish_power()

    def _for_bmc(self, line: Line) -> None:
        """Directives that apply to the working MC; pybmc emulates the BMC (0x20) only."""
        if self.state.working_mc != BMC_IPMB:
            raise Skip(f"it applies to MC {self.state.working_mc:#04x} (set_working_mc); "
                       f"pybmc emulates only the BMC at {BMC_IPMB:#04x}")

    @staticmethod
    def unsupported(reason: str) -> Callable[[Line], None]:
        def handler(line: Line) -> None:
            raise Skip(reason)
        return handler

    # ---------------------------------------------------------------- top level
    def name(self, line: Line) -> None:
        raw = arg(line, 1, "the name")
        cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in raw) or "bmc"
        if cleaned != raw:
            self.notes.warn(line, f"name {raw!r} written as {cleaned!r}: pybmc names are "
                                  "letters, digits, '-', '_' and '.'")
        self.doc.table("bmc").set("name", cleaned, line.where)

    def set_working_mc(self, line: Line) -> None:
        self.state.working_mc = c_int(arg(line, 1, "the MC address"), "MC address")

    def startlan(self, line: Line) -> None:
        self._for_bmc(line)
        channel = c_int(arg(line, 1, "the channel"), "channel")
        if self.state.lan_done:
            self.state.in_lan = line  # swallow its block; warn once here
            raise Skip("pybmc serves one LAN channel per BMC; only the first startlan block "
                       "is translated (give each further address its own pybmc config)")
        if channel != LAN_CHANNEL:
            self.notes.warn(line, f"LAN channel {channel} is served as pybmc's channel "
                                  f"{LAN_CHANNEL}")
        self.state.in_lan = line

    def endlan(self, line: Line) -> None:
        if self.state.in_lan is None:
            raise Skip("endlan without startlan")
        first = not self.state.lan_done
        self.state.in_lan = None
        self.state.lan_done = True
        if first:
            self._finish_auths()

    def _lan_block_skipped(self) -> bool:
        """True inside a second startlan block, whose directives were already warned about."""
        return self.state.lan_done and self.state.in_lan is not None

    def user(self, line: Line) -> None:
        self._for_bmc(line)
        if len(line.tokens) < 7:
            raise Skip("user needs: number enabled name password privilege max-sessions")
        number = c_int(line.tokens[1], "user number")
        enabled = boolean(line, 2, "enabled")
        name = printable(byte_string(line.tokens[3], 16, "name"), "user name")
        password = printable(byte_string(line.tokens[4], 20, "password"), "password")
        level = line.tokens[5].lower()
        if level not in PRIVILEGES:
            raise Skip(f"privilege {level!r} is not callback, user, operator or admin")
        if number == 1:
            raise Skip("user 1 is the anonymous (null-name) user; pybmc's user 1 has no name "
                       "and cannot be configured: give that login a name of its own")
        if not 2 <= number <= MAX_PYBMC_USER:
            raise Skip(f"pybmc has user IDs 2..{MAX_PYBMC_USER}; user {number} does not fit")
        if not name:
            raise Skip("a user other than 1 with an empty name cannot log in")
        self._drop_earlier_user(line, number)
        item = self.doc.new_item("users")
        item.set("id", number, line.where)
        item.set("name", name)
        item.set("password", password)
        item.set("privilege", PRIVILEGES[level])
        if not enabled:
            item.set("enabled", False)
        extra = " ".join(line.tokens[7:])
        item.notes.append(f"{line.where}: max sessions {line.tokens[6]} (ipmi_sim does not "
                          f"enforce it either){'; trailing ' + repr(extra) if extra else ''}")

    def _drop_earlier_user(self, line: Line, number: int) -> None:
        """A later `user N` line replaces an earlier one, as in ipmi_sim."""
        users = self.doc.arrays.get("users", [])
        for item in list(users):
            if item.get("id") == number:
                users.remove(item)
                self.notes.warn(line, f"user {number} was also defined at "
                                      f"{item.entries[0].comment}; this line wins")

    def serial(self, line: Line) -> None:
        self._for_bmc(line)
        tokens = [t.lower() for t in line.tokens]
        codec = tokens[tokens.index("codec") + 1] if "codec" in tokens[:-1] else ""
        if codec != "vm":
            raise Skip(f"serial codec {codec or '(none)'!r}: pybmc's in-band interface is the "
                       "QEMU ipmi-bmc-extern (VM) codec only")
        if "connect" in tokens:
            raise Skip("`connect` (the BMC dialling QEMU) is not supported: QEMU connects to "
                       "pybmc (give QEMU's chardev `reconnect=N` instead of `server`)")
        host = resolve_ipv4(arg(line, 2, "the address"))
        port = c_int(arg(line, 3, "the port"), "port")
        if not 0 < port < 65536:
            raise Skip(f"port {port} is not 1..65535")
        if not ipaddress.ip_address(host).is_loopback:
            # [in_band] listen refuses it: the translation must stay a config that serves.
            self.notes.warn(line, f"in-band listener on {host}: pybmc listens for the VM's "
                                  "link on loopback addresses only (anything that connects "
                                  "acts as the host's administrator); translated to "
                                  "127.0.0.1, point QEMU's -chardev there")
            host = "127.0.0.1"
        self.doc.table("in_band").set("listen", f"tcp:{host}:{port}",
                                      f"{line.where}: QEMU's ipmi-bmc-extern connects here")

    def sol(self, line: Line) -> None:
        self._for_bmc(line)
        device = arg(line, 1, "the console device")
        baud = c_int(arg(line, 2, "the baud rate"), "baud rate")
        table = self.doc.table("sol")
        if device.startswith(("tcp:", "telnet:")):
            table.set("serial", str(device), line.where)
        else:
            self.notes.warn(line, f"SOL console {device!r}: pybmc's [sol] serial takes "
                                  "tcp:HOST:PORT, telnet:HOST:PORT or unix:PATH, not a tty")
        if baud != 115200:
            self.notes.warn(line, f"baud {baud}: pybmc's SOL bit rate starts at 115.2 kbps "
                                  "(clients may change it with Set SOL Configuration)")
        for option in line.tokens[3:]:
            self._sol_option(line, table, option)

    def _sol_option(self, line: Line, table: Table, option: str) -> None:
        key, _, value = option.partition("=")
        if key == "history":
            size, _, backup = value.partition(",")
            table.set("history_size", c_int(size, "history size"), line.where)
            if backup:
                self.notes.warn(line, f"{backup!r}: pybmc does not save the console history "
                                      "to a file")
        elif key == "nortscts":
            table.notes.append(f"{line.where}: nortscts (serial-line flow control; not "
                               "applicable to a socket)")
        else:
            self.notes.warn(line, f"SOL option {option!r} is not supported by pybmc")

    def chassis_control(self, line: Line) -> None:
        self._for_bmc(line)
        raise Skip("pybmc has no external chassis_control program: use [power] backend = "
                   "\"qemu\" or \"command\" (a launch command), or the simulated machine")

    def startcmd(self, line: Line) -> None:
        self._for_bmc(line)
        command = arg(line, 1, "the command")
        power = self.doc.table("power")
        power.set("backend", "command", line.where)
        # ipmi_sim runs `/bin/sh -c "exec CMD"`; pybmc runs `/bin/sh -c CMD` in a session of
        # its own and signals the whole process group, so the VM gets the signals either way.
        # The command (./CN1-qemu.sh) and its arguments (disk images, ifup scripts) were
        # relative to where ipmi_sim was started: the lan.conf's directory.
        power.set("command_on", f"cd {shlex.quote(str(self.base_dir))} && {command}",
                  "run by /bin/sh -c from the lan.conf's directory")
        self.state.startcmd = line

    def power_option(self, line: Line) -> None:
        self._for_bmc(line)
        arg(line, 1, "the value")
        self.state.power_lines.append(line)

    def _finish_power(self) -> None:
        options = {line.tokens[0]: line for line in self.state.power_lines}
        if self.state.startcmd is None:
            for line in options.values():
                self.notes.warn(line, f"not translated: {line.text}: there is no startcmd, "
                                      "so there is no process to start or stop")
            return
        power = self.doc.table("power")
        kill = options.get("kill_wait")
        kill_wait = c_int(kill.tokens[1], "kill_wait") if kill else 20
        if kill_wait == 0:
            self.notes.warn(kill, "kill_wait 0 (never SIGKILL) has no pybmc form; using 600 s")
            kill_wait = 600
        power.set("command_off_wait", float(min(kill_wait, 600)),
                  kill.where if kill else "ipmi_sim's default kill_wait")
        poweroff = options.get("poweroff_wait")
        if poweroff is not None and c_int(poweroff.tokens[1], "poweroff_wait") != 0:
            self.notes.warn(poweroff, "poweroff_wait (seconds between the VM power-off "
                                      "request and SIGTERM) has no pybmc key: pybmc's command "
                                      "backend signals the process at once")
        startnow = options.get("startnow")
        now = startnow is not None and BOOLEANS.get(startnow.tokens[1].lower(), False)
        power.set("restore_policy", "always-on" if now else "always-off",
                  f"{startnow.where if startnow else 'no startnow'}: "
                  f"{'start' if now else 'do not start'} the VM when pybmc starts")

    # ---------------------------------------------------------------- inside startlan
    def addr(self, line: Line) -> None:
        if self._lan_block_skipped():
            return
        if self.state.address is not None:
            raise Skip("a second addr (ipmi_sim refuses it too: \"LAN address already set\")")
        host = arg(line, 1, "the address")
        try:
            address = resolve_ipv4(host)
        except Skip as why:
            self.state.address_refused = (line, str(why))
            raise
        bmc = self.doc.table("bmc")
        bmc.set("address", address, f"{line.where}: {line.text}")
        if len(line.tokens) > 2:
            port = c_int(line.tokens[2], "port")
            if port != 623:
                bmc.set("port", port, line.where)
        if address == "0.0.0.0":
            self.notes.warn(line, "0.0.0.0: pybmc answers from the address a request came to "
                                  "only when it listens on that address; put the BMC's own "
                                  "address here")
        self.state.address = line

    def priv_limit(self, line: Line) -> None:
        if self._lan_block_skipped():
            return
        level = arg(line, 1, "the privilege").lower()
        if level not in PRIVILEGES:
            raise Skip(f"privilege {level!r} is not callback, user, operator or admin")
        if level != "admin":
            raise Skip("ipmi_sim ignores priv_limit at start-up (the channel limit becomes "
                       "ADMIN); pybmc's starts at administrator too and has no config key: "
                       "lower it over IPMI with Set Channel Access")
        self.doc.table("security").notes.append(
            f"{line.where}: priv_limit admin (pybmc's channel privilege limit starts at "
            "administrator)")

    def allowed_auths(self, line: Line) -> None:
        if self._lan_block_skipped():
            return
        level = line.tokens[0].removeprefix("allowed_auths_")
        names = []
        for token in line.tokens[1:]:
            if token.lower() not in AUTH_TYPES:
                raise Skip(f"auth type {token!r} is not none, md2, md5 or straight")
            names.append(AUTH_TYPES[token.lower()])
        self.state.auths[level] = (line, names)

    def _finish_auths(self) -> None:
        security = self.doc.table("security")
        if not self.state.auths:
            security.set("auth_types", [], "no allowed_auths_* lines: ipmi_sim allowed no "
                                           "IPMI 1.5 session")
            return
        union = sorted({n for _, names in self.state.auths.values() for n in names},
                       key=AUTH_ORDER.index)
        lines = [line for line, _ in self.state.auths.values()]
        differ = len({tuple(sorted(n)) for _, n in self.state.auths.values()}) > 1
        missing = [level for level in PRIVILEGES if level not in self.state.auths]
        if differ or missing:
            self.notes.warn(lines[0], "pybmc allows the same IPMI 1.5 auth types at every "
                                      "privilege level; using the union of the "
                                      "allowed_auths_* lines")
        comment = ", ".join(line.where for line in lines)
        security.set("auth_types", union, comment)
        if "none" in union:
            security.notes.append("auth type none: IPMI 1.5 logins without a password, as "
                                  "the lan.conf allowed")

    def guid(self, line: Line) -> None:
        if self._lan_block_skipped():
            return
        token = arg(line, 1, "the GUID")
        if not token.quoted and len(token) == 32:
            try:
                wire = bytes.fromhex(token)
            except ValueError:
                raise Skip(f"{token!r} is not 32 hex digits") from None
        else:
            wire = token.encode("latin-1", errors="replace")[:16].ljust(16, b"\x00")
        # ipmi_sim sends the bytes in file order; pybmc sends its UUID least significant byte
        # first, so this UUID puts the same 16 bytes on the wire.
        guid = uuid.UUID(bytes=wire[::-1])
        self.doc.table("bmc").set("guid", str(guid), f"{line.where}: the same bytes on the "
                                                     "wire as ipmi_sim's guid")

    def bmc_key(self, line: Line) -> None:
        if self._lan_block_skipped():
            return
        raise Skip("pybmc has no K_G (BMC key) setting yet: RMCP+ keys come from the user "
                   "password")

    def pef_alerting(self, line: Line) -> None:
        if self._lan_block_skipped():
            return
        if boolean(line, 1, "PEF_alerting"):
            raise Skip("pybmc sends no PEF alerts")
        self.doc.table("security").notes.append(f"{line.where}: PEF_alerting off (pybmc sends "
                                                "no alerts)")

    def per_msg_auth(self, line: Line) -> None:
        if self._lan_block_skipped():
            return
        if not boolean(line, 1, "per_msg_auth"):
            raise Skip("pybmc always authenticates every IPMI 1.5 message (ipmi_sim did "
                       "not enforce per_msg_auth either)")
        self.doc.table("security").notes.append(f"{line.where}: per_msg_auth on (pybmc "
                                                "always checks every message)")

    def lan_config_program(self, line: Line) -> None:
        if self._lan_block_skipped():
            return
        program = str(arg(line, 1, "the program"))
        try:
            words = shlex.split(program)
        except ValueError as err:
            raise Skip(f"cannot split {program!r} into words: {err}") from None
        if not words:
            raise Skip("the program is empty")
        resolved = self.resolve_path(words[0])
        if resolved != words[0]:
            program = shlex.join([resolved, *words[1:]])
        lan = self.doc.table("lan")
        lan.set("config_program", program, line.where)
        lan.notes.append(f"{line.where}: pybmc runs it with `set ip_addr ...` when a client "
                         "changes the address, as ipmi_sim did; it never runs `get`: pybmc "
                         "keeps the LAN parameters itself")

    def resolve_path(self, word: str) -> str:
        """A relative path (one with a `/`) made absolute against the lan.conf's directory;
        a bare command name is left to PATH, as the shell would."""
        if "/" not in word or word.startswith("/"):
            return word
        return str(self.base_dir / word)


def resolve_ipv4(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address):
        raise Skip(f"{host} is an IPv6 address: IPv6 is not supported (pybmc serves IPv4 "
                   "addresses only)")
    if address is not None:
        return str(address)
    if host == "localhost":
        return "127.0.0.1"
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        raise Skip(f"host name {host!r} does not resolve to an IPv4 address here") from None
    return str(infos[0][4][0])


