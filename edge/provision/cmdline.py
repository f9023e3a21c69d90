"""Kernel command line: the one-line `cmdline.txt` and the first-boot hooks appended to it."""

from __future__ import annotations

from edge.errors import ProvisionError

MAX_CMDLINE_BYTES = 1024
"""COMMAND_LINE_SIZE of 32-bit ARM kernels; 64-bit ones take 2048."""
FIRSTRUN_HOOK = (
    "systemd.run=/boot/firstrun.sh",
    "systemd.run_success_action=reboot",
    "systemd.unit=kernel-command-line.target",
)
"""Raspberry Pi Imager's hook, spelled exactly so: Bookworm's initramfs looks for it."""
BOOKWORM_FIRSTBOOT = "init=/usr/lib/raspberrypi-sys-mods/firstboot"
"""Present until Bookworm's first boot has run; it applies custom.toml."""
REGDOM = "cfg80211.ieee80211_regdom="
NOCLOUD = "ds=nocloud"

# Tokens a previous provisioning (ours or Imager's) may have left; replaced, never doubled.
_MANAGED_PREFIXES = ("systemd.run=", "systemd.run_success_action=", REGDOM, NOCLOUD)
_MANAGED_TOKENS = ("systemd.unit=kernel-command-line.target",)


def parse_cmdline(raw: bytes, *, source: str) -> list[str]:
    """The tokens of a cmdline.txt; ProvisionError if it is not one line of text."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProvisionError(f"{source}: not UTF-8 text") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ProvisionError(f"{source}: empty; a Raspberry Pi OS cmdline.txt names root=")
    if len(lines) > 1:
        raise ProvisionError(
            f"{source}: expected the kernel command line on one line, got {len(lines)} lines"
        )
    tokens = lines[0].split()
    if not any(token.startswith("root=") for token in tokens):
        raise ProvisionError(f"{source}: no root= on the kernel command line")
    return tokens


def with_hooks(tokens: list[str], *, hooks: list[str]) -> bytes:
    """The command line without earlier first-boot hooks, then `hooks`, as cmdline.txt bytes.

    Imager's clean-up removes everything from ` systemd.run` to the end of the line, so the
    systemd.* hook goes last and anything meant to stay (the Wi-Fi country) goes before it.
    """
    kept = [
        token
        for token in tokens
        if not token.startswith(_MANAGED_PREFIXES) and token not in _MANAGED_TOKENS
    ]
    line = " ".join([*kept, *hooks]) + "\n"
    encoded = line.encode("utf-8")
    if len(encoded) > MAX_CMDLINE_BYTES:
        raise ProvisionError(
            f"cmdline.txt: would be {len(encoded)} bytes, over the {MAX_CMDLINE_BYTES} bytes a"
            " 32-bit kernel accepts"
        )
    return encoded
