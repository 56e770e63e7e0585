"""Lab 02 (convnets): the hidden checks tell the solution from every listed mistake.

In process and fast (no training): the answer cells of the solution notebook, or of a
sample in autograder/samples/02-convnets/samples.toml, are executed into a namespace; each
test cell's suite is answered from that namespace and judged against
autograder/reference/convnets.py, as the grader does (tests/labkit.py). The training cells
and the samples that differ only there (under-trained, cheat, hostile, broken) are left to
the end-to-end demo.
"""
import numpy as np
import pytest

from labkit import Lab

TRAINING = ("convnets-train-mnist", "convnets-train-cifar")
PRELUDE = "import keras\nfrom keras import layers"

keras = pytest.importorskip("keras")
LAB = Lab("02-convnets")
reference = LAB.reference
# the test cells that need no trained model
UNTRAINED = tuple(gid for gid in LAB.tests if gid.removesuffix("-checks") not in TRAINING)


def grade(answers: dict[str, str]) -> dict[str, float]:
    ns = LAB.namespace(answers, prelude=PRELUDE, skip=TRAINING)
    return {gid: s.score for gid, s in LAB.grade(ns, cells=UNTRAINED).items()}


def test_solution_passes_every_check_against_the_reference():
    scores = grade(LAB.answers_of({"base": "solution"}))
    assert scores == {gid: LAB.tests[gid][1] for gid in UNTRAINED}
    assert sum(points for _, points in LAB.tests.values()) == 28


def test_every_hidden_count_matches_the_hidden_block():
    assert LAB.hidden_blocks_match_counts() == []


def test_reference_reproduces_grosse_and_keras():
    from course.models.lenet import build_lenet5
    table = reference.lenet5_table()
    assert table[:, 3].sum() == build_lenet5().count_params() == 61706
    assert table[:, 2].sum() == 422824 and table[:, 1].sum() == 61470
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 9, 6, 2)), rng.standard_normal((4, 4, 2, 3))
    k = keras.ops.convert_to_numpy(keras.ops.conv(x.astype("float32"), w.astype("float32"), 2, "same"))
    # float32 Keras against float64 NumPy: absolute error ~1e-6 on values of order 1
    assert np.max(np.abs(reference.conv2d(x, w, stride=2, padding="same") - k)) < 1e-4


WRONG = [s for s in LAB.samples if s["kind"] in ("wrong", "partial")
         and not set(s.get("answers", {})) & set(TRAINING)]


@pytest.mark.parametrize("sample", WRONG, ids=[s["name"] for s in WRONG])
def test_each_wrong_answer_fails_a_hidden_check_and_scores_as_expected(sample):
    scores = grade(LAB.answers_of(sample))
    assert scores != {gid: LAB.tests[gid][1] for gid in UNTRAINED}, \
        f"{sample['name']} passes every check"
    for gid, expected in sample.get("expected_cells", {}).items():
        if gid in scores:
            assert scores[gid] == pytest.approx(expected), gid
    if sample.get("base") == "solution":
        # cells without a trained model: the sample's total less the two training cells' 7
        assert sum(scores.values()) == pytest.approx(sample["expected"] - 7)
