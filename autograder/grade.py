"""Grade every collected submission not graded yet, in parallel, resumably.

Each submission is judged by `autograder.judge.grade_notebook` on a Dask worker (its own
sandboxed kernel, limits, checks replayed outside the student's process). Workers only
return the result as data; this process alone writes the gradebook, after each submission
(autograder/gradebook.py). Kill it at any point and run it again: what was recorded stays,
what was not is graded (once). A submission collected again with new content is regraded.

Workers: a local Dask cluster by default (`--workers N` CPU workers; `--gpus auto|N`: one
worker per GPU, each with its own CUDA_VISIBLE_DEVICES and a memory fraction for JAX/TF),
`--scheduler tcp://host:8786` for an existing cluster (dask-jobqueue on Slurm,
dask-kubernetes), `--workers 0` to grade in this process (debugging).
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.cli import course_argument, subparser
from autograder.config import Course, course_from
from autograder.gradebook import (ROLE_ENV, ensure_lab, format_timestamp, graded_versions,
                                  parse_timestamp, record)
from autograder.labdata import prepare_data
from autograder.results import NotebookResult
from autograder.session import Limits


@dataclasses.dataclass(frozen=True)
class Task:
    """One submission to judge: everything a worker needs, nothing of the gradebook's."""

    student: str
    lab: str
    timestamp: str
    source: str
    submission: str
    workdir: str
    scale: str = "tiny"
    data_dir: str | None = None
    limits: Limits | None = None


@dataclasses.dataclass
class Outcome:
    task: Task
    result: NotebookResult | None = None
    error: str = ""             # the grading itself failed (retried on the next run)
    seconds: float = 0.0
    worker: str = ""


@dataclasses.dataclass
class GradeReport:
    graded: list[Outcome]
    skipped: int                 # already graded, same version
    failures: list[Outcome]
    seconds: float
    workers: int
    blocked: dict[str, str] = dataclasses.field(default_factory=dict)  # lab -> why not graded

    @property
    def per_minute(self) -> float:
        return 60.0 * len(self.graded) / self.seconds if self.seconds else 0.0


def judge_task(task: Task, mark_worker: bool = True) -> Outcome:
    """Run on a worker: judge one submission and return the result as data."""
    if mark_worker:
        os.environ[ROLE_ENV] = "worker"  # from now on this process cannot open the gradebook
    start = time.perf_counter()
    # A private folder outside the course directory: the sandbox makes only it writable.
    workdir = Path(task.workdir) if task.workdir else \
        Path(tempfile.mkdtemp(prefix=f"grade-{task.student}-{task.lab}-"))
    try:
        from autograder.judge import grade_notebook

        if workdir.exists():
            shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        options = {"limits": task.limits} if task.limits is not None else {}
        result = grade_notebook(
            Path(task.source), Path(task.submission), workdir, lab=task.lab, scale=task.scale,
            data_dir=Path(task.data_dir) if task.data_dir else None, **options)
        return Outcome(task, result, "", time.perf_counter() - start, _worker_name())
    except Exception as exc:  # an infrastructure failure, not a student's
        return Outcome(task, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - start,
                       _worker_name())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _worker_name() -> str:
    return f"{os.uname().nodename}:{os.getpid()}" + (
        f" gpu{os.environ['CUDA_VISIBLE_DEVICES']}" if os.environ.get("CUDA_VISIBLE_DEVICES") else "")


def pending(course: Course, lab: str | None = None, scale: str = "tiny",
            data_dir: str | None = None,
            limits: Limits | None = None) -> tuple[list[Task], int]:
    """Submissions whose collected version the gradebook has no grades for; and how many do.
    Reads only (the submitted folder and the gradebook)."""
    labs = set(course.labs())
    found = []
    for nb in sorted(course.submitted.glob("*/*/*.ipynb")):
        student, this_lab = nb.parent.parent.name, nb.parent.name
        if nb.name != f"{this_lab}.ipynb" or this_lab not in labs or (lab and this_lab != lab):
            continue
        stamp_file = nb.parent / "timestamp.txt"
        stamp = stamp_file.read_text().strip() if stamp_file.is_file() else format_timestamp(
            datetime.datetime.fromtimestamp(nb.stat().st_mtime, datetime.timezone.utc))
        found.append((student, this_lab, stamp, nb))
    done = graded_versions(course)
    tasks, skipped = [], 0
    for student, this_lab, stamp, nb in found:
        if done.get((student, this_lab)) == parse_timestamp(stamp):
            skipped += 1
            continue
        tasks.append(Task(student, this_lab, stamp, str(course.source_notebook(this_lab)),
                          str(nb), "", scale,
                          data_dir, limits))
    return tasks, skipped


