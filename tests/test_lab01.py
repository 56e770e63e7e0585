"""Lab 01 (backprop by hand), in process, without the autograder's kernel: the solution passes
every check, and each classic mistake of autograder/samples/01-backprop fails at least one
hidden check and scores what the manifest expects.

Each sample's answer cells (after the lab's `Module` base class) are exec'd into a
namespace and every test cell is judged by the grader's own `judge_suite` against
autograder/reference/backprop.py (tests/labkit.py). The checks on the trained network are
replayed by running the notebook's data and training cells (the 784-128-10 net in NumPy)
at tiny scale once per distinct training code, so that test is marked slow; the others
take seconds. Broken and hostile samples need the real pipeline (tests/test_judge.py, demo).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from course import checks as C
from labkit import Lab

LAB = Lab("01-backprop")
REF = LAB.reference
CELLS = LAB.cells
TRAINING = ("backprop-linear", "backprop-pointwise", "backprop-losses", "backprop-sequential",
            "backprop-sgd", "backprop-train")
BASE_CLASS = next(c["source"] for c in CELLS if c["source"].startswith("class Module"))
# the data cell, then the full training run (the sanity check between them is not graded)
TRAIN_CELLS = [next(c["source"] for c in CELLS if "initial_weights = [" in c["source"]),
               next(c["source"] for c in CELLS if "hand_epochs_done = " in c["source"])]
# names only the training run defines: checks that read them need it, like trained_model
TRAINING_NAMES = ("hand_epochs_done",)
SAMPLES = LAB.samples


_TRAINED: dict[tuple, dict] = {}
_DATA: dict[tuple, tuple] = {}


class _CachedData:
    """course.data, loading each split once for all samples."""

    @staticmethod
    def load(name, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in _DATA:
            from course import data
            _DATA[key] = data.load(name, **kwargs)
        return _DATA[key]


def hand_training(ns: dict, answers: dict[str, str]) -> dict:
    """The notebook's training cells at tiny scale (cached by code): the accuracy on the tiny
    test split, and the names the training run leaves for the checks to read."""
    key = tuple(answers[g] for g in TRAINING)
    if key not in _TRAINED:
        scope = dict(ns, data=_CachedData, by_scale=lambda **kw: kw["tiny"],
                     time=__import__("time"), print=lambda *a, **k: None)
        for cell in TRAIN_CELLS:
            try:
                with np.errstate(all="ignore"):
                    exec(cell, scope)
            except Exception:
                break                         # as in the notebook: the net keeps its weights
        try:
            with np.errstate(all="ignore"):
                scores = scope["net"].forward(scope["x_test_flat"])
            accuracy = float(np.mean(np.nan_to_num(scores).argmax(axis=1) == scope["y_test"]))
        except Exception:
            accuracy = 0.0
        _TRAINED[key] = {"accuracy": accuracy,
                         **{k: scope[k] for k in (*TRAINING_NAMES, "EPOCHS") if k in scope}}
    return _TRAINED[key]


def grade(answers: dict[str, str], train: bool = True) -> dict:
    """{test cell: CellScore} for these answer cells. With train=False the checks that need
    the trained network are left undecided (passed=None) and score nothing."""
    ns = LAB.namespace(answers, prelude=BASE_CLASS)
    trained = None
    if train:
        run = hand_training(ns, answers)
        ns.update({k: v for k, v in run.items() if k != "accuracy"})
        trained = lambda ns, query: run["accuracy"]    # noqa: E731
    return LAB.grade(ns, trained=trained, training_names=TRAINING_NAMES)


GRADABLE = [s for s in SAMPLES if s["kind"] in ("correct", "blank", "partial", "wrong")]


@pytest.fixture(scope="module", autouse=True)
def tiny_scale():
    old = os.environ.get("COURSE_SCALE")
    os.environ["COURSE_SCALE"] = "tiny"
    yield
    if old is None:
        os.environ.pop("COURSE_SCALE")
    else:
        os.environ["COURSE_SCALE"] = old


def test_every_test_cell_declares_its_hidden_count_and_only_known_references():
    assert LAB.hidden_blocks_match_counts() == []


def test_solution_passes_every_check():
    for gid, cell in grade(LAB.answers_of({"base": "solution"}), train=False).items():
        failed = [o.line() for o in cell.outcomes if o.passed is False]
        assert not failed, f"{gid}: {failed}"


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s["kind"] == "wrong"], ids=lambda s: s["name"])
def test_each_mistake_fails_a_hidden_check(sample):
    graded = grade(LAB.answers_of(sample), train=False)
    assert LAB.failed_hidden(graded), f"{sample['name']} passes every hidden check"
    # and the cell holding the mistake loses points
    for gid in sample["answers"]:
        cell = graded[f"{gid}-checks"]
        assert cell.score < cell.points, f"{gid} lost no points"


@pytest.mark.slow
@pytest.mark.parametrize("sample", GRADABLE, ids=lambda s: s["name"])
def test_sample_scores_what_the_manifest_expects(sample):
    """Trains the digits net (tiny scale) once per distinct training code: ~1 minute."""
    graded = grade(LAB.answers_of(sample))
    total = sum(cell.score for cell in graded.values())
    detail = {gid: round(cell.score, 4) for gid, cell in graded.items()}
    assert total == pytest.approx(sample["expected"], abs=1e-6), detail
    for gid, want in sample.get("expected_cells", {}).items():
        assert graded[gid].score == pytest.approx(want, abs=1e-6), (gid, detail)


def test_the_mistakes_the_issue_lists_all_have_samples():
    names = {s["name"] for s in SAMPLES}
    assert {"wrong-transposed-dW", "wrong-bias-not-summed", "wrong-relu-negative",
            "wrong-sigmoid-derivative", "wrong-conv-no-flip", "wrong-maxpool-every-element",
            "wrong-gradcheck-one-sided", "wrong-lr-sign"} <= names
    assert {"broken", "hostile"} <= {s["kind"] for s in SAMPLES}


def test_gradient_check_tells_central_from_one_sided():
    """The hidden gradcheck inputs leave a one-sided difference 1e-3 or more off (tol 1e-6)."""
    x, h = C.randn(3, 4, seed=401).make(), 1e-2
    one_sided = ((x + h) ** 3 - x ** 3) / h
    assert C.rel_error(one_sided, REF.numerical_gradient_cubic(x, h)["g"]) > 1e-3
    central = ((x + h) ** 3 - (x - h) ** 3) / (2 * h)
    assert C.rel_error(central, REF.numerical_gradient_cubic(x, h)["g"]) < 1e-10


def test_the_worked_example_reproduces_the_transcribed_slide_and_keras_autodiff():
    """The 6.7960 (2024) transcription of the notes' figure states the step to 4 and 2
    digits; Keras's autodiff of the same network is the independent oracle for the rest."""
    keras = pytest.importorskip("keras")
    import tensorflow as tf

    x, y = np.array([[1.0, 0.1]]), np.array([[0.5]])
    W1, W2 = np.array([[1.0, 0.2], [-3.0, 1.0]]), np.array([[1.0], [-1.0]])
    r = REF.worked_example(x, y, W1, W2, 0.2)
    assert np.round(r["hidden"], 4).tolist() == [[0.6044, 0.2913]]
    assert round(float(r["out"][0, 0]), 4) == 0.3131 and round(r["loss"], 4) == 0.0175
    assert np.round(r["W1"], 2).tolist() == [[1.02, 0.17], [-3.0, 1.0]]
    assert np.round(r["W2"], 2).ravel().tolist() == [1.02, -0.99]
    w1, w2 = tf.Variable(W1), tf.Variable(W2)
    with tf.GradientTape() as tape:
        cost = 0.5 * tf.reduce_sum((tf.tanh(x @ w1) @ w2 - y) ** 2)
    g1, g2 = (g.numpy() for g in tape.gradient(cost, [w1, w2]))
    # float64 throughout: agreement to rounding
    assert C.rel_error(g1, r["dW1"]) < 1e-12 and C.rel_error(g2, r["dW2"]) < 1e-12
    prose = next(c["source"] for c in CELLS if c["source"].startswith("## Part 3."))
    for number in ("0.6044", "0.2913", "0.3131", "0.0175", "-0.1869", "-0.1130", "-0.0545",
                   "-0.1187", "1.02, 0.17, -3.00, 1.00", "1.02, -0.99"):
        assert number in prose, number
    assert round(float(r["dW2"][0, 0]), 4) == -0.1130 and round(float(r["dW1"][0, 0]), 4) == -0.1187


