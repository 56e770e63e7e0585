"""Every notebook: committed without outputs; every solution runs top to bottom at tiny scale
and passes its own checks.

Run as a script to time notebooks at a scale (``make bench``)::

    COURSE_SCALE=cpu python tests/test_notebooks.py [NOTEBOOK ...]

With ``BENCH_OUT=DIR`` each executed notebook is also written to DIR, so the tables and plots
a long run measured can be read afterwards.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from course.validate import kernel_manager_class, verdicts

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted(ROOT.glob("solutions/*/*.ipynb"))
COMMITTED = SOLUTIONS + sorted(ROOT.glob("labs/*/*.ipynb"))
CELL_TIMEOUT = 900        # seconds; a tiny-scale training cell takes well under a minute


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def execute(path: Path, scale: str = "tiny", cell_timeout: int = CELL_TIMEOUT):
    """Execute a copy of a notebook's folder at ``scale``; return the executed notebook.

    The kernel is this interpreter's (the venv's), started in a temporary copy of the
    notebook's folder so nothing lands in the working tree.
    """
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    env = {"COURSE_SCALE": scale, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    # ipykernel forwards what native code writes to file descriptor 2 (TensorFlow's logs) into
    # the notebook, as a student sees it, except under pytest: the kernel must not know it runs
    # in a test, or `noise` misses those lines. Nor may it inherit this process's log level
    # (jax sets TF_CPP_MIN_LOG_LEVEL=1 when a test imports it first): a student's kernel starts
    # without one, and course.env chooses.
    unset = ["PYTEST_CURRENT_TEST", "TF_CPP_MIN_LOG_LEVEL"]
    old = {k: os.environ.get(k) for k in [*env, *unset]}
    for k in unset:
        os.environ.pop(k, None)
    os.environ.update(env)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / path.parent.name
            shutil.copytree(path.parent, work)
            client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                                    resources={"metadata": {"path": str(work)}})
            client.kernel_manager_class = kernel_manager_class(Path(tmp))
            client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def streams_of_test_cells(nb, stream: str | None = None):
    """(grade_id, text) for each test cell of an executed notebook: what it wrote to
    `stream` ('stdout' or 'stderr'; both when None)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and _is_test_cell(cell):
            yield cell.metadata["nbgrader"]["grade_id"], "".join(
                o.get("text", "") for o in cell.outputs
                if o.get("output_type") == "stream" and stream in (None, o.get("name")))


def failed_checks(nb) -> list[str]:
    """Every failed check of the executed notebook's test cells (their verdicts as data, as
    the validator reads them), and every test cell that raised or showed none, by grade_id."""
    failed = []
    for cell in nb.cells:
        if cell.cell_type == "code" and _is_test_cell(cell):
            outcomes, error, _ = verdicts(cell)
            gid = cell.metadata["nbgrader"]["grade_id"]
            failed += [f"{gid}: {o.line()}" for o in outcomes if o.passed is False]
            failed += [f"{gid}: ERROR {error}"] if error else []
            failed += [] if outcomes or error else [f"{gid}: displayed no check verdicts"]
    return failed


def noise(nb) -> list[str]:
    """What a student should not meet in an executed notebook: a setup cell printing more than
    its one line, a value echoed by a cell, anything on stderr, a progress bar."""
    problems = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        where = cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id") or f"code cell {i}"
        outputs = cell.get("outputs", [])
        streams = {name: "".join(o.get("text", "") for o in outputs
                                 if o.get("output_type") == "stream" and o.get("name") == name)
                   for name in ("stdout", "stderr")}
        if any(o.get("output_type") == "execute_result" for o in outputs):
            problems.append(f"{where}: echoes a value (end the line with a statement or use print)")
        if streams["stderr"]:
            problems.append(f"{where}: writes to stderr: {streams['stderr'][:300]!r}")
        if "\u2501" in streams["stdout"] or "\b" in streams["stdout"]:
            problems.append(f"{where}: prints a progress bar (train.fit(..., verbose=2): a line per epoch)")
        if "course.env.setup(" in cell.source and len(streams["stdout"].splitlines()) != 1:
            problems.append(f"{where}: the setup cell prints {len(streams['stdout'].splitlines())} lines, "
                            "not one")
    return problems


