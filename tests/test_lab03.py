"""Lab 03 (regularization): the hidden checks tell the solution from every listed mistake,
and the reference agrees with independent oracles (Keras, closed forms, the analytic case).

In process and fast (no training of real networks): the answer cells of the solution
notebook, or of a sample in autograder/samples/03-regularization/samples.toml, are
executed into a namespace with the lab's imports and the helper cells its checks call
(Keras's EarlyStopping replay, the Keras batch-norm comparison); the two experiment cells
whose numbers a check reads (Part 3's steps, Part 4's SGD gap) run after them. Each test
cell's suite is answered from that namespace and judged against
autograder/reference/regularization.py, as the grader does (tests/labkit.py). The cells
that train real networks (the 100-image sanity check, the capstone) are left to the
end-to-end demo.
"""
import re

import numpy as np
import pytest

from labkit import Lab

keras = pytest.importorskip("keras")

LAB = Lab("03-regularization")
reference = LAB.reference
TRAINING = ("regularization-sanity", "regularization-capstone")
TRAINED_POINTS = 6.0          # sanity 1 + capstone 5
UNTRAINED = tuple(gid for gid in LAB.tests if gid.removesuffix("-checks") not in TRAINING)


def _cell(start: str) -> str:
    """The source of the lab's (ungraded) code cell that starts with `start`."""
    return next(c["source"] for c in LAB.cells if c["cell_type"] == "code" and c["source"].startswith(start))


IMPORTS = ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
           "import keras\nfrom keras import layers\n"
           "from course.checks import directional_check, check_close\n")
# helpers the checks call, and the constant an answer cell reads
PRELUDE = "\n".join([IMPORTS, _cell("def keras_early_stopping"), _cell("def compare_with_keras_bn"),
                     "LAM = 1e-2"])
# experiments whose results a check reads, run after the answers
AFTER = [_cell("scaling_rng = "), _cell("decay_rng = ")]


def judge(answers: dict[str, str]):
    """(score of each untrained test cell, the hidden checks that failed) for some answers."""
    ns = LAB.namespace(answers, prelude=PRELUDE, skip=TRAINING)
    for source in AFTER:
        try:
            with np.errstate(all="ignore"):
                exec(compile(source, "<experiment>", "exec"), ns)
        except Exception:
            pass            # a broken answer breaks the experiment too; its checks then fail
    scores = LAB.grade(ns, cells=UNTRAINED)
    return {gid: s.score for gid, s in scores.items()}, LAB.failed_hidden(scores)


@pytest.fixture(scope="module")
def solution_scores():
    return judge(LAB.answers_of({"base": "solution"}))[0]


def test_solution_passes_every_check_against_the_reference(solution_scores):
    assert solution_scores == {gid: LAB.tests[gid][1] for gid in UNTRAINED}
    assert sum(points for _, points in LAB.tests.values()) == 34


def test_each_part_heading_states_the_points_of_its_cells():
    # "## Part 4: Weight decay (3 points)": the points the heading promises are the points
    # of the graded cells (tests and hand-graded answers) until the next heading
    stated, summed, part = {}, {}, None
    for cell in LAB.cells:
        heading = re.match(r"## (Part \d+|Reflect)\b[^(\n]*\(([\d +]+) points", cell["source"])
        if cell["cell_type"] == "markdown" and heading:
            part = heading.group(1)
            stated[part], summed[part] = sum(map(float, heading.group(2).split("+"))), 0.0
        elif part:
            summed[part] += float(cell.get("metadata", {}).get("nbgrader", {}).get("points", 0))
    assert len(stated) == 10 and stated == summed


def test_every_hidden_count_matches_the_hidden_block():
    assert LAB.hidden_blocks_match_counts() == []


WRONG = [s for s in LAB.samples if s["kind"] in ("wrong", "partial")
         and not set(s.get("answers", {})) & set(TRAINING)]


@pytest.mark.parametrize("sample", WRONG, ids=[s["name"] for s in WRONG])
def test_each_mistake_fails_a_hidden_check_and_scores_as_expected(sample):
    scores, failed_hidden = judge(LAB.answers_of(sample))
    assert scores != {gid: LAB.tests[gid][1] for gid in UNTRAINED}, f"{sample['name']} passes every check"
    for gid, expected in sample.get("expected_cells", {}).items():
        if gid in scores:
            assert scores[gid] == pytest.approx(expected, abs=1e-6), gid
    if sample["kind"] == "wrong":
        assert failed_hidden, f"{sample['name']} fails no hidden check"
        assert sum(scores.values()) == pytest.approx(sample["expected"] - TRAINED_POINTS, abs=1e-6)


