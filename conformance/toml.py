"""A small TOML writer for generated pybmc configs: tables, sub-tables, arrays of tables,
inline tables inside those, scalars and lists."""

from __future__ import annotations

import json
from typing import Any


def value(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (int, float)):
        return repr(item)
    if isinstance(item, str):
        return json.dumps(item)
    if isinstance(item, (list, tuple)):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, dict):
        return "{ " + ", ".join(f"{k} = {value(v)}" for k, v in item.items()) + " }"
    raise TypeError(f"cannot write {item!r} as TOML")


def _table(name: str, body: dict[str, Any], header: str) -> list[str]:
    lines = [header]
    nested = {k: v for k, v in body.items() if isinstance(v, dict)}
    lines += [f"{k} = {value(v)}" for k, v in body.items() if k not in nested]
    lines.append("")
    for key, sub in nested.items():
        lines += _table(f"{name}.{key}", sub, f"[{name}.{key}]")
    return lines


def dumps(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, body in data.items():
        if isinstance(body, list):
            for item in body:
                lines += [f"[[{section}]]", *(f"{k} = {value(v)}" for k, v in item.items()), ""]
        else:
            lines += _table(section, body, f"[{section}]")
    return "\n".join(lines)
