"""Setting: one config key declared once, as dataclass field metadata.

A section's frozen dataclass declares each TOML key with `setting(...)`: its default, its
kind and bounds, and a one-line doc. A field whose value is built from several TOML keys
(e.g. a device's pins from `pin`, or `forward_pin` + `backward_pin`) declares them with
`from_keys(key(...), ...)`. From these declarations `read_section` parses and validates the
table (messages by dotted path, from `Table`), `known_keys` lists the keys an "unknown key"
check accepts, and `edge.reference.table` renders the documentation table. A check that
involves several keys is declared on the last of them (`check_with`) when it can be, else it
stays explicit code in the section's parser, after `read_section`.
"""

from __future__ import annotations

import dataclasses
import enum
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


class Read(dict[str, Any]):
    """The values read so far, by TOML key, with what the callbacks may also consult."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        super().__init__()
        self.context = context
        """What the parser knows beyond the table (e.g. the board profile)."""
        self.refused: set[str] = set()
        """Keys with a problem on the table: they read as their default, but for a value only
        a `check` or `check_with` refused (it stays, as the check's subject)."""


@dataclass(frozen=True, slots=True)
class Setting:
    """How one TOML key is read, bounded and documented."""

    kind: Kind
    doc: str
    key: str = ""
    """The TOML key; empty: the field's name."""
    default: Any = dataclasses.field(default_factory=lambda: dataclasses.MISSING)
    """The default of a key of `from_keys` (a field's default is the field's own)."""
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    bounds_from: Callable[[Read], tuple[float, float]] | None = None
    """Narrower bounds decided from the keys declared before it; low and high stay the widest."""
    choices: tuple[str, ...] = ()
    members: type[enum.Enum] | None = None
    """For a choice: the enum its values name; the key reads as a member."""
    max_bytes: int | None = None
    blank: bool = True
    """For a string: whether a key that is set may be empty."""
    required: bool = False
    secret: bool = False
    check: Callable[[Any], str | None] | None = None
    """A further check of a non-empty value (of each item of an array): the problem, or None."""
    check_with: Callable[[Any, Read], str | None] | None = None
    """A further check of a value against the keys declared before it: the problem, or None."""
    default_from: Callable[[Read], Any] | None = None
    """The default computed from the keys declared before it (None: the declared one)."""
    required_when: Callable[[Read], bool] | None = None
    """Whether the key is required, decided from the keys declared before it."""
    kinds: tuple[str, ...] = ()
    """The values of the table's `kind` key (see `read_section`) this key applies to;
    empty: every kind. A required key is required for these kinds only."""
    elsewhere: str = "does not apply to {a} {kind} {noun}"
    """The problem when the key is set for a kind it does not apply to (`{a}`: a or an)."""
    shown_default: str = ""
    """The default as the reference shows it, when the value alone would mislead;
    `{default}` stands for the declared one."""


def key(name: str, default: Any = dataclasses.MISSING, **how: Any) -> Setting:
    """One TOML key of a `from_keys` field; `how` as for `setting`. No default: required."""
    if isinstance(how.get("choices"), type):
        how["members"] = how["choices"]
        how["choices"] = tuple(str(member.value) for member in how["choices"])
    return Setting(key=name, default=default, required=default is dataclasses.MISSING, **how)


def setting(default: Any = dataclasses.MISSING, **how: Any) -> Any:
    """A dataclass field that is also a TOML key; no `default` makes the key required.

    `how` gives `Setting`'s fields (`kind` and `doc` at least); `choices` may be an enum
    class, whose values are then the choices and whose members the values read.
    """
    spec = key("", default, **how)
    metadata = {_KEY: (spec,)}
    if isinstance(default, Mapping):
        return dataclasses.field(
            default_factory=lambda: dict(default), metadata=metadata, repr=not spec.secret
        )
    return dataclasses.field(default=default, metadata=metadata, repr=not spec.secret)


def from_keys(*keys: Setting) -> Any:
    """A required dataclass field its section's parser builds from these TOML keys."""
    return dataclasses.field(metadata={_KEY: keys})


def settings(cls: type) -> list[Setting]:
    """Every declared TOML key of a section dataclass, in declaration order, key and default
    filled in."""
    out = []
    for f in dataclasses.fields(cls):
        for spec in f.metadata.get(_KEY, ()):
            if not spec.key:
                spec = dataclasses.replace(spec, key=f.name, default=_default_of(f))
            out.append(spec)
    return out


def keys_for(cls: type, field: str, kind: str) -> tuple[str, ...]:
    """The TOML keys of `cls`'s `field` (one declared with `from_keys`) that apply to `kind`."""
    specs = next(f.metadata[_KEY] for f in dataclasses.fields(cls) if f.name == field)
    return tuple(spec.key for spec in specs if not spec.kinds or kind in spec.kinds)


def known_keys(cls: type) -> tuple[str, ...]:
    """The TOML keys a section accepts (for the unknown-key check)."""
    return tuple(spec.key for spec in settings(cls))


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def read_section(
    table: Table,
    cls: type,
    *,
    noun: str = "entry",
    by: str = "kind",
    context: Mapping[str, Any] | None = None,
) -> Read:
    """Every declared key of `cls` (but `tables`), read from `table` by its declaration.

    Problems go to the table's issue list; a refused value reads as its default. A key set
    for a value of the `by` key it does not apply to is refused with its `elsewhere` text
    (when that value was itself refused, the keys of its default apply, the others are
    ignored: one mistake, one message).
    """
    read = Read(context or {})
    for spec in settings(cls):
        if spec.kind == "tables":
            continue
        name = spec.key
        before = table.issue_count
        default = spec.default if spec.default_from is None else spec.default_from(read)
        if default is None or default is dataclasses.MISSING:
            default = spec.default
        if default is dataclasses.MISSING:
            default = None if spec.kind in ("int", "float") else ""
        kind = read.get(by)
        kind = kind.value if isinstance(kind, enum.Enum) else kind
        applies = not (spec.kinds and kind and kind not in spec.kinds)
        if not applies:  # a refused kind reads as its default: quietly, then
            if table.has(name) and by not in read.refused:
                article = "an" if str(kind)[0] in "aeiou" else "a"
                table.issue(name, spec.elsewhere.format(a=article, kind=kind, noun=noun))
            value, kept = default, False
        else:
            required = spec.required or (
                spec.required_when is not None and spec.required_when(read)
            )
            spec = dataclasses.replace(spec, required=required)
            value, kept = _checked(table, spec, default, read)
        if table.issue_count != before:
            read.refused.add(name)
            value = value if kept else default
        read[name] = spec.members(value) if spec.members is not None and value else value
    return read


def _checked(table: Table, spec: Setting, default: Any, read: Read) -> tuple[Any, bool]:
    """One key, read and checked as `spec` says (the bounds narrowed by `bounds_from`), and
    whether a `check` or `check_with` refused it (the value then stays)."""
    if spec.bounds_from is not None:
        low, high = spec.bounds_from(read)
        spec = dataclasses.replace(spec, low=low, high=high)
    before = table.issue_count
    value = _read(table, spec.key, spec, default)
    if table.issue_count != before or value is None or value in ("", (), []):
        return value, False
    for item in value if spec.kind in ("strings", "one_or_more") else [value]:
        problems = [
            spec.check(item) if spec.check is not None else None,
            spec.check_with(item, read) if spec.check_with is not None else None,
        ]
        for problem in problems:
            if problem is not None:
                table.issue(spec.key, problem)
    return value, table.issue_count != before


def _read(table: Table, key: str, spec: Setting, default: Any) -> Any:
    if spec.kind == "string":
        if not (spec.required or table.has(key)):
            return default
        required = spec.required or not spec.blank
        return table.string(key, required=required, max_bytes=spec.max_bytes)
    if spec.kind in ("int", "float"):
        if not table.has(key):
            if spec.required:
                table.issue(key, "required")
            return default
        integer = spec.kind == "int"
        fallback = 0 if default is None else default  # refused: read_section restores None
        value = table.number(
            key, fallback, low=spec.low, high=spec.high, integer=integer, open_low=spec.open_low
        )
        return int(value) if integer else float(value)
    if spec.kind == "bool":
        return table.boolean(key, default)
    if spec.kind == "choice":
        if table.has(key):
            shown = default.value if isinstance(default, enum.Enum) else default
            return table.choice(key, shown, spec.choices)
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