def test_every_listed_mistake_has_a_wrong_sample():
    names = {s["name"] for s in LAB.samples if s["kind"] == "wrong"}
    for mistake in ("dropout-no-scaling", "dropout-scaled-at-inference", "bn-batch-stats-at-inference",
                    "bn-backward-no-mean-var-paths", "l2-gradient-missing-2", "l2-gradient-missing-lambda",
                    "decay-on-biases-and-bn", "mixup-two-lambdas", "swa-averages-bn-statistics",
                    "early-stopping-last-epoch"):
        assert f"wrong-{mistake}" in names, mistake


# ---------------------------------------------------------------------------------------
# The reference against independent oracles

def test_the_small_convnet_has_the_parameters_the_prose_states():
    ns = {}
    exec(compile(IMPORTS + _cell("def build_small_convnet"), "<given>", "exec"), ns)
    # by hand: 3*3*3*32 + 32, 3*3*32*64 + 64, (8*8*64)*128 + 128, 128*10 + 10
    assert ns["build_small_convnet"]().count_params() == 896 + 18_496 + 524_416 + 1_290 == 545_098
    prose = " ".join(LAB.prose().split())
    assert "896 + 18,496 + 524,416 + 1,290 = 545,098" in prose
    assert round(100 * 524_416 / 545_098) == 96 and "holds 96%" in prose


def test_bias_variance_reference_reproduces_the_analytic_case():
    # linear f, linear model, fixed design: bias 0 and mean variance sigma^2 p / n exactly in
    # expectation; 20,000 simulated sets put the estimate within 3% (its std is ~1%)
    rng = np.random.default_rng(0)
    x = np.linspace(-1, 1, 12)
    ys = 0.5 - x + 0.4 * rng.standard_normal((20000, 12))
    b2, v = reference.bias_variance(reference.poly_fit_predict(np.tile(x, (20000, 1)), ys, 1, x), 0.5 - x)
    assert b2 < 1e-4 and v == pytest.approx(0.16 * 2 / 12, rel=0.03)
    # and the fits are np.polyfit's (float64, well-conditioned: 1e-9)
    xs, y1 = rng.uniform(-1, 1, (3, 10)), rng.standard_normal((3, 10))
    want = np.array([np.polyval(np.polyfit(a, b, 3), x) for a, b in zip(xs, y1)])
    assert np.max(np.abs(reference.poly_fit_predict(xs, y1, 3, x) - want)) < 1e-9


def test_best_epoch_reference_is_kerass_early_stopping():
    # the lab's helper replays a history through a real keras.callbacks.EarlyStopping
    helpers = {"keras": keras, "layers": keras.layers}
    exec(_cell("def keras_early_stopping"), helpers)
    replay = helpers["keras_early_stopping"]
    rng = np.random.default_rng(1)
    for _ in range(200):
        history = {"val_loss": list(np.round(rng.uniform(0, 1, rng.integers(1, 12)), 1))}
        for patience in (0, 1, 2, 4):
            assert reference.best_epoch(history, patience) == replay(history, patience), (history, patience)


def test_gradient_descent_reference_matches_the_closed_form():
    # on a quadratic, w_t - w* = (I - lr H)^t (w_0 - w*) exactly: the step count follows
    rng = np.random.default_rng(2)
    Z, y = rng.standard_normal((120, 2)), rng.standard_normal(120)
    X = Z * [20.0, 1.0]
    H = X.T @ X / len(X)
    lr = 1 / np.linalg.eigvalsh(H).max()
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    errors = [np.linalg.norm(np.linalg.matrix_power(np.eye(2) - lr * H, t) @ -w_star) for t in range(3001)]
    want = next(t for t, e in enumerate(errors) if e <= 1e-3 * np.linalg.norm(w_star))
    got = reference.steps_on_problem(Z, [20.0, 1.0], [0.0, 0.0], y, 1.0, 3000, 1e-3)["steps"]
    assert got == want


def test_l2_reference_is_kerass_regularizer():
    rng = np.random.default_rng(3)
    W, b, g, be = rng.standard_normal((6, 3)), rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    out = reference.l2(W, b, g, be, 3e-3)
    keras_penalty = float(keras.ops.convert_to_numpy(keras.regularizers.L2(3e-3)(W.astype("float32"))))
    assert out["penalty"] == pytest.approx(keras_penalty, rel=1e-6)     # float32: ~1e-7
    assert np.allclose(out["d_dense_kernel"], 6e-3 * W) and not out["rest"].any()


