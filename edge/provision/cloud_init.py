"""Cloud-init seed: `user-data`, `network-config` and `meta-data` for the NoCloud datasource.

Raspberry Pi OS images from late 2025 on (Trixie, `init_format: cloudinit-rpi`) ship these
three files on the boot partition and read them with cloud-init's NoCloud datasource on first
boot. The content follows what Raspberry Pi Imager writes for them: the renamed default
`user:` with its SSH keys, `ssh_pwauth`, sshd enabled from runcmd (the image ships it off),
and a netplan v2 `network-config` with the pre-computed WPA key. Every scalar is written as a
JSON string, which YAML reads unchanged, so no YAML library is needed to write them.
"""

from __future__ import annotations

from edge.provision.firstboot import run_firstboot_line
from edge.provision.quoting import yaml_string
from edge.provision.request import ProvisionRequest

USER_DATA_NAME = "user-data"
NETWORK_CONFIG_NAME = "network-config"
META_DATA_NAME = "meta-data"
SEED_NAMES = (USER_DATA_NAME, NETWORK_CONFIG_NAME, META_DATA_NAME)
WIRED = "eth0"
WIRELESS = "wlan0"


def user_data(request: ProvisionRequest) -> bytes:
    """The `#cloud-config` document: host name, the user and its keys, SSH, then edge."""
    lines = [
        "#cloud-config",
        f"# First boot of {request.hostname}, written by `edge provision`.",
        "manage_resolv_conf: false",
        f"hostname: {yaml_string(request.hostname)}",
        "manage_etc_hosts: true",
        # The singular `user:` renames the image's default user and keeps its groups (gpio,
        # video, ...). No password: login is by key only, hence sudo without one.
        "user:",
        f"  name: {yaml_string(request.user)}",
        "  shell: /bin/bash",
        "  lock_passwd: true",
        '  sudo: "ALL=(ALL) NOPASSWD:ALL"',
        "  ssh_authorized_keys:",
        *(f"    - {yaml_string(key)}" for key in request.ssh_keys),
        "ssh_pwauth: false",
        "runcmd:",
        "  - [systemctl, enable, --now, ssh]",
        f"  - [sh, -c, {yaml_string(run_firstboot_line(start=True))}]",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def network_config(request: ProvisionRequest) -> bytes | None:
    """Netplan v2: DHCP on the wired port and on Wi-Fi; None for a board without Wi-Fi."""
    wifi = request.wifi
    if wifi is None:
        return None
    lines = [
        f"# Network of {request.hostname}, written by `edge provision`.",
        "network:",
        "  version: 2",
        "  ethernets:",
        f"    {WIRED}:",
        "      dhcp4: true",
        "      dhcp6: true",
        "      optional: true",
        "  wifis:",
        f"    {WIRELESS}:",
        "      dhcp4: true",
        "      optional: true",
        f"      regulatory-domain: {yaml_string(wifi.country)}",
        "      access-points:",
        f"        {yaml_string(wifi.ssid)}:",
    ]
    if wifi.hidden:
        lines.append("          hidden: true")
    if wifi.psk:
        lines.append(f"          password: {yaml_string(wifi.psk)}")
    else:
        lines += ["          auth:", "            key-management: none"]
    return ("\n".join(lines) + "\n").encode("utf-8")


def meta_data(instance_id: str) -> bytes:
    """NoCloud meta-data; a new `instance-id` makes cloud-init run its first-boot modules."""
    return f"instance-id: {yaml_string(instance_id)}\n".encode()
