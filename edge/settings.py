"""Setting: one config field declared once, as dataclass field metadata.

A section's frozen dataclass declares each TOML key with `setting(...)`: its default, its
kind and bounds, and a one-line doc. From that one declaration `read_section` parses and
validates the table (messages by dotted path, from `Table`), `known_keys` lists the keys an
"unknown key" check accepts, and `reference` renders the documentation table. Cross-field
checks stay explicit code in each section's parser, after `read_section`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from edge.toml_table import Table

Kind = Literal[
    "string", "int", "float", "bool", "choice", "strings", "one_or_more", "attributes", "tables"
]
"""`tables` is an array of tables its section's parser reads itself (e.g. the sensors);
`one_or_more` is a string or an array of strings, read as a tuple (e.g. server URLs)."""
_KEY = "edge.setting"


@dataclass(frozen=True, slots=True)
class Setting:
    """How one TOML key is read, bounded and documented."""

    kind: Kind
    doc: str
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    choices: tuple[str, ...] = ()
    max_bytes: int | None = None
    required: bool = False
    secret: bool = False
    check: Callable[[Any], str | None] | None = None
    """A further check of a non-empty value (of each item of an array): the problem, or None."""
    default_from: Callable[[Mapping[str, Any]], Any] | None = None
    """The default computed from the keys declared before it (e.g. a port that follows tls)."""
    required_when: Callable[[Mapping[str, Any]], bool] | None = None
    """Whether the key is required, decided from the keys declared before it."""
    kinds: tuple[str, ...] = ()
    """The values of the table's `kind` key this key applies to; empty: every kind."""
    shown_default: str = ""
    """The default as the reference shows it, when the value alone would mislead."""


def setting(
    default: Any = dataclasses.MISSING,
    *,
    kind: Kind,
    doc: str,
    low: float = -math.inf,
    high: float = math.inf,
    open_low: bool = False,
    choices: tuple[str, ...] = (),
    max_bytes: int | None = None,
    secret: bool = False,
    check: Callable[[Any], str | None] | None = None,
    default_from: Callable[[Mapping[str, Any]], Any] | None = None,
    required_when: Callable[[Mapping[str, Any]], bool] | None = None,
    kinds: tuple[str, ...] = (),
    shown_default: str = "",
) -> Any:
    """A dataclass field that is also a TOML key; no `default` makes the key required."""
    spec = Setting(
        kind=kind,
        doc=doc,
        low=low,
        high=high,
        open_low=open_low,
        choices=choices,
        max_bytes=max_bytes,
        required=default is dataclasses.MISSING,
        secret=secret,
        check=check,
        default_from=default_from,
        required_when=required_when,
        kinds=kinds,
        shown_default=shown_default,
    )
    metadata = {_KEY: spec}
    if isinstance(default, Mapping):
        return dataclasses.field(
            default_factory=lambda: dict(default), metadata=metadata, repr=not secret
        )
    return dataclasses.field(default=default, metadata=metadata, repr=not secret)


def settings(cls: type) -> list[tuple[dataclasses.Field[Any], Setting]]:
    """The declared settings of a section dataclass, in declaration order."""
    return [(f, f.metadata[_KEY]) for f in dataclasses.fields(cls) if _KEY in f.metadata]


def known_keys(cls: type) -> tuple[str, ...]:
    """The TOML keys a section accepts (for the unknown-key check)."""
    return tuple(f.name for f, _ in settings(cls))


def default_of(f: dataclasses.Field[Any]) -> Any:
    """A field's default value (calling its factory); MISSING for a required one."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def read_section(table: Table, cls: type, *, noun: str = "entry") -> dict[str, Any]:
    """Every declared setting of `cls` (but `tables`), read from `table` by its declaration.

    Problems go to the table's issue list; a bad value reads as its default. A key set for
    a `kind` it does not apply to is reported as not applying to such a `noun`.
    """
    out: dict[str, Any] = {}
    for f, spec in settings(cls):
        if spec.kind == "tables":
            continue
        kind = out.get("kind")
        if spec.kinds and kind and kind not in spec.kinds and table.has(f.name):
            table.issue(f.name, f"does not apply to a {kind} {noun}")
        default = default_of(f) if spec.default_from is None else spec.default_from(out)
        default = "" if default is dataclasses.MISSING else default
        required = spec.required or (spec.required_when is not None and spec.required_when(out))
        out[f.name] = read_value(
            table, f.name, dataclasses.replace(spec, required=required), default
        )
    return out


def read_value(table: Table, key: str, spec: Setting, default: Any) -> Any:
    """One key, read and checked as `spec` says."""
    value = _read(table, key, spec, default)
    if spec.check is not None and value:
        for item in value if spec.kind in ("strings", "one_or_more") else [value]:
            problem = spec.check(item)
            if problem is not None:
                table.issue(key, problem)
    return value


def _read(table: Table, key: str, spec: Setting, default: Any) -> Any:
    if spec.kind == "string":
        if not (spec.required or table.has(key)):
            return default
        return table.string(key, required=spec.required, max_bytes=spec.max_bytes)
    if spec.kind in ("int", "float"):
        integer = spec.kind == "int"
        value = table.number(
            key, default, low=spec.low, high=spec.high, integer=integer, open_low=spec.open_low
        )
        return int(value) if integer else float(value)
    if spec.kind == "bool":
        return table.boolean(key, default)
    if spec.kind == "choice":
        if table.has(key):
            return table.choice(key, default, spec.choices)
        if spec.required:
            table.issue(key, "required")
        return default
    if spec.kind == "strings":
        return table.strings(key, default)
    if spec.kind == "one_or_more":
        if table.has(key):
            return table.one_or_more(key)
        if spec.required:
            table.issue(key, "required")
        return default
    assert spec.max_bytes is not None, "attributes need max_bytes"
    return table.attributes(key, max_bytes=spec.max_bytes)


def reference(cls: type) -> list[str]:
    """A Markdown table of a section's settings: key, type, default, bounds, meaning."""
    lines = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for f, spec in settings(cls):
        default = spec.shown_default or ("required" if spec.required else _shown(default_of(f)))
        kind = _type(spec) + (" (secret)" if spec.secret else "")
        cells = (f"`{f.name}`", kind, default, _bounds(spec), spec.doc)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def _type(spec: Setting) -> str:
    names = {
        "strings": "array of strings",
        "one_or_more": "string or array of strings",
        "attributes": "table of strings",
        "choice": "string",
        "tables": "array of tables",
    }
    return names.get(spec.kind, spec.kind)


def _bounds(spec: Setting) -> str:
    if spec.choices:
        return ", ".join(f"`{choice}`" for choice in spec.choices)
    if spec.kind in ("int", "float"):
        low = f"above {_number(spec.low)}" if spec.open_low else _number(spec.low)
        return (
            f"{low} to {_number(spec.high)}"
            if not spec.open_low
            else f"{low}, at most {_number(spec.high)}"
        )
    if spec.max_bytes is not None:
        return f"at most {_number(spec.max_bytes)} bytes"
    return ""


def _number(value: float) -> str:
    if value != int(value):
        return repr(value)
    return f"{int(value):,}".replace(",", " ") if abs(value) >= 10_000 else str(int(value))


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    if isinstance(value, Mapping):
        return "`{}`" if not value else f"`{dict(value)}`"
    return f"`{value}`"
