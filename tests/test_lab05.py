"""Lab 05 (transfer): the hidden checks tell the solution from every listed mistake.

In process (tests/labkit.py): the answer cells of the solution, or of a sample of
autograder/samples/05-transfer/samples.toml, run into a namespace; each test cell's suite is
answered from it and judged against autograder/reference/transfer.py, as the grader does.
The test cells that read the experiments' results (the probe curves, the grid, forgetting,
the capstone) need the whole notebook run and are left to the demo; the mistakes they would
show are caught by the function checks here. The reference is checked against independent
oracles: Keras's own MobileNetV2 preprocessing, scikit-learn's cosine neighbours and PCA.
"""
import numpy as np
import pytest

from course.models import backbone_card
from labkit import Lab

keras = pytest.importorskip("keras")
LAB = Lab("05-transfer")
reference = LAB.reference
PRELUDE = """
import time
import keras
from keras import layers
from course import train
from course.env import by_scale
from course.models import backbone_card, pretrained
"""
SKIP = ("transfer-capstone",)                       # trains the capstone at module level
EXPERIMENTS = ("transfer-probe-results-checks", "transfer-grid-checks",
               "transfer-forgetting-checks", "transfer-capstone-checks")
FUNCTIONS = tuple(gid for gid in LAB.tests if gid not in EXPERIMENTS)
MISTAKES = {   # the mistakes the issue lists, each with the sample that makes it
    "BN layers left trainable": "wrong-bn-left-trainable",
    "the head trained with the backbone unfrozen from step 0": "wrong-backbone-unfrozen-at-build",
    "a plan without the head-only stage": "wrong-plan-skips-the-head",
    "preprocessing that differs from the backbone's": "wrong-preprocessing",
    "validation images leaking into training": "wrong-validation-leaks",
    "unfreezing from the bottom instead of the top": "wrong-unfreezes-the-bottom",
}


@pytest.fixture(scope="module")
def solution_scores():
    return grade(LAB.answers_of({"base": "solution"}))


def grade(answers):
    ns = LAB.namespace(answers, prelude=PRELUDE, skip=SKIP)
    return LAB.grade(ns, cells=FUNCTIONS)


def test_solution_passes_every_check_against_the_reference(solution_scores):
    assert {gid: s.score for gid, s in solution_scores.items()} == \
        {gid: LAB.tests[gid][1] for gid in FUNCTIONS}
    assert LAB.failed_hidden(solution_scores) == []
    assert sum(points for _, points in LAB.tests.values()) == 27


def test_every_hidden_count_matches_the_hidden_block():
    assert LAB.hidden_blocks_match_counts() == []


def test_every_mistake_of_the_issue_has_a_sample():
    names = {s["name"] for s in LAB.samples}
    assert set(MISTAKES.values()) <= names


WRONG = [s for s in LAB.samples if s["kind"] in ("wrong", "partial")]


@pytest.mark.parametrize("sample", WRONG, ids=[s["name"] for s in WRONG])
def test_each_wrong_answer_fails_a_hidden_check_and_loses_points(sample, solution_scores):
    scores = grade(LAB.answers_of(sample))
    lost = {gid for gid in FUNCTIONS if scores[gid].score < solution_scores[gid].score}
    assert lost, f"{sample['name']} loses no points"
    if sample["kind"] == "wrong":
        assert LAB.failed_hidden(scores), f"{sample['name']} fails no hidden check"
    for gid, expected in sample.get("expected_cells", {}).items():
        if gid in scores:
            assert scores[gid].score == pytest.approx(expected), gid


def test_reference_preprocessing_is_keras_mobilenet_v2s():
    x = np.random.default_rng(0).uniform(0, 1, (2, 4, 4, 3))
    keras_own = keras.applications.mobilenet_v2.preprocess_input(x * 255.0)
    # float64 on both sides: equal to rounding
    assert np.max(np.abs(reference.preprocessed(x, "mobilenet_v2_imagenet")["y"] - keras_own)) < 1e-12


def test_reference_neighbours_and_pca_agree_with_scikit_learn():
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors
    rng = np.random.default_rng(1)
    q, bank = rng.standard_normal((7, 10)), rng.standard_normal((60, 10))
    nn = NearestNeighbors(n_neighbors=4, metric="cosine", algorithm="brute").fit(bank)
    assert np.array_equal(reference.nearest_neighbours(q, bank, 4), nn.kneighbors(q)[1])
    f = rng.standard_normal((40, 6)) * [5, 3, 2, 1, 1, 1]
    # eigh of the covariance against sklearn's SVD: agree to ~1e-12 in float64
    assert np.allclose(reference.embedding_abs(f)["e"], np.abs(PCA(2).fit_transform(f)), atol=1e-9)


def test_reference_freezing_follows_the_layer_order():
    from course.models import pretrained
    flags = reference.frozen_flags("resnet20_cifar_animals", "conv3_block3_out")["flags"]
    layers_with_weights = [l for l in pretrained("resnet20_cifar_animals").layers if l.weights]
    names = [l.name for l in layers_with_weights]
    top = names.index("conv4_block1_1_conv")
    assert not any(flags[:top]) and flags[names.index("predictions")]
    assert not any(f for f, l in zip(flags, layers_with_weights) if "BatchNormalization" in type(l).__name__)


def test_the_online_path_runs_on_mobilenet_v2(monkeypatch, tmp_path):
    """The lab's functions build, cut and freeze the ImageNet backbone as the card says
    (its weights mocked: random, nothing downloaded)."""
    from course.models import backbones
    real = keras.applications.MobileNetV2
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "online", lambda host: True)
    monkeypatch.setattr(keras.applications, "MobileNetV2", lambda **kw: real(**{**kw, "weights": None}))
    ns = LAB.namespace(LAB.answers_of({"base": "solution"}), prelude=PRELUDE, skip=SKIP)
    model, backbone = ns["build_transfer_model"]("mobilenet_v2_imagenet", 2)
    assert model.input_shape == (None, 160, 160, 3)
    assert tuple(model(np.zeros((1, 160, 160, 3), "float32")).shape) == (1, 2)
    plan = ns["gradual_unfreezing"](backbone_card("mobilenet_v2_imagenet").block_ends, 3, 1)
    assert [cut for cut, _, _ in plan] == ["out_relu", "block_15_add", "block_12_add"]
    ns["freeze_up_to"](backbone, plan[1][0])
    # above block_15_add: block 16's three convolutions and the last 1x1 (batch norms stay frozen)
    assert {l.name for l in backbone.layers if l.trainable and l.weights} == \
        {"block_16_expand", "block_16_depthwise", "block_16_project", "Conv_1"}

