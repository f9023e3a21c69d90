"""ProvisionRequest: everything a board needs on first boot, validated as a whole."""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.provision.edge_config import EdgeConfigFile
from edge.provision.wifi import WifiNetwork

MAX_HOSTNAME = 63
MAX_USER_NAME = 32
DEFAULT_USER = "pi"

_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?")
_USER_NAME = re.compile(r"[a-z][a-z0-9_-]*")
# Accounts that exist on Raspberry Pi OS (or that the installer creates): renaming the first
# user to one of them fails on the board, long after the card was written.
RESERVED_USERS = frozenset(
    {
        "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
        "proxy", "www-data", "backup", "list", "irc", "nobody", "messagebus", "sshd", "avahi",
        "polkitd", "lightdm", "rtkit", "pulse", "dnsmasq", "systemd-network",
        "systemd-resolve", "systemd-timesync", "systemd-journal", "_apt", "edge",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvisionRequest:
    """What to set up on the board: identity on the network, login, and the edge config."""

    hostname: str
    """The board's host name (one DNS label)."""
    user: str
    """The login account: Raspberry Pi OS's first user, renamed to this."""
    ssh_keys: tuple[str, ...]
    """Public keys allowed to log in as `user`; password login stays off."""
    wifi: WifiNetwork | None
    """The network to join; None for a wired board."""
    edge_config: EdgeConfigFile
    """The `edge.toml` that ends up in /etc/edge/edge.toml."""


def check_hostname(hostname: str, issues: list[str]) -> None:
    """A host name is one DNS label (RFC 1123): letters, digits and inner hyphens."""
    if not 1 <= len(hostname) <= MAX_HOSTNAME or not _HOSTNAME.fullmatch(hostname):
        issues.append(
            f"hostname: expected 1 to {MAX_HOSTNAME} letters, digits or hyphens, not starting"
            f" or ending with a hyphen, got {hostname!r}"
        )
    elif hostname.isdigit():
        issues.append(f"hostname: must not be all digits, got {hostname!r}")


def check_user(user: str, issues: list[str]) -> None:
    """A login name Debian's adduser accepts and that is not already a system account."""
    if not 1 <= len(user) <= MAX_USER_NAME or not _USER_NAME.fullmatch(user):
        issues.append(
            f"user: expected up to {MAX_USER_NAME} lower-case letters, digits, '-' or '_',"
            f" starting with a letter, got {user!r}"
        )
    elif user in RESERVED_USERS:
        issues.append(f"user: {user!r} is a system account; choose another login name")
