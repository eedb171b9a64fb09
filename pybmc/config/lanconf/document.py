"""The TOML document a translation builds: tables of entries, each value with a comment
naming the line it came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


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


ORDER = ("bmc", "users", "security", "lan", "identity", "power", "qemu", "in_band", "sol",
         "sel", "fru", "fru.chassis", "fru.board", "fru.product", "sensors")


@dataclass
class Document:
    header: list[str] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    arrays: dict[str, list[Table]] = field(default_factory=dict)

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


