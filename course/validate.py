"""Check a lab notebook before submitting it, as the grader will run it.

    python -m course.validate 01-backprop.ipynb          # a terminal, beside the notebook
    course.validate.this_notebook()                      # in the notebook itself, on Colab

Runs the notebook top to bottom in a fresh kernel (progress as it goes: cell i of n, time,
scale) and reports every test cell's checks, PASS or FAIL, with how many hidden checks
grading adds; the written answers still empty; and what the grader would flag in the
notebook's structure (deleted, duplicated, renamed or edited graded cells, changed points),
by the same rules (:mod:`course.notebook_rules`), compared with the released lab. Check
verdicts are read as data (the report each test cell displays), not from printed text.

Needs only the released lab: given with ``--labs-dir`` (a folder of ``<lab>/<lab>.ipynb``),
or found beside the notebook, in ``labs/`` of the current folder or of the course checkout.
Exit status 0 when the notebook is ready: every visible check passes, every written answer
is filled in and no graded cell is missing or changed.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from course import notebook_rules as rules
from course.checks import MIME, Outcome, declared

PLACEHOLDERS = ("YOUR ANSWER HERE", "# YOUR CODE HERE\nraise NotImplementedError()")
ADVICE = {
    "deleted-cell": "copy it back from the released lab",
    "deleted-test-cell": "copy it back from the released lab",
    "duplicated-cell": "keep one copy",
    "renamed-cell": "give it back its grade_id, or copy the cell back from the released lab",
    "unknown-cell": "remove its nbgrader metadata, or copy the cell back from the released lab",
    "changed-points": "restore its metadata from the released lab",
    "changed-metadata": "restore its metadata from the released lab",
    "edited-test-cell": "it runs as released, here and at grading: undo your changes there",
}


@dataclasses.dataclass
class CellReport:
    """One test cell as run: its checks' verdicts (data the cell displayed) or its error."""

    grade_id: str
    points: float
    outcomes: list[Outcome]
    error: str = ""
    hidden: int = 0

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.outcomes) and all(
            o.passed is not False for o in self.outcomes)


@dataclasses.dataclass
class ValidateReport:
    notebook: Path
    lab: str | None
    released: Path | None           # the released lab compared with (None: not found)
    flags: list[rules.Flag]         # what the grader would flag
    problems: list[str]             # what else keeps the notebook from being ready
    cells: list[CellReport]
    empty_answers: list[str]        # grade_ids of written answers still the placeholder
    executed: bool
    scale: str
    seconds: float = 0.0

    @property
    def hidden(self) -> int:
        return sum(c.hidden for c in self.cells)

    @property
    def ok(self) -> bool:
        return (self.executed and not self.flags and not self.problems and not self.empty_answers
                and all(c.passed for c in self.cells))


# ---------------------------------------------------------------------------- the lab

def labs_dirs(notebook: Path, labs_dir: Path | None = None) -> list[Path]:
    """Where released labs may be: the folder given, else around the notebook, ./labs, and
    labs/ of the course checkout this package belongs to."""
    if labs_dir is not None:
        return [Path(labs_dir)]
    here = notebook.resolve().parent
    checkout = Path(__file__).resolve().parents[1] / "labs"
    found = []
    for d in (here.parent, here / "labs", Path.cwd() / "labs", checkout):
        if d.is_dir() and d not in found:
            found.append(d)
    return found


def _grade_ids(path: Path) -> set[str]:
    nb = rules.read_notebook(path)[0]
    return {rules.grade_id(c) for c in nb.cells} - {None} if nb is not None else set()


def find_release(nb, notebook: Path, lab: str | None, dirs: list[Path]):
    """(lab, path of the released notebook) for `nb`: by `lab`, by the file name, or by the
    grade ids it shares with a released lab; (lab, None) when none is found (a notebook is
    never compared with itself)."""
    me = notebook.resolve()
    found = [p for d in dirs for p in sorted(d.glob("*/*.ipynb")) if p.stem == p.parent.name]
    if lab is None:
        lab = max((p.stem for p in found if p.stem in notebook.name), key=len, default=None)
    released = {p.stem: p for p in found if p.resolve() != me}
    if lab is None:
        ids = {rules.grade_id(c) for c in nb.cells} - {None}
        overlap = {name: len(ids & _grade_ids(p)) for name, p in released.items()}
        lab = max((n for n in overlap if overlap[n]), key=overlap.get, default=None)
    if lab is None:
        return None, None
    beside = me.parent / f"{lab}.ipynb"
    if beside.is_file() and beside != me:
        return lab, beside
    return lab, released.get(lab)