def count_gpus(spec: str | int | None) -> int:
    if spec in (None, "", "0", 0):
        return 0
    if str(spec) != "auto":
        return int(spec)
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        return sum(line.startswith("GPU ") for line in out.stdout.splitlines())
    except (OSError, subprocess.SubprocessError):
        return 0


def gpu_env(index: int, mem_fraction: float = 0.9) -> dict[str, str]:
    """Environment of the worker that owns GPU `index` (inherited by the kernels it starts)."""
    return {"CUDA_VISIBLE_DEVICES": str(index), ROLE_ENV: "worker",
            "XLA_PYTHON_CLIENT_MEM_FRACTION": str(mem_fraction),
            "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}


def make_cluster(workers: int, gpus: int):
    """A local Dask cluster: `gpus` GPU workers, else `workers` CPU workers, one thread each."""
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # workers inherit it
    import dask
    from distributed import Nanny, Scheduler, SpecCluster

    dask.config.set({"logging.distributed": "error", "distributed.logging.distributed": "error"})

    if gpus:
        specs = {f"gpu{i}": {"cls": Nanny, "options": {
            "nthreads": 1, "memory_limit": 0, "env": gpu_env(i)}} for i in range(gpus)}
    else:
        specs = {f"cpu{i}": {"cls": Nanny, "options": {
            "nthreads": 1, "memory_limit": 0,
            "env": {ROLE_ENV: "worker", "CUDA_VISIBLE_DEVICES": ""}}} for i in range(workers)}
    # any free port for its HTTP server: a busy 8787 (another cluster) only warns
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": ":0"}}
    return SpecCluster(workers=specs, scheduler=scheduler, silence_logs=40)


def grade(course: Course, *, lab: str | None = None, workers: int = 2, gpus: str | int = 0,
          scheduler: str | None = None, scale: str = "tiny", data_dir: str | None = None,
          limits: Limits | None = None, progress: bool = True, on_result=None) -> GradeReport:
    """Grade what is pending; record each result as soon as it arrives. See the module doc."""
    start = time.perf_counter()
    tasks, skipped = pending(course, lab, scale, data_dir, limits)
    blocked = {this_lab: why for this_lab in sorted({t.lab for t in tasks})
               if (why := prepare_data(course.source_notebook(this_lab)))}
    tasks = [t for t in tasks if t.lab not in blocked]
    for this_lab in sorted({t.lab for t in tasks}):
        ensure_lab(course, this_lab)
    graded: list[Outcome] = []
    failures: list[Outcome] = []
    if not tasks:
        return GradeReport([], skipped, [], time.perf_counter() - start, 0, blocked)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), unit="nb", desc="grading", file=sys.stderr,
                   dynamic_ncols=True)

    def handle(outcome: Outcome) -> None:
        if outcome.result is None:
            failures.append(outcome)
        else:
            record(course, outcome.task.student, outcome.task.lab, outcome.task.timestamp,
                   outcome.result, Path(outcome.task.submission))
            graded.append(outcome)
        if on_result:
            on_result(outcome)
        if bar:
            bar.update(1)
            bar.set_postfix_str(f"{outcome.task.student}/{outcome.task.lab}")

    n_gpus = count_gpus(gpus)
    used = 0
    try:
        if scheduler is None and workers == 0 and not n_gpus:
            used = 1
            for task in tasks:
                handle(judge_task(task, mark_worker=False))
        else:
            from distributed import Client, as_completed

            cluster = None if scheduler else make_cluster(min(workers, len(tasks)) or 1, n_gpus)
            try:
                with Client(scheduler or cluster) as client:
                    used = len(client.scheduler_info().get("workers", {}))
                    futures = {client.submit(judge_task, t, key=f"judge-{t.student}-{t.lab}-{i}",
                                             pure=False, retries=0): t
                               for i, t in enumerate(tasks)}
                    for future in as_completed(list(futures)):
                        try:
                            outcome = future.result()
                        except Exception as exc:  # the worker died (KilledWorker, ...)
                            outcome = Outcome(futures[future], None,
                                              f"worker failed: {type(exc).__name__}: {exc}")
                        handle(outcome)
            finally:
                if cluster is not None:
                    cluster.close()
    finally:
        if bar:
            bar.close()
    return GradeReport(graded, skipped, failures, time.perf_counter() - start, used, blocked)


