"""The class report: built from recorded results of fake students (no kernel), every section
on the page with the numbers counted by hand, and student text escaped."""
from __future__ import annotations

import re

from markupsafe import escape

from autograder import cli
from autograder.report import class_report
from autograder.results import CellTime, NotebookResult
from classbook import LAB, ONE_HOT, SOFTMAX, cell, graded_class, submit
from course.notebook_rules import Flag

SHAPE_FAIL = "expected shape (3, 4), got (3, 1, 4)"
HOSTILE = "<script>alert('x')</script> & more"


def _ran(*cells: tuple[str, float, str]) -> tuple[CellTime, ...]:
    """Code cells run (name, seconds, status), each with a 60 s limit."""
    return tuple(CellTime(name, seconds, status, 60.0) for name, seconds, status in cells)


def _class(tmp_path):
    ok_one_hot = [("shape", True, "", False), ("values", True, "", False),
                  ("new labels", True, "", True)]
    ok_softmax = [("sums to one", True, "", False), ("large scores", True, "", True)]
    results = {
        # graded before cells were timed: no cell_times
        "alice": NotebookResult(LAB, (cell(ONE_HOT, ok_one_hot), cell(SOFTMAX, ok_softmax)),
                                (), (), True, 10.0),
        "bob": NotebookResult(LAB, (
            cell(ONE_HOT, [("shape", False, SHAPE_FAIL, False), ("values", True, "", False),
                           ("new labels", False, "expected [[0, 1]], got [[1, 0]]", True)],
                 seconds=1.5),
            cell(SOFTMAX, [("sums to one", True, "", False),
                           ("large scores", False, "got nan", True)], seconds=0.5)),
            (), (), False, 20.0,
            cell_times=_ran(("setup-imports", 4.0, "ok"), ("orientation-one-hot", 0.3, "ok"),
                            ("added cell", 1.0, "ok"), ("added cell", 2.0, "error"),
                            ("orientation-softmax", 0.4, "ok"))),
        "carol": NotebookResult(LAB, (
            cell(ONE_HOT, [("shape", False, SHAPE_FAIL, False), ("values", False, HOSTILE, False),
                           ("new labels", False, "expected [[0, 1]], got [[1, 0]]", True)],
                 seconds=2.5),
            cell(SOFTMAX, [], note="not graded")),
            (Flag("forbidden-import", "imports course.answers <b>", "orientation-one-hot"),),
            ("orientation-softmax ran past its time limit (60 s)",
             "the notebook ran past its 600 s limit; later cells were not run"), True, 600.0,
            cell_times=_ran(("setup-imports", 6.0, "ok"), ("orientation-one-hot", 0.5, "ok"),
                            ("orientation-softmax", 60.0, "timeout"))),
    }
    course = graded_class(tmp_path / "course", results)
    submit(course, "dave")  # collected, never graded
    return course


def test_the_tables_count_what_was_recorded(tmp_path):
    report = class_report(_class(tmp_path), LAB)
    assert sorted(report.submissions.student) == ["alice", "bob", "carol"]
    # alice 3 + 3, bob 1/3 * 3 + 1/2 * 3, carol 0 + not judged
    assert dict(zip(report.submissions.student, report.submissions.score)) == \
        {"alice": 6.0, "bob": 2.5, "carol": 0.0}
    checks = report.checks.set_index(["cell", "check"])
    shape = checks.loc[(ONE_HOT, "shape")]
    assert (shape.failed, shape.students, shape.message, shape.message_count) == \
        (2, 3, SHAPE_FAIL, 2)
    assert checks.loc[(SOFTMAX, "large scores")].students == 2  # carol's cell was not judged
    assert checks.loc[(SOFTMAX, "large scores")].share_failed == 0.5
    assert report.checks.iloc[0].share_failed == 2 / 3  # most failed first
    cells = report.cells.set_index("cell")
    assert cells.loc[SOFTMAX].not_judged == 1 and cells.loc[ONE_HOT].full_marks == 1
    assert report.ungraded == ["dave"]
    # per cell over bob and carol (alice's result has no cell times), slowest median first;
    # bob's two added cells add up to one submission's 3.0 s
    times = report.times[["cell", "kind", "submissions", "median_s", "max_s", "timeout"]]
    assert times.values.tolist() == [
        ["orientation-softmax", "run", 2, 30.2, 60.0, 1],
        ["setup-imports", "run", 2, 5.0, 6.0, 0],
        ["added cell", "run", 1, 3.0, 3.0, 0],
        [ONE_HOT, "checks", 2, 2.0, 2.5, 0],
        [SOFTMAX, "checks", 1, 0.5, 0.5, 0],
        ["orientation-one-hot", "run", 2, 0.4, 0.5, 0]]
    assert report.untimed == 1
    assert set(report.unfinished.student) == {"carol"}
    assert list(report.flags.code) == ["forbidden-import"]


