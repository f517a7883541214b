"""A small tmpfs of its own that a test or a benchmark fills and frees: a disk that runs full for real."""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHUNKS = (1 << 20, 1 << 16, 1 << 12, 1)  # fill in ever smaller writes, so not a byte is left


class CannotMount(RuntimeError):
    """Mounting a tmpfs needs root (CAP_SYS_ADMIN)."""


@dataclass
class Disk:
    """A mounted tmpfs: fill() makes every write that needs space fail with ENOSPC, free() undoes it."""

    path: Path

    def fill(self) -> None:
        """Write a filler file until the file system is full."""
        fd = os.open(self.path / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in CHUNKS:
                while True:
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError as error:
                        if error.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)

    def free(self) -> None:
        """Remove the filler file."""
        (self.path / "filler").unlink()


@contextmanager
def small_disk(size: str = "8m") -> Iterator[Disk]:
    """Mount a tmpfs of this size for the block; CannotMount where that is not allowed."""
    with tempfile.TemporaryDirectory(prefix="small-disk-") as mount_point:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mount_point], capture_output=True, text=True
        )
        if mounted.returncode != 0:
            raise CannotMount(f"mounting a tmpfs needs root (CAP_SYS_ADMIN): {mounted.stderr.strip()}")
        try:
            yield Disk(Path(mount_point))
        finally:
            subprocess.run(["umount", "--lazy", mount_point], check=True)
