"""How much of its checks a lab's feedback shows a student: the reveal policy (nbgrader #917).

- ``points``: each graded cell's score, and no check lines;
- ``messages`` (the default): every check's line; a visible check with its details, a hidden
  one by its label and verdict only;
- ``full``: as ``messages``, and each hidden check with what it asked (the query and its
  inputs, in the words a lab author writes them: ``call('softmax', randn(2, 5, seed=3))``),
  what it expected and why it failed, so a student learns from the mistake.

The policy is the lab's, set by the instructor in the *source* notebook's metadata
(``solutions/<lab>/<lab>.ipynb``: ``"course": {"reveal": "full"}``; a submission's own
metadata is the student's and is never read), or on the command line of ``feedback``
(``--reveal``), which wins. ``full`` applies only once the lab's deadline has passed: the
assignment's duedate in nbgrader's gradebook (``nbgrader db assignment add LAB --duedate=...``
or formgrader) plus the longest extension granted to any student of the lab, or
``--deadline``. Feedback written before then (a resubmission's included) shows ``messages`` at
most, whatever is asked; ``full`` with no deadline known is refused. Hidden checks reach
the page only through :func:`autograder.feedback.student_lines`, which applies the policy
before the template sees anything.
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import numpy as np

from course import checks as C
from course.protocol import Random, materialize

POLICIES = ("points", "messages", "full")
DEFAULT = "messages"
MAX_CHARS = 300  # of one input's or expected value's text
QUERY_NAMES = {"model": "trained_model"}  # a query kind's course.checks function, where not its name


class RevealError(ValueError):
    """A reveal policy that cannot be applied (unknown, or ``full`` with no deadline)."""


@dataclasses.dataclass(frozen=True)
class Reveal:
    """The policy one lab's feedback is written under, and where each part of it came from."""

    lab: str
    asked: str                            # the policy asked for
    asked_by: str                         # "--reveal", "the lab's metadata", "the default"
    deadline: datetime.datetime | None    # naive UTC, the longest extension included
    deadline_by: str                      # "--deadline", "the gradebook", "" (none known)
    now: datetime.datetime                # naive UTC: when the feedback is written

    @property
    def policy(self) -> str:
        """What the pages show: the policy asked, but at most ``messages`` before the deadline."""
        if self.asked == "full" and not self.past_deadline:
            return "messages"
        return self.asked

    @property
    def past_deadline(self) -> bool:
        return self.deadline is not None and self.now >= self.deadline

    def describe(self) -> str:
        """One line for the instructor: what is shown and why."""
        text = f"{self.lab}: feedback shows {self.policy} ({self.asked} asked by {self.asked_by}"
        if self.deadline is not None:
            when = self.deadline.strftime("%Y-%m-%d %H:%M UTC")
            text += (f"; deadline {when} from {self.deadline_by}, "
                     + ("passed" if self.past_deadline else "not passed yet"))
        return text + ")"


def lab_policy(source_nb: dict) -> str | None:
    """The policy the lab's source notebook sets in ``metadata.course.reveal`` (None: unset)."""
    course = source_nb.get("metadata", {}).get("course", {}) or {}
    asked = course.get("reveal") if isinstance(course, dict) else None
    if asked is not None and asked not in POLICIES:
        raise RevealError(f"metadata course.reveal must be one of {', '.join(POLICIES)}; "
                          f"got {asked!r}")
    return asked


