"""Check a notebook before submitting it: runs it top to bottom and prints every check.

What a student (or a Colab user) runs: `python -m autograder validate 01-backprop.ipynb`.
Needs neither nbgrader, nor the instructor's solutions, nor a sandbox: it compares the
notebook with the released lab (labs/<lab>/) to report missing, duplicated, renamed or
altered graded cells (an altered test cell is run as released, as grading does), executes
it with nbclient, and lists each test cell's PASS/FAIL lines and how many hidden checks
grading adds. Exit status 0 when every visible check passes and no cell is missing.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import re
import tempfile
from pathlib import Path

from autograder.cli import subparser
from autograder.config import REPO

HIDDEN = re.compile(r"hidden\s*=\s*(\d+)")


@dataclasses.dataclass
class CellReport:
    grade_id: str
    points: float
    lines: list[str]
    error: str = ""
    hidden: int = 0

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.lines) and not any(
            line.startswith("FAIL") for line in self.lines)


@dataclasses.dataclass
class ValidateReport:
    notebook: Path
    lab: str | None
    problems: list[str]
    cells: list[CellReport]
    executed: bool

    @property
    def ok(self) -> bool:
        return self.executed and not self.problems and all(c.passed for c in self.cells)


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def find_release(nb: dict, path: Path, lab: str | None, labs_dir: Path) -> tuple[str | None, dict | None]:
    """The released lab this notebook comes from: by --lab, by file name, or by grade ids."""
    candidates = [lab] if lab else []
    if labs_dir.is_dir():
        names = sorted(p.name for p in labs_dir.iterdir() if p.is_dir())
        candidates += [n for n in names if n in path.stem]
        ids = {_meta(c).get("grade_id") for c in nb.get("cells", [])} - {None}
        for n in names:
            rel = labs_dir / n / f"{n}.ipynb"
            if rel.is_file() and ids & {_meta(c).get("grade_id") for c in
                                        json.loads(rel.read_text())["cells"]}:
                candidates.append(n)
    for name in candidates:
        rel = labs_dir / name / f"{name}.ipynb"
        if rel.is_file():
            return name, json.loads(rel.read_text(encoding="utf-8"))
    return (lab, None)


def structure(nb: dict, released: dict) -> tuple[list[str], dict]:
    """Problems with the graded cells, and the notebook to run (test cells as released)."""
    problems = []
    mine: dict[str, list[int]] = {}
    for i, cell in enumerate(nb["cells"]):
        gid = _meta(cell).get("grade_id")
        if gid:
            mine.setdefault(gid, []).append(i)
    theirs = {_meta(c).get("grade_id"): c for c in released["cells"] if _meta(c).get("grade_id")}
    fixed = copy.deepcopy(nb)
    for gid, cell in theirs.items():
        where = mine.get(gid, [])
        if not where:
            problems.append(f"missing cell {gid!r}: it was deleted or its metadata changed; "
                            "copy it back from the released lab")
            continue
        if len(where) > 1:
            problems.append(f"cell {gid!r} appears {len(where)} times: keep one")
        ours = nb["cells"][where[0]]
        if _meta(ours).get("points") != _meta(cell).get("points"):
            problems.append(f"cell {gid!r}: points changed from {_meta(cell).get('points')} "
                            f"to {_meta(ours).get('points')}")
        if _meta(cell).get("locked") and _text(ours["source"]) != _text(cell["source"]):
            problems.append(f"cell {gid!r} was edited: it is graded as released (undo your "
                            "changes there)")
            fixed["cells"][where[0]]["source"] = cell["source"]
    for gid in sorted(set(mine) - set(theirs)):
        problems.append(f"cell {gid!r} is not in the released lab (renamed?)")
    return problems, fixed


def validate(path: Path, *, lab: str | None = None, timeout: int = 600,
             labs_dir: Path = REPO / "labs", kernel: str | None = None) -> ValidateReport:
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(nb.get("cells"), list)
    except Exception as exc:
        return ValidateReport(path, lab, [f"not a valid notebook file ({type(exc).__name__}): "
                                          "re-download it from Jupyter/Colab as .ipynb"], [], False)
    lab, released = find_release(nb, path, lab, labs_dir)
    problems: list[str] = []
    if released is None:
        problems_note = "released lab not found: cannot check for missing or altered cells"
        to_run = nb
    else:
        problems_note = ""
        problems, to_run = structure(nb, released)

    import os

    import nbformat
    from nbclient import NotebookClient

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the kernel inherits it: quiet TF

    notebook = nbformat.reads(json.dumps(to_run), as_version=4)
    with tempfile.TemporaryDirectory(prefix="validate-") as tmp:
        client = NotebookClient(notebook, timeout=timeout, allow_errors=True,
                                kernel_name=kernel or "python3",
                                resources={"metadata": {"path": str(path.parent.resolve())}})
        executed = True
        try:
            client.execute()
        except Exception as exc:  # a dead kernel or a cell past its time limit
            executed = False
            problems.append(f"the notebook did not run to the end: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}")
    cells = []
    for cell in notebook.cells:
        m = _meta(cell)
        if not m.get("grade") or cell.cell_type != "code":
            continue
        lines, error = [], ""
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                lines += [l for l in out.get("text", "").splitlines()
                          if l[:4] in ("PASS", "FAIL", "....") or l.startswith("[")]
            elif out.get("output_type") == "error":
                error = f"{out.get('ename')}: {out.get('evalue')}"
        hidden = HIDDEN.search(_text(cell.source))
        cells.append(CellReport(m.get("grade_id", "?"), float(m.get("points", 0) or 0), lines,
                                error, int(hidden.group(1)) if hidden else 0))
    if problems_note:
        problems.insert(0, problems_note)
    return ValidateReport(path, lab, problems, cells, executed)


def render(report: ValidateReport) -> str:
    out = [f"Validating {report.notebook}" + (f" (lab {report.lab})" if report.lab else "")]
    for p in report.problems:
        out.append(f"  ! {p}")
    for c in report.cells:
        out.append(f"\n{c.grade_id} ({c.points:g} points)")
        out += [f"  {line}" for line in c.lines]
        if c.error:
            out.append(f"  ERROR {c.error}")
        if not c.lines and not c.error:
            out.append("  (no check output: did the cells above run?)")
    failing = [c.grade_id for c in report.cells if not c.passed]
    hidden = sum(c.hidden for c in report.cells)
    out.append("")
    if report.ok:
        out.append(f"PASSED: every visible check passes. {hidden} hidden checks run when your "
                   "notebook is graded.")
    else:
        out.append(f"NOT READY: {len(failing)} test cells with failing checks"
                   + (f" ({', '.join(failing)})" if failing else "")
                   + (f", {len(report.problems)} problems above" if report.problems else "")
                   + f". {hidden} hidden checks also run at grading.")
    return "\n".join(out)


def add_parser(sub):
    p = subparser(sub, "validate", __doc__, "python -m autograder validate 01-backprop.ipynb")
    p.add_argument("notebook")
    p.add_argument("--lab", default=None, help="the lab, when the file name does not say it")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    p.add_argument("--labs-dir", default=str(REPO / "labs"), help="where the released labs are")
    return p


def main(args) -> int:
    report = validate(Path(args.notebook), lab=args.lab, timeout=args.timeout,
                      labs_dir=Path(args.labs_dir))
    print(render(report))
    return 0 if report.ok else 1
