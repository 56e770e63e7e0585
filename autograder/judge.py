"""The judge: grade one submission, deciding every check outside the student's process.

How grading works
-----------------
1. **Integrity** (autograder/integrity.py): the submission is compared with the source
   notebook; findings become flags (deleted, duplicated, renamed or edited cells, changed
   points, forbidden imports, suspicious code). A file that is not a notebook scores 0.
2. **Execution** (autograder/session.py): the submission is copied into its own work folder
   and run top to bottom in a kernel inside the sandbox (autograder/sandbox.py: no network,
   read-only minimal root, no solutions/ or autograder/, memory, process, file-size and CPU
   limits), with ``COURSE_SCALE`` set and ``COURSE_DATA`` pointing at a view of the data
   whose test splits are cut in half (autograder/heldout.py). Each cell has a time limit
   (``Limits.cell_timeout``, ``Limits.setup_timeout`` for the setup cells before the first
   answer; the *source* cell may ask for more with ``metadata.course.timeout``), capped by
   what is left of ``Limits.notebook_timeout``; errors do not stop the run. The source
   notebook may ask for more memory than ``Limits.memory_mb`` (``metadata.course.memory_mb``).
3. **Checks**: where the *source* has a test cell, the student's copy is not run. The grader
   reads the suite from the instructor's cell (``course.checks.declared``) and, for every
   check, visible and hidden, sends the kernel a query by the protocol of
   course/protocol.py: its payload as an ``.npz`` in a folder the kernel can only read, and
   that module's own code to answer it; the answer comes back as an ``.npz`` read with
   ``allow_pickle=False`` (size-capped, no symlinks), or a ``.keras`` file loaded with
   ``safe_mode=True`` for ``trained_model`` (autograder/answers.py). A test cell missing from
   the submission is queried where the source has it (and flagged).
4. **Judging**, in this process, which never runs student code: :func:`judge_suite` takes a
   cell's suite and a way to ask (the kernel here; a namespace in the lab tests), computes
   the expected values (``autograder/reference/<topic>.py`` functions, literals, bounds at the
   grading scale), decides each check with ``course.checks.compare`` and scores the cell
   ``points * (weights passed) / (weights)``. Nothing the kernel prints or displays counts.

Fairness: a query that times out fails its checks and nothing else. A kernel that dies in
cell k (``os._exit``, out of memory in a training cell) is restarted, the code cells that
ran before it are run again (but cells that had run past their time limit or flooded the
output), cell k is skipped, and grading goes on within the notebook's time limit, at most
``Limits.kernel_restarts`` times. A kernel that dies answering a query is revived the same
way before the next one. Manually graded cells score 0 with ``manual=True`` for the
instructor.

    result = grade_notebook(Path("solutions/01-backprop/01-backprop.ipynb"),
                            Path("submitted/alice/01-backprop/01-backprop.ipynb"),
                            Path("/tmp/grade/alice"), lab="01-backprop")
    result.score, result.max_score, result.flags
"""
from __future__ import annotations

import dataclasses
import importlib
import shutil
import time
import types
from pathlib import Path
from typing import Any, Callable

from course import checks as C
from course import notebook_rules as rules
from course.env import import_backend
from course.protocol import AnswerError
from autograder import integrity, reveal
from autograder.integrity import Flag  # re-exported: part of this module's API
from autograder.results import CellResult, CellTime, CheckLine, NotebookResult
from autograder.session import KernelSession, Limits, QueryTimeout
from autograder.untrusted import Disclosure, exception_name, printable

__all__ = ["CheckLine", "CellResult", "Flag", "NotebookResult", "Limits", "grade_notebook",
           "judge_suite", "reference_module"]


def reference_module(lab: str):
    """autograder.reference.<topic> for a lab named "NN-topic" (None when there is none).

    The references build Keras models, so the backend is imported first, without the start-up
    lines it would write to the grader's console."""
    topic = lab.split("-", 1)[1] if "-" in lab and lab.split("-", 1)[0].isdigit() else lab
    name = "autograder.reference." + topic.replace("-", "_")
    import_backend()
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, "autograder.reference"):
            return None
        raise


