"""Plan: which first-boot format a boot partition takes, and every file to write onto it.

Pure: it sees the partition only through the names in its top directory and the bytes of
its cmdline.txt, so the whole plan (and every refusal) exists before anything is written.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from types import MappingProxyType

from edge.errors import ProvisionError
from edge.provision import cloud_init, firstrun
from edge.provision.cmdline import (
    BOOKWORM_FIRSTBOOT,
    FIRSTRUN_HOOK,
    NOCLOUD,
    REGDOM,
    parse_cmdline,
    with_hooks,
)
from edge.provision.firstboot import EDGE_CONFIG_NAME, FIRSTBOOT_NAME, firstboot_script
from edge.provision.request import ProvisionRequest

CMDLINE_NAME = "cmdline.txt"
# Files only a Raspberry Pi boot partition has (firmware, its config, the kernel's command line).
BOOT_MARKERS = ("config.txt", CMDLINE_NAME, "bootcode.bin", "start*.elf", "fixup*.dat")


class FirstBootFormat(enum.Enum):
    """How the image applies settings on its first boot."""

    FIRSTRUN = "firstrun"
    """Raspberry Pi Imager's firstrun.sh through `systemd.run=` (Bullseye, Bookworm, the first
    Trixie release)."""
    CUSTOM_TOML = "custom-toml"
    """Bookworm's custom.toml for the system settings, a firstrun.sh for ours."""
    CLOUD_INIT = "cloud-init"
    """cloud-init's NoCloud seed: user-data, network-config, meta-data (Trixie from late 2025)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What provisioning writes: file name (top directory of the partition) to contents."""

    format: FirstBootFormat
    """The first-boot format used."""
    detected: bool
    """True when `format` was read off the partition, False when the user chose it."""
    files: Mapping[str, bytes] = field(repr=False)
    """Every file to create or replace; some hold secrets, so they are never printed."""
    remove: tuple[str, ...] = ()
    """Files to delete: a stale custom.toml would otherwise be applied as well."""
    notes: tuple[str, ...] = ()
    """What the user should know, such as files that were replaced."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))


def check_boot_partition(names: Set[str], *, source: str) -> None:
    """ProvisionError unless the names look like a Raspberry Pi OS boot partition's."""
    lower = {name.lower() for name in names}
    if not any(fnmatch.filter(lower, marker) for marker in BOOT_MARKERS):
        raise ProvisionError(
            f"{source}: not a Raspberry Pi boot partition (no config.txt, cmdline.txt,"
            " bootcode.bin or start*.elf in it)"
        )
    if CMDLINE_NAME not in lower:
        raise ProvisionError(
            f"{source}: no cmdline.txt, so not a Raspberry Pi OS boot partition this can"
            " provision (the first-boot hooks go on the kernel command line)"
        )


def detect_format(names: Set[str], cmdline: list[str]) -> FirstBootFormat:
    """cloud-init when the image ships a NoCloud seed, else Imager's firstrun.sh."""
    lower = {name.lower() for name in names}
    if lower & set(cloud_init.SEED_NAMES) or any(t.startswith(NOCLOUD) for t in cmdline):
        return FirstBootFormat.CLOUD_INIT
    return FirstBootFormat.FIRSTRUN


def build_plan(
    request: ProvisionRequest,
    *,
    names: Set[str],
    cmdline: bytes,
    chosen: FirstBootFormat | None,
    instance_id: str,
    source: str,
) -> Plan:
    """Every file for `request` on a partition holding `names`; ProvisionError on a misfit."""
    check_boot_partition(names, source=source)
    tokens = parse_cmdline(cmdline, source=f"{source}: {CMDLINE_NAME}")
    fmt = chosen or detect_format(names, tokens)
    lower = {name.lower() for name in names}
    if fmt is FirstBootFormat.CUSTOM_TOML and BOOKWORM_FIRSTBOOT not in tokens:
        raise ProvisionError(
            f"{source}: custom.toml is read only on a Bookworm image's first boot, and this"
            f" cmdline.txt has no {BOOKWORM_FIRSTBOOT} (already booted, or another release);"
            " use --format firstrun"
        )
    regdom = [f"{REGDOM}{request.wifi.country}"] if request.wifi else []
    files: dict[str, bytes] = {
        EDGE_CONFIG_NAME: request.edge_config.content,
        FIRSTBOOT_NAME: firstboot_script(),
    }
    notes: list[str] = []
    if fmt is FirstBootFormat.CLOUD_INIT:
        files[cloud_init.USER_DATA_NAME] = cloud_init.user_data(request)
        files[cloud_init.META_DATA_NAME] = cloud_init.meta_data(instance_id)
        network = cloud_init.network_config(request)
        if network is not None:
            files[cloud_init.NETWORK_CONFIG_NAME] = network
        hooks = [*regdom, f"{NOCLOUD};i={instance_id}"]
    else:
        if fmt is FirstBootFormat.CUSTOM_TOML:
            files[firstrun.CUSTOM_TOML_NAME] = firstrun.custom_toml(request)
            files[firstrun.FIRSTRUN_NAME] = firstrun.edge_only_firstrun_script(request)
        else:
            files[firstrun.FIRSTRUN_NAME] = firstrun.firstrun_script(request)
        hooks = [*regdom, *FIRSTRUN_HOOK]
    files[CMDLINE_NAME] = with_hooks(tokens, hooks=hooks)
    remove: tuple[str, ...] = ()
    if fmt is not FirstBootFormat.CUSTOM_TOML and firstrun.CUSTOM_TOML_NAME in lower:
        remove = (firstrun.CUSTOM_TOML_NAME,)
        notes.append(f"removed {firstrun.CUSTOM_TOML_NAME} (it would apply its own settings)")
    replaced = sorted(n for n in files if n in lower and n != CMDLINE_NAME)
    if replaced:
        notes.append(f"replaced {', '.join(replaced)}")
    return Plan(format=fmt, detected=chosen is None, files=files, remove=remove, notes=tuple(notes))
