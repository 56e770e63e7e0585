"""A small graded class without a kernel: fake students' results recorded through the real
gradebook (tests of the instructor's class tools build on it)."""
from __future__ import annotations

from autograder.config import REPO, Course, prepare_environment
from autograder.gradebook import ensure_lab, format_timestamp, record
from autograder.results import CellResult, CheckLine, NotebookResult

LAB = "00-orientation"
ONE_HOT, SOFTMAX = "orientation-one-hot-checks", "orientation-softmax-checks"


def cell(grade_id: str, checks: list[tuple[str, bool, str, bool]], note: str = "",
         seconds: float = 0.0) -> CellResult:
    """A 3-point cell whose checks (label, passed, detail, hidden) weigh the same, judged in
    `seconds`."""
    lines = tuple(CheckLine(label, ok, detail, hidden, 1.0)
                  for label, ok, detail, hidden in checks)
    score = 3.0 * sum(c.passed for c in lines) / len(lines) if lines else 0.0
    return CellResult(grade_id, 3.0, score, lines, note, seconds=seconds)


def submit(course: Course, student: str, lab: str = LAB, notebook: str = "{}") -> str:
    """A collected submission (as `collect` leaves it); returns its timestamp."""
    path = course.submission(student, lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook, encoding="utf-8")
    stamp = format_timestamp()
    (path.parent / "timestamp.txt").write_text(stamp + "\n")
    return stamp


def graded_class(root, results: dict[str, NotebookResult], lab: str = LAB) -> Course:
    """A course at `root` where each student's submission was graded with that result."""
    prepare_environment()  # nbgrader runs alembic from this interpreter's bin/
    course = Course(root, REPO)
    ensure_lab(course, lab)
    for student, result in results.items():
        stamp = submit(course, student, lab)
        record(course, student, lab, stamp, result, course.submission(student, lab))
    return course
