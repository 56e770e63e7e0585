"""The command line: one module per command, each --help with an example; exit codes."""
import subprocess
import sys

import pytest

from autograder import cli
from autograder.config import REPO


def test_top_level_help_runs():
    out = subprocess.run([sys.executable, "-m", "autograder", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for name in cli.COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_each_command_has_help_with_an_example(name):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[name]
    text = sub.format_help()
    assert "Example" in text and f"python -m autograder {name}" in text


def test_collect_command_refuses_and_goes_on(tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "x_00-orientation.ipynb").write_text("{}")
    (inbox / "y.exe").write_bytes(b"MZ")
    rc = cli.main(["collect", str(inbox), "--course", str(tmp_path / "c"), "--lab",
                   "00-orientation"])
    out = capsys.readouterr().out
    assert rc == 0 and "refused   y.exe" in out and "1 notebooks collected" in out


def test_grade_with_nothing_to_do(tmp_path, capsys):
    rc = cli.main(["grade", "--course", str(tmp_path), "--quiet", "--workers", "0"])
    assert rc == 0 and "graded 0 submissions" in capsys.readouterr().out


def test_validate_reports_an_invalid_notebook(tmp_path, capsys):
    bad = tmp_path / "00-orientation.ipynb"
    bad.write_text("{not json")
    rc = cli.main(["validate", str(bad)])
    assert rc == 1 and "not a valid notebook" in capsys.readouterr().out


@pytest.mark.slow
def test_validate_passes_a_correct_notebook_and_lists_problems(tmp_path):
    """The student's validator, as a student runs it (no nbgrader, no solutions needed): it
    says where it is while it runs, talks to its kernel without TCP, and reports."""
    import json
    import os

    from autograder import samples
    from autograder.config import Course
    from course.validate import render, validate

    lab = "00-orientation"
    course = Course(tmp_path, REPO)
    if not course.release_notebook(lab).is_file():
        pytest.skip("lab 00 not released")
    by_kind = {s.kind: s for s in samples.load(lab)}
    good = tmp_path / f"{lab}.ipynb"
    good.write_bytes(samples.build(course, by_kind["correct"]))
    done = subprocess.run([sys.executable, "-m", "course.validate", str(good), "--labs-dir",
                           str(REPO / "labs")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, COURSE_SCALE="tiny"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED: every visible check passes. 4 hidden checks run" in done.stdout
    assert "cell 1 of" in done.stdout and "scale tiny" in done.stdout
    assert "without encryption" not in done.stderr, done.stderr

    blank = json.loads(samples.build(course, by_kind["blank"]))
    test_cell = next(c for c in blank["cells"]
                     if c["metadata"].get("nbgrader", {}).get("grade") is True)
    blank["cells"].remove(test_cell)
    bad = tmp_path / "mine.ipynb"
    bad.write_text(json.dumps(blank))
    report = validate(bad, lab=lab, labs_dir=REPO / "labs", timeout=300, scale="tiny")
    text = render(report)
    assert not report.ok and "NOT READY" in text
    assert [f.code for f in report.flags] == ["deleted-test-cell"]
    assert any(o.passed is False for c in report.cells for o in c.outcomes)
