"""Feedback under each reveal policy (autograder/reveal.py), on recorded results of fake
students (no kernel): what each policy shows of hidden checks, the deadline rule, who sets the
policy (never a submission), and a hostile check message escaped."""
from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
import subprocess
import sys

import pytest
from markupsafe import escape

from autograder import cli
from autograder.feedback import generate_feedback
from autograder.gradebook import record
from autograder.results import CellResult, CheckLine, NotebookResult
from autograder.untrusted import WITHHELD
from classbook import LAB, ONE_HOT, SOFTMAX, graded_class, submit

HOSTILE = "raised ValueError: <script>alert('pwned')</script><img src=x onerror=alert(1)>"
ASKED = "call('one_hot', randint(0, 3, 4, seed=9), 3)"
WANTED = "[[0., 1., 0.], [1., 0., 0.], ...], within relative error 1e-06"
MISSED = "expected [0., 1., 0., 1.], received [1., 0., 0., 1.] (relative error 1.0e+00)"
SOFTMAX_ASKED = "call('softmax', randn(2, 5, seed=3, scale=50))"
# a visible check asked after a hidden one: its detail withheld until the deadline
WITHHELD_DETAIL = "expected [1., 1.], received [0.5, 2.] (relative error 6.0e-01)"
DAY = datetime.timedelta(days=1)
NOW = datetime.datetime(2026, 12, 1, 12, 0)


def _result() -> NotebookResult:
    """One-hot: a visible pass, a hidden failure; softmax: a visible failure withheld (asked
    after a hidden query) and a hidden failure carrying a hostile message."""
    one_hot = CellResult(ONE_HOT, 3.0, 1.5, (
        CheckLine("shape of one_hot(y, 3)", True, "", False, 1.0, ""),
        CheckLine("new labels", False, MISSED, True, 1.0, "", ASKED, WANTED)))
    softmax = CellResult(SOFTMAX, 3.0, 0.0, (
        CheckLine("rows sum to one", False, WITHHELD_DETAIL, False, 1.0, WITHHELD),
        CheckLine("large scores", False, HOSTILE, True, 1.0, "", SOFTMAX_ASKED, "shape (2, 5)")))
    return NotebookResult(LAB, (one_hot, softmax), (), ("cell 7 raised NameError",), True, 9.0,
                          ("cell 7 raised NameError",))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A course with alice's graded submission (module-wide: tests copy it before changing)."""
    return graded_class(tmp_path_factory.mktemp("reveal") / "course", {"alice": _result()})


@pytest.fixture
def course(graded, tmp_path):
    """A fresh copy of the graded course, its gradebook included."""
    root = tmp_path / "course"
    shutil.copytree(graded.root, root)
    return dataclasses.replace(graded, root=root)


def _set_duedate(course, when: datetime.datetime | None, extension: datetime.timedelta = None):
    from nbgrader.api import Gradebook
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_assignment(LAB, duedate=when)
        if extension:
            gb.grant_extension(LAB, "alice", days=extension.days)


def _page(course, **kw) -> str:
    made = generate_feedback(course, LAB, now=kw.pop("now", NOW), **kw)
    assert [f.student for f in made] == ["alice"]
    return made[0].path.read_text(encoding="utf-8")


def _hidden_content_absent(page: str) -> None:
    for secret in (ASKED, WANTED, MISSED, SOFTMAX_ASKED, "randint(", "alert", WITHHELD_DETAIL):
        assert secret not in page and str(escape(secret)) not in page, secret


# ------------------------------------------------------------------------ one test per policy

def test_points_shows_each_cells_score_and_no_check_at_all(course):
    page = _page(course, reveal_policy="points")
    assert "1.5 / 6 points" in page
    assert "1.5 / 3</h2>" in page and "0 / 3</h2>" in page
    for text in ("PASS", "FAIL", "shape of one_hot", "new labels", "hidden check",
                 "raised NameError", "No checks ran"):
        assert text not in page, text
    _hidden_content_absent(page)


def test_messages_by_default_shows_every_line_and_hidden_checks_by_label_only(course):
    page = _page(course)
    assert "PASS  shape of one_hot(y, 3)" in page
    assert f"FAIL  rows sum to one: {escape(WITHHELD)}" in page
    assert "FAIL  new labels (hidden check)</li>" in page
    assert "FAIL  large scores (hidden check)</li>" in page
    assert "cell 7 raised NameError" in page
    _hidden_content_absent(page)


def test_full_after_the_deadline_shows_hidden_checks_asked_and_expected_escaped(course):
    _set_duedate(course, NOW - DAY)
    page = _page(course, reveal_policy="full")
    assert f"FAIL  new labels (hidden check): {escape(MISSED)}" in page
    assert f"asked <code>{escape(ASKED)}</code>; expected {escape(WANTED)}" in page
    assert f"asked <code>{escape(SOFTMAX_ASKED)}</code>; expected shape (2, 5)" in page
    # the student's own exception text, in a hidden check's line: shown, never as markup
    assert "<script>" not in page and "<img" not in page
    assert str(escape(HOSTILE)) in page
    assert "the deadline has passed" in page
    assert f"FAIL  rows sum to one: {escape(WITHHELD_DETAIL)}" in page   # nothing to withhold
    # the page is all that is written for the student: no JSON or other file beside it
    assert [p.relative_to(course.feedback).as_posix() for p in course.feedback.rglob("*")
            if p.is_file()] == [f"alice/{LAB}/{LAB}.html"]


# ------------------------------------------------------------------------ the deadline

