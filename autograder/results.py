"""What grading one submission found, as typed data both ways.

The judge returns a :class:`NotebookResult`; the gradebook stores it as JSON
(``to_data``) beside the graded notebook, and feedback, export, demo and the grade summary
read it back (``from_data``), never as loose dicts: a renamed or missing field is an error
where it is read, not a silently empty page. ``CheckLine.detail`` of a hidden check can
state the expected value: it is for the instructor; feedback shows hidden checks by label
and verdict only.
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

    @classmethod
    def from_data(cls, d: dict) -> "CheckLine":
        return cls(str(d["label"]), bool(d["passed"]), str(d["detail"]), bool(d["hidden"]),
                   float(d["weight"]))


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

    @classmethod
    def from_data(cls, d: dict) -> "CellResult":
        return cls(str(d["grade_id"]), float(d["points"]), float(d["score"]),
                   tuple(CheckLine.from_data(c) for c in d["checks"]), str(d["note"]),
                   bool(d["manual"]))


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
                   bool(d["sandboxed"]), float(d["seconds"]))


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    return obj