def test_the_page_has_every_section_with_the_numbers_and_escapes_student_text(tmp_path, capsys):
    course = _class(tmp_path)
    assert cli.main(["report", "--lab", LAB, "--course", str(course.root)]) == 0
    out = capsys.readouterr().out
    assert " 67% fail orientation-one-hot-checks: new labels (hidden)" in out
    assert "1 did not run to the end, 1 integrity flags, 1 collected but not graded" in out
    page = (course.root / "reports" / f"{LAB}.html").read_text(encoding="utf-8")
    for section in ("scores", "checks", "cells", "time", "integrity", "unfinished"):
        assert f"id='{section}'" in page, section
    assert page.count("src='data:image/png;base64,") == 4  # scores, checks, time, cell times
    row = re.search(r"<tr><td><code>orientation-one-hot-checks</code></td><td>shape</td>.*?</tr>",
                    page).group(0)
    assert "2 of 3" in row and "67%" in row and escape(SHAPE_FAIL) in row and "(2×)" in row
    assert "Graded without the sandbox: 1." in page  # bob's; carol's ran sandboxed
    assert "<script>" not in page and escape(HOSTILE) in page
    assert "imports course.answers &lt;b&gt;" in page
    unfinished = page.split("id='unfinished'")[1]
    assert "carol" in unfinished and "alice" not in unfinished and "dave" in unfinished
    assert "ran past its 600 s limit" in unfinished
    # softmax: 3 points, mean (3 + 1.5 + 0) / 3, alice's full marks, carol's never judged
    softmax_row = re.search(r"<tr><td><code>orientation-softmax-checks</code>.*?</tr>",
                            page.split("id='cells'")[1]).group(0)
    assert re.findall(r"class='n'>([^<]*)<", softmax_row) == ["3", "1.50", "1", "1"]
    time = page.split("id='time'")[1].split("id='integrity'")[0]
    assert "median 20.0 s, longest 600.0 s" in time
    softmax_run = re.search(r"<tr class='warn'><td><code>orientation-softmax</code></td>.*?</tr>",
                            time).group(0)   # the per-cell row: median, longest, limit, events
    assert re.findall(r"class='n'>([^<]*)<", softmax_run) == ["2", "30.20", "60.00", "60", "1",
                                                              "0", "0"]
    assert "1 of the graded submissions were recorded before cells were timed" in time


def test_a_graded_notebooks_cell_times_reach_the_report_page(tmp_path):
    """Lab 00's solution graded in process (a real kernel): each code cell's seconds are in
    the result and, through the gradebook's results.json, in the page's per-cell table."""
    from autograder.config import REPO, Course
    from autograder.judge import grade_notebook
    from autograder.report import render

    source = Course(tmp_path, REPO).source_notebook(LAB)
    result = grade_notebook(source, source, tmp_path / "work", lab=LAB)
    assert result.score == result.max_score == 6.0
    times = {t.cell: t for t in result.cell_times}
    assert {"setup-imports", "orientation-one-hot", "orientation-softmax"} <= set(times)
    assert all(t.status == "ok" and t.limit > 0 for t in times.values())
    assert times["setup-imports"].seconds > 0.1           # it imports numpy and Keras
    assert all(c.seconds > 0 for c in result.cells)     # each test cell's checks were asked
    report = class_report(graded_class(tmp_path / "course", {"alice": result}), LAB)
    row = report.times.set_index(["cell", "kind"]).loc[("setup-imports", "run")]
    assert (row.submissions, row.median_s, row.max_s) == \
        (1, times["setup-imports"].seconds, times["setup-imports"].seconds)
    table = render(report).split("id='cell-times'")[1].split("id='integrity'")[0]
    imports = re.search(r"<tr><td><code>setup-imports</code></td>.*?</tr>", table).group(0)
    assert f"<td class='n'>{times['setup-imports'].seconds:.2f}</td>" in imports