def expected(chk: C.Check, reference) -> Any:
    """What the reference says for a `ref=` check (its inputs materialized afresh)."""
    if reference is None or not hasattr(reference, chk.ref):
        raise LookupError(f"no reference function {chk.ref!r}")
    return chk.query.expected(getattr(reference, chk.ref))


def judge_suite(suite: C.Suite, ask: Callable[[Any], Any], reference, scale: str, *,
                points: float, grade_id: str | None = None,
                disclosure: Disclosure | None = None) -> CellResult:
    """Judge one test cell's checks and score it; no kernel involved.

    Args:
        suite: the cell's checks (``course.checks.declared`` of the instructor's source).
        ask: the answer to a query, as data; raises ``course.protocol.AnswerError`` (whose
            message is the FAIL detail) when there is none. Each distinct query is asked once.
        reference: the module of reference functions for ``ref=`` checks.
        scale: the scale ``above=``/``below=`` bounds are read at.
        points: the cell's points; grade_id: its id (default: the suite's).
        disclosure: whether the kernel has been sent a hidden query (shared by the cells of
            one submission): from then on a visible check's student_detail withholds what
            the kernel answered (autograder/untrusted.py).

    Returns:
        The CellResult: ``points * (weights passed) / (weights)``, rounded to 1e-6, with a
        line per check (the last ``suite.hidden`` marked hidden). A check the grader itself
        could not judge (a reference that raised) fails and is named in ``note``.
    """
    disclosure = disclosure if disclosure is not None else Disclosure()
    first_hidden = len(suite.checks) - suite.hidden
    answers: dict[str, tuple[bool, Any, bool]] = {}  # answered, answer, after a hidden query
    lines, problems = [], []
    for i, chk in enumerate(suite.checks):
        key, hidden = repr(chk.query), i >= first_hidden
        want = None
        try:
            if key not in answers:
                disclosure.hidden_asked |= hidden
                after = disclosure.hidden_asked
                try:
                    answers[key] = (True, ask(chk.query), after)
                except AnswerError as exc:
                    answers[key] = (False, str(exc), after)
            answered, got, after = answers[key]
            if answered:
                want = expected(chk, reference) if chk.ref is not None else None
                outcome = C.compare(chk, got, want, scale=scale)
            else:
                outcome = C.failed(chk, got)
        except Exception as exc:  # the grader's own problem (a reference that raised)
            problems.append(f"check {chk.label!r} could not be judged: {type(exc).__name__}: {exc}")
            outcome = C.Outcome(chk.label, False, "could not be judged (grader error)", chk.weight)
            after = False
        shown = "" if hidden else disclosure.detail(outcome.detail, after, chk.hint)
        lines.append(CheckLine(chk.label, bool(outcome.passed), printable(outcome.detail), hidden,
                               float(chk.weight), shown,
                               *(_in_words(chk, reference, scale, want) if hidden else ())))
    total = sum(line.weight for line in lines)
    passed = sum(line.weight for line in lines if line.passed)
    score = points * passed / total if total else 0.0
    return CellResult(grade_id or suite.cell_id, points, round(score, 6), tuple(lines),
                      printable("; ".join(problems)),
                      student_note="a check could not be judged (the grader's error: your "
                      "instructor will look at it)" if problems else None)


def _in_words(chk: C.Check, reference, scale: str, want: Any) -> tuple[str, str]:
    """(asked, wanted) of a hidden check for its CheckLine (autograder/reveal.py); `want`: the
    reference's value when judging computed it (else it is computed here, if it can be)."""
    try:
        if chk.ref is not None:
            want = C.select(want if want is not None else expected(chk, reference), chk.key)
    except Exception:  # the check's own line says so, when it mattered
        want = None
    return printable(reveal.asked(chk)), printable(reveal.wanted(chk, scale, want))