@pytest.mark.parametrize("path", COMMITTED, ids=_id)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{_id(path)}: code cells {dirty} have outputs or execution counts; "
                       "clear them (jupyter nbconvert --clear-output --inplace)")


@pytest.mark.parametrize("path", SOLUTIONS, ids=_id)
def test_colab_cell_installs_from_the_student_edition(path):
    """Colab installs from the student edition (course.env.DEFAULT_REPO_URL), whose address
    is the only one in the cell: a lab still naming the instructor's repository fails."""
    from course.env import DEFAULT_REPO_URL
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    cell = code[0].source if code else ""
    urls = set(re.findall(r"https?://[^\s\"')]+", cell))
    assert "google.colab" in cell and "COURSE_REPO_URL" in cell and urls == {DEFAULT_REPO_URL}, (
        f"{_id(path)}: the first code cell must install the course on Colab from the student "
        f"edition, course.env.DEFAULT_REPO_URL ({DEFAULT_REPO_URL}), overridable by "
        f"COURSE_REPO_URL (copy lab 00's cell); it names {sorted(urls) or 'no address'}")
    assert '"pip", "install"' in cell and "git+{REPO_URL}" in cell, (
        f"{_id(path)}: the first code cell must pip install git+<the student edition>")


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("path", SOLUTIONS, ids=_id)
def test_solution_runs_at_tiny_scale(path):
    from autograder.labdata import prepare_data
    why = prepare_data(path)
    if why:
        pytest.skip(f"the data this lab loads cannot be had here: {why}")
    nb = execute(path, "tiny")
    for gid, stderr in streams_of_test_cells(nb, "stderr"):
        assert not stderr, (f"{_id(path)} test cell {gid} writes to stderr, which nbgrader "
                            f"scores 0: {stderr[:300]!r}")
    failed = failed_checks(nb)
    assert not failed, f"{_id(path)}: the solution fails its own checks at tiny scale: {failed}"
    assert not noise(nb), f"{_id(path)}: {noise(nb)}"


def cell_seconds(nb) -> list[tuple[str, float]]:
    """(cell id, seconds) of every code cell, from the timings nbclient records."""
    from datetime import datetime

    timed = []
    for cell in nb.cells:
        times = cell.metadata.get("execution", {})
        start, end = times.get("iopub.execute_input"), times.get("shell.execute_reply")
        if cell.cell_type == "code" and start and end:
            seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            timed.append((cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id", "?"),
                          seconds))
    return timed


def main(argv: list[str]) -> int:
    scale = os.environ.get("COURSE_SCALE", "cpu")
    paths = [Path(a).resolve() for a in argv] or SOLUTIONS
    failed = 0
    for path in paths:
        t = time.monotonic()
        try:
            nb = execute(path, scale)
            if os.environ.get("BENCH_OUT"):
                out = Path(os.environ["BENCH_OUT"])
                out.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, out / f"{path.stem}.{scale}.ipynb")
            fails = failed_checks(nb) + noise(nb)
            status = "ok" if not fails else "checks failed or noise:\n  " + "\n  ".join(fails)
            failed += bool(fails)
            long_cells = [f"{cell} {seconds:.0f} s" for cell, seconds in cell_seconds(nb) if seconds >= 20]
            status += "\n  cells of 20 s or more: " + (", ".join(long_cells) or "none")
        except Exception as e:          # report every notebook, then fail
            status, failed = f"FAILED: {type(e).__name__}: {str(e)[-2000:]}", failed + 1
        print(f"{_id(path)}  scale={scale}  {(time.monotonic() - t) / 60:.1f} min  {status}",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
