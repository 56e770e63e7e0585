"""Export grades.csv from the gradebook: one row per student and lab (plus integrity flags).

The gradebook (gradebook.db) stays the source of truth; `nbgrader export` reads the same
scores.
"""
from __future__ import annotations

import csv
from pathlib import Path

from autograder.cli import course_argument, subparser
from autograder.config import Course, course_from
from autograder.gradebook import read_results, scores

COLUMNS = ["student", "lab", "score", "max_score", "timestamp", "flags"]


def export(course: Course, path: Path | None = None) -> Path:
    """Write grades.csv (default: in the course directory) and return its path."""
    path = Path(path) if path else course.root / "grades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in scores(course):
            recorded = read_results(course, r.student, r.lab)
            flags = " ".join(sorted({f.code for f in recorded.result.flags})) if recorded else ""
            writer.writerow([r.student, r.lab, f"{r.score:g}", f"{r.max_score:g}",
                             r.timestamp, flags])
    return path


def add_parser(sub):
    p = subparser(sub, "export", __doc__, "python -m autograder export --out grades.csv")
    p.add_argument("--out", default=None, help="where to write (default: <course>/grades.csv)")
    course_argument(p)
    return p


def main(args) -> int:
    path = export(course_from(args.course), args.out)
    print(f"wrote {path}")
    return 0
