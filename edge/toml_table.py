"""Table: reads one TOML table, reporting each problem as `dotted.path: what was expected`."""

from __future__ import annotations

import datetime
import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence

_TYPE_NAMES: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "string",
    dict: "table",
    list: "array",
    datetime.datetime: "datetime",
    datetime.date: "date",
    datetime.time: "time",
}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Table:
    """One TOML table being validated; problems go to the shared `issues` list."""

    def __init__(
        self,
        path: str,
        data: Mapping[str, object],
        issues: list[str],
        schema: Mapping[str, Sequence[str]],
        *,
        known_as: str | None = None,
    ) -> None:
        self._path = path
        self._data = data
        self._issues = issues
        self._schema = schema
        top_level = [k for k in schema if "." not in k and "[" not in k]
        self._known = list(schema.get(known_as or path, top_level))

    @property
    def issue_count(self) -> int:
        """Problems recorded so far (across all tables sharing the list)."""
        return len(self._issues)

    def issue(self, key: str, message: str) -> None:
        self._issues.append(f"{_join(self._path, key)}: {message}")

    def section(self, key: str) -> Table:
        value = self._data.get(key, {})
        if not isinstance(value, Mapping):
            self.issue(key, f"expected a table, got {type_name(value)}")
            value = {}
        return Table(_join(self._path, key), value, self._issues, self._schema)

    def items(self, key: str) -> list[Table]:
        """An array of tables; item paths read `key[i]`, their keys come from `schema["key[]"]`."""
        value = self._data.get(key, [])
        path = _join(self._path, key)
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.issue(key, f"expected an array of tables, got {type_name(value)}")
            return []
        schema_key = f"{path}[]"
        return [
            Table(f"{path}[{i}]", item, self._issues, self._schema, known_as=schema_key)
            for i, item in enumerate(value)
        ]

    def has(self, key: str) -> bool:
        """Whether the table sets `key` at all."""
        return key in self._data

    def boolean(self, key: str, default: bool) -> bool:
        value = self._data.get(key, default)
        if not isinstance(value, bool):
            self.issue(key, f"expected true or false, got {type_name(value)}")
            return default
        return value

    def strings(self, key: str, default: Sequence[str], *, max_items: int = 64) -> tuple[str, ...]:
        """An array of non-empty strings."""
        value = self._data.get(key, list(default))
        if (
            not isinstance(value, list)
            or len(value) > max_items
            or not all(isinstance(v, str) and v for v in value)
        ):
            self.issue(key, f"expected an array of at most {max_items} non-empty strings")
            return tuple(default)
        return tuple(value)

    def one_or_more(self, key: str, *, max_items: int = 8) -> tuple[str, ...]:
        """One non-empty string, or an array of 1..`max_items` of them, as a tuple."""
        value = self._data.get(key)
        if isinstance(value, str) and value:
            return (value,)
        if (
            isinstance(value, list)
            and 0 < len(value) <= max_items
            and all(isinstance(v, str) and v for v in value)
        ):
            return tuple(value)
        got = "" if isinstance(value, str | list) else f", got {type_name(value)}"
        self.issue(
            key,
            f"expected a non-empty string or an array of 1 to {max_items} non-empty strings{got}",
        )
        return ()

    def string(self, key: str, *, required: bool = False, max_bytes: int | None = None) -> str:
        if key not in self._data:
            if required:
                self.issue(key, "required")
            return ""
        value = self._data[key]
        if not isinstance(value, str):
            self.issue(key, f"expected a string, got {type_name(value)}")
            return ""
        size = _utf8_len(value)
        if size is None:
            self.issue(key, "expected valid Unicode text")
        elif required and size == 0:
            self.issue(key, "must not be empty")
        elif max_bytes is not None and size > max_bytes:
            self.issue(key, f"expected at most {max_bytes} UTF-8 bytes, got {size}")
        return value

    def number(
        self,
        key: str,
        default: float,
        *,
        low: float,
        high: float,
        integer: bool = False,
        open_low: bool = False,
    ) -> float:
        value = self._data.get(key, default)
        what = "an integer" if integer else "a number"
        low_text = f"greater than {_num(low)}" if open_low else f"from {_num(low)}"
        expected = f"expected {what} {low_text} {'and at most' if open_low else 'to'} {_num(high)}"
        wrong_type = isinstance(value, bool) or (integer and isinstance(value, float))
        if wrong_type or not isinstance(value, int | float):
            self.issue(key, f"{expected}, got {type_name(value)}")
            return default
        in_range = (low < value if open_low else low <= value) and value <= high
        if not in_range:  # also catches nan
            self.issue(key, f"{expected}, got {_shown(value)}")
            return default
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self._data.get(key, default)
        if isinstance(value, str) and value.lower() in choices:
            return value.lower()
        got = repr(value) if isinstance(value, str) else type_name(value)
        self.issue(key, f"expected one of {', '.join(choices)}, got {got}")
        return default

    def attributes(self, key: str, *, max_bytes: int) -> dict[str, str]:
        value = self._data.get(key, {})
        if not isinstance(value, Mapping):
            self.issue(key, f"expected a table of strings, got {type_name(value)}")
            return {}
        out: dict[str, str] = {}
        total = 0
        for name, item in value.items():
            path = _join(_join(self._path, key), str(name))
            if not isinstance(name, str) or not name:
                self._issues.append(f"{path}: attribute names must not be empty")
            elif not isinstance(item, str):
                self._issues.append(f"{path}: expected a string, got {type_name(item)}")
            elif _utf8_len(name) is None or _utf8_len(item) is None:
                self._issues.append(f"{path}: expected valid Unicode text")
            else:
                total += len(name.encode()) + len(item.encode())
                out[name] = item
        if total > max_bytes:
            limit = f"at most {max_bytes} bytes of names and values"
            self.issue(key, f"expected {limit}, got {total}")
        return out

    def check_unknown(self) -> None:
        for key in self._data:
            if key in self._known:
                continue
            close = difflib.get_close_matches(str(key), self._known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.issue(str(key), f"unknown key{hint}")


def _join(path: str, key: str) -> str:
    part = key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)
    return f"{path}.{part}" if path else part


def _utf8_len(text: str) -> int | None:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates
        return None


def type_name(value: object) -> str:
    """The TOML name of a value's type (`string`, `table`, `int`, ...)."""
    kinds = type(value).__mro__
    return next((_TYPE_NAMES[kind] for kind in kinds if kind in _TYPE_NAMES), type(value).__name__)


def _shown(value: float) -> str:
    try:
        return repr(value)
    except ValueError:  # an int too long to convert to text
        return "a huge integer"


def _num(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and value == int(value) else repr(value)