def summary_table(course: Course, lab: str | None = None) -> str:
    """Students x labs: score/max per cell of the table, then flags and errors listed."""
    from autograder.gradebook import read_results, scores

    rows = [r for r in scores(course) if not lab or r.lab == lab]
    if not rows:
        return "nothing graded yet"
    labs = sorted({r.lab for r in rows})
    students = sorted({r.student for r in rows})
    by = {(r.student, r.lab): r for r in rows}
    width = max(len("student"), *(len(s) for s in students))
    cols = [max(len(l), 11) for l in labs]
    lines = ["  ".join(["student".ljust(width)] + [l.rjust(w) for l, w in zip(labs, cols)])]
    notes = []
    for s in students:
        cells = []
        for l, w in zip(labs, cols):
            r = by.get((s, l))
            cells.append((f"{r.score:g}/{r.max_score:g}" if r else "-").rjust(w))
            recorded = read_results(course, s, l) if r else None
            result = recorded.result if recorded else None
            notes += [f"  {s}/{l}: [{flag.code}] {flag.message}" for flag in
                      (result.flags if result else ())]
            notes += [f"  {s}/{l}: error: {err}" for err in (result.errors if result else ())]
        lines.append("  ".join([s.ljust(width)] + cells))
    if notes:
        lines += ["", "Integrity flags and errors:"] + notes
    return "\n".join(lines)


def add_parser(sub):
    p = subparser(sub, "grade", __doc__,
                  "python -m autograder grade --lab 01-backprop --workers 2\n"
                  "  python -m autograder grade --gpus auto --scale gpu\n"
                  "  python -m autograder grade --scheduler tcp://login1:8786")
    p.add_argument("--lab", default=None, help="grade only this lab")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local CPU workers (default: one per core; 0: grade in this process)")
    p.add_argument("--gpus", default="0", help="'auto' or a number: one worker per GPU")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler (Slurm, Kubernetes, ...)")
    p.add_argument("--scale", default=os.environ.get("COURSE_SCALE", "tiny"),
                   choices=["tiny", "cpu", "gpu"], help="the lab size the thresholds are for")
    p.add_argument("--data-dir", default=None, help="held-out data for trained-model checks")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    course_argument(p)
    return p


def main(args) -> int:
    course = course_from(args.course)
    report = grade(course, lab=args.lab, workers=args.workers, gpus=args.gpus,
                   scheduler=args.scheduler, scale=args.scale, data_dir=args.data_dir,
                   progress=not args.quiet)
    print(f"graded {len(report.graded)} submissions in {report.seconds:.1f} s "
          f"({report.per_minute:.1f}/min on {report.workers} workers); "
          f"{report.skipped} already graded; {len(report.failures)} failed")
    print(summary_table(course, args.lab))
    if report.failures:
        print("\nFailed to grade (will be retried on the next run):")
        for f in report.failures:
            print(f"  {f.task.student}/{f.task.lab}: {f.error}")
    for blocked_lab, why in report.blocked.items():
        print(f"\nNot graded, {blocked_lab}: its data cannot be had here ({why}). Its "
              "submissions stay pending: fetch the data and run grade again.")
    return 1 if report.failures or report.blocked else 0
