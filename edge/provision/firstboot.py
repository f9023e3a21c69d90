"""First-boot script: moves the edge config into /etc/edge and enables the service.

Every first-boot format runs the same `edge-firstboot.sh` from the boot partition (firstrun.sh
calls it, cloud-init's runcmd calls it), so the part that is ours is written once.
"""

from __future__ import annotations

EDGE_CONFIG_NAME = "edge.toml"
"""The edge config on the boot partition, until first boot moves it into /etc/edge."""
FIRSTBOOT_NAME = "edge-firstboot.sh"
"""The script below, on the boot partition."""
CONFIG_PATH = "/etc/edge/edge.toml"
SERVICE = "edge.service"
BOOT_DIRS = ("/boot/firmware", "/boot")
"""Where Raspberry Pi OS mounts the boot partition: Bookworm and later, then older releases."""

FIRSTBOOT_SCRIPT = """\
#!/bin/sh
# edge-participant first boot, written by `edge provision`. Moves edge.toml from the boot
# partition to /etc/edge/edge.toml (mode 0640, group edge when that group exists, so the
# service user can read it and nobody else) and enables edge.service when it is installed.
# `--start` also starts it (cloud-init runs this on a booted system; firstrun.sh reboots).
# EDGE_FIRSTBOOT_ROOT prefixes every system path: the tests run this against a scratch tree.
set -u
root="${EDGE_FIRSTBOOT_ROOT:-}"
here="$(cd "$(dirname "$0")" && pwd)"
say() {
    echo "edge-firstboot: $*"
    if command -v logger >/dev/null 2>&1; then logger -t edge-firstboot -- "$*" || true; fi
}

if [ -f "$here/edge.toml" ]; then
    gid="$(awk -F: '$1 == "edge" { print $3 }' "$root/etc/group" 2>/dev/null)"
    group=edge
    if [ -z "$gid" ]; then gid=0; group=root; fi
    umask 077
    if mkdir -p "$root/etc/edge" && chmod 0755 "$root/etc/edge" \\
        && cp "$here/edge.toml" "$root/etc/edge/edge.toml.new" \\
        && chown "0:$gid" "$root/etc/edge/edge.toml.new" \\
        && chmod 0640 "$root/etc/edge/edge.toml.new" \\
        && mv -f "$root/etc/edge/edge.toml.new" "$root/etc/edge/edge.toml"; then
        rm -f "$here/edge.toml"
        say "config installed as /etc/edge/edge.toml (mode 0640, group $group)"
    else
        rm -f "$root/etc/edge/edge.toml.new"
        say "could not install /etc/edge/edge.toml; edge.toml stays on the boot partition"
    fi
fi

installed=""
for dir in /etc/systemd/system /usr/lib/systemd/system /lib/systemd/system; do
    if [ -f "$root$dir/edge.service" ]; then installed=yes; fi
done
if [ -n "$installed" ]; then
    if [ "${1:-}" = "--start" ]; then
        systemctl enable --now edge.service && say "edge.service enabled and started"
    else
        systemctl enable edge.service && say "edge.service enabled"
    fi
else
    say "edge-participant is not installed on this system: once the board is online, run" \\
        "tools/install from a copy of edge-participant on it; it reads /etc/edge/edge.toml"
fi
rm -f "$0"
sync
exit 0
"""


def firstboot_script() -> bytes:
    """The contents of `edge-firstboot.sh`."""
    return FIRSTBOOT_SCRIPT.encode("ascii")


def run_firstboot_line(*, start: bool) -> str:
    """One shell command that finds `edge-firstboot.sh` on the boot partition and runs it."""
    dirs = " ".join(BOOT_DIRS)
    arg = " --start" if start else ""
    return (
        f'for d in {dirs}; do if [ -f "$d/{FIRSTBOOT_NAME}" ]; then'
        f' sh "$d/{FIRSTBOOT_NAME}"{arg}; break; fi; done'
    )