def empty_answers(nb, lab_nb) -> list[str]:
    """Written (manually graded) answers still as released: the placeholder, or nothing."""
    stubs = {rules.grade_id(c): rules.normalized(c.source) for c in lab_nb.cells} if lab_nb else {}
    empty = []
    for cell in nb.cells:
        gid = rules.grade_id(cell)
        if gid and rules.is_manual(cell):
            text = rules.normalized(cell.source)
            if not text or text in PLACEHOLDERS or text == stubs.get(gid):
                empty.append(gid)
    return empty


# ---------------------------------------------------------------------------- running it

def kernel_manager_class(socket_dir: Path | None = None):
    """A kernel manager for this interpreter's Python (where `course` is installed), talking
    over unix sockets in `socket_dir` where the platform has them (no TCP, no warning)."""
    from jupyter_client.manager import AsyncKernelManager

    class LocalKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            if socket_dir is not None and os.name == "posix":
                self.transport, self.ip = "ipc", str(Path(socket_dir) / "kernel")

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            return [sys.executable, *cmd[1:]] if cmd and "python" in Path(cmd[0]).name else cmd

    return LocalKernelManager


def scale_in_use(scale: str | None = None) -> str:
    """The scale the notebook will run at: `scale`, else COURSE_SCALE, else this machine's
    (as the notebook decides it: gpu when its backend sees a GPU, else cpu)."""
    if scale:
        return scale
    from course import env
    with _quiet_stderr():  # the backend's start-up lines are the notebook's business
        return env.scale()


@contextlib.contextmanager
def _quiet_stderr():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run_notebook(nb, workdir: Path, *, scale: str, timeout: float = 600,
                 progress: Callable[[int, int, float, str], None] | None = None) -> str:
    """Execute `nb` in place in a fresh kernel; '' when it ran to the end, else why not.

    A cell past `timeout` seconds is interrupted and the run goes on, as at grading.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    env = dict(os.environ, COURSE_SCALE=scale)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="validate-") as sockets:
        client = NotebookClient(nb, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
                                kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}})
        client.kernel_manager_class = kernel_manager_class(Path(sockets))
        with client.setup_kernel(env=env):
            for n, index in enumerate(code, 1):
                if progress:
                    progress(n, len(code), time.monotonic() - start, scale)
                try:
                    client.execute_cell(nb.cells[index], index, execution_count=n)
                except DeadKernelError:
                    return f"the kernel died in code cell {n} of {len(code)}"
                except Exception as exc:
                    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return ""


def verdicts(cell) -> tuple[list[Outcome], str, int | None]:
    """(outcomes, error, hidden count) that a test cell's run displayed."""
    outcomes, error, hidden = [], "", None
    for out in cell.get("outputs", []):
        data = out.get("data", {}).get(MIME) if out.get("output_type") in (
            "display_data", "execute_result") else None
        if isinstance(data, dict):
            outcomes += [Outcome(str(o.get("label", "")), o.get("passed"), str(o.get("detail", "")),
                                 float(o.get("weight", 1.0))) for o in data.get("outcomes", [])]
            hidden = int(data.get("hidden", 0))
        elif out.get("output_type") == "error":
            error = f"{out.get('ename')}: {out.get('evalue')}"
    return outcomes, error, hidden


def validate(path: Path, *, lab: str | None = None, labs_dir: Path | None = None,
             timeout: float = 600, scale: str | None = None, workdir: Path | None = None,
             progress: Callable[[int, int, float, str], None] | None = None) -> ValidateReport:
    """Run the notebook at `path` and report (see the module docstring)."""
    path = Path(path)
    start = time.monotonic()
    nb, why = rules.read_notebook(path)
    if nb is None:
        return ValidateReport(path, lab, None, [], [f"not a valid notebook file ({why}): "
                                                    "download it again from Jupyter or Colab "
                                                    "as .ipynb"], [], [], False, scale or "")
    scale = scale_in_use(scale)
    lab, released = find_release(nb, path, lab, labs_dirs(path, labs_dir))
    lab_nb = rules.read_notebook(released)[0] if released else None
    flags = rules.structure_flags(lab_nb, nb) if lab_nb is not None else []
    lab_cells = {rules.grade_id(c): c for c in lab_nb.cells} if lab_nb is not None else {}
    to_run = copy.deepcopy(nb)
    edited = {f.cell for f in flags if f.code == "edited-test-cell"}
    for cell in to_run.cells:
        if rules.grade_id(cell) in edited:  # run as released, as the grader does
            cell.source = lab_cells[rules.grade_id(cell)].source
    stopped = run_notebook(to_run, Path(workdir or path.parent).resolve(), scale=scale,
                           timeout=timeout, progress=progress)
    cells = []
    for cell in to_run.cells:
        if not rules.is_test_cell(cell):
            continue
        gid = rules.grade_id(cell) or "?"
        outcomes, error, shown = verdicts(cell)
        if gid in lab_cells:
            hidden = declared(lab_cells[gid].source).hidden
        else:
            hidden = shown or 0
        cells.append(CellReport(gid, rules.points(cell), outcomes, error, hidden))
    problems = [f"the notebook did not run to the end: {stopped}"] if stopped else []
    return ValidateReport(path, lab, released, flags, problems, cells,
                          empty_answers(nb, lab_nb), not stopped, scale,
                          time.monotonic() - start)


