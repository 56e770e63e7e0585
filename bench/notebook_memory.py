"""Which cells of a notebook need memory: the kernel's peak data size and resident size, cell by cell.

The grader's sandbox caps a kernel with RLIMIT_DATA (`Limits.memory_mb`, 4096 MB): what
counts there is the process's data size (VmData: its private writable mappings, malloc's
arenas and thread stacks included), which can run far above its resident size (VmRSS). This
runs a notebook in a plain Jupyter kernel (the grader's kernel environment, optionally its
RLIMIT_DATA), samples /proc/<kernel pid>/status ten times a second and prints, per cell that
adds most to the highest data size so far, that peak and VmRSS's, then the overall peaks.

    COURSE_DATA=../shared/data python bench/notebook_memory.py solutions/04-architectures/04-architectures.ipynb
    python bench/notebook_memory.py NB --scale cpu --limit-mb 4096 --env MALLOC_ARENA_MAX=2
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

ROOT = Path(__file__).resolve().parents[1]


def status_kb(pid: int) -> dict[str, int]:
    """VmData, VmRSS (kB) of a process, from /proc (zeros once it is gone)."""
    out = {"VmData": 0, "VmRSS": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in out:
                out[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


class Sampler(threading.Thread):
    """Keeps the highest VmData and VmRSS of a process since the last `take()`."""

    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak = {"VmData": 0, "VmRSS": 0}
        self.lock = threading.Lock()
        self.running = True

    def run(self):
        while self.running:
            now = status_kb(self.pid)
            with self.lock:
                for k, v in now.items():
                    self.peak[k] = max(self.peak[k], v)
            time.sleep(self.every)

    def take(self) -> dict[str, int]:
        now = status_kb(self.pid)
        with self.lock:
            peak = {k: max(v, now[k]) for k, v in self.peak.items()}
            self.peak = dict(now)
        return peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[-1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--scale", default="tiny")
    parser.add_argument("--limit-mb", type=int, default=None, help="RLIMIT_DATA for the kernel, as the sandbox sets it")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the kernel (repeatable)")
    parser.add_argument("--top", type=int, default=12, help="cells to list: those that add the most")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)

    nb = nbformat.read(args.notebook, as_version=4)
    os.environ.update({"COURSE_SCALE": args.scale, "COURSE_OFFLINE": "1", "MPLBACKEND": "Agg",
                       "TF_CPP_MIN_LOG_LEVEL": "3"})
    os.environ.update(dict(kv.split("=", 1) for kv in args.env))
    if args.limit_mb:
        # Inherited by the kernel (and by this process, which needs far less).
        limit = args.limit_mb << 20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(args.notebook.parent)}})
    rows, errors = [], []
    start = time.perf_counter()
    with client.setup_kernel():
        sampler = Sampler(client.km.provisioner.pid)
        sampler.start()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            t0 = time.perf_counter()
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                errors.append((index, "DeadKernelError", "the kernel died in this cell (a limit?)"))
                break
            peak = sampler.take()
            gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            rows.append((index, gid, time.perf_counter() - t0, peak["VmData"] / 1024, peak["VmRSS"] / 1024))
            errors += [(index, o.get("ename"), o.get("evalue", "")[:120]) for o in cell.get("outputs", [])
                       if o.get("output_type") == "error"]
        sampler.running = False
    print(f"{args.notebook.name} at scale {args.scale}, limit {args.limit_mb or 'none'} MB, env {args.env or '-'}: "
          f"{time.perf_counter() - start:.0f} s; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    # What each cell adds to the highest data size so far: where the memory goes.
    grown, highest = [], 0.0
    for index, gid, seconds, data, rss in rows:
        grown.append((data - highest, index, gid, seconds, data, rss))
        highest = max(highest, data)
    print(f"{'cell':>5s} {'grade id':32s}{'seconds':>9s}{'adds MB':>9s}{'VmData MB':>11s}{'VmRSS MB':>10s}")
    for added, index, gid, seconds, data, rss in sorted(sorted(grown, reverse=True)[:args.top], key=lambda g: g[1]):
        print(f"{index:5d} {gid:32s}{seconds:9.1f}{max(added, 0):9.0f}{data:11.0f}{rss:10.0f}")
    print(f"RESULT {len(rows)} cells ran; peak VmData {max(r[3] for r in rows):.0f} MB, peak VmRSS {max(r[4] for r in rows):.0f} MB, "
          f"{len(errors)} cell(s) raised")
    for index, name, value in errors:
        print(f"  cell {index}: {name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