def lab_limits(source_nb, limits: Limits, scale: str) -> Limits:
    """`limits`, with the memory the lab's *source* notebook asks for at `scale`
    (``metadata.course.memory_mb``: a number, or one per scale), never less than `limits`
    gives: lab 04 builds paper-size networks, which at ``cpu`` scale outgrow the default.
    A submission's metadata is never read."""
    asked = (source_nb.get("metadata", {}).get("course", {}) or {}).get("memory_mb")
    if isinstance(asked, dict):
        asked = asked.get(scale)
    if asked is None:
        return limits
    return dataclasses.replace(limits, memory_mb=max(limits.memory_mb, int(asked)))


def source_cells(source_nb, limits: Limits) -> dict[str, tuple[str, float]]:
    """Each source cell's (name, time limit), by grade_id and by cell id. The name is its
    grade_id, else ``cell N`` (see results.CellTime); the limit the instructor's
    ``metadata.course.timeout`` where set, else ``Limits.setup_timeout`` for the code cells
    before the first answer cell (installs and imports: TensorFlow's import alone takes a
    minute on a busy grading machine), else ``Limits.cell_timeout``. Read from the source
    only: a submission's metadata is the student's, and never names a cell or extends a limit."""
    cells: dict[str, tuple[str, float]] = {}
    setup = True
    for i, c in enumerate(source_nb.cells):
        setup = setup and not c.get("metadata", {}).get("nbgrader", {}).get("solution", False)
        limit = max(limits.cell_timeout, limits.setup_timeout) if setup else limits.cell_timeout
        try:
            limit = float(c.get("metadata", {}).get("course", {}).get("timeout", limit))
        except (TypeError, ValueError, AttributeError):
            pass
        for key in (integrity.grade_id(c), c.get("id")):
            if key:
                cells.setdefault(str(key), (integrity.grade_id(c) or f"cell {i}", limit))
    return cells


