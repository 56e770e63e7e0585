"""The grader's scratch folders: one root, each folder named after the process that owns it.

A submission's working copy and its kernel's exchange folder live under
``<tmp>/autograder/<pid>-<what>-<random>``. The process that made a folder removes it when
done; when that process was killed (``grade`` interrupted with SIGKILL, a worker lost),
the next ``grade`` removes every folder whose owner is gone (:func:`remove_stale`).
"""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

import psutil


def root() -> Path:
    path = Path(tempfile.gettempdir()) / "autograder"
    path.mkdir(mode=0o755, exist_ok=True)
    return path


def folder(what: str) -> Path:
    """A new, empty folder owned by this process."""
    path = root() / f"{os.getpid()}-{what}-{secrets.token_hex(4)}"
    path.mkdir(mode=0o755)
    return path


def remove_stale() -> list[Path]:
    """Remove the folders whose owning process is gone; return them."""
    removed = []
    for path in root().iterdir():
        pid = path.name.split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def size_of(folders) -> int:
    """Bytes of the regular files under `folders` (links not followed)."""
    total = 0
    for top in folders:
        for dirpath, _, files in os.walk(top):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
    return total


class FolderCap:
    """The host folders a kernel can write (its answers, its connection folder) are not a
    sized tmpfs: a thread sums them twice a second and kills the kernel past `limit`."""

    def __init__(self, folders, limit: int, kill):
        self.folders, self.limit, self.kill = list(folders), limit, kill
        self.exceeded = False        # it killed the kernel (until rearm)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True, name="folder-cap")
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            if not self.exceeded and size_of(self.folders) > self.limit:
                self.exceeded = True
                self.kill()

    def rearm(self) -> None:
        """After the folders were emptied: watch again."""
        self.exceeded = False

    def close(self) -> None:
        self._stop.set()
