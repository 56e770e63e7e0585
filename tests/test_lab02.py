"""Lab 02 (convnets): the hidden checks tell the solution from every listed mistake.

In process and fast (no training): the answer cells of the solution notebook, or of a
sample in autograder/samples/02-convnets/samples.toml, are executed into a namespace; each
test cell's suite is answered from that namespace and judged against
autograder/reference/convnets.py, as the grader does (tests/labkit.py). The training cells
and the samples that differ only there (under-trained, cheat, hostile, broken) are left to
the end-to-end demo.
"""
import json

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
    table = reference.lenet5_table()
    assert table[:, 3].sum() == reference.lenet5().count_params() == 61706
    # The figures' networks, counted by hand layer by layer (Forsyth figs. 17.9, 17.15).
    assert reference.forsyth_mnist().count_params() == 520 + 25_050 + 400_500 + 5_010
    assert reference.forsyth_cifar().count_params() == 2_432 + 25_632 + 51_264 + 65_600 + 650
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


SELF_CHECK = ("python -m course.validate 02-convnets.ipynb", "course.validate.this_notebook()")


def test_the_lab_names_its_self_check_first_and_last_and_answers_every_question():
    first, last = LAB.cells[0]["source"], LAB.cells[-1]["source"]
    assert all(s in first and s in last for s in SELF_CHECK)
    assert LAB.unanswered_questions() == []
    assert LAB.points() == (28, 4) and "28 autograded + 4 for the written reflection = 32" in first


def test_a_sequential_lenet_earns_full_marks():
    # a right answer written another way the prose allows
    name = "correct-sequential-lenet"
    assert grade(LAB.answers_of(name)) == {gid: LAB.tests[gid][1] for gid in UNTRAINED}
    assert LAB.sample(name)["expected"] == 28


def test_imports_of_the_answers_are_flagged(tmp_path):
    from autograder import integrity, samples
    from autograder.config import REPO, Course

    course = Course(tmp_path, REPO)
    source = integrity.read_notebook(LAB.source)[0]
    flagged = {}
    for name in ("hostile-library-imports", "correct"):
        path = tmp_path / f"{name}.ipynb"
        path.write_bytes(samples.build(course, next(s for s in samples.load(LAB.name) if s.name == name)))
        flags, _ = integrity.check_submission(source, path, lab=LAB.name)
        flagged[name] = sorted(f.cell for f in flags if f.code == "forbidden-import")
    assert flagged == {"hostile-library-imports": ["convnets-forsyth-mnist", "convnets-lenet5",
                                                   "convnets-size-table"], "correct": []}


def test_the_numbers_part_2_states():
    prose = LAB.prose()
    table = reference.lenet5_table()
    assert "422,824" in prose and "423,664" not in prose
    assert table[:, 0].sum() == 8094 and table[:, 1].sum() == 61470
    # LeCun et al. (1998), section II.B, per layer (parameters, connections), C1..F6: the
    # paper's own numbers, the oracle for the slide's totals
    lecun = [(156, 122304), (12, 5880), (1516, 151600), (32, 2000), (48120, 48120), (10164, 10164)]
    assert sum(p for p, _ in lecun) == 60000 and sum(c for _, c in lecun) == 340068
    assert table[:6, 0].sum() == 8084                      # the slide's units: no output layer
    assert all(n in prose for n in ("8,084", "60,000", "340,068", "1,516", "151,600", "344,000"))
    # Grosse's comparison, LeNet 1989 -> AlexNet
    assert round(60e6 / 9760, -3) == 6000 and round(652e6 / 65000, -3) == 10000
    assert round(1.2e6 / 7291, -1) == 160 and "165 times" in prose and 164.5 < 1.2e6 / 7291 < 165.5


def test_the_numbers_part_1_states():
    prose = LAB.prose()
    assert 256 * 256 * 32000 > 2e9 and "$2 \\times 10^9$" in prose
    assert (28 * 28 * 28 * 28 * 6, 28 * 28 * 6 * 25, 6 * 25) == (3687936, 117600, 150)
    assert all(n in prose for n in ("3,687,936", "117,600", "150"))


def test_receptive_fields_the_prose_states_match_the_counting_tables():
    from autograder.reference.counting import layer_table

    L = keras.layers
    nets = {16: [L.Conv2D(1, 5), L.MaxPooling2D(2), L.Conv2D(1, 5), L.MaxPooling2D(2)],
            9: [L.Conv2D(1, 5), L.Conv2D(1, 5)], 13: [L.Conv2D(1, 5, strides=2), L.Conv2D(1, 5, strides=2)]}
    for rf, stack in nets.items():
        model = keras.Sequential([keras.Input((28, 28, 1)), *stack])
        assert layer_table(model).rows[-1].receptive_field == rf
        assert f"{rf}x{rf} pixels" in LAB.prose() or f"see {rf}x{rf}" in LAB.prose()
    assert model.output_shape[1:3] == (4, 4)               # stride 2 twice: Forsyth's 4x4 maps


def test_the_error_count_agrees_with_the_stated_accuracy():
    prose = LAB.prose()
    assert "99.09%" in prose and "99.21%" in prose and "79 to 91" in prose
    assert (round((1 - 0.9921) * 10000), round((1 - 0.9909) * 10000)) == (79, 91)


def test_the_pooling_measurement_the_prose_states(shared_data):
    from course import data
    _, (x_test, _) = data.load("mnist")
    digits = x_test[:100, :, :, None].astype("float64") / 255
    kernels = np.random.default_rng(0).standard_normal((5, 5, 1, 8))
    base = reference.conv2d(digits, kernels)
    rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))
    pool2, pool4, global_max = [], [], []
    for s in range(7):
        out = reference.conv2d(reference.shift_image(digits, 0, s), kernels)
        pool2.append(rel(reference.pool2d(out, 2), reference.pool2d(base, 2)))
        pool4.append(rel(reference.pool2d(out, 4), reference.pool2d(base, 4)))
        global_max.append(rel(out.max(axis=(1, 2)), base.max(axis=(1, 2))))
    prose = " ".join(LAB.prose().split())
    assert [f"{v:.2f}" for v in pool2] == ["0.00", "0.50", "0.78", "0.94", "1.02", "1.08", "1.11"]
    assert "0.50 after one pixel and 0.78 after two" in prose and "(0.94, 1.02, 1.08, 1.11" in prose
    assert pool2[2] > pool2[1] > 0.4       # a shift by the window does not bring it back to 0
    assert (f"{pool4[1]:.2f}", f"{pool4[6]:.2f}") == ("0.29", "0.89") and "0.29 after one pixel, 0.89" in prose
    assert max(global_max) <= 0.045 and "(0.04 or less)" in prose
