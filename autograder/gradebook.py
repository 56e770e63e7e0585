"""Write grading results into nbgrader's gradebook (the one source of truth for scores).

Only the grading client calls `record`: workers return `NotebookResult` data and never open
the database (a worker process has AUTOGRADER_ROLE=worker, and `record` refuses to run
there). For each submission it writes, in this order:

1. autograded/<student>/<lab>/<lab>.ipynb (the notebook as graded) and `results.json`
   beside it (every check line, flags, errors: what feedback renders);
2. nbgrader's SubmittedAssignment/SubmittedNotebook/Grade rows, `Grade.auto_score` per test
   cell, and last the submission's timestamp, in one commit. A submission counts as graded
   when the gradebook holds the timestamp of the collected version (timestamp.txt); a run
   killed anywhere before that commit leaves it ungraded, so it is graded again, once.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from autograder.config import Course

ROLE_ENV = "AUTOGRADER_ROLE"


def to_data(obj: Any) -> Any:
    """Dataclasses (NotebookResult, CellResult, ...) as plain JSON-able data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        data = {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        for extra in ("score", "max_score"):
            if hasattr(type(obj), extra) and extra not in data:
                data[extra] = to_data(getattr(obj, extra))
        return data
    if isinstance(obj, (list, tuple)):
        return [to_data(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    try:
        return float(obj)
    except Exception:
        return str(obj)


def open_gradebook(course: Course):
    import warnings

    from nbgrader.api import Gradebook

    # nbgrader's own add_submission trips SQLAlchemy autoflush warnings: harmless here.
    warnings.filterwarnings("ignore", message=".*not in session.*")

    if os.environ.get(ROLE_ENV) == "worker":
        raise PermissionError("a grading worker must not open the gradebook: only the client "
                              "process writes it")
    course.root.mkdir(parents=True, exist_ok=True)
    return Gradebook(course.db_url)


def ensure_lab(course: Course, lab: str) -> None:
    """Record the lab's notebooks and graded cells in the gradebook (nbgrader's own way:
    GenerateAssignment with SaveCells), unless already there and unchanged."""
    from nbgrader.api import MissingEntry

    from autograder.release import generate

    stamp = course.source_notebook(lab).stat().st_mtime_ns
    marker = course.root / ".labs" / f"{lab}.source"
    with open_gradebook(course) as gb:
        try:
            known = bool(gb.find_assignment(lab).notebooks)
        except MissingEntry:
            known = False
    if known and marker.is_file() and marker.read_text() == str(stamp):
        return
    with tempfile.TemporaryDirectory(prefix="labs-") as tmp:
        generate(course, lab, Path(tmp) / "labs", course.db_url)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(stamp))


def parse_timestamp(text: str | None):
    from nbgrader.utils import parse_utc

    return parse_utc(text) if text else None


def graded_versions(course: Course) -> dict[tuple[str, str], datetime.datetime]:
    """(student, lab) -> timestamp of the version whose grades the gradebook holds."""
    from nbgrader.api import SubmittedAssignment

    with open_gradebook(course) as gb:
        rows = gb.db.query(SubmittedAssignment).all()
        return {(s.student_id, s.assignment.name): s.timestamp for s in rows
                if s.timestamp is not None}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def record(course: Course, student: str, lab: str, timestamp: str, result: Any,
           submission: Path) -> Path:
    """Store one graded submission (see the module docstring); returns results.json's path."""
    if os.environ.get(ROLE_ENV) == "worker":
        raise PermissionError("a grading worker must not write results: only the client does")
    folder = course.autograded / student / lab
    folder.mkdir(parents=True, exist_ok=True)
    if submission.is_file():
        shutil.copyfile(submission, folder / f"{lab}.ipynb.partial")
        (folder / f"{lab}.ipynb.partial").replace(folder / f"{lab}.ipynb")
    data = to_data(result)
    data.update(student=student, lab=lab, timestamp=timestamp,
                graded_at=datetime.datetime.now(datetime.timezone.utc).isoformat())
    results = folder / "results.json"
    _atomic_write(results, json.dumps(data, indent=1, sort_keys=True))

    from nbgrader.api import MissingEntry

    with open_gradebook(course) as gb:
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(lab, student)
        sub.timestamp = None  # not graded until the final commit below
        scores = {c.grade_id: c.score for c in result.cells}
        for notebook in sub.notebooks:
            for grade in notebook.grades:
                if grade.cell.type != "GradeCell":
                    continue
                grade.auto_score = float(scores.get(grade.name, 0.0) or 0.0)
                grade.needs_manual_grade = False
            notebook.flagged = bool(getattr(result, "flags", None))
        sub.timestamp = parse_timestamp(timestamp)
        try:
            gb.db.commit()
        except Exception:
            gb.db.rollback()
            raise
    return results


def read_results(course: Course, student: str, lab: str) -> dict | None:
    path = course.autograded / student / lab / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


@dataclasses.dataclass
class Row:
    student: str
    lab: str
    score: float
    max_score: float
    timestamp: str


def scores(course: Course) -> list[Row]:
    """Every graded submission's total auto score, read back from the gradebook."""
    rows = []
    with open_gradebook(course) as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                if sub.timestamp is None:
                    continue
                rows.append(Row(sub.student_id, assignment.name, float(sub.score),
                                float(sub.max_score), str(sub.timestamp)))
    return sorted(rows, key=lambda r: (r.student, r.lab))
