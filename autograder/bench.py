"""Benchmark grading side by side: this autograder vs stock nbgrader vs bare execution.

    python -m autograder bench --lab 01-backprop --scale tiny --submissions 4 --workers 2

N copies of the lab's correct sample, one after the other on this machine, `--workers` at a
time each way:

- ``bare nbclient``: each notebook executed by nbclient alone (no sandbox, no checks): the floor;
- ``nbgrader autograde``: stock nbgrader with its own default configuration (only its one
  per-cell time limit set, to the longest this autograder gives any cell of the lab), one
  ``nbgrader autograde`` process per worker on its own share of the submissions (nbgrader
  grades one notebook at a time); a submission it fails on (on a busy machine, nbclient's
  4 s wait for a cell's last output) is counted, not fatal;
- ``grade``: this autograder (sandboxed kernels, every check a query judged outside the
  kernel, gradebook writes) on a local Dask cluster of that many workers.

Prints seconds per submission (the mean time one submission took, its share of process
start-up included) with the ratio to bare execution, the class throughput (submissions per
minute of wall clock) and the load average before each part: on a shared machine the
numbers are upper bounds.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.cli import subparser
from autograder.config import REPO, Course

NBGRADER_CONFIG = """c = get_config()  # noqa: F821  (stock nbgrader, only the cell time limit set)
c.Execute.timeout = {timeout}
c.ExecutePreprocessor.timeout = {timeout}
"""


@dataclasses.dataclass
class Way:
    """One way of grading the same submissions."""

    name: str
    per_submission: float  # seconds, mean over submissions
    wall: float            # seconds for all of them
    load: str              # the load average when it started
    failed: int = 0        # submissions this way could not grade


@dataclasses.dataclass
class BenchReport:
    lab: str
    scale: str
    submissions: int
    workers: int
    ways: list[Way]

    def per_minute(self, way: Way) -> float:
        return 60.0 * self.submissions / way.wall


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def bare_run(path: str, timeout: float = 600) -> float:
    """Seconds to execute a notebook with plain nbclient (kernel start included)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    return time.perf_counter() - start


def bench_bare(paths: list[Path], workers: int) -> Way:
    load, start = load_average(), time.perf_counter()
    spawn = multiprocessing.get_context("spawn")  # fresh processes, as nbgrader's and Dask's
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        times = list(pool.map(bare_run, map(str, paths)))
    return Way("bare nbclient", statistics.mean(times), time.perf_counter() - start, load)


def bench_nbgrader(course: Course, lab: str, data: bytes, n: int, workers: int, root: Path,
                   timeout: float) -> Way:
    """Stock `nbgrader autograde`, one course directory per worker (their own gradebooks)."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep
               + os.environ.get("PATH", ""))
    shares = [s for s in (list(range(i, n, workers)) for i in range(workers)) if s]
    dirs = []
    for i, share in enumerate(shares):
        d = root / f"nbgrader{i}"
        (d / "source" / lab).mkdir(parents=True)
        shutil.copy(course.source_notebook(lab), d / "source" / lab / f"{lab}.ipynb")
        (d / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(timeout=int(timeout)))
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", lab,
                        "--log-level=ERROR"], cwd=d, env=env, check=True, capture_output=True)
        for s in share:
            p = d / "submitted" / f"s{s:03d}" / lab / f"{lab}.ipynb"
            p.parent.mkdir(parents=True)
            p.write_bytes(data)
        dirs.append((d, len(share)))
    load, start = load_average(), time.perf_counter()
    procs = [(subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", lab,
                                "--log-level=ERROR"], cwd=d, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE), k) for d, k in dirs]
    per, failed = [], 0
    for proc, k in procs:
        _, err = proc.communicate()
        errors = err.decode(errors="replace").count("There was an error processing assignment")
        if proc.returncode and not errors:
            raise RuntimeError(f"nbgrader autograde failed: {err.decode()[-2000:]}")
        failed += errors
        per.append((time.perf_counter() - start) / k)
    return Way("nbgrader autograde (stock)", statistics.mean(per), time.perf_counter() - start,
               load, failed)


def longest_cell_limit(source_nb_path: Path) -> float:
    """The longest time limit this autograder gives any cell of the lab (judge.source_cells):
    stock nbgrader has one limit for every cell."""
    from autograder import integrity
    from autograder.judge import source_cells
    from autograder.session import Limits

    nb = integrity.read_notebook(source_nb_path)[0]
    return max(limit for _, limit in source_cells(nb, Limits()).values())


def bench_grade(course: Course, lab: str, data: bytes, n: int, workers: int, scale: str,
                root: Path) -> Way:
    from autograder import collect, grade
    from autograder.gradebook import ensure_lab

    for i in range(n):
        p = root / "inbox" / f"s{i:03d}" / f"{lab}.ipynb"
        p.parent.mkdir(parents=True)
        p.write_bytes(data)
    collect.collect(course, root / "inbox", labs=[lab])
    ensure_lab(course, lab)  # recorded once, before timing
    load = load_average()
    report = grade.grade(course, lab=lab, workers=workers, scale=scale, progress=False)
    if report.failures:
        raise RuntimeError(f"grading failed: {report.failures[0].error}")
    return Way("grade (this autograder)", statistics.mean(o.seconds for o in report.graded),
               report.seconds, load)


def bench(lab: str | None = None, submissions: int = 4, workers: int = 2, scale: str = "tiny",
          repo: Path = REPO) -> BenchReport:
    from autograder import samples
    from autograder.labdata import prepare_data

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["COURSE_SCALE"] = scale  # the bare and nbgrader kernels inherit it
    root = Path(tempfile.mkdtemp(prefix="autograder-bench-"))
    try:
        course = Course(root, repo)
        lab = lab or course.labs()[0]
        why = prepare_data(course.source_notebook(lab))
        if why:
            raise RuntimeError(f"{lab}: its data cannot be had here ({why})")
        correct = next(s for s in samples.load(lab) if s.kind == "correct")
        data = samples.build(course, correct)
        paths = []
        for i in range(submissions):
            p = root / "bare" / f"s{i:03d}" / f"{lab}.ipynb"
            p.parent.mkdir(parents=True)
            p.write_bytes(data)
            paths.append(p)
        ways = [bench_bare(paths, workers),
                bench_nbgrader(course, lab, data, submissions, workers, root,
                               longest_cell_limit(course.source_notebook(lab))),
                bench_grade(course, lab, data, submissions, workers, scale, root)]
        return BenchReport(lab, scale, submissions, workers, ways)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def render(r: BenchReport) -> str:
    bare = r.ways[0].per_submission
    lines = [f"lab {r.lab} at scale {r.scale}: {r.submissions} copies of the correct sample, "
             f"{r.workers} at a time each way",
             f"  {'':28s} {'s/submission':>12s} {'x bare':>7s} {'per minute':>10s}"
             f" {'failed':>6s}  load when started"]
    for w in r.ways:
        lines.append(f"  {w.name:28s} {w.per_submission:12.1f} {w.per_submission / bare:7.2f} "
                     f"{r.per_minute(w):10.1f} {w.failed:6d}  {w.load}")
    return "\n".join(lines)


def add_parser(sub):
    p = subparser(sub, "bench", __doc__,
                  "python -m autograder bench --lab 01-backprop --scale tiny --submissions 4 "
                  "--workers 2")
    p.add_argument("--lab", default=None, help="default: the first lab")
    p.add_argument("--submissions", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--scale", default="tiny", choices=["tiny", "cpu", "gpu"])
    return p


def main(args) -> int:
    print(render(bench(args.lab, args.submissions, args.workers, args.scale)))
    return 0
