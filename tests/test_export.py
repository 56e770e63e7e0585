"""Exports read back: grades.csv (one row per student and lab), and the Canvas and Moodle
files (one row per student, one column per lab, an empty cell where a lab was not graded)."""
from __future__ import annotations

import csv
import json

import pytest

from autograder.config import REPO
from autograder.export import export
from autograder.gradebook import ensure_lab, record
from autograder.results import CellResult, NotebookResult
from classbook import LAB, ONE_HOT, SOFTMAX, cell, graded_class, submit

LAB2 = "01-backprop"


def _points(lab: str) -> float:
    """Points of the lab's graded cells, read from its source notebook (nbgrader metadata)."""
    nb = json.loads((REPO / "solutions" / lab / f"{lab}.ipynb").read_text())
    return sum(float(c["metadata"]["nbgrader"].get("points", 0)) for c in nb["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("grade"))


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    passed, failed = ("ok", True, "", False), ("ok", False, "no", False)
    course = graded_class(tmp_path_factory.mktemp("export") / "course", {
        "alice": NotebookResult(LAB, (cell(ONE_HOT, [passed]), cell(SOFTMAX, [passed])),
                                (), (), True, 1.0),
        "bob": NotebookResult(LAB, (cell(ONE_HOT, [passed, failed]), cell(SOFTMAX, [failed])),
                              (), (), True, 1.0)})
    ensure_lab(course, LAB2)
    stamp = submit(course, "alice", LAB2)
    record(course, "alice", LAB2, stamp, NotebookResult(LAB2, (), (), (), True, 1.0),
           course.submission("alice", LAB2))
    return course


def test_grades_csv_keeps_one_row_per_student_and_lab(course):
    rows = _read(export(course))
    assert rows[0] == ["student", "lab", "score", "max_score", "timestamp", "flags"]
    assert [(r[0], r[1], r[2], r[3]) for r in rows[1:]] == [
        ("alice", LAB, "6", f"{_points(LAB):g}"), ("alice", LAB2, "0", f"{_points(LAB2):g}"),
        ("bob", LAB, "1.5", f"{_points(LAB):g}")]


def test_canvas_file_has_its_header_rows_and_a_column_per_lab(course):
    path = export(course, fmt="canvas")
    assert path == course.root / "grades-canvas.csv"
    rows = _read(path)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", LAB, LAB2]
    assert rows[1][0].strip() == "Points Possible"
    assert rows[1][5:] == [f"{_points(LAB):g}", f"{_points(LAB2):g}"]
    assert rows[2:] == [["alice", "", "", "alice", "", "6", "0"],
                        ["bob", "", "", "bob", "", "1.5", ""]]  # bob: lab 01 not graded


def test_moodle_file_has_a_user_column_and_a_column_per_lab(course, tmp_path):
    rows = _read(export(course, tmp_path / "m.csv", fmt="moodle"))
    assert rows == [["Username", LAB, LAB2], ["alice", "6", "0"], ["bob", "1.5", ""]]


def test_an_unknown_format_is_refused(course):
    with pytest.raises(ValueError, match="format must be one of"):
        export(course, fmt="blackboard")


def test_stock_nbgrader_export_reads_our_gradebook_with_our_totals(course, tmp_path):
    """`nbgrader export` (nbgrader's own CSV plugin) on our gradebook gives our scores."""
    import subprocess
    import sys

    out = tmp_path / "stock.csv"
    run = subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--to={out}",
                          f"--CourseDirectory.root={course.root}",
                          f"--CourseDirectory.db_url={course.db_url}"],
                         cwd=course.root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(out, newline="", encoding="utf-8") as fh:
        stock = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}
    ours = {(r[0], r[1]): r for r in _read(export(course))[1:]}
    for key, row in ours.items():
        assert float(stock[key]["score"]) == float(row[2]), key
        assert float(stock[key]["max_score"]) == float(row[3]), key
    # a lab a student never submitted: stock nbgrader writes 0, we leave it out
    assert float(stock[("bob", LAB2)]["score"]) == 0.0 and ("bob", LAB2) not in ours


def test_a_manual_cell_waits_for_formgrader_and_its_grade_reaches_our_exports(tmp_path):
    """The reflection answer is left to formgrader (needs a manual grade, no auto score);
    formgrader stores the grade as Grade.manual_score, and our exports include it."""
    from nbgrader.api import Gradebook

    manual = CellResult("backprop-conv-boundary", 2.0, 0.0, (), "graded by the instructor", True)
    course = graded_class(tmp_path / "course",
                          {"alice": NotebookResult(LAB2, (manual,), (), (), True, 1.0)}, lab=LAB2)
    with Gradebook(course.db_url) as gb:
        grade = gb.find_grade("backprop-conv-boundary", LAB2, LAB2, "alice")
        assert grade.needs_manual_grade and grade.auto_score is None
        assert gb.find_submission(LAB2, "alice").needs_manual_grade
        grade.manual_score = 1.5
        gb.db.commit()
    assert _read(export(course))[1][:4] == ["alice", LAB2, "1.5", f"{_points(LAB2):g}"]
    assert _read(export(course, fmt="moodle")) == [["Username", LAB2], ["alice", "1.5"]]