def test_batchnorm_reference_is_kerass_layer_and_autodiff():
    import tensorflow as tf
    rng = np.random.default_rng(4)
    x = 3 * rng.standard_normal((9, 4)) + 1
    gamma, beta, dout = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal((9, 4))
    mean, var = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4)
    bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, dtype="float64")
    bn.build((None, 4))
    bn.set_weights([gamma, beta, mean, var])
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        y = bn(xt, training=True)
        objective = tf.reduce_sum(y * dout)
    ref = reference.batchnorm(x, gamma, beta, mean, var, True, dout, momentum=0.9, eps=1e-3)
    # float64 on both sides: agreement to rounding (1e-10)
    assert np.max(np.abs(ref["out"] - y.numpy())) < 1e-10
    assert np.max(np.abs(ref["mean"] - bn.moving_mean.numpy())) < 1e-10
    assert np.max(np.abs(ref["var"] - bn.moving_variance.numpy())) < 1e-10
    assert np.max(np.abs(ref["dx"] - tape.gradient(objective, xt).numpy())) < 1e-10
    assert np.max(np.abs(ref["dgamma"] - tape.gradient(objective, bn.gamma).numpy())) < 1e-10
    assert np.max(np.abs(ref["dbeta"] - tape.gradient(objective, bn.beta).numpy())) < 1e-10
    # inference with the moving statistics that training step left
    inference = reference.batchnorm(x, gamma, beta, ref["mean"], ref["var"], False, dout)
    assert np.max(np.abs(inference["out"] - bn(xt, training=False).numpy())) < 1e-10


def test_dropout_reference_keeps_the_expectation_and_is_the_identity_at_inference():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4))
    outs = [reference.dropout_run(x, 0.7, True, rng.random(x.shape) >= 0.7, x)["out"] for _ in range(40000)]
    # 40,000 masks: the mean is x within ~2% (relative std of each mean ~0.8%)
    assert np.allclose(np.mean(outs, axis=0), x, rtol=0.05, atol=0.02)
    assert np.array_equal(reference.dropout_run(x, 0.7, False, x > 0, x)["out"], x)


def test_ten_crops_reference_center_is_kerass_center_crop():
    images = np.random.default_rng(6).uniform(size=(2, 9, 7, 3)).astype("float32")
    crops = reference.ten_crops(images, 4)
    keras_center = keras.ops.convert_to_numpy(keras.layers.CenterCrop(4, 4)(images))
    assert crops.shape == (10, 2, 4, 4, 3) and np.array_equal(crops[0], keras_center)
    assert np.array_equal(crops[1], images[:, :4, :4]) and np.array_equal(crops[9], images[:, -4:, -4:][:, :, ::-1])


def test_mixup_reference_mixes_images_and_labels_alike():
    e = np.eye(4)[[0, 1, 2, 3, 1, 0]]
    out = reference.mixup(e, e, 0.4, 7)
    assert np.allclose(out["xm"], out["ym"]) and np.allclose(out["ym"].sum(axis=1), 1)


def test_bn_statistics_reference_is_a_keras_training_pass_over_all_of_x():
    rng = np.random.default_rng(8)
    x = (2 * rng.standard_normal((64, 4))).astype("float32")
    W1, b1, g1, be1 = rng.standard_normal((4, 5)), rng.standard_normal(5), rng.uniform(0.5, 1.5, 5), rng.standard_normal(5)
    W2, b2 = rng.standard_normal((5, 3)), rng.standard_normal(3)
    inputs = keras.Input((4,))
    h = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.0, name="bn1")(
        keras.layers.Dense(5, name="d1")(inputs)))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.0, name="bn2")(keras.layers.Dense(3, name="d2")(h)))
    model.get_layer("d1").set_weights([W1, b1])
    model.get_layer("d2").set_weights([W2, b2])
    model.get_layer("bn1").set_weights([g1, be1, np.zeros(5), np.ones(5)])
    model(x, training=True)      # momentum 0: the moving statistics become the batch's
    keras_stats = np.concatenate([keras.ops.convert_to_numpy(getattr(model.get_layer(n), a))
                                  for n in ("bn1", "bn2") for a in ("moving_mean", "moving_variance")])
    want = reference.bn_statistics(x.astype(float), W1, b1, g1, be1, W2, b2)["stats"]
    # float32 Keras against float64 NumPy: relative error ~1e-6
    assert np.max(np.abs(keras_stats - want) / (np.abs(want) + 1e-3)) < 1e-4
