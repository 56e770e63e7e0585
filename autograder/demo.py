"""The whole pipeline on the bundled samples, in a temporary course directory.

release (check labs/ is current) -> build every lab's sample submissions -> collect ->
grade (Dask, sandboxed) -> feedback -> export. Prints the grade table, expected vs got for
every sample, and where the feedback pages and grades.csv are. Exits 1 when a sample
misses its expected score or an expected integrity flag.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path

from autograder.cli import subparser
from autograder.config import REPO, Course

TOLERANCE = 1e-6


@dataclasses.dataclass
class SampleCheck:
    lab: str
    name: str
    kind: str
    expected: float
    got: float | None
    flags_expected: list[str]
    flags_got: list[str]
    cells_wrong: dict[str, tuple[float, float | None]]

    @property
    def ok(self) -> bool:
        return (self.got is not None and abs(self.got - self.expected) <= TOLERANCE
                and set(self.flags_expected) <= set(self.flags_got) and not self.cells_wrong)


@dataclasses.dataclass
class DemoReport:
    course: Course
    checks: list[SampleCheck]
    stale_labs: list[str]
    grade_seconds: float
    seconds: float
    failures: list[str]
    feedback: list[Path]
    grades_csv: Path
    unavailable: dict[str, str] = dataclasses.field(default_factory=dict)  # lab -> why skipped

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and not self.failures


def compare(course: Course, built) -> list[SampleCheck]:
    """Expected vs recorded, for every built sample (student = sample name)."""
    from autograder.gradebook import read_results, scores

    got = {(r.student, r.lab): r for r in scores(course)}
    out = []
    for sample, _ in built:
        row = got.get((sample.name, sample.lab))
        recorded = read_results(course, sample.name, sample.lab)
        result = recorded.result if recorded else None
        cells = {c.grade_id: c.score for c in result.cells} if result else {}
        wrong = {k: (v, cells.get(k)) for k, v in sample.expected_cells.items()
                 if cells.get(k) is None or abs(cells[k] - v) > TOLERANCE}
        out.append(SampleCheck(sample.lab, sample.name, sample.kind, sample.expected,
                               row.score if row else None, sample.flags,
                               sorted({f.code for f in result.flags}) if result else [], wrong))
    return out


def run_demo(course_dir: Path | None = None, *, labs: list[str] | None = None,
             workers: int = 2, scale: str = "tiny", progress: bool = True,
             repo: Path = REPO, demo_only: bool = True) -> DemoReport:
    """Grade the samples of `labs` (default all) in a course directory; `demo_only=False`
    leaves out the samples marked demo_only (the test suite's shorter run)."""
    from autograder import collect, export, feedback, grade, release, samples
    from autograder.labdata import prepare_data

    start = time.perf_counter()
    root = Path(course_dir) if course_dir else Path(tempfile.mkdtemp(prefix="autograder-demo-"))
    course = Course(root.resolve(), repo)
    labs = labs or course.labs()
    unavailable = {lab: why for lab in labs
                   if (why := prepare_data(course.source_notebook(lab)))}
    labs = [lab for lab in labs if lab not in unavailable]
    if not labs:
        raise RuntimeError("no lab can be graded here: " + "; ".join(
            f"{lab}: {why}" for lab, why in unavailable.items()))
    stale = [r.lab for r in release.release(course, labs, check=True) if r.changed]
    built = samples.build_all(course, root / "inbox", labs, demo_only=demo_only)
    collect.collect(course, root / "inbox", labs=labs)
    t = time.perf_counter()
    report = grade.grade(course, workers=workers, scale=scale, progress=progress)
    grade_seconds = time.perf_counter() - t
    pages = [f.path for f in feedback.generate_feedback(course)]
    csv_path = export.export(course)
    failures = [f"{f.task.student}/{f.task.lab}: {f.error}" for f in report.failures]
    return DemoReport(course, compare(course, built), stale, grade_seconds,
                      time.perf_counter() - start, failures, pages, csv_path, unavailable)


def render(report: DemoReport) -> str:
    from autograder.grade import summary_table

    lines = [summary_table(report.course), "", "Expected vs got (COURSE_SCALE=tiny):"]
    for c in report.checks:
        mark = "ok  " if c.ok else "MISS"
        got = "-" if c.got is None else f"{c.got:g}"
        extra = ""
        if set(c.flags_expected) - set(c.flags_got):
            extra += f"  missing flags {sorted(set(c.flags_expected) - set(c.flags_got))}"
        if c.cells_wrong:
            extra += "  cells " + ", ".join(f"{k}: expected {v[0]:g}, got {v[1]}"
                                            for k, v in c.cells_wrong.items())
        lines.append(f"  {mark} {c.lab:16s} {c.kind:8s} {c.name:30s} expected {c.expected:g}, "
                     f"got {got}{extra}")
    if report.stale_labs:
        lines.append(f"\nWARNING: labs/ differs from a fresh release for {report.stale_labs}: "
                     "run `python -m autograder release`")
    for f in report.failures:
        lines.append(f"grading failed: {f}")
    for lab, why in report.unavailable.items():
        lines.append(f"\nSKIPPED {lab}: its data cannot be had here ({why})")
    n_ok = sum(c.ok for c in report.checks)
    lines += ["", f"feedback pages: {report.course.feedback}/<student>/<lab>/<lab>.html "
                  f"({len(report.feedback)} pages)",
              f"grades:         {report.grades_csv}",
              f"gradebook:      {report.course.gradebook}",
              f"{n_ok} of {len(report.checks)} samples graded as expected; grading took "
              f"{report.grade_seconds:.0f} s, the whole demo {report.seconds:.0f} s"]
    return "\n".join(lines)


def add_parser(sub):
    p = subparser(sub, "demo", __doc__, "python -m autograder demo --workers 2")
    p.add_argument("--course", default=None, help="course directory (default: a new temp dir)")
    p.add_argument("--lab", action="append", default=None, help="only these labs")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--scale", default="tiny", choices=["tiny", "cpu", "gpu"])
    return p


def main(args) -> int:
    try:
        report = run_demo(Path(args.course) if args.course else None, labs=args.lab,
                          workers=args.workers, scale=args.scale)
    except RuntimeError as e:
        print(f"error: {e}")
        return 1
    print(render(report))
    return 0 if report.ok else 1
