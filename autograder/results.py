"""What grading one submission found, as typed data both ways.

The judge returns a :class:`NotebookResult`; the gradebook stores it as JSON
(``to_data``) beside the graded notebook, and feedback, export, demo and the grade summary
read it back (``from_data``), never as loose dicts: a renamed or missing field is an error
where it is read, not a silently empty page. ``CheckLine.detail`` of a hidden check can
state the expected value: it is for the instructor; feedback shows hidden checks by label
and verdict only. Fields named ``student_*`` are what the student's feedback shows (see
autograder/untrusted.py: once a hidden query reached the kernel, what the kernel produced
is withheld from the student); the others are the instructor's.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from course.notebook_rules import Flag


@dataclasses.dataclass(frozen=True)
class CheckLine:
    """The verdict on one check, as feedback shows it (hidden ones: label and verdict)."""

    label: str
    passed: bool
    detail: str
    hidden: bool
    weight: float
    student_detail: str | None = None  # what feedback shows of a visible check; None: detail
    # a hidden check's query and expectation in the lab author's words (autograder/reveal.py):
    # the instructor's, and `full` feedback's after the deadline; "" for visible checks
    asked: str = ""
    wanted: str = ""

    @property
    def shown_detail(self) -> str:
        return self.detail if self.student_detail is None else self.student_detail

    @classmethod
    def from_data(cls, d: dict) -> "CheckLine":
        shown = d.get("student_detail")
        return cls(str(d["label"]), bool(d["passed"]), str(d["detail"]), bool(d["hidden"]),
                   float(d["weight"]), None if shown is None else str(shown),
                   str(d.get("asked", "")), str(d.get("wanted", "")))


@dataclasses.dataclass(frozen=True)
class CellResult:
    """One graded cell: its points, its score and the check lines that decided it.

    `note` says why the score is not simply the checks' verdicts (not gradable, graded by
    the instructor, a check the grader could not judge).
    """

    grade_id: str
    points: float
    score: float
    checks: tuple[CheckLine, ...]
    note: str = ""
    manual: bool = False  # graded by the instructor (score left at 0 here)
    student_note: str | None = None  # what feedback shows; None: the note itself
    seconds: float = 0.0  # asking and judging its checks (0: none were asked)

    @property
    def shown_note(self) -> str:
        return self.note if self.student_note is None else self.student_note

    @classmethod
    def from_data(cls, d: dict) -> "CellResult":
        note = d.get("student_note")
        return cls(str(d["grade_id"]), float(d["points"]), float(d["score"]),
                   tuple(CheckLine.from_data(c) for c in d["checks"]), str(d["note"]),
                   bool(d["manual"]), None if note is None else str(note),
                   float(d.get("seconds", 0.0)))


@dataclasses.dataclass(frozen=True)
class CellTime:
    """How long one code cell of the submission ran in the kernel, and how that run ended.

    `cell` names it the same way for every student: its grade_id, else ``cell N`` (its
    position in the lab's source notebook, from 0), else ``added cell`` (the student's own).
    `status` is the kernel's (autograder/kernel.py ExecResult): ok, error, timeout (past
    `limit` seconds), dead (killed the kernel) or flood (printed too much).
    """

    cell: str
    seconds: float
    status: str
    limit: float

    @classmethod
    def from_data(cls, d: dict) -> "CellTime":
        return cls(str(d["cell"]), float(d["seconds"]), str(d["status"]), float(d["limit"]))


def _flag_from_data(d: dict) -> Flag:
    return Flag(str(d["code"]), str(d["message"]), None if d["cell"] is None else str(d["cell"]))


@dataclasses.dataclass(frozen=True)
class NotebookResult:
    """One graded submission: every graded cell, the integrity flags, the run's problems."""

    lab: str
    cells: tuple[CellResult, ...]
    flags: tuple[Flag, ...]
    errors: tuple[str, ...]
    sandboxed: bool
    seconds: float
    student_errors: tuple[str, ...] = ()  # the problems as feedback shows them
    # each code cell run, in order (none in results recorded before cells were timed)
    cell_times: tuple[CellTime, ...] = ()

    @property
    def score(self) -> float:
        return float(sum(c.score for c in self.cells if not c.manual))

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.cells if not c.manual))

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-able data; `score` and `max_score` are added for a human reader."""
        data = _plain(self)
        data.update(score=self.score, max_score=self.max_score)
        return data

    @classmethod
    def from_data(cls, d: dict) -> "NotebookResult":
        return cls(str(d["lab"]), tuple(CellResult.from_data(c) for c in d["cells"]),
                   tuple(_flag_from_data(f) for f in d["flags"]), tuple(map(str, d["errors"])),
                   bool(d["sandboxed"]), float(d["seconds"]),
                   tuple(map(str, d.get("student_errors", ()))),
                   tuple(CellTime.from_data(t) for t in d.get("cell_times", ())))


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    return obj
