"""SSH public keys: `authorized_keys` lines checked before they are written onto a board."""

from __future__ import annotations

import base64
import binascii
import struct

KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
MAX_KEYS = 32


def parse_public_keys(text: str, *, source: str, issues: list[str]) -> list[str]:
    """The public keys in an OpenSSH `.pub` or `authorized_keys` text, one normalised line each.

    Blank lines and `#` comments are skipped; lines with `authorized_keys` options are refused
    (the first-boot tools write plain keys). Problems go to `issues`, named `source:line`.
    """
    if "PRIVATE KEY-----" in text:
        issues.append(f"{source}: this is a private key; give the public key (the .pub file)")
        return []
    keys: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        problem = _problem(line)
        if problem:
            issues.append(f"{source}:{number}: {problem}")
        else:
            keys.append(" ".join(line.split()))
    if len(keys) > MAX_KEYS:
        issues.append(f"{source}: expected at most {MAX_KEYS} keys, got {len(keys)}")
    if not keys and not any(i.startswith(f"{source}:") for i in issues):
        issues.append(f"{source}: no SSH public key in it")
    return keys


def _problem(line: str) -> str:
    """Why `line` is not a usable public key, or '' when it is one."""
    parts = line.split(maxsplit=2)
    kind = parts[0]
    if kind not in KEY_TYPES:
        if any(f" {k} " in f" {line} " for k in KEY_TYPES):
            return "authorized_keys options are not supported; give the bare key line"
        return f"expected a key type such as ssh-ed25519 or ssh-rsa, got {kind[:40]!r}"
    if len(parts) < 2:
        return f"{kind} key without its base64 data"
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return f"{kind} key data is not valid base64"
    embedded = _first_string(blob)
    if embedded != kind:
        return f"{kind} key data is damaged (it encodes {embedded or 'nothing readable'!r})"
    if any(ord(ch) < 0x20 for ch in line):
        return "control characters in the key line"
    return ""


def _first_string(blob: bytes) -> str:
    """The key type the SSH wire format stores first in a key blob, '' if unreadable."""
    if len(blob) < 4:
        return ""
    (length,) = struct.unpack(">I", blob[:4])
    if length > len(blob) - 4:
        return ""
    return blob[4 : 4 + length].decode("ascii", "replace")
