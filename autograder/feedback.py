"""Per-student feedback: feedback/<student>/<lab>/<lab>.html from what grading recorded.

What a page shows is the lab's reveal policy (autograder/reveal.py): `points`, each graded
cell's score; `messages` (the default), every check's line, a visible check with its
details (expected vs received, the hint), a hidden check by its label and verdict only,
and the problems met while running the notebook; `full`, once the lab's deadline has
passed, each hidden check with what it asked, what it expected and why it failed. The
policy is the instructor's: the source notebook's ``metadata.course.reveal`` or --reveal
(which wins), never the submission's; before the deadline (the gradebook's duedate and
the longest extension, or --deadline) a page shows `messages` at most, and `full` with no
deadline known is refused.
Integrity flags are listed under every policy.

The page is built from the recorded check lines (results.json), not from the instructor's
notebook; under `points` and `messages` a hidden check's detail, inputs and expectation are
dropped here, before the template sees them, and so is whatever the kernel produced after it
was sent its first hidden query (the ``student_*`` views of the result:
autograder/untrusted.py). Nothing but the page is written. The page itself is the Jinja2
template autograder/templates/feedback.html: edit it to change the page.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
from pathlib import Path

from autograder import reveal
from autograder.cli import course_argument, subparser
from autograder.config import Course, course_from
from autograder.gradebook import Recorded, due_date, parse_timestamp, read_results, scores
from autograder.results import CellResult
from autograder.untrusted import printable

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclasses.dataclass
class FeedbackFile:
    student: str
    lab: str
    path: Path
    score: float
    max_score: float
    reveal: reveal.Reveal   # the lab's policy, deadline and what the page shows

    @property
    def policy(self) -> str:
        return self.reveal.policy


@dataclasses.dataclass(frozen=True)
class Line:
    """One check as the student may read it (`asked`, `wanted`: a hidden check's, `full` only)."""

    text: str
    passed: bool
    hidden: bool
    asked: str = ""
    wanted: str = ""


def student_lines(cell: CellResult, policy: str = reveal.DEFAULT) -> list[Line]:
    """A cell's check lines as `policy` shows them: none (points); every hidden check's detail
    dropped (messages); hidden checks whole, and visible ones without the withholding that
    protects hidden inputs (full, which the caller allows after the deadline only)."""
    if policy not in reveal.POLICIES:
        raise reveal.RevealError(f"unknown reveal policy {policy!r}")
    if policy == "points":
        return []
    out = []
    for chk in cell.checks:
        verdict = "PASS" if chk.passed else "FAIL"
        if chk.hidden and policy == "full":
            out.append(Line(f"{verdict}  {chk.label} (hidden check)"
                            + (f": {chk.detail}" if chk.detail else ""), chk.passed, True,
                            chk.asked, chk.wanted))
        elif chk.hidden:
            out.append(Line(f"{verdict}  {chk.label} (hidden check)", chk.passed, True))
        else:  # after the deadline hidden inputs are shown: nothing left to withhold
            detail = chk.detail if policy == "full" else chk.shown_detail
            out.append(Line(f"{verdict}  {chk.label}" + (f": {detail}" if detail else ""),
                            chk.passed, False))
    return out


def render(recorded: Recorded, score: float, max_score: float,
           policy: str = reveal.DEFAULT) -> str:
    """The feedback page of one graded submission (`score`s as the gradebook holds them),
    showing what `policy` allows (the caller has applied the deadline: reveal.Reveal.policy)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    result = recorded.result
    cells = [{"grade_id": c.grade_id, "score": c.score, "points": c.points, "note": c.shown_note,
              "lines": student_lines(c, policy)} for c in result.cells]
    return env.get_template("feedback.html").render(
        lab=printable(recorded.lab), student=printable(recorded.student),
        timestamp=printable(recorded.timestamp), score=score, max_score=max_score,
        flags=result.flags, errors=() if policy == "points" else result.student_errors,
        cells=cells, policy=policy) + "\n"


def lab_reveals(course: Course, labs: list[str], *, reveal_policy: str | None = None,
                deadline: datetime.datetime | None = None,
                now: datetime.datetime | None = None) -> dict[str, reveal.Reveal]:
    """Each lab's Reveal (see autograder/reveal.py), from its source notebook's metadata and
    the gradebook's duedate unless given; RevealError before any page is written."""
    out = {}
    for lab in labs:
        path = course.source_notebook(lab)
        source_nb = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        out[lab] = reveal.resolve(lab, source_nb, reveal=reveal_policy, deadline=deadline,
                                  due=due_date(course, lab), now=now)
    return out


def generate_feedback(course: Course, lab: str | None = None, student: str | None = None, *,
                      reveal_policy: str | None = None, deadline: datetime.datetime | None = None,
                      now: datetime.datetime | None = None) -> list[FeedbackFile]:
    """Write the feedback page of every graded submission (optionally one lab / student),
    each lab's under its reveal policy (`reveal_policy`, `deadline`: the command line's)."""
    rows = [row for row in scores(course)
            if (not lab or row.lab == lab) and (not student or row.student == student)]
    labs = {row.lab for row in rows} | ({lab} if lab else set())
    reveals = lab_reveals(course, sorted(labs), reveal_policy=reveal_policy, deadline=deadline,
                          now=now)
    made = []
    for row in rows:
        recorded = read_results(course, row.student, row.lab)
        if recorded is None:
            continue
        shown = reveals[row.lab]
        path = course.feedback / row.student / row.lab / f"{row.lab}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(recorded, row.score, row.max_score, shown.policy),
                        encoding="utf-8")
        made.append(FeedbackFile(row.student, row.lab, path, row.score, row.max_score, shown))
    return made


