"""`pybmc import-lanconf`: translate an OpenIPMI ipmi_sim lan.conf (and its .emu) into pybmc TOML.

    text, warnings = translate_files(Path("lan.conf"), Path("ipmisim1.emu"))

The lan.conf language (OpenIPMI lanserv/config.c, lanserv_config.c): one directive per line,
tokens split on blanks, `"..."`/`'...'` strings, `$NAME` replaced by a `define`d value, `#`
starting a comment. The .emu language is the same, plus `\\` at the end of a line continuing it.

Every directive either becomes TOML (each value carries a comment naming the line it came from)
or a warning naming the line: nothing is silently dropped. A few files are fatal instead (no
`name`, no `addr`): pybmc cannot serve a BMC without them, and ipmi_sim refuses them too.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BMC_IPMB = 0x20
LAN_CHANNEL = 1
PRIVILEGES = {"callback": "callback", "user": "user", "operator": "operator",
              "admin": "administrator"}
AUTH_TYPES = {"none": "none", "md2": "md2", "md5": "md5", "straight": "password"}
AUTH_ORDER = ("none", "md2", "md5", "password")
BOOLEANS = {"true": True, "on": True, "yes": True, "1": True,
            "false": False, "off": False, "no": False, "0": False}
MAX_PYBMC_USER = 16
WATCHDOG_SENSOR_TYPE = 0x23
THRESHOLD_READING = 0x01
SENSOR_SPECIFIC_READING = 0x6F
# IPMI threshold order (mask bit n, Get Sensor Thresholds byte n+1).
THRESHOLD_KEYS = ("lnc", "lc", "lnr", "unc", "uc", "unr")
FRU_EPOCH = datetime(1996, 1, 1, tzinfo=UTC)
MAX_INCLUDE_DEPTH = 8


class LanConfError(Exception):
    """A problem that makes translation impossible, phrased as one line naming the file."""


# ====================================================================== lexer
class Token(str):
    """A token's text; `quoted` tells `"abc"` from `abc` (ipmi_sim reads unquoted 32-hex
    tokens as bytes)."""

    quoted: bool = False


def _token(text: str, quoted: bool) -> Token:
    token = Token(text)
    token.quoted = quoted
    return token


def split_tokens(text: str, variables: dict[str, str], quotes: str = "\"'") -> list[Token]:
    """Split one logical line; raise ValueError with a short reason on a syntax error.

    lan.conf quotes with `"` and `'`; the .emu language only with `"` (`'D` is a character
    there, as in `main_sdr_add ... 'D 'J`).
    """
    tokens: list[Token] = []
    index, length = 0, len(text)
    while index < length:
        while index < length and text[index] in " \t\r\n":
            index += 1
        if index >= length or text[index] == "#":
            break
        pieces: list[str] = []
        quoted = False
        while index < length and text[index] not in " \t\r\n":
            char = text[index]
            if char in quotes:
                end = text.find(char, index + 1)
                if end < 0:
                    raise ValueError(f"unterminated {char} string")
                pieces.append(text[index + 1:end])
                quoted = True
                index = end + 1
            elif char == "$":
                end = index + 1
                while end < length and (text[end].isalnum() or text[end] == "_"):
                    end += 1
                name = text[index + 1:end]
                if name not in variables:
                    raise ValueError(f"${name} is not defined")
                pieces.append(variables[name])
                index = end
            else:
                pieces.append(char)
                index += 1
        tokens.append(_token("".join(pieces), quoted))
    return tokens


@dataclass(frozen=True)
class Line:
    source: str  # file name as shown in messages
    number: int
    tokens: tuple[Token, ...]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.number}"

    @property
    def text(self) -> str:
        return " ".join(f'"{t}"' if t.quoted else str(t) for t in self.tokens)


@dataclass
class Notes:
    """Warnings, each naming a file and line."""

    items: list[str] = field(default_factory=list)

    def warn(self, line: Line | None, message: str) -> None:
        self.items.append(f"{line.where}: {message}" if line else message)


def read_lines(path: Path, shown: str, variables: dict[str, str], notes: Notes,
               emu: bool, depth: int = 0) -> Iterator[Line]:
    r"""The logical lines of a file, with `define` handled; for .emu files `\` continues a
    line and `include` is followed."""
    try:
        raw_lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise LanConfError(f"{shown}: cannot read: {err.strerror}") from None
    pending, start = "", 0
    for number, raw in enumerate(raw_lines, start=1):
        if emu and raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            start = start or number
            continue
        text, first = pending + raw, start or number
        pending, start = "", 0
        try:
            tokens = split_tokens(text, variables, '"' if emu else "\"'")
        except ValueError as err:
            notes.warn(Line(shown, first, ()), f"skipped: {err}")
            continue
        if not tokens:
            continue
        line = Line(shown, first, tuple(tokens))
        if tokens[0] == "define":
            _define(line, variables, notes)
        elif emu and tokens[0] in ("include", "read_cmds"):
            yield from _include(line, path, variables, notes, depth)
        else:
            yield line


def _define(line: Line, variables: dict[str, str], notes: Notes) -> None:
    if len(line.tokens) != 3:
        notes.warn(line, "skipped: define needs a name and a value")
        return
    variables[line.tokens[1]] = line.tokens[2]


def _include(line: Line, current: Path, variables: dict[str, str], notes: Notes,
             depth: int) -> Iterator[Line]:
    if len(line.tokens) != 2 or depth >= MAX_INCLUDE_DEPTH:
        notes.warn(line, "skipped: include needs one file name (and at most "
                         f"{MAX_INCLUDE_DEPTH} levels)")
        return
    target = Path(line.tokens[1])
    if not target.is_absolute():
        target = current.parent / target
    if not target.is_file():
        notes.warn(line, f"skipped: included file {target} does not exist")
        return
    yield from read_lines(target, target.name, variables, notes, True, depth + 1)


# ====================================================================== value readers
class Skip(Exception):
    """This line cannot be translated; the message says why (it becomes a warning)."""


def c_int(text: str, what: str) -> int:
    """A number as C's strtol(text, 0) reads it: 0x.. hex, 0.. octal, else decimal."""
    body = text[1:] if text[:1] in "+-" else text
    try:
        if body.lower().startswith("0x"):
            value = int(body, 16)
        elif len(body) > 1 and body.startswith("0"):
            value = int(body, 8)
        else:
            value = int(body, 10)
    except ValueError:
        raise Skip(f"{what} {text!r} is not a number") from None
    return -value if text.startswith("-") else value


def arg(line: Line, index: int, what: str) -> Token:
    if index >= len(line.tokens):
        raise Skip(f"{what} is missing")
    return line.tokens[index]


def boolean(line: Line, index: int, what: str) -> bool:
    text = arg(line, index, what).lower()
    if text not in BOOLEANS:
        raise Skip(f"{what} {text!r} is not true/false/on/off/yes/no/1/0")
    return BOOLEANS[text]


def byte_string(token: Token, size: int, what: str) -> bytes:
    """ipmi_sim's read_bytes: a quoted string cut to size-1 bytes, or exactly 32 hex digits."""
    if not token.quoted and len(token) == 32 and all(c in "0123456789abcdefABCDEF"
                                                     for c in token):
        return bytes.fromhex(token)[:size]
    return token.encode("latin-1", errors="replace")[: size - 1]


def printable(data: bytes, what: str) -> str:
    text = data.rstrip(b"\x00").decode("latin-1")
    if not text.isascii() or not text.isprintable():
        raise Skip(f"{what} {data.hex()} is not printable ASCII, which pybmc's TOML needs")
    return text


# ====================================================================== the TOML document
@dataclass
class Entry:
    key: str
    value: Any
    comment: str = ""


@dataclass
class Table:
    name: str
    array: bool = False
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # comment lines above the header

    def set(self, key: str, value: Any, comment: str = "") -> None:
        for entry in self.entries:
            if entry.key == key:
                entry.value, entry.comment = value, comment
                return
        self.entries.append(Entry(key, value, comment))

    def get(self, key: str, default: Any = None) -> Any:
        return next((e.value for e in self.entries if e.key == key), default)

    def has(self, key: str) -> bool:
        return any(e.key == key for e in self.entries)


ORDER = ("bmc", "users", "security", "identity", "power", "qemu", "sol", "sel", "fru",
         "fru.chassis", "fru.board", "fru.product", "sensors")


@dataclass
class Document:
    header: list[str] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    arrays: dict[str, list[Table]] = field(default_factory=dict)
    trailer: list[str] = field(default_factory=list)  # what has no pybmc key (yet)

    def table(self, name: str) -> Table:
        return self.tables.setdefault(name, Table(name))

    def new_item(self, name: str) -> Table:
        item = Table(name, array=True)
        self.arrays.setdefault(name, []).append(item)
        return item

    def render(self) -> str:
        out = [f"# {line}".rstrip() for line in self.header] + [""]
        for name in ORDER:
            for table in self.arrays.get(name, []) or ([self.tables[name]]
                                                        if name in self.tables else []):
                out += [f"# {note}" for note in table.notes]
                if not table.entries and not table.array:
                    out.append("")
                    continue
                out.append(f"[[{name}]]" if table.array else f"[{name}]")
                out += [_entry(entry) for entry in table.entries]
                out.append("")
        if self.trailer:
            out += [f"# {line}".rstrip() for line in self.trailer] + [""]
        return "\n".join(out).rstrip() + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _entry(entry: Entry) -> str:
    text = f"{entry.key} = {toml_value(entry.value)}"
    return f"{text:<40} # {entry.comment}" if entry.comment else text


# ====================================================================== lan.conf
@dataclass
class LanState:
    """What the lan.conf said, as far as translation needs to remember across lines."""

    working_mc: int = BMC_IPMB
    in_lan: Line | None = None  # the open startlan line
    lan_done: bool = False
    address: Line | None = None
    auths: dict[str, tuple[Line, list[str]]] = field(default_factory=dict)
    startcmd: Line | None = None
    power_lines: list[Line] = field(default_factory=list)  # startnow/poweroff_wait/kill_wait


class LanConfTranslator:
    def __init__(self, doc: Document, notes: Notes) -> None:
        self.doc = doc
        self.notes = notes
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
        host, port = arg(line, 2, "the address"), arg(line, 3, "the port")
        self.doc.trailer += [
            f"{line.where}: {line.text}",
            f"  QEMU's ipmi-bmc-extern connects to {host}:{port} for the guest's in-band IPMI.",
            "  With [power] backend = \"qemu\", pybmc adds that device and its socket itself",
            "  ([qemu] in_band = true). A pybmc key to listen on a fixed host:port for a QEMU",
            "  you start yourself is not final yet; until then use the qemu backend.",
            f"  in_band_listen = \"tcp:{host}:{port}\"   # (not a pybmc key yet)",
        ]
        if "connect" in tokens:
            self.notes.warn(line, "`connect` (the BMC dialling QEMU) is not supported: QEMU "
                                  "connects to pybmc")
        self.notes.warn(line, "in-band VM codec: no pybmc key yet for a fixed listener; see "
                              "the comment at the end of the output")

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
        power.set("command_on", str(command), "run by /bin/sh -c, as ipmi_sim did")
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
        address = resolve_ipv4(host)
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
        program = arg(line, 1, "the program")
        self.doc.trailer += [
            f"{line.where}: {line.text}",
            "  pybmc keeps the LAN parameters (IP address, MAC, netmask, gateways) itself",
            "  and persists what clients set. A hook that runs a program like this on",
            "  changes is not supported yet; initial values go in [lan] (see docs/config.md).",
            f"  config_program = {toml_value(str(program))}   # (not a pybmc key yet)",
        ]
        raise Skip("lan_config_program has no pybmc equivalent yet; LAN parameters live in "
                   "pybmc's state ([lan] sets their initial values)")


def resolve_ipv4(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address):
        raise Skip(f"{host} is IPv6; pybmc serves IPv4 addresses")
    if address is not None:
        return str(address)
    if host == "localhost":
        return "127.0.0.1"
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        raise Skip(f"host name {host!r} does not resolve to an IPv4 address here") from None
    return str(infos[0][4][0])


# ====================================================================== .emu
@dataclass
class EmuSensor:
    line: Line
    lun: int
    number: int
    sensor_type: int
    reading_type: int
    value: int | None = None
    thresholds: dict[str, int] = field(default_factory=dict)  # key -> raw
    states: set[int] = field(default_factory=set)


class EmuTranslator:
    def __init__(self, doc: Document, notes: Notes, base_dir: Path) -> None:
        self.doc = doc
        self.notes = notes
        self.base_dir = base_dir
        self.bmc_ipmb = BMC_IPMB
        self.sensors: dict[int, EmuSensor] = {}
        self.sdrs: list[tuple[Line, bytes]] = []
        self.handlers: dict[str, Callable[[Line], None]] = {
            "mc_setbmc": self.mc_setbmc, "mc_add": self.mc_add,
            "mc_enable": self.ignored, "mc_disable": self.mc_lifecycle,
            "mc_delete": self.mc_lifecycle, "sel_enable": self.sel_enable,
            "sel_add": self.for_bmc(self.unsupported(
                "pybmc's SEL starts empty (and persists what is logged)")),
            "sensor_add": self.for_bmc(self.sensor_add),
            "sensor_set_value": self.for_bmc(self.sensor_set_value),
            "sensor_set_threshold": self.for_bmc(self.sensor_set_threshold),
            "sensor_set_bit": self.for_bmc(self.sensor_set_bit),
            "sensor_set_bit_clr_rest": self.for_bmc(self.sensor_set_bit),
            "sensor_set_hysteresis": self.for_bmc(self.unsupported(
                "pybmc derives hysteresis from [[sensors]] hysteresis (in the unit)")),
            "sensor_set_event_support": self.for_bmc(self.unsupported(
                "pybmc derives event support from the sensor type and thresholds")),
            "main_sdr_add": self.for_bmc(self.main_sdr_add),
            "device_sdr_add": self.unsupported("pybmc has no device SDRs (it is a BMC with an "
                                               "SDR repository)"),
            "mc_add_fru_data": self.for_bmc(self.fru_data),
            "mc_set_guid": self.unsupported("set the GUID with lan.conf's guid ([bmc] guid)"),
            "mc_set_power": self.unsupported("the power state comes from the power backend"),
            "mc_set_num_leds": self.unsupported("LEDs are not emulated"),
            "mc_dump_fru_data": self.ignored, "debug": self.ignored, "sleep": self.ignored,
            "quit": self.ignored,
            "persist": self.persist,
            "atca_enable": self.unsupported("ATCA/PICMG is not emulated"),
            "atca_set_site": self.unsupported("ATCA/PICMG is not emulated"),
        }

    # ---------------------------------------------------------------- driver
    def feed(self, line: Line) -> None:
        handler = self.handlers.get(line.tokens[0])
        try:
            if handler is None:
                raise Skip(f"unknown command {line.tokens[0]!r}")
            handler(line)
        except Skip as why:
            self.notes.warn(line, f"not translated: {_short(line.text)}: {why}")

    def finish(self) -> None:
        named = self._sdr_names()
        for number in sorted(self.sensors):
            sensor = self.sensors[number]
            try:
                self._sensor_entry(sensor, named.get(number))
            except Skip as why:
                self.notes.warn(sensor.line, f"sensor {number} not translated: {why}")

    def for_bmc(self, handler: Callable[[Line], None]) -> Callable[[Line], None]:
        """Commands whose first argument is an MC address; only the BMC's are translated."""
        def checked(line: Line) -> None:
            mc = c_int(arg(line, 1, "the MC address"), "MC address")
            if mc != self.bmc_ipmb:
                raise Skip(f"MC {mc:#04x} is not the BMC ({self.bmc_ipmb:#04x}); pybmc "
                           "emulates the BMC only")
            handler(line)
        return checked

    @staticmethod
    def unsupported(reason: str) -> Callable[[Line], None]:
        def handler(line: Line) -> None:
            raise Skip(reason)
        return handler

    @staticmethod
    def ignored(line: Line) -> None:
        """Commands with no effect on a translated config (mc_enable, debug, sleep...)."""

    # ---------------------------------------------------------------- MC
    def mc_setbmc(self, line: Line) -> None:
        self.bmc_ipmb = c_int(arg(line, 1, "the BMC address"), "BMC address")
        if self.bmc_ipmb != BMC_IPMB:
            self.notes.warn(line, f"the BMC is at {self.bmc_ipmb:#04x}; pybmc's is always at "
                                  f"{BMC_IPMB:#04x} (clients rarely care)")

    def mc_lifecycle(self, line: Line) -> None:
        raise Skip("MCs cannot be disabled or deleted in pybmc")

    def persist(self, line: Line) -> None:
        if arg(line, 1, "on/off").lower() in ("off", "false", "0", "no"):
            raise Skip("pybmc always persists what clients set (start with --reset-state to "
                       "forget it)")

    def mc_add(self, line: Line) -> None:
        if len(line.tokens) < 10:
            raise Skip("mc_add needs: address device-id sdrs revision fw-major fw-minor "
                       "device-support manufacturer product")
        ipmb = c_int(line.tokens[1], "MC address")
        if ipmb != self.bmc_ipmb:
            raise Skip(f"MC {ipmb:#04x} is not the BMC; pybmc emulates the BMC only")
        device_id = c_int(line.tokens[2], "device ID")
        revision = c_int(line.tokens[4], "device revision")
        major = c_int(line.tokens[5], "firmware major")
        minor = c_int(line.tokens[6], "firmware minor")
        support = c_int(line.tokens[7], "device support")
        identity = self.doc.table("identity")
        identity.set("device_id", device_id & 0xFF, line.where)
        identity.set("device_revision", revision & 0x0F)
        minor_text = f"{minor & 0xFF:02x}"
        if minor_text.isdigit():
            identity.set("firmware_version", f"{major & 0x7F}.{minor_text}",
                         "minor revision as BCD, as ipmi_sim sent it")
        else:
            self.notes.warn(line, f"firmware minor {minor:#04x} is not BCD; pybmc's "
                                  "firmware_version is major.minor in decimal; kept the default")
        identity.set("manufacturer_id", c_int(line.tokens[8], "manufacturer") & 0xFFFFF)
        identity.set("product_id", c_int(line.tokens[9], "product") & 0xFFFF)
        identity.notes.append(f"{line.where}: device support {support:#04x} in ipmi_sim; "
                              "pybmc advertises sensor, SDR, SEL, FRU, IPMB event receiver "
                              "and generator, and chassis support")
        if not support & 0x80:
            self.notes.warn(line, "without device support bit 0x80 ipmi_sim answered 0xC1 to "
                                  "every chassis command; pybmc always supports them")
        for option in line.tokens[10:]:
            if option not in ("dynsens", "persist_sdr"):
                self.notes.warn(line, f"mc_add option {option!r} is not known")

    def sel_enable(self, line: Line) -> None:
        mc = c_int(arg(line, 1, "the MC address"), "MC address")
        if mc != self.bmc_ipmb:
            raise Skip(f"MC {mc:#04x} is not the BMC")
        entries = c_int(arg(line, 2, "the entry count"), "entry count")
        capacity = min(max(entries, 16), 4095)
        if capacity != entries:
            self.notes.warn(line, f"SEL of {entries} entries: pybmc holds 16..4095; using "
                                  f"{capacity}")
        self.doc.table("sel").set("capacity", capacity, line.where)

    # ---------------------------------------------------------------- sensors
    def sensor_add(self, line: Line) -> None:
        lun = c_int(arg(line, 2, "the LUN"), "LUN")
        number = c_int(arg(line, 3, "the sensor number"), "sensor number")
        sensor_type = c_int(arg(line, 4, "the sensor type"), "sensor type")
        reading_type = c_int(arg(line, 5, "the event/reading type"), "event/reading type")
        if sensor_type == WATCHDOG_SENSOR_TYPE:
            self.doc.table("identity").notes.append(
                f"{line.where}: the watchdog sensor; pybmc always has its own Watchdog sensor")
            return
        if lun != 0:
            raise Skip(f"LUN {lun}: pybmc's sensors are all on LUN 0")
        if "poll" in line.tokens[6:]:
            self.notes.warn(line, "polled sensor (file/poll): pybmc's reading is the value "
                                  "set below, not the file's")
        self.sensors[number] = EmuSensor(line, lun, number, sensor_type, reading_type)

    def _sensor(self, line: Line) -> EmuSensor:
        number = c_int(arg(line, 3, "the sensor number"), "sensor number")
        if number not in self.sensors:
            raise Skip(f"sensor {number} was not added (or is the watchdog)")
        return self.sensors[number]

    def sensor_set_value(self, line: Line) -> None:
        self._sensor(line).value = c_int(arg(line, 4, "the value"), "value") & 0xFF

    def sensor_set_bit(self, line: Line) -> None:
        sensor = self._sensor(line)
        bit = c_int(arg(line, 4, "the bit"), "bit")
        if line.tokens[0] == "sensor_set_bit_clr_rest":
            sensor.states = {bit}
        elif c_int(arg(line, 5, "the value"), "value"):
            sensor.states.add(bit)
        else:
            sensor.states.discard(bit)

    def sensor_set_threshold(self, line: Line) -> None:
        sensor = self._sensor(line)
        mask = arg(line, 5, "the enabled mask")
        if len(mask) != 6 or set(mask) - {"0", "1"}:
            raise Skip(f"threshold mask {mask!r} is not 6 bits")
        values = [c_int(arg(line, 6 + i, "a threshold"), "threshold") for i in range(6)]
        # The mask and the values run from bit 5 (unr) down to bit 0 (lnc).
        sensor.thresholds = {THRESHOLD_KEYS[5 - i]: values[i] & 0xFF
                             for i in range(6) if mask[i] == "1"}

    def main_sdr_add(self, line: Line) -> None:
        data = bytes(c_int(t, "SDR byte") & 0xFF if not t.startswith("'") else ord(t[1])
                     for t in line.tokens[2:])
        if len(data) < 5:
            raise Skip("an SDR has at least a 5-byte header")
        if data[3] not in (0x01, 0x02):
            raise Skip(f"SDR type {data[3]:#04x}: pybmc builds its own SDR repository from "
                       "[[sensors]] (only sensor records are read, for names and units)")
        self.sdrs.append((line, data))

    def _sdr_names(self) -> dict[int, bytes]:
        records: dict[int, bytes] = {}
        for line, data in self.sdrs:
            if len(data) < 8 or data[5] != self.bmc_ipmb:
                self.notes.warn(line, "SDR for another owner or too short; not used")
                continue
            records[data[7]] = data
        return records

    def _sensor_entry(self, sensor: EmuSensor, sdr: bytes | None) -> None:
        item = self.doc.new_item("sensors")
        item.set("name", _sensor_name(sensor, sdr, self.notes), sensor.line.where)
        item.set("type", sensor.sensor_type)
        item.set("number", sensor.number)
        if sdr is not None and len(sdr) > 9:
            item.set("entity", sdr[8])
            item.set("entity_instance", max(sdr[9] & 0x7F, 1))
        if sensor.reading_type == THRESHOLD_READING:
            self._analog(item, sensor, sdr)
        else:
            self._discrete(item, sensor)

    def _analog(self, item: Table, sensor: EmuSensor, sdr: bytes | None) -> None:
        convert = Conversion.from_sdr(sdr) if sdr is not None and sdr[3] == 0x01 else None
        if convert is None:
            self.notes.warn(sensor.line, f"sensor {sensor.number}: no full SDR, so readings "
                                         "are translated as raw numbers (0..255)")
            convert = Conversion()
        low, high = sorted((convert.value(convert.raw_min), convert.value(convert.raw_max)))
        item.set("behaviour", "constant", "ipmi_sim's reading stays where it was set")
        if convert.unit:
            item.set("unit", convert.unit)
        item.set("nominal", convert.value(sensor.value or 0))
        item.set("min", low)
        item.set("max", high)
        item.set("noise", 0.0)
        thresholds = {k: convert.value(v) for k, v in sensor.thresholds.items()}
        ordered = [k for k in ("lnr", "lc", "lnc", "unc", "uc", "unr") if k in thresholds]
        if any(thresholds[a] > thresholds[b] for a, b in itertools.pairwise(ordered)):
            self.notes.warn(sensor.line, f"sensor {sensor.number}: thresholds out of order; "
                                         "not translated")
        elif thresholds:
            item.set("thresholds", {k: thresholds[k] for k in ordered})
        if sensor.value is None:
            item.notes.append(f"{sensor.line.where}: no sensor_set_value (ipmi_sim showed no "
                              "reading); nominal is raw 0")

    def _discrete(self, item: Table, sensor: EmuSensor) -> None:
        if not 0x02 <= sensor.reading_type <= 0x7F:
            raise Skip(f"event/reading type {sensor.reading_type:#04x} is not a discrete one "
                       "pybmc knows (0x02..0x7f)")
        item.set("behaviour", "static")
        item.set("reading_type", sensor.reading_type)
        states = sorted(s for s in sensor.states if 0 <= s <= 14)
        item.set("states", states)
        default = _supported_offsets(sensor.sensor_type) \
            if sensor.reading_type == SENSOR_SPECIFIC_READING else ()
        if not set(states) <= set(default):
            item.set("offsets", sorted({*default, *states}))

    # ---------------------------------------------------------------- FRU
    def fru_data(self, line: Line) -> None:
        device = c_int(arg(line, 2, "the FRU device ID"), "FRU device ID")
        size = c_int(arg(line, 3, "the size"), "size")
        if device != 0:
            raise Skip(f"FRU device {device}: pybmc has FRU device 0 only")
        image = self._fru_bytes(line)
        fru = self.doc.table("fru")
        clamped = min(max(size, 64), 4096)
        if clamped != size:
            self.notes.warn(line, f"FRU size {size}: pybmc's is 64..4096; using {clamped}")
        fru.set("size", clamped, line.where)
        try:
            areas = parse_fru(image)
        except ValueError as err:
            raise Skip(f"the FRU data is not a FRU image ({err}); pybmc's default FRU "
                       "contents are used") from None
        for name, fields in areas.items():
            table = self.doc.table(f"fru.{name}")
            for key, value in fields.items():
                table.set(key, value)
        unsupported = [a for a in ("internal", "multirecord") if image[{"internal": 1,
                                                                        "multirecord": 5}[a]]]
        if unsupported:
            self.notes.warn(line, f"FRU {' and '.join(unsupported)} area(s) not translated")

    def _fru_bytes(self, line: Line) -> bytes:
        kind = arg(line, 4, "data or file")
        if kind == "data":
            return bytes(c_int(t, "FRU byte") & 0xFF for t in line.tokens[5:])
        if kind != "file":
            raise Skip(f"FRU data kind {kind!r} is not data or file")
        offset = c_int(arg(line, 5, "the file offset"), "file offset")
        path = Path(arg(line, 6, "the file name"))
        for candidate in (path, self.base_dir / path) if not path.is_absolute() else (path,):
            if candidate.is_file():
                return candidate.read_bytes()[offset:]
        raise Skip(f"FRU file {path} cannot be read from here")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sensor_name(sensor: EmuSensor, sdr: bytes | None, notes: Notes) -> str:
    name = ""
    if sdr is not None:
        at = 47 if sdr[3] == 0x01 else 31
        if len(sdr) > at:
            length = sdr[at] & 0x1F
            name = sdr[at + 1:at + 1 + length].decode("latin-1").strip()
    if not name:
        notes.warn(sensor.line, f"sensor {sensor.number} has no SDR with a name; called "
                                f"'Sensor {sensor.number}'")
        return f"Sensor {sensor.number}"
    if len(name) < 3 or not name.isascii() or not name.isprintable():
        fixed = f"{name} {sensor.number}"[:16] if name.isprintable() else \
            f"Sensor {sensor.number}"
        notes.warn(sensor.line, f"sensor name {name!r} written as {fixed!r} (pybmc needs 3 to "
                                "16 printable ASCII characters)")
        return fixed
    return name


def _supported_offsets(sensor_type: int) -> tuple[int, ...]:
    try:
        from pybmc.platform.codes import SUPPORTED_OFFSETS
    except ImportError:
        return ()
    return tuple(SUPPORTED_OFFSETS.get(sensor_type, ()))


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


@dataclass(frozen=True)
class Conversion:
    """A full sensor record's linear conversion y = (M x + B 10^Bexp) 10^Rexp."""

    m: int = 1
    b: int = 0
    b_exp: int = 0
    r_exp: int = 0
    signed: bool = False
    unit: int = 0

    @classmethod
    def from_sdr(cls, sdr: bytes) -> Conversion | None:
        if len(sdr) < 30:
            return None
        analog_format = sdr[20] >> 6
        return cls(m=_signed(sdr[24] | (sdr[25] & 0xC0) << 2, 10),
                   b=_signed(sdr[26] | (sdr[27] & 0xC0) << 2, 10),
                   b_exp=_signed(sdr[29] & 0x0F, 4), r_exp=_signed(sdr[29] >> 4, 4),
                   signed=analog_format == 2, unit=sdr[21])

    @property
    def raw_min(self) -> int:
        return 0x80 if self.signed else 0

    @property
    def raw_max(self) -> int:
        return 0x7F if self.signed else 0xFF

    def value(self, raw: int) -> float:
        x = _signed(raw, 8) if self.signed else raw
        return round((self.m * x + self.b * 10.0 ** self.b_exp) * 10.0 ** self.r_exp, 6)


# ====================================================================== FRU image parsing
def parse_fru(image: bytes) -> dict[str, dict[str, Any]]:
    """Chassis, board and product info of a FRU image, as pybmc's [fru.*] keys."""
    if len(image) < 8 or image[0] != 0x01 or sum(image[:8]) & 0xFF:
        raise ValueError("no valid common header")
    areas: dict[str, dict[str, Any]] = {}
    readers = {2: ("chassis", _chassis_area), 3: ("board", _board_area),
               4: ("product", _product_area)}
    for index, (name, reader) in readers.items():
        if image[index]:
            start = image[index] * 8
            if start + 2 > len(image):
                raise ValueError(f"the {name} area is outside the image")
            length = image[start + 1] * 8
            areas[name] = reader(image[start:start + length])
    if not areas:
        raise ValueError("no chassis, board or product area")
    return areas


def _fields(area: bytes, start: int, names: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    index = start
    for name in names:
        if index >= len(area) or area[index] == 0xC1:
            break
        kind, length = area[index] >> 6, area[index] & 0x3F
        raw = area[index + 1:index + 1 + length]
        values[name] = _fru_text(kind, raw)
        index += 1 + length
    return values


def _fru_text(kind: int, raw: bytes) -> str:
    if kind == 3:
        return raw.decode("latin-1").strip("\x00")
    if kind == 2:  # 6-bit packed ASCII
        bits = int.from_bytes(raw, "little")
        return "".join(chr(((bits >> (6 * i)) & 0x3F) + 0x20)
                       for i in range(len(raw) * 8 // 6)).rstrip()
    if kind == 1:  # BCD plus
        digits = "0123456789 -.???"
        return "".join(digits[n] for b in raw for n in (b >> 4, b & 0x0F)).strip()
    return raw.hex()


def _chassis_area(area: bytes) -> dict[str, Any]:
    fields = _fields(area, 3, ("part_number", "serial_number"))
    return {"type": area[2], **fields} if len(area) > 2 else fields


def _board_area(area: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = _fields(area, 6, ("manufacturer", "product_name",
                                               "serial_number", "part_number"))
    if len(area) >= 6:
        minutes = int.from_bytes(area[3:6], "little")
        if minutes:
            when = FRU_EPOCH + timedelta(minutes=minutes)
            fields["manufacture_date"] = when.strftime("%Y-%m-%d %H:%M")
    return fields


def _product_area(area: bytes) -> dict[str, Any]:
    return _fields(area, 3, ("manufacturer", "product_name", "part_number", "version",
                             "serial_number", "asset_tag"))


# ====================================================================== entry points
@dataclass(frozen=True)
class Translation:
    toml: str
    warnings: tuple[str, ...]


def translate_files(lan_conf: Path, emu: Path | None = None) -> Translation:
    """Translate the files; raise LanConfError when no usable config can come out."""
    notes = Notes()
    doc = Document()
    doc.header = [
        f"pybmc config translated from {lan_conf}" + (f" and {emu}" if emu else "")
        + " by `pybmc import-lanconf`.",
        "Each value's comment names the line it came from; what could not be translated was",
        "printed as a warning naming its line. Check it with `pybmc check-config FILE`.",
        "Unlike ipmi_sim, users persisted by an earlier ipmi_sim run (users.mc20 in its state",
        "directory) are not read: the users below are the lan.conf's.",
    ]
    variables: dict[str, str] = {}
    lan = LanConfTranslator(doc, notes)
    for line in read_lines(lan_conf, lan_conf.name, variables, notes, emu=False):
        lan.feed(line)
    lan.finish(lan_conf.name)
    if emu is None:
        notes.warn(None, "no .emu file given (--emu): identity, sensors, SEL and FRU take "
                         "pybmc's defaults")
    else:
        emulator = EmuTranslator(doc, notes, emu.parent)
        for line in read_lines(emu, emu.name, dict(variables), notes, emu=True):
            emulator.feed(line)
        emulator.finish()
    return Translation(doc.render(), tuple(notes.items))


def check_translation(text: str) -> str | None:
    """None if pybmc accepts the translated config, else its one-line error."""
    import tomllib

    from pybmc.config import ConfigError, parse_config

    try:
        data = tomllib.loads(text)
        config = parse_config(data, "<translated>")
        try:
            from pybmc.platform.config import check_platform_config
        except ImportError:
            return None
        check_platform_config(config)
    except (tomllib.TOMLDecodeError, ConfigError) as err:
        return str(err)
    return None


def import_lanconf_command(lan_conf: Path, emu: Path | None) -> int:
    """`pybmc import-lanconf LAN_CONF [--emu FILE]`: TOML on stdout, warnings on stderr.

    Exit status: 0 translated (warnings may have been printed), 1 translated but pybmc would
    refuse the result (printed anyway, with the reason), 2 nothing could be translated.
    """
    try:
        result = translate_files(lan_conf, emu)
    except LanConfError as err:
        print(f"pybmc: {err}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    sys.stdout.write(result.toml)
    problem = check_translation(result.toml)
    if problem is not None:
        print(f"pybmc: the translated config does not pass check-config: {problem}",
              file=sys.stderr)
        return 1
    return 0
