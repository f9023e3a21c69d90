"""Quoting: values spelled safely for the TOML, YAML and shell files written onto a board."""

from __future__ import annotations

import json
import re
import shlex

# Printable in YAML 1.1 (PyYAML's reader) and not a line break: everything else is escaped.
_UNPRINTABLE = re.compile(
    "[^\\x09\\x20-\\x7e\\xa0-\\ud7ff\\ue000-\\ufffd\\U00010000-\\U0010ffff]|[\\u2028\\u2029\\ufeff]"
)


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except that TOML also escapes DEL."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def yaml_string(value: str) -> str:
    """A YAML double-quoted scalar: JSON's escapes, plus YAML's for what YAML cannot print."""
    return _UNPRINTABLE.sub(_yaml_escape, json.dumps(value, ensure_ascii=False))


def _yaml_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def shell_word(value: str) -> str:
    """One POSIX shell word, single-quoted unless it needs no quoting."""
    return shlex.quote(value)
