"""Integrity flags: what a submission changed that it should not have (no kernel needed)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from autograder import integrity
from test_judge import RIGHT, code, source_notebook

ROOT = Path(__file__).resolve().parents[1]


def flags_of(tmp_path, mutate=None, lab="99-square", raw: str | None = None):
    src = source_notebook()
    sub = nbformat.from_dict(json.loads(json.dumps(src)))
    if mutate:
        mutate(sub)
    path = tmp_path / "sub.ipynb"
    if raw is not None:
        path.write_text(raw)
    else:
        nbformat.write(sub, path)
    flags, nb = integrity.check_submission(src, path, lab=lab)
    return {f.code: f for f in flags}, nb


def test_untouched_submission_has_no_flags(tmp_path):
    flags, nb = flags_of(tmp_path)
    assert flags == {} and nb is not None


@pytest.mark.parametrize("raw", ['{"cells": [', "not json", '{"cells": 3}', "\xff\xfe",
                                 '{"cells": [{"source": "x"}]}'])
def test_invalid_json(tmp_path, raw):
    flags, nb = flags_of(tmp_path, raw=raw)
    assert list(flags) == ["invalid-json"] and nb is None


def test_deleted_duplicated_renamed(tmp_path):
    def delete(nb):
        del nb.cells[2]
    assert "deleted-test-cell" in flags_of(tmp_path, delete)[0]

    def duplicate(nb):
        nb.cells.append(nbformat.from_dict(json.loads(json.dumps(nb.cells[2]))))
    assert "duplicated-cell" in flags_of(tmp_path, duplicate)[0]

    def rename(nb):
        nb.cells[1].metadata["nbgrader"]["grade_id"] = "my-square"
    flags = flags_of(tmp_path, rename)[0]
    assert {"renamed-cell", "deleted-cell"} <= set(flags)
    assert flags["renamed-cell"].cell == "my-square"


def test_edited_test_cell_and_changed_points_and_metadata(tmp_path):
    def edit(nb):
        nb.cells[2].source += "\n# harmless?"
    assert "edited-test-cell" in flags_of(tmp_path, edit)[0]

    def whitespace(nb):
        nb.cells[2].source = nb.cells[2].source.replace("\n", "   \n") + "\n\n"
    assert "edited-test-cell" not in flags_of(tmp_path, whitespace)[0]

    def points(nb):
        nb.cells[2].metadata["nbgrader"]["points"] = 300
    assert "changed-points" in flags_of(tmp_path, points)[0]

    def unlock(nb):
        nb.cells[2].metadata["nbgrader"]["grade"] = False
    assert "changed-metadata" in flags_of(tmp_path, unlock)[0]


@pytest.mark.parametrize("line, lab, bad", [
    ("from autograder.reference.square import square", "99-square", True),
    ("import solutions", "99-square", True),
    ("x = __import__('autograder.reference')", "99-square", True),
    ("from course.gradients import weight_gradients", "01-backprop", True),
    ("from course.gradients import weight_gradients", "02-convnets", False),
    ("from course import checks", "01-backprop", False),
])
def test_forbidden_imports_per_lab(tmp_path, line, lab, bad):
    def add(nb):
        nb.cells[1].source = line + "\n" + RIGHT
    flags = flags_of(tmp_path, add, lab=lab)[0]
    assert ("forbidden-import" in flags) == bad, flags


def test_forbidden_list_from_notebook_metadata(tmp_path):
    src = source_notebook()
    src.metadata["course"] = {"forbidden_imports": ["sklearn"]}
    sub = nbformat.from_dict(json.loads(json.dumps(src)))
    sub.cells[1].source = "from sklearn.linear_model import Ridge\n" + RIGHT
    nbformat.write(sub, tmp_path / "s.ipynb")
    flags, _ = integrity.check_submission(src, tmp_path / "s.ipynb", lab="99-square")
    assert "forbidden-import" in {f.code for f in flags}


@pytest.mark.parametrize("snippet", [
    "import os; os._exit(0)", "import os\nos.fork()", "import subprocess", "import socket",
    "import ctypes", "get_ipython().events.register('post_run_cell', f)",
    "ip.input_transformers_cleanup.append(f)", "import sys; sys.modules['numpy'] = None",
    "open('/etc/passwd').read()", "open('../other/lab.ipynb')",
    # issue 14: numpy's file I/O rebound, IPython hooks, data-shaped text raised
    "import numpy as np\nnp.save = lambda *a, **k: None", "numpy.lib.npyio.load = f",
    "import numpy as N\nsetattr(N, 'savez', f)", "np.allclose = lambda *a, **k: True",
    "import sys\nsys.excepthook = f", "get_ipython().set_custom_exc((Exception,), f)",
    "sys.displayhook = lambda v: print(3.0)", "from ipykernel.kernelbase import Kernel",
    "raise RuntimeError(' '.join(_seen))", "raise ValueError(seen)",
    "def f(x):\n    raise ValueError(repr(_recorded))",
])
def test_suspicious_code_is_flagged_for_a_human(tmp_path, snippet):
    def add(nb):
        nb.cells.insert(2, code(snippet))
    flags = flags_of(tmp_path, add)[0]
    assert "suspicious-code" in flags, snippet


@pytest.mark.parametrize("answer", [
    "import numpy as np\n\ndef square(x):\n    return np.asarray(x) ** 2\n\nprint(square(3))",
    "def square(x):\n    if x is None:\n        raise ValueError(f'no input: {x}')\n    return x * x",
    "import numpy as np\nnp.save('w.npy', np.ones(3))\nw = np.load('w.npy')\n"
    "def square(x):\n    return x * x\nraise NotImplementedError('later')",
])
def test_plain_answers_are_not_suspicious(tmp_path, answer):
    def add(nb):
        nb.cells[1].source = answer
    assert flags_of(tmp_path, add)[0] == {}


def test_the_released_copy_of_a_test_cell_with_hidden_checks_is_not_an_edit(tmp_path):
    """Students receive test cells without their hidden block: that copy is the original."""
    released = nbformat.read(ROOT / "labs/01-backprop/01-backprop.ipynb", as_version=4)
    path = tmp_path / "sub.ipynb"
    nbformat.write(released, path)
    source = nbformat.read(ROOT / "solutions/01-backprop/01-backprop.ipynb", as_version=4)
    flags, _ = integrity.check_submission(source, path, lab="01-backprop")
    assert "edited-test-cell" not in {f.code for f in flags}

    cell = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")
                and not c.metadata["nbgrader"].get("solution"))
    cell.source = cell.source.replace("checks(", "checks(  # mine\n", 1)
    nbformat.write(released, path)
    flags, _ = integrity.check_submission(source, path, lab="01-backprop")
    assert "edited-test-cell" in {f.code for f in flags}


@pytest.mark.parametrize("lab", sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()))
def test_the_solutions_own_code_raises_no_flags(tmp_path, lab):
    """A student who writes the instructor's answers gets no flag: flags must mean something."""
    source = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
    path = tmp_path / "sub.ipynb"
    nbformat.write(source, path)
    flags, _ = integrity.check_submission(source, path, lab=lab)
    assert [f.message for f in flags] == []


def test_dynamic_code_is_the_builtins_not_methods():
    def reasons(code):
        return {why for pattern, why in integrity.SUSPICIOUS if re.search(pattern, code)}
    assert "dynamic code" in reasons("exec('x = 1')")
    assert "dynamic code" in reasons("f = compile(src, 'x', 'exec')")
    assert "dynamic code" not in reasons("model.compile(optimizer='adam')\nmodel.evaluate(x, y)")
