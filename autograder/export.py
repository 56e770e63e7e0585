"""Export grades from the gradebook: grades.csv, or a file Canvas or Moodle imports.

`--format csv` (default): grades.csv, one row per student and lab, with integrity flags.
`--format canvas`: grades-canvas.csv, Canvas's gradebook import layout: the columns Student,
ID, SIS User ID, SIS Login ID, Section, then one column per lab, and a "Points Possible" row
under the header. Our student id goes into Student and SIS Login ID (Canvas matches rows by
ID, SIS User ID or SIS Login ID; when your ids are not Canvas logins, copy the ID column from
a Canvas export). `--format moodle`: grades-moodle.csv for Moodle's "Import grades: CSV file",
a Username column and one column per lab (map Username to the user field your ids are, and
each lab to its grade item, on Moodle's import page). A lab not graded for a student is an
empty cell, which both LMSs leave unchanged.

The gradebook (gradebook.db) stays the source of truth; `nbgrader export` reads the same
scores.
"""
from __future__ import annotations

import csv
from pathlib import Path

from autograder.cli import course_argument, subparser
from autograder.config import Course, course_from
from autograder.gradebook import Row, read_results, scores

COLUMNS = ["student", "lab", "score", "max_score", "timestamp", "flags"]
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "    Points Possible"  # as Canvas writes it in its own exports
MOODLE_ID = "Username"
FORMATS = {"csv": "grades.csv", "canvas": "grades-canvas.csv", "moodle": "grades-moodle.csv"}


def _long(course: Course, rows: list[Row]) -> list[list[str]]:
    out = [COLUMNS]
    for r in rows:
        recorded = read_results(course, r.student, r.lab)
        flags = " ".join(sorted({f.code for f in recorded.result.flags})) if recorded else ""
        out.append([r.student, r.lab, f"{r.score:g}", f"{r.max_score:g}", r.timestamp, flags])
    return out


def _wide(rows: list[Row]) -> tuple[list[str], dict[str, float], dict[str, dict[str, str]]]:
    """Labs in order, each lab's points possible, and student -> lab -> score text."""
    labs = sorted({r.lab for r in rows})
    possible = {lab: max(r.max_score for r in rows if r.lab == lab) for lab in labs}
    table: dict[str, dict[str, str]] = {}
    for r in rows:
        table.setdefault(r.student, {})[r.lab] = f"{r.score:g}"
    return labs, possible, table


def _canvas(rows: list[Row]) -> list[list[str]]:
    labs, possible, table = _wide(rows)
    out = [CANVAS_COLUMNS + labs,
           [CANVAS_POINTS, "", "", "", ""] + [f"{possible[lab]:g}" for lab in labs]]
    out += [[s, "", "", s, ""] + [got.get(lab, "") for lab in labs]
            for s, got in sorted(table.items())]
    return out


def _moodle(rows: list[Row]) -> list[list[str]]:
    labs, _, table = _wide(rows)
    return [[MOODLE_ID] + labs] + [[s] + [got.get(lab, "") for lab in labs]
                                   for s, got in sorted(table.items())]


def export(course: Course, path: Path | None = None, fmt: str = "csv") -> Path:
    """Write the grades in `fmt` (csv | canvas | moodle; default file: in the course
    directory, named by FORMATS) and return its path."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}; got {fmt!r}")
    path = Path(path) if path else course.root / FORMATS[fmt]
    rows = scores(course)
    table = {"csv": lambda: _long(course, rows), "canvas": lambda: _canvas(rows),
             "moodle": lambda: _moodle(rows)}[fmt]()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(table)
    return path


def add_parser(sub):
    p = subparser(sub, "export", __doc__,
                  "python -m autograder export --format canvas   # <course>/grades-canvas.csv")
    p.add_argument("--format", default="csv", choices=sorted(FORMATS),
                   help="csv (grades.csv, one row per student and lab), canvas or moodle "
                        "(one row per student, one column per lab)")
    p.add_argument("--out", default=None,
                   help="where to write (default: <course>/grades.csv, grades-canvas.csv or "
                        "grades-moodle.csv)")
    course_argument(p)
    return p


def main(args) -> int:
    path = export(course_from(args.course), args.out, args.format)
    print(f"wrote {path}")
    return 0
