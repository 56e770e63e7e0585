"""Benchmark grading: N copies of a lab's correct sample through the real grade step.

Prints submissions per minute (wall clock, cluster start included, and steady state) and
the overhead per submission against executing the same notebook bare with nbclient (no
sandbox, no judge, no gradebook).
"""
from __future__ import annotations

import dataclasses
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from autograder.cli import subparser
from autograder.config import REPO, Course


@dataclasses.dataclass
class BenchReport:
    lab: str
    submissions: int
    workers: int
    wall_seconds: float            # grade(): cluster start, all submissions, gradebook writes
    per_submission_seconds: float  # mean time a worker spent on one submission
    bare_seconds: float            # mean time nbclient takes to run the notebook alone
    bare_runs: int

    @property
    def per_minute(self) -> float:
        return 60.0 * self.submissions / self.wall_seconds

    @property
    def overhead_seconds(self) -> float:
        return self.per_submission_seconds - self.bare_seconds


def bare_run(path: Path, timeout: int = 600) -> float:
    """Seconds to execute a notebook with plain nbclient (kernel start included)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def bench(lab: str | None = None, submissions: int = 4, workers: int = 2, scale: str = "tiny",
          bare_runs: int = 2, repo: Path = REPO, progress: bool = True) -> BenchReport:
    import os

    from autograder import collect, grade, samples

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("COURSE_SCALE", scale)
    root = Path(tempfile.mkdtemp(prefix="autograder-bench-"))
    try:
        course = Course(root, repo)
        lab = lab or course.labs()[0]
        correct = next(s for s in samples.load(lab) if s.kind == "correct")
        data = samples.build(course, correct)
        for i in range(submissions):
            p = root / "inbox" / f"s{i:03d}" / f"{lab}.ipynb"
            p.parent.mkdir(parents=True)
            p.write_bytes(data)
        collect.collect(course, root / "inbox", labs=[lab])
        grade.pending(course, lab)  # record the lab in the gradebook before timing
        report = grade.grade(course, lab=lab, workers=workers, scale=scale, progress=progress)
        if report.failures:
            raise RuntimeError(f"grading failed: {report.failures[0].error}")
        per = statistics.mean(o.seconds for o in report.graded)
        bare_nb = root / "bare" / f"{lab}.ipynb"
        bare_nb.parent.mkdir()
        bare_nb.write_bytes(data)
        bare = statistics.mean(bare_run(bare_nb) for _ in range(bare_runs))
        return BenchReport(lab, submissions, report.workers, report.seconds, per, bare, bare_runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def render(r: BenchReport) -> str:
    return "\n".join([
        f"lab {r.lab}: {r.submissions} submissions on {r.workers} workers",
        f"  throughput        {r.per_minute:.1f} submissions/minute "
        f"({r.wall_seconds:.1f} s wall, cluster start included)",
        f"  per submission    {r.per_submission_seconds:.1f} s on a worker (sandbox, kernel, "
        f"queries, judging)",
        f"  bare nbclient     {r.bare_seconds:.1f} s (mean of {r.bare_runs} runs of the same notebook)",
        f"  overhead          {r.overhead_seconds:+.1f} s per submission "
        f"({r.per_submission_seconds / r.bare_seconds:.2f}x bare)"])


def add_parser(sub):
    p = subparser(sub, "bench", __doc__,
                  "python -m autograder bench --lab 00-orientation --submissions 8 --workers 2")
    p.add_argument("--lab", default=None, help="default: the first lab")
    p.add_argument("--submissions", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--scale", default="tiny", choices=["tiny", "cpu", "gpu"])
    p.add_argument("--bare-runs", type=int, default=2)
    return p


def main(args) -> int:
    print(render(bench(args.lab, args.submissions, args.workers, args.scale, args.bare_runs)))
    return 0
