"""`edge provision` on real FAT images of each Raspberry Pi OS flavour, read back with mtools."""

from __future__ import annotations

import hashlib
import re
import subprocess
import tomllib
from pathlib import Path

from edge.provision.wifi import wpa_psk
from tests import needs
from tests.provision import cloud_init_check as ci
from tests.provision.conftest import API_SECRET, EDGE_TOML, PASSPHRASE, SSID, Provision, public_key
from tests.provision.images import (
    BOOKWORM_CMDLINE,
    FLAVOURS,
    make_bare_fat,
    make_image,
    needs_fat_tools,
    read_file,
)

pytestmark = needs_fat_tools
PSK = wpa_psk(PASSPHRASE, SSID)
FIRSTRUN_HOOK = (
    " cfg80211.ieee80211_regdom=GB systemd.run=/boot/firstrun.sh"
    " systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n"
)


def _no_secrets(*texts: str) -> None:
    for text in texts:
        assert API_SECRET not in text
        assert PASSPHRASE not in text
        assert PSK not in text


def test_bookworm_image_gets_firstrun_sh_and_the_hook(tmp_path: Path, provision: Provision) -> None:
    image = tmp_path / "raspios-bookworm-armhf-lite.img"
    offset = make_image(image, FLAVOURS["bookworm"])

    result = provision(image)

    assert result.status == 0, result.err
    assert "first-boot format: firstrun (detected)" in result.out
    _no_secrets(result.out, result.err)
    cmdline = read_file(image, offset, "cmdline.txt").decode()
    assert cmdline == BOOKWORM_CMDLINE.rstrip("\n") + FIRSTRUN_HOOK
    assert read_file(image, offset, "edge.toml") == EDGE_TOML
    script = read_file(image, offset, "firstrun.sh").decode()
    assert script.startswith("#!/bin/sh\n")
    assert "imager_custom set_hostname edge-pi-07\n" in script
    assert f"imager_custom enable_ssh -k '{public_key()}'\n" in script
    assert "/usr/lib/userconf-pi/userconf maker ''\n" in script
    assert f"imager_custom set_wlan 'Workshop Wi-Fi' {PSK} GB\n" in script
    assert PASSPHRASE not in script  # only the derived key goes onto the card
    assert f"\tssid={SSID.encode().hex()}\n\tkey_mgmt=WPA-PSK\n\tpsk={PSK}\n" in script
    # Bookworm's initramfs keeps the lines before the first match of its sed address.
    lines = script.splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if re.search(r"rm.*firstrun\.sh$", line[:-1]))
    assert "".join(lines[:cut]).endswith('sh "$(dirname "$0")/edge-firstboot.sh"\n')
    assert lines[cut] == "rm -f /boot/firstrun.sh\n"
    assert script.endswith(
        "rm -f /boot/firstrun.sh\nsed -i 's| systemd.run.*||g' /boot/cmdline.txt\nexit 0\n"
    )
    subprocess.run(["sh", "-n", "-c", script], check=True)  # dash parses it
    firstboot = read_file(image, offset, "edge-firstboot.sh").decode()
    assert firstboot.startswith("#!/bin/sh\n")


def test_custom_toml_format_writes_what_bookworm_firstboot_reads(
    tmp_path: Path, provision: Provision
) -> None:
    image = tmp_path / "bookworm.img"
    offset = make_image(image, FLAVOURS["bookworm"])

    result = provision(image, "--format", "custom-toml", "--wifi-hidden")

    assert result.status == 0, result.err
    assert "first-boot format: custom-toml (chosen)" in result.out
    custom = tomllib.loads(read_file(image, offset, "custom.toml").decode())
    assert custom == {
        "config_version": 1,
        "system": {"hostname": "edge-pi-07"},
        "user": {"name": "maker"},
        "ssh": {
            "enabled": True,
            "password_authentication": False,
            "authorized_keys": [public_key()],
        },
        "wlan": {
            "ssid": SSID,
            "password": PSK,
            "password_encrypted": True,
            "hidden": True,
            "country": "GB",
        },
    }
    script = read_file(image, offset, "firstrun.sh").decode()
    # init_config refuses to rename the user when firstrun.sh calls userconf too.
    assert "userconf" not in script
    assert "edge-firstboot.sh" in script
    assert read_file(image, offset, "cmdline.txt").decode().endswith(FIRSTRUN_HOOK)


def test_bullseye_image_without_sys_mods_gets_plain_fallbacks(
    tmp_path: Path, provision: Provision
) -> None:
    image = tmp_path / "bullseye.img"
    offset = make_image(image, FLAVOURS["bullseye"], fat_type=0x0B)

    result = provision(image, "--wifi-open")

    assert result.status == 0, result.err
    script = read_file(image, offset, "firstrun.sh").decode()
    assert "\tkey_mgmt=NONE\n" in script
    assert "imager_custom set_wlan 'Workshop Wi-Fi' '' GB\n" in script
    cmdline = read_file(image, offset, "cmdline.txt").decode()
    assert "init=/usr/lib/raspi-config/init_resize.sh" in cmdline  # untouched