class _Run:
    """One submission's walk through its notebook: cells run in order, test cells judged where
    they stand, and a kernel that died restarted with the cells before it run again."""

    def __init__(self, session: KernelSession, limits: Limits, deadline: float,
                 problems: Disclosure, queries: int, source_nb):
        self.session, self.limits, self.deadline = session, limits, deadline
        self.problems = problems
        self.queries_left = queries  # distinct queries of the whole notebook not asked yet
        self.shared = False          # a query timed out: the rest share what time is left
        self.ran: list = []  # cells to run again after a restart, in order
        self.times: list[CellTime] = []
        self.source = source_cells(source_nb, limits)

    def run_cell(self, cell) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0 or not self.revive():
            return
        name, limit = self.source_of(cell)
        limit = min(limit, left)
        res = self.session.run_cell(cell.source, limit)
        self.times.append(CellTime(name, round(res.seconds, 3), res.status, round(limit, 3)))
        where = integrity.grade_id(cell) or f"cell {cell.get('_index', '?')}"
        if res.status in ("timeout", "flood", "dead"):
            what = {"timeout": "ran past its time limit", "flood": "printed too much output",
                    "dead": "killed the kernel"}[res.status]
            what = self.session.killed_for() or what
            self.problems.add(f"{where} {what}" + (f" ({res.error})" if res.error else ""),
                              after_hidden=f"{where} {what}")
        else:
            self.ran.append(cell)
            if res.status == "error" and not res.error.startswith("NotImplementedError") \
                    and sum(e.startswith("cell") or " raised " in e
                            for e in self.problems.instructor) < 20:
                self.problems.add(f"{where} raised {res.error}",
                                  after_hidden=f"{where} raised {exception_name(res.ename)}")
        if res.truncated:
            self.problems.add(f"{where}: output beyond {self.limits.max_output_bytes} bytes "
                               "was dropped")

    def source_of(self, cell) -> tuple[str, float]:
        """The source's (name, limit) for this cell, found by grade_id, else cell id; an
        added cell is "added cell" with ``Limits.cell_timeout``."""
        for key in (integrity.grade_id(cell), cell.get("id")):
            if key and str(key) in self.source:
                return self.source[str(key)]
        return "added cell", self.limits.cell_timeout

    def revive(self) -> bool:
        """A live kernel holding the notebook's state so far; False when none can be had."""
        while not self.session.alive():
            if self.session.restarts >= self.limits.kernel_restarts \
                    or time.monotonic() >= self.deadline:
                return False
            try:
                self.session.restart()
            except Exception as exc:
                self.problems.add(f"the kernel could not be restarted: {exc}",
                                  after_hidden="the kernel could not be restarted")
                return False
            again = 0
            for cell in self.ran:
                left = self.deadline - time.monotonic()
                if left <= 0 or self.session.run_cell(
                        cell.source, min(self.source_of(cell)[1], left)).status == "dead":
                    break
                again += 1
            self.problems.add(f"the kernel died; restarted it and ran again the {again} of "
                               f"{len(self.ran)} cells that had run before (not the one it "
                               "died in)")
        return True

    def ask(self, query) -> Any:
        """The kernel's answer, within the submission's hard cap (session.deadline): each
        query may take Limits.query_timeout until one times out; from then on each takes
        at most an equal share of what is left."""
        self.queries_left = max(0, self.queries_left - 1)
        left = self.session.deadline - time.monotonic()
        if left <= 0:
            raise AnswerError("not asked: the submission's time limit was used up")
        if not self.revive():
            raise AnswerError("the kernel is not running (it died earlier)")
        timeout = min(self.limits.query_timeout, left)
        if self.shared:
            timeout = min(timeout, left / (self.queries_left + 1))
        try:
            return self.session.ask(query, timeout)
        except QueryTimeout:
            self.shared = True
            raise

    def judge(self, src_cell, reference, scale: str) -> CellResult:
        gid, points = integrity.grade_id(src_cell), rules.points(src_cell)
        try:
            suite = C.declared(src_cell.source)
        except Exception as exc:
            self.problems.add(f"{gid}: the source test cell declares no checks ({exc})")
            return CellResult(gid, points, 0.0, (), "not gradable: the test cell declares no "
                              "checks (instructor's error)")
        t0 = time.monotonic()
        cell = judge_suite(suite, self.ask, reference, scale, points=points, grade_id=gid,
                           disclosure=self.problems)
        cell = dataclasses.replace(cell, seconds=round(time.monotonic() - t0, 3))
        if cell.note:
            self.problems.add(f"{gid}: {cell.note}", after_hidden=f"{gid}: {cell.shown_note}")
        return cell


def _distinct_queries(test_cell) -> int:
    try:
        return len({repr(chk.query) for chk in C.declared(test_cell.source).checks})
    except Exception:
        return 0


def _plan(source_nb, nb):
    """Steps in order: ("run", cell) for the submission's cells, ("test", source cell) at
    each test cell's position (the submission's, or the source's when it was deleted)."""
    tests = {integrity.grade_id(c): c for c in source_nb.cells if integrity.is_test_cell(c)}
    steps, done = [], set()

    def key(cell):  # a cell's identity across source, release and submission
        return integrity.grade_id(cell) or cell.get("id")

    present = {key(c) for c in nb.cells} - {None}
    # where a deleted test cell goes: after the submission's copy of the nearest source cell
    # (graded or not) that precedes it, so whatever that cell defines is there
    after: dict[str | None, list] = {}
    last = None
    for c in source_nb.cells:
        gid = integrity.grade_id(c)
        if gid in tests and gid not in present:
            after.setdefault(last, []).append(tests[gid])
        elif key(c) in present:
            last = key(c)
    steps += [("test", c) for c in after.pop(None, [])]
    for i, cell in enumerate(nb.cells):
        gid = integrity.grade_id(cell)
        if gid in tests:
            if gid not in done:
                steps.append(("test", tests[gid]))
                done.add(gid)
        elif cell.get("cell_type") == "code":
            cell["_index"] = i
            steps.append(("run", cell))
        for t in after.pop(key(cell), []) if key(cell) else []:
            steps.append(("test", t))
    for rest in after.values():
        steps += [("test", c) for c in rest]
    return steps


