"""labs/ is exactly what `release` makes from solutions/; nothing of the answers or hidden
tests leaks into it; `hidden=N` counts the hidden checks; every lab ships its samples."""
import json
import re

import pytest

from autograder.config import REPO, Course
from autograder.samples import KINDS, load, manifest

COURSE = Course(REPO / ".course-work" / "test-release", REPO)
LABS = COURSE.labs()
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "BEGIN HIDDEN TESTS",
                    "END HIDDEN TESTS", "BEGIN MARK SCHEME")


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _text(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.mark.skipif(not LABS, reason="no labs in solutions/ yet")
def test_committed_labs_equal_a_fresh_release():
    from autograder.config import prepare_environment
    from autograder.release import release

    prepare_environment()
    stale = {r.lab: r.changed for r in release(COURSE, check=True) if r.changed}
    assert not stale, f"labs/ differs from `python -m autograder release`: {stale}"


@pytest.mark.parametrize("lab", LABS)
def test_released_lab_has_no_answers_or_hidden_tests(lab):
    released = COURSE.release_notebook(lab)
    assert released.is_file(), f"{released} missing: run python -m autograder release"
    text = released.read_text(encoding="utf-8")
    for marker in SOLUTION_MARKERS:
        assert marker not in text, f"{released} contains {marker!r}"


@pytest.mark.parametrize("lab", LABS)
def test_hidden_count_matches_the_hidden_block(lab):
    from course.checks import declared

    released = {_meta(c).get("grade_id"): c for c in _cells(COURSE.release_notebook(lab))}
    tested = 0
    for cell in _cells(COURSE.source_notebook(lab)):
        if not (_meta(cell).get("grade") and cell["cell_type"] == "code"):
            continue
        source = _text(cell)
        if "checks(" not in source:
            continue
        suite = declared(source)
        visible = declared(_text(released[_meta(cell)["grade_id"]]))
        n_hidden = len(suite.checks) - len(visible.checks)
        block = re.search(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", source, re.S)
        assert suite.hidden == n_hidden, (
            f"{lab}/{suite.cell_id}: hidden={suite.hidden} but the hidden block has "
            f"{n_hidden} checks")
        assert (block is not None) == (n_hidden > 0)
        assert visible.hidden == suite.hidden
        tested += 1
    assert tested, f"{lab}: no test cell declares checks"


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_has_samples_of_every_kind(lab):
    assert manifest(lab).is_file(), f"lab {lab} has no {manifest(lab)}"
    kinds = {s.kind for s in load(lab)}
    missing = [k for k in KINDS if k not in kinds]
    assert not missing, f"{manifest(lab)} lacks samples of kind {missing}"