def test_prelu_reference_agrees_with_keras_autodiff():
    pytest.importorskip("keras")
    import tensorflow as tf

    x = C.randn(5, 4, seed=221).make()
    x[0, 0] = 0.0                                           # the notes' convention: slope a at 0
    a, dout = C.uniform(4, low=0.05, high=0.5, seed=222).make(), C.randn(5, 4, seed=223).make()
    tx, ta = tf.Variable(x), tf.Variable(a)
    with tf.GradientTape() as tape:
        y = tf.where(tx > 0, tx, ta * tx)
        f = tf.reduce_sum(y * dout)
    gx, ga = (g.numpy() for g in tape.gradient(f, [tx, ta]))
    r = REF.prelu(x, a, dout)
    assert C.rel_error(r["y"], y.numpy()) < 1e-12
    assert C.rel_error(r["dx"], gx) < 1e-12 and C.rel_error(r["da"], ga) < 1e-12


def test_the_lab_names_its_self_check_first_and_last_and_answers_every_question():
    for text in (CELLS[0]["source"], CELLS[-1]["source"]):
        assert "python -m course.validate 01-backprop.ipynb" in text
        assert "course.validate.this_notebook()" in text
    assert LAB.unanswered_questions() == []
    assert LAB.points() == (25, 5) and "**30** (25 checked automatically)" in CELLS[0]["source"]
    assert sum(1 for c in CELLS if c.get("id", "").startswith("cell-reflect-q")) == 3


def test_the_mlp_size_the_prose_states():
    keras = pytest.importorskip("keras")
    from course.models.simple import build_mlp

    model = build_mlp(input_shape=(28, 28), hidden_units=128, classifier_activation=None)
    assert model.count_params() == 101770
    assert any("101,770 parameters" in c["source"] for c in CELLS if c["cell_type"] == "markdown")