def render(report: ValidateReport) -> str:
    about = ", ".join(x for x in (report.lab and f"lab {report.lab}",
                                  report.scale and f"scale {report.scale}") if x)
    out = [f"Validating {report.notebook}" + (f" ({about})" if about else "")]
    if report.released is None:
        out.append("  note: the released lab was not found, so graded cells could not be "
                   "compared with it (give --labs-dir, a folder of <lab>/<lab>.ipynb)")
    out += [f"  ! {f.message}: {ADVICE.get(f.code, 'compare with the released lab')}"
            for f in report.flags]
    out += [f"  ! {p}" for p in report.problems]
    for c in report.cells:
        out.append(f"\n{c.grade_id} ({c.points:g} points)")
        out += [f"  {o.line()}" for o in c.outcomes]
        if c.error:
            out.append(f"  ERROR {c.error}")
        if not c.outcomes and not c.error:
            out.append("  (no check output: did the cells above run?)")
    if report.empty_answers:
        n = len(report.empty_answers)
        out.append(f"\n{n} written answer{'s are' if n > 1 else ' is'} still empty: "
                   + ", ".join(report.empty_answers))
    failing = [c.grade_id for c in report.cells if not c.passed]
    out.append("")
    if report.ok:
        out.append(f"PASSED: every visible check passes. {report.hidden} hidden checks run "
                   "when your notebook is graded.")
    else:
        reasons = []
        if failing:
            reasons.append(f"{len(failing)} test cells with failing checks ({', '.join(failing)})")
        if report.empty_answers:
            reasons.append(f"{len(report.empty_answers)} written answers still empty")
        if report.flags or report.problems:
            reasons.append(f"{len(report.flags) + len(report.problems)} problems above")
        out.append("NOT READY: " + "; ".join(reasons or ["see above"])
                   + f". {report.hidden} hidden checks also run at grading.")
    out.append(f"({report.seconds:.0f} s)")
    return "\n".join(out)


class Progress:
    """Prints 'cell i of n' as a notebook runs: one updating line on a terminal, else a line
    whenever `every` seconds have passed since the last one."""

    def __init__(self, stream=None, every: float = 10.0):
        self.stream, self.every = stream or sys.stdout, every
        self.last: float | None = None

    def __call__(self, i: int, n: int, elapsed: float, scale: str) -> None:
        minutes, seconds = divmod(int(elapsed), 60)
        text = f"cell {i} of {n}, {minutes}:{seconds:02d} elapsed, scale {scale}"
        if self.stream.isatty():
            self.stream.write("\r  " + text + ("\n" if i == n else ""))
        elif self.last is None or elapsed - self.last >= self.every or i == n:
            self.stream.write("  " + text + "\n")
            self.last = elapsed
        self.stream.flush()


def this_notebook(*, lab: str | None = None, labs_dir: str | Path | None = None,
                  timeout: float = 600) -> ValidateReport:
    """Validate the notebook this is called from, on Colab: its saved state is fetched from
    the Colab frontend, run in a fresh kernel here, and the report printed."""
    from google.colab import _message  # only on Colab

    nb = _message.blocking_request("get_ipynb", request="", timeout_sec=60)["ipynb"]
    with tempfile.TemporaryDirectory(prefix="this-notebook-") as tmp:
        path = Path(tmp) / f"{lab or 'notebook'}.ipynb"
        path.write_text(json.dumps(nb), encoding="utf-8")
        report = validate(path, lab=lab, labs_dir=Path(labs_dir) if labs_dir else None,
                          timeout=timeout, workdir=Path.cwd(), progress=Progress())
    report = dataclasses.replace(report, notebook=Path("this notebook"))
    print(render(report))
    return report


def add_arguments(p: argparse.ArgumentParser, labs_dir: str | None = None) -> None:
    p.add_argument("notebook")
    p.add_argument("--lab", default=None, help="the lab, when the file name does not say it")
    p.add_argument("--labs-dir", default=labs_dir,
                   help="a folder of released labs (<lab>/<lab>.ipynb); default: found "
                        "beside the notebook, in ./labs or in the course checkout")
    p.add_argument("--timeout", type=float, default=600, help="seconds per cell (default 600)")
    p.add_argument("--scale", default=None, choices=["tiny", "cpu", "gpu"],
                   help="default: COURSE_SCALE, else gpu when a GPU is visible, else cpu")


def run(args) -> int:
    report = validate(Path(args.notebook), lab=args.lab,
                      labs_dir=Path(args.labs_dir) if args.labs_dir else None,
                      timeout=args.timeout, scale=args.scale, progress=Progress())
    print(render(report))
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m course.validate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