def _when(text: str) -> datetime.datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a date and time like '2026-12-04 17:00 UTC' or '2026-12-04T18:00+01:00'; "
            f"got {text!r}") from None


def add_parser(sub):
    p = subparser(sub, "feedback", __doc__,
                  "python -m autograder feedback --lab 01-backprop\n"
                  "  python -m autograder feedback --lab 01-backprop --reveal points\n"
                  "  python -m autograder feedback --lab 01-backprop --reveal full "
                  "--deadline '2026-12-04 17:00 UTC'\n"
                  "      # after the deadline: hidden checks with inputs and expected values\n"
                  "  nbgrader db assignment add 01-backprop --duedate='2026-12-04 17:00 UTC' "
                  "--db=sqlite:///COURSE/gradebook.db\n"
                  "      # or record the deadline in the gradebook once (formgrader can too)")
    p.add_argument("--lab", default=None)
    p.add_argument("--student", default=None)
    p.add_argument("--reveal", choices=reveal.POLICIES, default=None,
                   help="what the pages show (default: the lab's metadata course.reveal, else "
                        f"{reveal.DEFAULT}); full applies only after the deadline")
    p.add_argument("--deadline", metavar="WHEN", type=_when, default=None,
                   help="the lab's deadline, UTC unless an offset is given "
                        "('2026-12-04 17:00 UTC', '2026-12-04T18:00+01:00'); default: the "
                        "assignment's duedate in the gradebook")
    course_argument(p)
    return p


def main(args) -> int:
    course = course_from(args.course)
    try:
        made = generate_feedback(course, args.lab, args.student, reveal_policy=args.reveal,
                                 deadline=args.deadline)
    except reveal.RevealError as exc:
        print(f"error: {exc}")
        return 2
    for f in made:
        print(printable(f"{f.student:20s} {f.lab:16s} {f.score:g}/{f.max_score:g}  {f.path}"))
    for line in dict.fromkeys(f.reveal.describe() for f in made):
        print(line)
    print(f"{len(made)} feedback pages under {course.feedback}")
    return 0