def test_provisioning_twice_replaces_the_hooks_instead_of_doubling_them(
    tmp_path: Path, provision: Provision
) -> None:
    image = tmp_path / "bookworm.img"
    offset = make_image(image, FLAVOURS["bookworm"])

    assert provision(image).status == 0
    second = provision(image, "--wifi-country", "DE")

    assert second.status == 0, second.err
    assert "replaced edge-firstboot.sh, edge.toml, firstrun.sh" in second.out
    cmdline = read_file(image, offset, "cmdline.txt").decode()
    assert cmdline.count("systemd.run=") == 1
    assert cmdline.count("cfg80211.ieee80211_regdom=") == 1
    assert "cfg80211.ieee80211_regdom=DE" in cmdline


@ci.needs_cloud_init
def test_trixie_image_gets_a_cloud_init_seed_cloud_init_accepts(
    tmp_path: Path, provision: Provision
) -> None:
    image = tmp_path / "raspios-trixie-arm64-lite.img"
    offset = make_image(image, FLAVOURS["trixie"])

    result = provision(image, "--wifi-hidden")

    assert result.status == 0, result.err
    assert "first-boot format: cloud-init (detected)" in result.out
    _no_secrets(result.out, result.err)
    seed = tmp_path / "seed"
    seed.mkdir()
    for name in ("user-data", "meta-data", "network-config"):
        (seed / name).write_bytes(read_file(image, offset, name))
    schema = ci.schema_check(seed / "user-data")
    assert schema.returncode == 0, schema.stdout + schema.stderr
    cmdline = read_file(image, offset, "cmdline.txt").decode()
    rendered = tmp_path / "root"
    seen = ci.read_seed(seed, cmdline, rendered)

    assert seen["cmdline_selects_nocloud"] is True
    assert seen["cmdline"]["instance-id"] == seen["meta_data"]["instance-id"]
    assert seen["meta_data"]["instance-id"].startswith("edge-pi-07-")
    user_data = seen["user_data"]
    assert user_data["hostname"] == "edge-pi-07"
    assert user_data["user"]["name"] == "maker"
    assert user_data["user"]["ssh_authorized_keys"] == [public_key()]
    assert user_data["user"]["lock_passwd"] is True
    assert user_data["ssh_pwauth"] is False
    assert ["systemctl", "enable", "--now", "ssh"] in user_data["runcmd"]
    firstboot = user_data["runcmd"][-1]
    assert firstboot[:2] == ["sh", "-c"]
    assert '"$d/edge-firstboot.sh" --start' in firstboot[2]
    wlan = seen["network"]["wifis"]["wlan0"]
    assert wlan["regulatory-domain"] == "GB"
    assert wlan["access-points"] == {SSID: {"hidden": True, "password": PSK}}
    assert seen["network"]["ethernets"]["eth0"]["dhcp4"] is True
    assert read_file(image, offset, "edge.toml") == EDGE_TOML
    assert "cfg80211.ieee80211_regdom=GB" in cmdline
    assert "systemd.run" not in cmdline
    needs.program("netplan", package="netplan.io")  # renders the network-config
    generated = ci.netplan_generate(rendered)
    assert generated.returncode == 0, generated.stderr
    wpa = (rendered / "run/netplan/wpa-wlan0.conf").read_text()
    assert f"psk={PSK}" in wpa
    assert "country=GB" in wpa


@ci.needs_cloud_init
def test_cloud_init_schema_check_catches_a_broken_user_data(tmp_path: Path) -> None:
    # The check the test above relies on is not a rubber stamp.
    broken = tmp_path / "user-data"
    broken.write_text("#cloud-config\nuser:\n  lock_passwd: maybe\nssh_pwauth: [1, 2]\n")
    assert ci.schema_check(broken).returncode != 0


def test_a_bare_fat_file_system_image_is_provisioned_at_offset_zero(
    tmp_path: Path, provision: Provision
) -> None:
    image = tmp_path / "bootfs.img"
    make_bare_fat(image, FLAVOURS["bookworm"])

    result = provision(image, wifi=False)

    assert result.status == 0, result.err
    assert "FAT file system of" in result.out
    assert read_file(image, 0, "edge.toml") == EDGE_TOML
    assert "cfg80211" not in read_file(image, 0, "cmdline.txt").decode()


def test_dry_run_writes_nothing(tmp_path: Path, provision: Provision) -> None:
    image = tmp_path / "bookworm.img"
    make_image(image, FLAVOURS["bookworm"])
    before = hashlib.sha256(image.read_bytes()).digest()

    result = provision(image, "--dry-run")

    assert result.status == 0, result.err
    assert result.out.startswith("would write to partition 1 of")
    assert hashlib.sha256(image.read_bytes()).digest() == before
