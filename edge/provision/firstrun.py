"""Firstrun files: Raspberry Pi Imager's `firstrun.sh` and Bookworm's `custom.toml`.

`firstrun.sh` runs once through `systemd.run=` on the kernel command line. It follows the
script Raspberry Pi Imager writes for `init_format: systemd` images: the raspberrypi-sys-mods
`imager_custom` and userconf-pi `userconf` helpers when the image has them, plain commands
otherwise. Bookworm's initramfs rewrites `/boot/` to `/boot/firmware/` in it and replaces
everything from the first `rm ... firstrun.sh` line on, so that line must stay last but two.

`custom.toml` is read by Bookworm's `firstboot` (`init=/usr/lib/raspberrypi-sys-mods/firstboot`
in cmdline.txt) through `init_config`, sections system, user, ssh and wlan; it cannot install
our config, so a short firstrun.sh that only runs `edge-firstboot.sh` goes with it.
"""

from __future__ import annotations

from edge.provision.firstboot import FIRSTBOOT_NAME
from edge.provision.quoting import shell_word, toml_string
from edge.provision.request import ProvisionRequest
from edge.provision.wifi import WifiNetwork

FIRSTRUN_NAME = "firstrun.sh"
CUSTOM_TOML_NAME = "custom.toml"
IMAGER_CUSTOM = "/usr/lib/raspberrypi-sys-mods/imager_custom"
USERCONF = "/usr/lib/userconf-pi/userconf"

_HEADER = """\
#!/bin/sh
# First boot of {hostname}, written by `edge provision` (Raspberry Pi Imager's firstrun format).

set +e

"""
_RUN_EDGE = f"""\
sh "$(dirname "$0")/{FIRSTBOOT_NAME}"
"""
# Imager's own tail; Bookworm's initramfs cuts the file at its first line and appends its own.
_FOOTER = """\
rm -f /boot/firstrun.sh
sed -i 's| systemd.run.*||g' /boot/cmdline.txt
exit 0
"""


def firstrun_script(request: ProvisionRequest) -> bytes:
    """A firstrun.sh that sets up everything: host name, SSH, the user, Wi-Fi, then edge."""
    parts = [
        _HEADER.format(hostname=request.hostname),
        _hostname(request.hostname),
        _ssh(request.ssh_keys),
        _user(request.user),
    ]
    if request.wifi is not None:
        parts.append(_wifi(request.wifi))
    parts += [_RUN_EDGE, _FOOTER]
    return "".join(parts).encode("utf-8")


def edge_only_firstrun_script(request: ProvisionRequest) -> bytes:
    """The firstrun.sh that goes with custom.toml: only the edge part."""
    return (_HEADER.format(hostname=request.hostname) + _RUN_EDGE + _FOOTER).encode("utf-8")


def custom_toml(request: ProvisionRequest) -> bytes:
    """Bookworm's custom.toml (`init_config` format, `config_version = 1`)."""
    lines = [
        f"# First boot of {request.hostname}, written by `edge provision`.",
        "config_version = 1",
        "",
        "[system]",
        f"hostname = {toml_string(request.hostname)}",
        "",
        "[user]",  # no password: login is by SSH key only, the account's password stays locked
        f"name = {toml_string(request.user)}",
        "",
        "[ssh]",
        "enabled = true",
        "password_authentication = false",
        "authorized_keys = [",
        *(f"  {toml_string(key)}," for key in request.ssh_keys),
        "]",
    ]
    wifi = request.wifi
    if wifi is not None:
        lines += ["", "[wlan]", f"ssid = {toml_string(wifi.ssid)}"]
        if wifi.psk:
            lines += [f"password = {toml_string(wifi.psk)}", "password_encrypted = true"]
        lines += [
            f"hidden = {'true' if wifi.hidden else 'false'}",
            f"country = {toml_string(wifi.country)}",
        ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _hostname(hostname: str) -> str:
    name = shell_word(hostname)
    return f"""\
CURRENT_HOSTNAME=$(tr -d " \\t\\n\\r" </etc/hostname)
if [ -f {IMAGER_CUSTOM} ]; then
   {IMAGER_CUSTOM} set_hostname {name}
else
   echo {name} >/etc/hostname
   sed -i "s/127.0.1.1.*$CURRENT_HOSTNAME/127.0.1.1\\t{hostname}/g" /etc/hosts
fi
FIRSTUSER=$(getent passwd 1000 | cut -d: -f1)
FIRSTUSERHOME=$(getent passwd 1000 | cut -d: -f6)
"""


def _ssh(keys: tuple[str, ...]) -> str:
    # Keys only as quoted words: a script line ending in "firstrun.sh" (a key comment could)
    # is where Bookworm's initramfs would cut the script.
    words = " ".join(shell_word(key) for key in keys)
    return f"""\
if [ -f {IMAGER_CUSTOM} ]; then
   {IMAGER_CUSTOM} enable_ssh -k {words}
else
   install -o "$FIRSTUSER" -m 700 -d "$FIRSTUSERHOME/.ssh"
   printf '%s\\n' {words} >"$FIRSTUSERHOME/.ssh/authorized_keys"
   chown "$FIRSTUSER:$FIRSTUSER" "$FIRSTUSERHOME/.ssh/authorized_keys"
   chmod 600 "$FIRSTUSERHOME/.ssh/authorized_keys"
   echo 'PasswordAuthentication no' >>/etc/ssh/sshd_config
   systemctl enable ssh
fi
"""


def _user(user: str) -> str:
    name = shell_word(user)
    return f"""\
if [ -f {USERCONF} ]; then
   {USERCONF} {name} ''
elif [ "$FIRSTUSER" != {name} ]; then
   usermod -l {name} "$FIRSTUSER"
   usermod -m -d /home/{user} {name}
   groupmod -n {name} "$FIRSTUSER"
   if [ -f /etc/sudoers.d/010_pi-nopasswd ]; then
      sed -i "s/^$FIRSTUSER /{user} /" /etc/sudoers.d/010_pi-nopasswd
   fi
fi
"""


def _wifi(wifi: WifiNetwork) -> str:
    hidden = " -h" if wifi.hidden else ""
    words = [shell_word(wifi.ssid)]
    if wifi.psk:
        words.append(shell_word(wifi.psk))
    else:
        words.append("''")
    words.append(shell_word(wifi.country))
    security = f"\tkey_mgmt=WPA-PSK\n\tpsk={wifi.psk}\n" if wifi.psk else "\tkey_mgmt=NONE\n"
    scan = "\tscan_ssid=1\n" if wifi.hidden else ""
    return f"""\
if [ -f {IMAGER_CUSTOM} ]; then
   {IMAGER_CUSTOM} set_wlan{hidden} {" ".join(words)}
else
cat >/etc/wpa_supplicant/wpa_supplicant.conf <<'WPAEOF'
country={wifi.country}
ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev
ap_scan=1

update_config=1
network={{
{scan}\tssid={wifi.ssid_hex}
{security}}}
WPAEOF
   chmod 600 /etc/wpa_supplicant/wpa_supplicant.conf
   rfkill unblock wifi
   for filename in /var/lib/systemd/rfkill/*:wlan ; do
       echo 0 > "$filename"
   done
fi
"""
