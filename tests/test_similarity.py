"""Similarity of answer cells: a renamed, reformatted, recommented copy is found; independent
correct answers of the same short function are not; blank answers are not compared."""
from __future__ import annotations

import pytest
from markupsafe import escape

from autograder import cli, samples
from autograder.config import REPO, Course
from autograder.similarity import THRESHOLD, compare_class, normalized

LAB = "00-orientation"
SOFTMAX, ONE_HOT = "orientation-softmax", "orientation-one-hot"

ORIGINAL = {
    SOFTMAX: '''def softmax(z):
    """Softmax over the last axis, stable for large scores."""
    z = ops.convert_to_tensor(z)
    e = ops.exp(z - ops.max(z, axis=-1, keepdims=True))
    return e / ops.sum(e, axis=-1, keepdims=True)
''',
    ONE_HOT: '''def one_hot(y, num_classes):
    y = np.asarray(y).reshape(-1)
    out = np.zeros((len(y), num_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out
'''}
COPY = {  # ORIGINAL with every name changed, other comments, docstring and layout
    SOFTMAX: '''def softmax(scores):
    # my own work: shift by the max so exp cannot overflow
    scores=ops.convert_to_tensor( scores )
    expd = ops.exp(scores-ops.max(scores,axis=-1,keepdims=True))
    return (expd /
            ops.sum(expd, axis=-1, keepdims=True))  # normalise
''',
    ONE_HOT: '''def one_hot(labels, n):
    """Labels to one-hot rows."""
    labels = np.asarray(labels).reshape(-1)
    result = np.zeros((len(labels), n),
                      dtype=np.float32)
    result[np.arange(len(labels)), labels] = 1.0   # set the ones
    return result
'''}
INDEPENDENT = [
    {SOFTMAX: '''def softmax(z):
    shifted = z - ops.max(z, axis=-1, keepdims=True)
    num = ops.exp(shifted)
    den = ops.sum(num, axis=-1, keepdims=True)
    return num / den
''', ONE_HOT: '''def one_hot(y, num_classes):
    flat = np.ravel(y)
    rows = []
    for label in flat:
        row = np.zeros(num_classes, dtype=np.float32)
        row[label] = 1
        rows.append(row)
    return np.stack(rows)
'''},
    {SOFTMAX: '''def softmax(z):
    z = ops.convert_to_tensor(z, dtype="float32")
    z = z - ops.max(z, axis=-1, keepdims=True)
    return ops.exp(z) / ops.sum(ops.exp(z), axis=-1, keepdims=True)
''', ONE_HOT: '''def one_hot(y, num_classes):
    y = np.asarray(y).ravel()
    return (y[:, None] == np.arange(num_classes)[None, :]).astype(np.float32)
'''}]


def test_normalization_removes_names_comments_docstrings_and_layout():
    for gid in ORIGINAL:
        assert normalized(ORIGINAL[gid]) == normalized(COPY[gid])
    assert normalized(ORIGINAL[SOFTMAX]) != normalized(INDEPENDENT[1][SOFTMAX])
    # names the cell only reads (the API) stay
    assert "ops.max" in normalized(ORIGINAL[SOFTMAX]) and "softmax" not in \
        normalized(ORIGINAL[SOFTMAX])


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Graded notebooks as grading leaves them: alice, her copy (bob), two students who
    solved it on their own (carol, dave), a blank one (erin) and a broken one (frank)."""
    course = Course(tmp_path_factory.mktemp("similarity") / "course", REPO)
    answers = {"alice": ORIGINAL, "bob": COPY, "carol": INDEPENDENT[0], "dave": INDEPENDENT[1],
               "erin": {}, "frank": {SOFTMAX: "def softmax(z):\n    return ops.exp(z) /\n"}}
    for student, cells in answers.items():
        sample = samples.Sample(LAB, student, "correct", "", "release", 0.0, answers=cells)
        path = course.autograded / student / LAB / f"{LAB}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_bytes(samples.build(course, sample))
    return course


def test_the_copy_is_found_and_independent_answers_are_not(course):
    report = compare_class(course, LAB)
    found = {(p.cell, p.a.student, p.b.student): p.score for p in report.pairs}
    assert found == {(SOFTMAX, "alice", "bob"): 1.0, (ONE_HOT, "alice", "bob"): 1.0}
    assert report.clusters == {ONE_HOT: [["alice", "bob"]], SOFTMAX: [["alice", "bob"]]}
    # erin's blank cells and frank's blank one-hot are not compared, his softmax is no Python
    assert report.compared == {ONE_HOT: 4, SOFTMAX: 4}
    assert report.skipped == [("frank", SOFTMAX, "not Python: SyntaxError")]


def test_independent_answers_stay_well_below_the_threshold(course):
    pairs = compare_class(course, LAB, threshold=0.0).pairs
    independent = [p.score for p in pairs if {p.a.student, p.b.student} != {"alice", "bob"}]
    assert independent and max(independent) < THRESHOLD - 0.2, sorted(independent)


def test_the_page_says_lead_not_verdict_and_shows_both_cells(course, capsys):
    assert cli.main(["similarity", "--lab", LAB, "--course", str(course.root)]) == 0
    out = capsys.readouterr().out
    assert "never a verdict" in out and "\n    alice, bob\n" in out and "2 pairs;" in out
    page = (course.root / "similarity" / f"{LAB}.html").read_text(encoding="utf-8")
    assert "A lead, never a verdict." in page
    pair = page.split("id='pairs'")[1]
    assert str(escape(COPY[SOFTMAX])) in pair and str(escape(ORIGINAL[SOFTMAX])) in pair
    assert "carol" not in pair
