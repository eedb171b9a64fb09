"""The language lan.conf and .emu files share (OpenIPMI lanserv/config.c): tokens, lines
with `define`/`include` applied, the notes (warnings) that name a line, and the readers of one
value that raise Skip when a directive cannot be translated."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BMC_IPMB = 0x20
BOOLEANS = {"true": True, "on": True, "yes": True, "1": True,
            "false": False, "off": False, "no": False, "0": False}
MAX_INCLUDE_DEPTH = 8


class LanConfError(Exception):
    """A problem that makes translation impossible, phrased as one line naming the file.
    `warnings` are the notes gathered before it (the lines already found untranslatable)."""

    warnings: tuple[str, ...] = ()


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
    yield from read_lines(target, str(target), variables, notes, True, depth + 1)


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


