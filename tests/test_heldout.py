"""The held-out view carries decoded copies of what it cuts and of what it binds, so the
notebook's kernel, sandboxed or not, loads its data without decompressing or hashing it."""
import json
import os
import types

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.heldout import data_view
from course import data
from test_data import _register
from test_decoded import _lzma_npz

REFUSE = """
def _refuse(*args):
    raise RuntimeError(f"the kernel decompressed or hashed {args}")
"""


def _data_folder(root):
    """A data folder as the shared one: an LZMA mnist.npz (cut by the view) and a
    hymenoptera_160.npz (bound as it is), registered in its registry.json."""
    folder = root / "data"
    folder.mkdir()
    _lzma_npz(folder / "mnist.npz", n=200)
    rng = np.random.default_rng(3)
    np.savez_compressed(folder / "hymenoptera_160.npz",
                        x_train=rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8),
                        y_train=(np.arange(12) % 2).astype(np.uint8),
                        x_val=rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8),
                        y_val=(np.arange(6) % 2).astype(np.uint8))
    for name in ("mnist.npz", "hymenoptera_160.npz"):
        _register(folder, name)
    return folder


@pytest.fixture
def grader_host(tmp_path, monkeypatch):
    """The grader's side: a read-only data folder, where its decoded copies go (it cannot
    hold them) and the cache of its views."""
    monkeypatch.setenv("COURSE_DECODED", str(tmp_path / "host-decoded"))
    monkeypatch.setenv("COURSE_GRADER_CACHE", str(tmp_path / "views"))
    folder = _data_folder(tmp_path)
    os.chmod(folder, 0o555)
    yield folder
    os.chmod(folder, 0o755)


def _rows(x):
    return sorted(map(bytes, x.reshape(len(x), -1)))


def test_the_view_holds_decoded_copies_of_cut_and_bound_files(grader_host, tmp_path,
                                                              monkeypatch):
    folder = grader_host
    monkeypatch.setenv("COURSE_DATA", str(folder))
    monkeypatch.setenv("COURSE_DECODED", "off")
    want_mnist, want_bees = data.load("mnist"), data.load("hymenoptera")   # decompressed
    monkeypatch.setenv("COURSE_DECODED", str(tmp_path / "host-decoded"))
    view = data_view(folder)
    cut_sha = json.loads((view.view / "registry.json").read_text())["mnist.npz"]
    bees_sha = data.registry(folder)["hymenoptera_160.npz"]
    assert sorted(p.name for p in (view.view / "decoded").iterdir()) == sorted([cut_sha, bees_sha])
    host_copy = tmp_path / "host-decoded" / bees_sha / "x_train.npy"
    assert os.path.samefile(host_copy, view.view / "decoded" / bees_sha / "x_train.npy"), \
        "the bound file's copy is hard-linked from the host's, not copied (same file system)"

    # An unsandboxed kernel: COURSE_DATA as the judge sets it, its own empty HOME.
    monkeypatch.setenv("COURSE_DATA", view.env_dirs(sandboxed=False))
    monkeypatch.setenv("COURSE_DECODED", str(tmp_path / "kernel-home"))
    monkeypatch.setattr(data, "_npz", lambda p: pytest.fail(f"decompressed {p}"))
    monkeypatch.setattr(data, "sha256_file", lambda p: pytest.fail(f"hashed {p}"))
    (x, y), (xt, yt) = data.load("mnist")
    (bx, by), (bxv, byv) = data.load("hymenoptera")
    assert np.array_equal(x, want_mnist[0][0]) and np.array_equal(y, want_mnist[0][1])
    held_x, held_y = view.heldout("mnist")
    assert len(xt) == len(held_x) == 10
    assert _rows(np.concatenate([xt, held_x])) == _rows(want_mnist[1][0]), \
        "the notebook's half and the grader's half make up the test split"
    for got, want in zip((bx, by, bxv, byv), (*want_bees[0], *want_bees[1])):
        assert np.array_equal(got, want)
    assert not (tmp_path / "kernel-home").exists(), "the kernel wrote nothing"


PROBE = """
from course import data
data._npz = data.sha256_file = _refuse
(x, y), (xt, yt) = data.load("mnist")
(bees, _), _ = data.load("hymenoptera")
sizes = [len(x), len(xt), len(bees)]
"""
PROBE_TEST = """checks("probe-checks",
    check("loaded without decompressing", value("sizes"), expect=[200, 10, 12]),
    hidden=0,
)"""


def _cell(src, gid=None, kind="answer", points=0):
    cell = new_code_cell(src)
    if gid:
        cell.metadata["nbgrader"] = {"grade_id": gid, "grade": kind == "test",
                                     "solution": kind == "answer", "locked": kind == "test",
                                     "schema_version": 3, **({"points": points} if points else {})}
    return cell


def test_the_sandboxed_kernel_loads_the_decoded_copies(grader_host, tmp_path):
    from autograder import sandbox
    from autograder.judge import Limits, grade_notebook
    if not sandbox.probe()[0]:
        pytest.skip(f"bubblewrap unusable here: {sandbox.probe()[1]}")
    nb = new_notebook(cells=[_cell("from course.checks import checks, check, value\n" + REFUSE),
                             _cell(PROBE, "probe"),
                             _cell(PROBE_TEST, "probe-checks", "test", 1)])
    nbformat.write(nb, tmp_path / "lab.ipynb")
    limits = Limits(cell_timeout=60, query_timeout=30, notebook_timeout=120, memory_mb=2048)
    result = grade_notebook(tmp_path / "lab.ipynb", tmp_path / "lab.ipynb", tmp_path / "work",
                            lab="99-data", reference=types.ModuleType("no_reference"),
                            limits=limits, data_dir=grader_host, sandbox=True)
    assert result.sandboxed and not result.errors, result
    assert result.score == 1.0, result
    assert not (tmp_path / "work" / ".home" / ".cache").exists(), "the kernel wrote no copy"
