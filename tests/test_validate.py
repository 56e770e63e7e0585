"""The student's validator (course.validate): it runs the notebook, reads every check's verdict
as data, applies the grader's structure rules against the released lab, never says PASSED
while a written answer is empty, and on Colab validates the running notebook itself."""
from __future__ import annotations

import io
import json
import sys
import types

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from autograder.integrity import HIDDEN_BLOCK
from course import notebook_rules as rules
from course import validate as V
from test_judge import RIGHT, SETUP, TEST, WRONG, code

LAB = "99-square"


def released_lab(tmp_path):
    """labs/99-square/99-square.ipynb: the square lab as released (hidden block removed), with
    a written answer worth 2 points."""
    explain = new_markdown_cell("YOUR ANSWER HERE")
    explain.metadata["nbgrader"] = {"grade_id": "square-explain", "grade": True, "solution": True,
                                    "locked": False, "points": 2, "schema_version": 3}
    stub = "def square(x):\n    raise NotImplementedError()"
    nb = new_notebook(cells=[code(SETUP), code(stub, "square", "answer"),
                             code(HIDDEN_BLOCK.sub("", TEST), "square-checks", "test", 3),
                             explain])
    path = tmp_path / "labs" / LAB / f"{LAB}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return nb


def filled(lab_nb, answer: str, written: str | None = None):
    nb = nbformat.from_dict(json.loads(json.dumps(lab_nb)))
    nb.cells[1].source = answer
    if written is not None:
        nb.cells[3].source = written
    return nb


@pytest.fixture
def colab(monkeypatch):
    """google.colab._message as Colab has it, serving the notebook put in `served`."""
    served, requests = {}, []

    def blocking_request(kind, request="", timeout_sec=None):
        requests.append(kind)
        return {"ipynb": json.loads(json.dumps(served["nb"]))}

    message = types.ModuleType("google.colab._message")
    message.blocking_request = blocking_request
    colab_pkg = types.ModuleType("google.colab")
    colab_pkg._message = message
    google = types.ModuleType("google")
    google.colab = colab_pkg
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab_pkg)
    monkeypatch.setitem(sys.modules, "google.colab._message", message)
    monkeypatch.setenv("COURSE_SCALE", "tiny")
    return served, requests


def test_this_notebook_validates_the_running_notebook(tmp_path, colab, capsys, monkeypatch):
    served, requests = colab
    monkeypatch.chdir(tmp_path)
    served["nb"] = filled(released_lab(tmp_path), RIGHT, "Because x * x is the square.")
    report = V.this_notebook(lab=LAB, labs_dir=tmp_path / "labs")
    out = capsys.readouterr().out
    assert requests == ["get_ipynb"]
    assert report.ok, out
    assert [o.line() for o in report.cells[0].outcomes] == ["PASS  square of 3",
                                                            "PASS  keeps the shape"]
    assert report.cells[0].hidden == 1 and report.released is not None
    assert "PASSED: every visible check passes. 1 hidden checks run" in out
    assert "cell 3 of 3" in out and "scale tiny" in out


def test_not_ready_while_a_check_fails_or_a_written_answer_is_empty(tmp_path, colab, capsys,
                                                                   monkeypatch):
    served, _ = colab
    monkeypatch.chdir(tmp_path)
    lab_nb = released_lab(tmp_path)
    served["nb"] = filled(lab_nb, RIGHT)          # the written answer left as released
    report = V.this_notebook(lab=LAB, labs_dir=tmp_path / "labs")
    out = capsys.readouterr().out
    assert not report.ok and report.empty_answers == ["square-explain"]
    assert "1 written answer is still empty: square-explain" in out and "PASSED" not in out

    broken = filled(lab_nb, WRONG, "It squares.")
    broken.cells[2].source += "\n# my edit"           # an edited test cell runs as released
    served["nb"] = broken
    report = V.this_notebook(lab=LAB, labs_dir=tmp_path / "labs")
    out = capsys.readouterr().out
    assert [f.code for f in report.flags] == ["edited-test-cell"]
    assert "undo your changes there" in out
    assert report.cells[0].outcomes[0].passed is False and "FAIL  square of 3" in out
    assert "NOT READY" in out


def test_the_grader_and_the_validator_flag_by_the_same_rules(tmp_path):
    """A deleted test cell is flagged against the released lab as against the source."""
    lab_nb = released_lab(tmp_path)
    nb = filled(lab_nb, RIGHT)
    del nb.cells[2]
    flags = rules.structure_flags(lab_nb, nb)
    assert [(f.code, f.cell) for f in flags] == [("deleted-test-cell", "square-checks")]
    report = V.ValidateReport(tmp_path / "x.ipynb", LAB, tmp_path, flags, [], [], [], True, "tiny")
    assert "copy it back from the released lab" in V.render(report) and not report.ok


def test_verdicts_are_read_from_the_displayed_data_not_from_text():
    cell = nbformat.v4.new_code_cell("checks(...)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="PASS  printed by the student\n"),
        nbformat.v4.new_output("display_data", data={
            "text/plain": "FAIL  a: no\n[c] 0 of 1 checks passed",
            "application/vnd.course.checks+json": {"cell_id": "c", "hidden": 2, "outcomes": [
                {"label": "a", "passed": False, "detail": "no", "weight": 1.0}]}})]
    outcomes, error, hidden = V.verdicts(cell)
    assert [o.line() for o in outcomes] == ["FAIL  a: no"] and hidden == 2 and error == ""


def test_progress_says_which_cell_how_long_and_the_scale():
    out = io.StringIO()
    progress = V.Progress(out, every=10)
    for i, t in [(1, 0.0), (2, 3.0), (3, 12.5), (4, 13.0)]:
        progress(i, 4, t, "cpu")
    assert out.getvalue().splitlines() == ["  cell 1 of 4, 0:00 elapsed, scale cpu",
                                           "  cell 3 of 4, 0:12 elapsed, scale cpu",
                                           "  cell 4 of 4, 0:13 elapsed, scale cpu"]


def test_an_invalid_file_is_reported_without_running(tmp_path):
    bad = tmp_path / f"{LAB}.ipynb"
    bad.write_text("{not json")
    report = V.validate(bad, scale="tiny")
    assert not report.ok and not report.executed and "not a valid notebook" in V.render(report)
