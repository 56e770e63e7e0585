"""Memory a kernel really uses, capped: a cgroup where the machine offers one, else a watchdog.

RLIMIT_DATA (autograder/sandbox.py) stops large private allocations with a MemoryError,
which a notebook can recover from; it does not count shared mappings (``mmap`` of
``MAP_SHARED`` anonymous memory), so it is not a cap. The cap is one of:

- **a memory cgroup** (v1 ``memory.limit_in_bytes``, or v2 ``memory.max``), a child of the
  grader's own, made for one kernel: the kernel's process joins it before it executes
  (``preexec``), so everything it and its children touch, shared memory and tmpfs pages
  included, is charged to it, and the OS kills it past the limit;
- where no writable memory cgroup exists (CI containers, macOS): **a watchdog** thread that
  sums the proportional set size (PSS) of the kernel's process tree twice a second and
  kills the tree past the limit. PSS does not see tmpfs files, so every tmpfs the sandbox
  mounts has a size (autograder/sandbox.py).

Either way :meth:`MemoryCap.exceeded` says afterwards that the kernel died of it, and the
judge reports "ran out of memory" to the student.

    cap = MemoryCap.create(limit_bytes)          # COURSE_GRADER_MEMORY=cgroup|watchdog|auto
    Popen(..., preexec_fn=cap.preexec)           # joins the cgroup (no-op for the watchdog)
    cap.watch(pid)                               # the watchdog follows this tree
    cap.exceeded(); cap.close()
"""
from __future__ import annotations

import os
import secrets
import signal
import threading
from pathlib import Path

import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")
POLL_SECONDS = 0.5


def _own_cgroup() -> tuple[Path, str] | None:
    """(folder, version) of a memory cgroup this process may create children in."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = CGROUP_ROOT / "memory" / path.lstrip("/")
            if (folder / "memory.limit_in_bytes").exists() and os.access(folder, os.W_OK):
                return folder, "v1"
    for line in lines:
        if line.startswith("0::"):
            folder = CGROUP_ROOT / line[3:].lstrip("/")
            if "memory" in _read(folder / "cgroup.subtree_control").split() \
                    and os.access(folder, os.W_OK):
                return folder, "v2"
    return None


def cgroup_available() -> bool:
    """Whether kernels get a memory cgroup here (else the watchdog)."""
    return _own_cgroup() is not None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _stat(text: str, key: str) -> int:
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


class MemoryCap:
    """One kernel's memory cap (see the module docstring)."""

    def __init__(self, limit: int, folder: Path | None = None, version: str = ""):
        self.limit, self.folder, self.version = limit, folder, version
        self.killed = False          # the watchdog killed the tree
        self._kills_seen = 0
        self._pids: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def create(cls, limit: int) -> "MemoryCap":
        how = os.environ.get("COURSE_GRADER_MEMORY", "auto")
        found = _own_cgroup() if how in ("auto", "cgroup") else None
        if found is None:
            if how == "cgroup":
                raise RuntimeError("no writable memory cgroup on this machine")
            return cls(limit)
        parent, version = found
        folder = parent / f"autograder-{secrets.token_hex(6)}"
        try:
            folder.mkdir()
            if version == "v1":
                (folder / "memory.limit_in_bytes").write_text(str(limit))
                if (folder / "memory.memsw.limit_in_bytes").exists():
                    try:  # no escape into swap either
                        (folder / "memory.memsw.limit_in_bytes").write_text(str(limit))
                    except OSError:
                        pass
            else:
                (folder / "memory.max").write_text(str(limit))
                (folder / "memory.swap.max").write_text("0")
        except OSError:
            try:
                folder.rmdir()
            except OSError:
                pass
            if how == "cgroup":
                raise
            return cls(limit)
        return cls(limit, folder, version)

    @property
    def kind(self) -> str:
        return f"cgroup {self.version}" if self.folder else "PSS watchdog"

    def preexec(self) -> None:
        """In the child, before exec: join the cgroup (all it starts will be in it too)."""
        if self.folder is not None:
            try:
                with open(self.folder / "cgroup.procs", "w") as fh:
                    fh.write(str(os.getpid()))
            except OSError:
                pass  # not allowed after all: watch() falls back to the watchdog

    def watch(self, pid: int) -> None:
        """Follow `pid`'s process tree: the watchdog does; a cgroup needs nothing, once
        `pid` is seen in it (else the watchdog takes over)."""
        self._pids.append(pid)
        if self.folder is not None and str(pid) not in _read(self.folder / "cgroup.procs").split():
            self.close()
            self.folder, self._stop = None, threading.Event()
        if self.folder is None and self._thread is None:
            self._thread = threading.Thread(target=self._poll, daemon=True,
                                            name="memory-watchdog")
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            for pid in list(self._pids):
                try:
                    root = psutil.Process(pid)
                    tree = [root] + root.children(recursive=True)
                except psutil.Error:
                    continue
                used = 0
                for proc in tree:
                    try:
                        used += proc.memory_full_info().pss
                    except psutil.Error:
                        pass
                if used > self.limit:
                    self.killed = True
                    for proc in tree:
                        try:
                            os.kill(proc.pid, signal.SIGKILL)
                        except OSError:
                            pass

    def exceeded(self) -> bool:
        """Whether a process was killed for using more than the limit since the last call."""
        if self.folder is None:
            killed, self.killed = self.killed, False
            return killed
        events = self.folder / ("memory.oom_control" if self.version == "v1" else "memory.events")
        kills = _stat(_read(events), "oom_kill")
        new, self._kills_seen = kills > self._kills_seen, kills
        return new

    def close(self) -> None:
        """Stop watching; remove the cgroup (its processes are gone by now)."""
        self._stop.set()
        if self.folder is not None:
            for _ in range(50):
                try:
                    self.folder.rmdir()
                    break
                except OSError:  # still busy: a process that has not been reaped yet
                    threading.Event().wait(0.1)
