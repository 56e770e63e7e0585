"""The gradebook: nbgrader's database (the one source of truth for scores) and, beside each
graded notebook, the recorded result that feedback renders.

One writer: only the grading client calls :func:`record` and :func:`ensure_lab`; workers
return `NotebookResult` data and never open the database (a worker process has
AUTOGRADER_ROLE=worker, and the writers refuse to run there). Everything else reads, through
a read-only connection. For each submission `record` writes, in this order:

1. autograded/<student>/<lab>/<lab>.ipynb (the notebook as graded) and `results.json`
   beside it (a :class:`Recorded`: every check line, flags, errors);
2. nbgrader's SubmittedAssignment/SubmittedNotebook/Grade rows, `Grade.auto_score` per test
   cell, and last the submission's timestamp, in one commit. A submission counts as graded
   when the gradebook holds the timestamp of the collected version (timestamp.txt); a run
   killed anywhere before that commit leaves it ungraded, so it is graded again, once.

Timestamps have one codec (:func:`format_timestamp`, :func:`parse_timestamp`): UTC, written
``2026-01-31 12:00:00.123456 UTC``, read back as the naive UTC datetime nbgrader stores, so
"graded once" compares equal values.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import sqlite3
import tempfile
import urllib.parse
from pathlib import Path

from autograder.config import Course
from autograder.results import NotebookResult

ROLE_ENV = "AUTOGRADER_ROLE"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


def format_timestamp(when: datetime.datetime | None = None) -> str:
    """`when` (default: now; naive means UTC) as the text timestamp.txt and results.json hold."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc)
    return when.strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime.datetime:
    """The naive UTC datetime of a timestamp text (ours, or ISO 8601 with an offset)."""
    text = text.strip()
    when = datetime.datetime.fromisoformat(text.removesuffix(" UTC").removesuffix("Z"))
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when


@dataclasses.dataclass(frozen=True)
class Recorded:
    """results.json: a graded submission's result and which version of it was graded."""

    student: str
    lab: str
    timestamp: str   # the collected version's
    graded_at: str
    result: NotebookResult

    def to_data(self) -> dict:
        return {"student": self.student, "lab": self.lab, "timestamp": self.timestamp,
                "graded_at": self.graded_at, "result": self.result.to_data()}

    @classmethod
    def from_data(cls, d: dict) -> "Recorded":
        return cls(str(d["student"]), str(d["lab"]), str(d["timestamp"]), str(d["graded_at"]),
                   NotebookResult.from_data(d["result"]))


# ---------------------------------------------------------------------------- writing

def _refuse_in_worker(what: str) -> None:
    if os.environ.get(ROLE_ENV) == "worker":
        raise PermissionError(f"a grading worker must not {what}: only the client process "
                              "writes the gradebook")


def open_gradebook(course: Course):
    """nbgrader's Gradebook, for writing (the grading client only)."""
    import warnings

    from nbgrader.api import Gradebook

    _refuse_in_worker("open the gradebook")
    # nbgrader's own add_submission trips SQLAlchemy autoflush warnings: harmless here.
    warnings.filterwarnings("ignore", message=".*not in session.*")
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


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def record(course: Course, student: str, lab: str, timestamp: str, result: NotebookResult,
           submission: Path) -> Path:
    """Store one graded submission (see the module docstring); returns results.json's path."""
    _refuse_in_worker("write results")
    folder = course.autograded / student / lab
    folder.mkdir(parents=True, exist_ok=True)
    if submission.is_file():
        shutil.copyfile(submission, folder / f"{lab}.ipynb.partial")
        (folder / f"{lab}.ipynb.partial").replace(folder / f"{lab}.ipynb")
    recorded = Recorded(student, lab, timestamp, format_timestamp(), result)
    results = folder / "results.json"
    _atomic_write(results, json.dumps(recorded.to_data(), indent=1, sort_keys=True))

    with open_gradebook(course) as gb:
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(lab, student)
        sub.timestamp = None  # not graded until the final commit below
        scores = {c.grade_id: c.score for c in result.cells}
        manual = {c.grade_id for c in result.cells if c.manual}
        for notebook in sub.notebooks:
            for grade in notebook.grades:
                if grade.cell.type != "GradeCell":
                    continue
                if grade.name in manual:  # left to formgrader, as nbgrader's autograde does
                    grade.auto_score = None
                    grade.needs_manual_grade = grade.manual_score is None
                    continue
                grade.auto_score = float(scores.get(grade.name, 0.0) or 0.0)
                grade.needs_manual_grade = False
            notebook.flagged = bool(result.flags)
        sub.timestamp = parse_timestamp(timestamp)
        try:
            gb.db.commit()
        except Exception:
            gb.db.rollback()
            raise
    return results


# ---------------------------------------------------------------------------- reading

@contextlib.contextmanager
def _reading(course: Course):
    """A read-only session on the gradebook (None when there is none yet)."""
    if not course.gradebook.is_file():
        yield None
        return
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    uri = f"file:{urllib.parse.quote(str(course.gradebook.resolve()))}?mode=ro"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def graded_versions(course: Course) -> dict[tuple[str, str], datetime.datetime]:
    """(student, lab) -> timestamp of the version whose grades the gradebook holds."""
    from nbgrader.api import SubmittedAssignment

    with _reading(course) as db:
        if db is None:
            return {}
        return {(s.student_id, s.assignment.name): s.timestamp
                for s in db.query(SubmittedAssignment).all() if s.timestamp is not None}


@dataclasses.dataclass
class Row:
    student: str
    lab: str
    score: float
    max_score: float
    timestamp: str


def scores(course: Course) -> list[Row]:
    """Every graded submission's total auto score, read back from the gradebook."""
    from nbgrader.api import SubmittedAssignment

    with _reading(course) as db:
        if db is None:
            return []
        rows = [Row(s.student_id, s.assignment.name, float(s.score), float(s.max_score),
                    format_timestamp(s.timestamp))
                for s in db.query(SubmittedAssignment).all() if s.timestamp is not None]
    return sorted(rows, key=lambda r: (r.student, r.lab))


def due_date(course: Course, lab: str) -> tuple[datetime.datetime | None, datetime.timedelta]:
    """The lab's duedate as nbgrader's gradebook holds it (naive UTC; None when unset) and the
    longest extension granted to any of its submissions (nbgrader's per-student extension)."""
    from nbgrader.api import Assignment, SubmittedAssignment

    with _reading(course) as db:
        if db is None:
            return None, datetime.timedelta()
        assignment = db.query(Assignment).filter(Assignment.name == lab).one_or_none()
        extensions = [s.extension for s in db.query(SubmittedAssignment)
                      .filter(SubmittedAssignment.assignment_id == assignment.id)
                      if s.extension] if assignment is not None else []
        return (None if assignment is None else assignment.duedate,
                max(extensions, default=datetime.timedelta()))


def read_results(course: Course, student: str, lab: str) -> Recorded | None:
    """The recorded result of a graded submission (None when there is none)."""
    path = course.autograded / student / lab / "results.json"
    if not path.is_file():
        return None
    return Recorded.from_data(json.loads(path.read_text(encoding="utf-8")))