def grade_notebook(source: Path, submission: Path, workdir: Path, *, lab: str,
                   scale: str = "tiny", limits: Limits = Limits(),
                   reference: types.ModuleType | None = None, data_dir: Path | None = None,
                   sandbox: bool | None = None) -> NotebookResult:
    """Grade one submission against its source notebook (see the module docstring).

    Args:
        source: the instructor's notebook (solutions/<lab>/<lab>.ipynb).
        submission: the student's file (may be anything, even invalid JSON).
        workdir: an empty folder this submission may use (its copy runs there).
        lab: the lab's name ("01-backprop"): selects the reference and forbidden imports.
        scale: COURSE_SCALE for the run and the scale of `above=`/`below=` bounds.
        limits: time, memory, process, output and file-size limits.
        reference: the module of reference functions (default autograder.reference.<topic>).
        data_dir: the data folder a held-out view is made of (default: COURSE_DATA's first).
        sandbox: None uses bubblewrap where it works; False runs unsandboxed (flagged);
            True raises when bubblewrap is unusable.

    Returns:
        A NotebookResult; never raises for anything the submission does.
    """
    t0 = time.monotonic()
    source_nb = integrity.read_notebook(Path(source))[0]
    if source_nb is None:
        raise ValueError(f"the source notebook {source} is not a valid notebook")
    limits = lab_limits(source_nb, limits, scale)
    reference = reference if reference is not None else reference_module(lab)
    flags, nb = integrity.check_submission(source_nb, Path(submission), lab=lab)
    flags = [Flag(f.code, printable(f.message), None if f.cell is None else printable(f.cell))
             for f in flags]
    results: dict[str, CellResult] = {}
    problems = Disclosure()
    sandboxed = False
    times: list[CellTime] = []
    if nb is not None:
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(submission, workdir / Path(submission).name)
        session = KernelSession(workdir, limits, scale=scale, data_dir=data_dir, sandbox=sandbox,
                                note=problems.add)
        try:
            session.start()
            sandboxed = session.sandboxed
        except Exception as exc:
            problems.add(f"the kernel could not start: {type(exc).__name__}: {exc}")
            session.stop()
            session = None
        if session is not None:
            session.deadline = t0 + limits.submission_timeout
            plan = _plan(source_nb, nb)
            run = _Run(session, limits, t0 + min(limits.notebook_timeout,
                                                 limits.submission_timeout), problems,
                       sum(_distinct_queries(cell) for kind, cell in plan if kind == "test"),
                       source_nb)
            try:
                for kind, cell in plan:
                    if kind == "run":
                        run.run_cell(cell)
                    else:
                        results[integrity.grade_id(cell)] = run.judge(cell, reference, scale)
                if time.monotonic() > run.deadline:
                    problems.add(f"the notebook ran past its {limits.notebook_timeout:g} s "
                                  "limit; later cells were not run")
            finally:
                session.stop()
                times = run.times
    cells = []
    for c in source_nb.cells:
        gid = integrity.grade_id(c)
        if not gid or not integrity.nbgrader_meta(c).get("grade"):
            continue
        if gid in results:
            cells.append(results[gid])
        elif not integrity.is_test_cell(c):
            cells.append(CellResult(gid, rules.points(c), 0.0, (), "graded by the instructor",
                                    True))
        else:
            why = "the submission is not a valid notebook" if nb is None else "not graded"
            cells.append(CellResult(gid, rules.points(c), 0.0, (), why))
    return NotebookResult(lab, tuple(cells), tuple(flags), tuple(problems.instructor), sandboxed,
                          round(time.monotonic() - t0, 3), tuple(problems.student), tuple(times))
