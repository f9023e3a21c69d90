"""Boot partition: a mounted directory, or the FAT partition inside an image, read and written.

Images (and SD card block devices) are reached with mtools at a byte offset
(`mcopy -i image@@offset`), so no loop device, mount or root is needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from edge.errors import ProvisionError
from edge.provision.disk_image import SECTOR, FatPartition, fat_problem, find_fat_partition

MTOOLS = ("mdir", "mcopy", "mdel")
MTOOLS_TIMEOUT_S = 60.0


class BootPartition(Protocol):
    """What provisioning needs from a boot partition: its top-level names, read, write."""

    description: str

    def names(self) -> frozenset[str]:
        """File names in the top directory, as stored."""
        ...

    def read(self, name: str) -> bytes:
        """The bytes of a top-level file (matched without regard to case, as FAT does)."""
        ...

    def apply(self, files: Mapping[str, bytes], remove: Sequence[str]) -> None:
        """Create or replace `files` and delete `remove`, all in the top directory."""
        ...


def open_boot_partition(path: Path) -> BootPartition:
    """The boot partition at `path`: a directory, an image file or a block device."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ProvisionError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise ProvisionError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        return DirectoryPartition(path)
    if stat.S_ISREG(mode) or stat.S_ISBLK(mode):
        return ImagePartition.open(path)
    raise ProvisionError(f"{path}: expected a directory, an image file or a block device")


class DirectoryPartition:
    """A mounted boot partition (or a copy of one); files are replaced by rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"directory {root}"

    def names(self) -> frozenset[str]:
        return frozenset(os.listdir(self.root))

    def read(self, name: str) -> bytes:
        return (self.root / self._stored(name)).read_bytes()

    def apply(self, files: Mapping[str, bytes], remove: Sequence[str]) -> None:
        for name, content in files.items():
            target = self.root / self._stored(name)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".edge-provision-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        for name in remove:
            with contextlib.suppress(FileNotFoundError):
                (self.root / self._stored(name)).unlink()
        os.sync()  # an SD card is pulled out right after this

    def _stored(self, name: str) -> str:
        """The name as the directory spells it (FAT keeps case but ignores it)."""
        return next((n for n in self.names() if n.lower() == name.lower()), name)


class ImagePartition:
    """The FAT partition inside an image file or a block device, through mtools."""

    def __init__(self, image: Path, partition: FatPartition) -> None:
        self.image = image
        self.partition = partition
        where = f"partition {partition.number}" if partition.number else "FAT file system"
        self.description = f"{where} of {image} (at byte {partition.offset})"
        self._drive = f"{image}@@{partition.offset}"

    @classmethod
    def open(cls, image: Path) -> ImagePartition:
        """Locate the FAT partition; ProvisionError when there is none or mtools is missing."""
        missing = [tool for tool in MTOOLS if shutil.which(tool) is None]
        if missing:
            raise ProvisionError(
                f"{image}: writing into an image needs mtools ({', '.join(missing)} not found):"
                " install it (apt-get install mtools) or mount the boot partition and give"
                " its directory"
            )
        _refuse_mounted(image)
        try:
            with image.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(0)
                head = f.read(SECTOR)
                partition = find_fat_partition(head, image_size=size, source=str(image))
                f.seek(partition.offset)
                problem = fat_problem(f.read(SECTOR))
        except OSError as exc:
            raise ProvisionError(f"{image}: cannot read: {exc.strerror or exc}") from None
        if problem is not None:
            raise ProvisionError(
                f"{image}: partition {partition.number} is marked FAT but holds no FAT file"
                f" system ({problem})"
            )
        return cls(image, partition)

    def names(self) -> frozenset[str]:
        listing = self._mtools("mdir", "-b", "::/").decode("utf-8", "replace")
        names = (line.removeprefix("::/") for line in listing.splitlines())
        return frozenset(n for n in names if n and not n.endswith("/"))

    def read(self, name: str) -> bytes:
        return self._mtools("mcopy", "-n", f"::/{name}", "-")

    def apply(self, files: Mapping[str, bytes], remove: Sequence[str]) -> None:
        with tempfile.TemporaryDirectory(prefix="edge-provision-") as tmp:
            os.chmod(tmp, 0o700)  # the files hold secrets until they are in the image
            for name, content in files.items():
                local = Path(tmp, name)
                local.write_bytes(content)
                self._mtools("mcopy", "-o", str(local), f"::/{name}")
        for name in remove:
            self._mtools("mdel", f"::/{name}")
        os.sync()

    def _mtools(self, tool: str, *args: str) -> bytes:
        env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull}
        try:
            done = subprocess.run(
                [tool, "-i", self._drive, *args],
                capture_output=True,
                env=env,
                timeout=MTOOLS_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ProvisionError(f"{self.image}: {tool} did not finish in time") from None
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
            raise ProvisionError(f"{self.image}: {tool} failed: {reason}")
        return done.stdout


def _refuse_mounted(image: Path) -> None:
    """Writing under a mounted file system corrupts it: refuse a device that is mounted."""
    if not stat.S_ISBLK(image.stat().st_mode):
        return
    device = os.path.realpath(image)
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    for line in mounts:
        source, mount_point = line.split()[:2]
        if source == device or (
            source.startswith(device) and source[len(device) :].lstrip("p").isdigit()
        ):
            raise ProvisionError(
                f"{image}: {source} is mounted on {mount_point}; give that directory instead,"
                " or unmount it first"
            )
