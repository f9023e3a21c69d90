"""Disk image layout: where the FAT boot partition starts inside a Raspberry Pi OS image.

Pure: parses the MBR partition table (and the FAT boot sector it points at) from bytes.
Raspberry Pi OS images are MBR with the FAT boot partition first; a bare FAT file system
(a copy of just the boot partition) is accepted too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from edge.errors import ProvisionError

SECTOR = 512
MBR_TABLE_OFFSET = 446
MBR_ENTRY_SIZE = 16
MBR_SIGNATURE = b"\x55\xaa"
FAT_TYPES = frozenset({0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E})
"""FAT12, FAT16 (<32 MiB, >=32 MiB, LBA), FAT32 (CHS, LBA)."""
GPT_PROTECTIVE = 0xEE
_COMPRESSED = {
    b"\xfd7zXZ\x00": "xz",
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"BZh": "bzip2",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FatPartition:
    """The boot partition's place in the image."""

    offset: int
    """Byte offset of its first sector (mtools' `image@@offset`)."""
    size: int
    """Its length in bytes."""
    number: int
    """1-4 for an MBR partition, 0 for an image that is one bare FAT file system."""


def find_fat_partition(head: bytes, *, image_size: int, source: str) -> FatPartition:
    """The FAT partition described by the image's first sector; ProvisionError if none."""
    for magic, compression in _COMPRESSED.items():
        if head.startswith(magic):
            raise ProvisionError(
                f"{source}: a {compression}-compressed file; decompress the image first"
                " (keep the .img) and give that"
            )
    if len(head) < SECTOR:
        raise ProvisionError(f"{source}: {len(head)} bytes, too small to be a disk image")
    if head[510:512] != MBR_SIGNATURE:
        raise ProvisionError(
            f"{source}: no MBR partition table (no boot signature in the first sector);"
            " not a Raspberry Pi OS image"
        )
    if fat_problem(head[:SECTOR]) is None:
        return FatPartition(offset=0, size=image_size, number=0)
    entries = [_entry(head, index) for index in range(4)]
    if any(kind == GPT_PROTECTIVE for kind, _, _ in entries):
        raise ProvisionError(
            f"{source}: a GPT disk image; Raspberry Pi OS images use an MBR partition table"
        )
    for number, (kind, start, count) in enumerate(entries, start=1):
        if kind not in FAT_TYPES or count == 0:
            continue
        offset, size = start * SECTOR, count * SECTOR
        if offset + size > image_size:
            raise ProvisionError(
                f"{source}: partition {number} ends at byte {offset + size}, past the end of"
                f" the {image_size}-byte image (truncated download?)"
            )
        return FatPartition(offset=offset, size=size, number=number)
    kinds = ", ".join(f"0x{kind:02x}" for kind, _, count in entries if count) or "none"
    raise ProvisionError(f"{source}: no FAT partition in the partition table (types: {kinds})")


def fat_problem(sector: bytes) -> str | None:
    """Why `sector` is not a FAT boot sector, or None when it is one."""
    if len(sector) < SECTOR or sector[510:512] != MBR_SIGNATURE:
        return "no boot signature"
    if sector[0] not in (0xEB, 0xE9):
        return "no x86 jump instruction at its start"
    (bytes_per_sector,) = struct.unpack_from("<H", sector, 11)
    if bytes_per_sector not in (512, 1024, 2048, 4096):
        return f"{bytes_per_sector} bytes per sector"
    if sector[13] == 0 or sector[13] & (sector[13] - 1):
        return f"{sector[13]} sectors per cluster"
    if b"FAT" not in sector[54:62] and b"FAT" not in sector[82:90]:
        return "no FAT file-system type"
    return None


def _entry(head: bytes, index: int) -> tuple[int, int, int]:
    """(type, first LBA, sector count) of MBR partition entry `index`."""
    base = MBR_TABLE_OFFSET + index * MBR_ENTRY_SIZE
    kind = head[base + 4]
    start, count = struct.unpack_from("<II", head, base + 8)
    return kind, start, count
