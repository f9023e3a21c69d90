"""Context: what every check gets to look at."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from edge.board import BoardProfile
from edge.config import Config
from edge.doctor.probes import Probes, User

SERVICE_USER = "edge"
"""The user edge.service runs as (systemd/edge.sysusers)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """The config being checked and the system it will run on."""

    config_path: Path
    """The config file."""
    config: Config | None
    """The config, None when it could not be loaded (the `config` finding says why)."""
    raw: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    """The config file's TOML as read, empty when it is not TOML."""
    board: BoardProfile
    """The config's board, or the detected one when there is no valid config."""
    probes: Probes
    """How to look at the system."""

    def device_user(self) -> User:
        """Whose device access matters: the caller, or the service user when run as root."""
        user = self.probes.user()
        if user.uid == 0:
            return self.probes.lookup_user(SERVICE_USER) or user
        return user