def resolve(lab: str, source_nb: dict, *, reveal: str | None = None,
            deadline: datetime.datetime | None = None,
            due: tuple[datetime.datetime | None, datetime.timedelta] = (None, datetime.timedelta()),
            now: datetime.datetime | None = None) -> Reveal:
    """The Reveal of `lab`: `reveal` (the command line) else the source notebook's, else the
    default; the deadline `deadline` (the command line) else the gradebook's duedate, either
    plus the longest extension (`due`: duedate and extension, from gradebook.due_date).

    Raises RevealError for an unknown policy, and for ``full`` with no deadline known.
    """
    if reveal is not None and reveal not in POLICIES:
        raise RevealError(f"--reveal must be one of {', '.join(POLICIES)}; got {reveal!r}")
    from_lab = lab_policy(source_nb)
    asked, asked_by = ((reveal, "--reveal") if reveal is not None else
                       (from_lab, "the lab's metadata") if from_lab is not None else
                       (DEFAULT, "the default"))
    duedate, extension = due
    if deadline is not None and deadline.tzinfo is not None:
        deadline = deadline.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    base, by = (deadline, "--deadline") if deadline is not None else (duedate, "the gradebook")
    if base is None and asked == "full":
        raise RevealError(
            f"{lab}: reveal 'full' (asked by {asked_by}) shows hidden checks only after the "
            "deadline, and no deadline is known: set the assignment's duedate in the "
            f"gradebook (nbgrader db assignment add {lab} --duedate='2026-12-04 17:00 UTC' "
            "--db=sqlite:///COURSE/gradebook.db) or pass --deadline '2026-12-04 17:00 UTC'")
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return Reveal(lab, asked, asked_by, None if base is None else base + extension,
                  by if base is not None else "", now)


# ---------------------------------------------------------------------------- hidden checks in words

def _short(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 3] + "..."


def _input(x: Any) -> str:
    """An input as the lab author wrote it (a random recipe as its course.checks call)."""
    if isinstance(x, Random):
        shape = ", ".join(str(n) for n in x.shape)
        if x.kind == "normal":
            return f"randn({shape}, seed={x.seed}" + (
                f", scale={x.scale:g})" if x.scale != 1 else ")")
        if x.kind == "uniform":
            return f"uniform({shape}, low={x.low:g}, high={x.high:g}, seed={x.seed})"
        return f"randint({int(x.low)}, {int(x.high)}, {shape}, seed={x.seed})"
    if isinstance(x, tuple):
        return "(" + ", ".join(_input(v) for v in x) + ("," if len(x) == 1 else "") + ")"
    return _short(repr(x))


def asked(chk: C.Check) -> str:
    """What a check asked the notebook, in the words of course.checks (reproducible by the
    student after the deadline: the same call on the same seeded inputs)."""
    q = chk.query
    if q.kind == "call":
        args = [repr(q.fn)] + [_input(a) for a in q.args] \
            + [f"{k}={_input(v)}" for k, v in q.kwargs.items()]
    elif q.kind == "run":
        args = [_short(repr(q.code)), f"outputs={dict(q.outputs)!r}"] \
            + [f"{k}={_input(v)}" for k, v in q.inputs.items()]
    elif q.kind == "value":
        args = [repr(q.name)]
    else:
        args = [repr(q.name), repr(q.data)] + ([f"limit={q.limit}"] if q.limit else []) \
            + ([f"classes={q.classes}"] if q.classes else [])
    text = f"{QUERY_NAMES.get(q.kind, q.kind)}({', '.join(args)})"
    return text + (f", output {chk.key!r}" if chk.key is not None else "")


def wanted(chk: C.Check, scale: str, reference_value: Any = None) -> str:
    """What a check expected, in words: shape, bounds at `scale`, the literal or the reference's
    value (`reference_value`, already selected by `chk.key`; None when it was not had)."""
    parts = []
    if chk.shape is not None:
        parts.append(f"shape {chk.shape}")
    for bound, word in ((chk.above, "at least"), (chk.below, "at most")):
        if bound is not None:
            parts.append(f"{word} {C.bound_at(bound, scale):g}")
    if chk.expect is not None:
        parts.append(_short(C._preview(materialize(chk.expect))))
    if chk.ref is not None:
        parts.append(_short(C._preview(reference_value)) if reference_value is not None
                     else "the reference's value (not computed)")
    numeric = chk.ref is not None or (
        chk.expect is not None and np.asarray(materialize(chk.expect)).dtype.kind in "iufc")
    if numeric:
        parts.append(f"within relative error {chk.tol:g}")
    return ", ".join(parts)
