"""Lab 01 (backprop by hand), in process, without the autograder's kernel: the solution passes
every check, and each classic mistake of autograder/samples/01-backprop fails at least one
hidden check and scores what the manifest expects.

Each sample's answer cells (after the lab's `Module` base class) are exec'd into a
namespace and every test cell is judged by the grader's own `judge_suite` against
autograder/reference/backprop.py (tests/labkit.py). The one `trained_model` check is
replayed by training the 784-128-10 net in NumPy at tiny scale (the notebook's own training
cell) once per distinct training code, so that test is marked slow; the others take
seconds. Broken and hostile samples need the real pipeline (tests/test_judge.py, demo).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from course import checks as C
from labkit import Lab

LAB = Lab("01-backprop")
REF = LAB.reference
TRAINING = ("backprop-linear", "backprop-pointwise", "backprop-losses", "backprop-sequential",
            "backprop-sgd", "backprop-train")
BASE_CLASS = next(c["source"] for c in LAB.cells if c["source"].startswith("class Module"))
TRAIN_CELL = next(c["source"] for c in LAB.cells if "initial_weights = [" in c["source"])
SAMPLES = LAB.samples


_ACCURACY: dict[tuple, float] = {}
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


def hand_trained_accuracy(ns: dict, answers: dict[str, str]) -> float:
    """The notebook's training cell at tiny scale, on the tiny test split (cached by code)."""
    key = tuple(answers[g] for g in TRAINING)
    if key not in _ACCURACY:
        scope = dict(ns, data=_CachedData, by_scale=lambda **kw: kw["tiny"],
                     time=__import__("time"), print=lambda *a, **k: None)
        try:
            with np.errstate(all="ignore"):
                exec(TRAIN_CELL, scope)
        except Exception:
            pass                              # as in the notebook: the net keeps its weights
        try:
            with np.errstate(all="ignore"):
                scores = scope["net"].forward(scope["x_test_flat"])
            _ACCURACY[key] = float(np.mean(np.nan_to_num(scores).argmax(axis=1) == scope["y_test"]))
        except Exception:
            _ACCURACY[key] = 0.0
    return _ACCURACY[key]


def grade(answers: dict[str, str], train: bool = True) -> dict:
    """{test cell: CellScore} for these answer cells. With train=False the trained-model
    check is left undecided (passed=None) and scores nothing."""
    ns = LAB.namespace(answers, prelude=BASE_CLASS)
    trained = (lambda ns, query: hand_trained_accuracy(ns, answers)) if train else None
    return LAB.grade(ns, trained=trained)


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
