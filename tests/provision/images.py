"""Raspberry Pi OS-like disk images built for real with mkfs.vfat and mtools, and read back."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests import needs

SECTOR = 512
BOOT_START_LBA = 8192  # 4 MiB, where Raspberry Pi OS images start their boot partition
BOOT_SECTORS = 40 * 2048  # 40 MiB: the smallest comfortable FAT32
ROOT_SECTORS = 2048  # a token ext4 partition after it (contents irrelevant here)
MTOOLS_ENV = {"MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull}

BULLSEYE_CMDLINE = (
    "console=serial0,115200 console=tty1 root=PARTUUID=7788c428-02 rootfstype=ext4"
    " fsck.repair=yes rootwait quiet init=/usr/lib/raspi-config/init_resize.sh\n"
)
BOOKWORM_CMDLINE = (
    "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4"
    " fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot splash"
    " plymouth.ignore-serial-consoles\n"
)
TRIXIE_CMDLINE = (
    "console=serial0,115200 console=tty1 root=PARTUUID=2c1f7e4d-02 rootfstype=ext4"
    " fsck.repair=yes rootwait resize quiet splash plymouth.ignore-serial-consoles\n"
)
_FIRMWARE = {
    "config.txt": b"# For more options see http://rptl.io/configtxt\ndtparam=audio=on\n"
    b"camera_auto_detect=1\n[all]\n",
    "bootcode.bin": b"\x00" * 64,
    "start.elf": b"\x7fELF" + b"\x00" * 60,
    "start4.elf": b"\x7fELF" + b"\x00" * 60,
    "fixup.dat": b"\x00" * 32,
    "kernel7.img": b"\x00" * 128,
    "bcm2710-rpi-zero-2-w.dtb": b"\xd0\x0d\xfe\xed" + b"\x00" * 28,
}
# Short stand-ins for the commented examples the Trixie images ship.
_TRIXIE_SEED = {
    "user-data": b"#cloud-config\n# Uncomment and edit to configure the first boot.\n"
    b"#hostname: raspberrypi\n",
    "meta-data": b"dsmode: local\ninstance_id: rpios-image\n",
    "network-config": b"# netplan v2; see the cloud-init documentation.\n#network:\n"
    b"#  version: 2\n",
}
FLAVOURS: Mapping[str, Mapping[str, bytes]] = {
    "bullseye": {**_FIRMWARE, "cmdline.txt": BULLSEYE_CMDLINE.encode()},
    "bookworm": {**_FIRMWARE, "cmdline.txt": BOOKWORM_CMDLINE.encode(), "issue.txt": b"bookworm\n"},
    "trixie": {**_FIRMWARE, "cmdline.txt": TRIXIE_CMDLINE.encode(), **_TRIXIE_SEED},
    "not-boot": {"notes.txt": b"shopping list\n", "IMG_0001.JPG": b"\xff\xd8\xff\xe0"},
}


tool = needs.find
"""A system tool's path; also looks in the sbin directories a user's PATH may lack."""

needs_fat_tools = pytest.mark.usefixtures("fat_tools")
"""mkfs.vfat and mtools (the `fat_tools` fixture: skipped or, in CI, failed without them)."""


def mbr(partitions: list[tuple[int, int, int]]) -> bytes:
    """A first sector with an MBR partition table of (type, first LBA, sectors) entries."""
    sector = bytearray(SECTOR)
    for index, (kind, start, count) in enumerate(partitions):
        entry = 446 + 16 * index
        sector[entry + 4] = kind
        struct.pack_into("<II", sector, entry + 8, start, count)
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def make_image(path: Path, files: Mapping[str, bytes], *, fat_type: int = 0x0C) -> int:
    """An MBR disk image: FAT32 boot partition holding `files`, then a Linux one; its offset."""
    total = BOOT_START_LBA + BOOT_SECTORS + ROOT_SECTORS
    with path.open("wb") as f:
        f.truncate(total * SECTOR)
        f.write(
            mbr(
                [
                    (fat_type, BOOT_START_LBA, BOOT_SECTORS),
                    (0x83, BOOT_START_LBA + BOOT_SECTORS, ROOT_SECTORS),
                ]
            )
        )
    mkfs = tool("mkfs.vfat")
    assert mkfs is not None
    subprocess.run(
        [
            mkfs,
            "-F",
            "32",
            "-n",
            "BOOTFS",
            f"--offset={BOOT_START_LBA}",
            str(path),
            str(BOOT_SECTORS // 2),
        ],
        check=True,
        capture_output=True,
    )
    offset = BOOT_START_LBA * SECTOR
    put_files(path, offset, files)
    return offset


def make_bare_fat(path: Path, files: Mapping[str, bytes]) -> None:
    """A file that is just the boot partition's FAT file system, no partition table."""
    with path.open("wb") as f:
        f.truncate(BOOT_SECTORS * SECTOR)
    mkfs = tool("mkfs.vfat")
    assert mkfs is not None
    subprocess.run([mkfs, "-F", "32", "-n", "BOOTFS", str(path)], check=True, capture_output=True)
    put_files(path, 0, files)


def put_files(image: Path, offset: int, files: Mapping[str, bytes]) -> None:
    """Copy `files` into the FAT file system at `offset` (subdirectories are made as needed)."""
    staging = image.with_name(image.name + ".files")
    staging.mkdir()
    for name, content in files.items():
        local = staging / name.replace("/", "_")
        local.write_bytes(content)
        _mtools("mcopy", image, offset, str(local), f"::/{name}")
    shutil.rmtree(staging)


def read_file(image: Path, offset: int, name: str) -> bytes:
    """A file's bytes from the FAT file system at `offset`, read with mtools."""
    return _mtools("mcopy", image, offset, "-n", f"::/{name}", "-")


def list_names(image: Path, offset: int) -> set[str]:
    """Names in the top directory of the FAT file system at `offset`."""
    listing = _mtools("mdir", image, offset, "-b", "::/").decode()
    return {line.removeprefix("::/") for line in listing.splitlines() if line.strip()}


def _mtools(name: str, image: Path, offset: int, *args: str) -> bytes:
    done = subprocess.run(
        [name, "-i", f"{image}@@{offset}", *args],
        capture_output=True,
        env={**os.environ, **MTOOLS_ENV},
        check=True,
    )
    return done.stdout
