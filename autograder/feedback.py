"""Per-student feedback: feedback/<student>/<lab>/<lab>.html from what grading recorded.

Every check has a line: a visible check with its details (expected vs received, the hint),
a hidden check by its label and verdict only. Integrity flags and grading problems are
listed. Hidden test code, inputs and expected values never reach this page: it is built
from the recorded check lines (results.json), not from the instructor's notebook, and a
hidden check's detail is dropped here, before the template sees it. The page itself is the
Jinja2 template autograder/templates/feedback.html: edit it to change the page.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from autograder.cli import course_argument, subparser
from autograder.config import Course, course_from
from autograder.gradebook import Recorded, read_results, scores
from autograder.results import CellResult

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclasses.dataclass
class FeedbackFile:
    student: str
    lab: str
    path: Path
    score: float
    max_score: float


@dataclasses.dataclass(frozen=True)
class Line:
    """One check as the student may read it."""

    text: str
    passed: bool
    hidden: bool


def student_lines(cell: CellResult) -> list[Line]:
    """A cell's check lines with every hidden check's detail dropped."""
    out = []
    for chk in cell.checks:
        verdict = "PASS" if chk.passed else "FAIL"
        if chk.hidden:
            out.append(Line(f"{verdict}  {chk.label} (hidden check)", chk.passed, True))
        else:
            out.append(Line(f"{verdict}  {chk.label}" + (f": {chk.detail}" if chk.detail else ""),
                            chk.passed, False))
    return out


def render(recorded: Recorded, score: float, max_score: float) -> str:
    """The feedback page of one graded submission (`score`s as the gradebook holds them)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    result = recorded.result
    cells = [{"grade_id": c.grade_id, "score": c.score, "points": c.points, "note": c.note,
              "lines": student_lines(c)} for c in result.cells]
    return env.get_template("feedback.html").render(
        lab=recorded.lab, student=recorded.student, timestamp=recorded.timestamp, score=score,
        max_score=max_score, flags=result.flags, errors=result.errors, cells=cells) + "\n"


def generate_feedback(course: Course, lab: str | None = None,
                      student: str | None = None) -> list[FeedbackFile]:
    """Write the feedback page of every graded submission (optionally one lab / student)."""
    made = []
    for row in scores(course):
        if (lab and row.lab != lab) or (student and row.student != student):
            continue
        recorded = read_results(course, row.student, row.lab)
        if recorded is None:
            continue
        path = course.feedback / row.student / row.lab / f"{row.lab}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(recorded, row.score, row.max_score), encoding="utf-8")
        made.append(FeedbackFile(row.student, row.lab, path, row.score, row.max_score))
    return made


def add_parser(sub):
    p = subparser(sub, "feedback", __doc__,
                  "python -m autograder feedback --lab 01-backprop")
    p.add_argument("--lab", default=None)
    p.add_argument("--student", default=None)
    course_argument(p)
    return p


def main(args) -> int:
    course = course_from(args.course)
    made = generate_feedback(course, args.lab, args.student)
    for f in made:
        print(f"{f.student:20s} {f.lab:16s} {f.score:g}/{f.max_score:g}  {f.path}")
    print(f"{len(made)} feedback pages under {course.feedback}")
    return 0