def test_before_the_deadline_full_shows_messages_and_so_does_a_resubmission(course):
    _set_duedate(course, NOW + DAY)
    _hidden_content_absent(_page(course, reveal_policy="full"))
    stamp = submit(course, "alice")  # a resubmission, graded and its feedback rewritten
    record(course, "alice", LAB, stamp, _result(), course.submission("alice", LAB))
    page = _page(course, reveal_policy="full", now=NOW + DAY / 2)
    assert "FAIL  new labels (hidden check)</li>" in page
    _hidden_content_absent(page)
    assert str(escape(ASKED)) in _page(course, reveal_policy="full", now=NOW + DAY)  # the deadline itself


def test_an_extension_moves_the_deadline_for_everyone(course):
    _set_duedate(course, NOW - DAY, extension=2 * DAY)   # alice's ends tomorrow
    _hidden_content_absent(_page(course, reveal_policy="full"))
    assert str(escape(ASKED)) in _page(course, reveal_policy="full", now=NOW + DAY)


def test_full_with_no_deadline_known_is_refused_and_writes_nothing(course, capsys):
    assert cli.main(["feedback", "--lab", LAB, "--reveal", "full",
                     "--course", str(course.root)]) == 2
    out = capsys.readouterr().out
    assert "no deadline is known" in out and "--deadline" in out and "--duedate" in out
    assert not course.feedback.exists()


def test_the_command_line_deadline_and_nbgraders_own_duedate(course, capsys):
    assert cli.main(["feedback", "--lab", LAB, "--reveal", "full", "--deadline",
                     "2020-01-01 00:00 UTC", "--course", str(course.root)]) == 0
    assert "feedback shows full (full asked by --reveal; deadline 2020-01-01 00:00 UTC from " \
           "--deadline, passed)" in capsys.readouterr().out
    page = course.feedback / "alice" / LAB / f"{LAB}.html"
    assert str(escape(ASKED)) in page.read_text(encoding="utf-8")
    # the documented way to record a deadline: stock nbgrader on our gradebook
    subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "add", LAB,
                    "--duedate=2099-01-01 00:00:00 UTC", f"--db={course.db_url}"],
                   check=True, capture_output=True, cwd=course.root)
    assert cli.main(["feedback", "--lab", LAB, "--reveal", "full",
                     "--course", str(course.root)]) == 0
    assert "feedback shows messages (full asked by --reveal; deadline 2099-01-01 00:00 UTC " \
           "from the gradebook, not passed yet)" in capsys.readouterr().out
    _hidden_content_absent(page.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------ who sets the policy

def _with_lab_policy(course, tmp_path, policy):
    """The course with a copy of the repository whose lab source sets course.reveal."""
    repo = tmp_path / "repo"
    source = repo / "solutions" / LAB / f"{LAB}.ipynb"
    source.parent.mkdir(parents=True)
    nb = json.loads(course.source_notebook(LAB).read_text(encoding="utf-8"))
    nb["metadata"]["course"] = {"reveal": policy}
    source.write_text(json.dumps(nb), encoding="utf-8")
    return dataclasses.replace(course, repo=repo)


def test_the_labs_metadata_sets_the_policy_and_the_command_line_wins(course, tmp_path):
    lab_points = _with_lab_policy(course, tmp_path, "points")
    assert "PASS" not in _page(lab_points)
    assert "PASS  shape of one_hot(y, 3)" in _page(lab_points, reveal_policy="messages")


def test_a_submissions_own_metadata_asking_for_full_gets_the_labs_policy(course):
    _set_duedate(course, NOW - DAY)   # full would be allowed, were it asked by the lab
    nb = json.loads(course.source_notebook(LAB).read_text(encoding="utf-8"))
    nb["metadata"]["course"] = {"reveal": "full"}
    stamp = submit(course, "alice", notebook=json.dumps(nb))
    record(course, "alice", LAB, stamp, _result(), course.submission("alice", LAB))
    graded_copy = course.autograded / "alice" / LAB / f"{LAB}.ipynb"
    assert json.loads(graded_copy.read_text())["metadata"]["course"] == {"reveal": "full"}
    page = _page(course)
    assert "FAIL  new labels (hidden check)</li>" in page
    _hidden_content_absent(page)


def test_an_unknown_policy_in_the_labs_metadata_is_refused(course, tmp_path, capsys):
    lab = _with_lab_policy(course, tmp_path, "everything")
    from autograder.reveal import RevealError
    with pytest.raises(RevealError, match="course.reveal must be one of points, messages, full"):
        _page(lab)


# ------------------------------------------------------------------------ hidden checks in words

@pytest.mark.parametrize("query", [
    "call('softmax', randn(2, 5, seed=3, scale=50))",
    "call('one_hot', randint(0, 7, 25, seed=11), 7)",
    "call('f', uniform(3, 1, low=-2, high=2, seed=4), [[1.0, 2.0]], (2, 3), k=randn(4, seed=1))",
    "run('m = Linear(W); y = m.forward(x)', outputs={'y': 'y', 'dW': 'm.dW'}, W=randn(3, 2, seed=1), x=randn(5, 3, seed=2))",
    "value('n_test')",
    "trained_model('model', 'mnist', limit=1000, classes=(0, 1))",
])
def test_a_hidden_checks_query_in_words_is_the_lab_authors_own_call(query):
    """What `full` feedback shows a student as "asked" is the course.checks call that makes
    the same query again (the student can run it on the same seeded inputs)."""
    from course import checks as C
    from autograder.reveal import asked

    scope = {name: getattr(C, name) for name in C.__all__}
    chk = C.check("x", eval(query, scope), shape=(1,))
    assert asked(chk) == query
    assert eval(asked(chk), scope) == chk.query
