"""Lab 04 (architectures): the hidden checks tell the solution from every listed mistake, and
the reference agrees with independent oracles.

In process (tests/labkit.py): the answer cells of the solution notebook, or of a sample in
autograder/samples/04-architectures/samples.toml, run into a namespace; each test cell's
suite is answered from it and judged against autograder/reference/architectures.py, as the
grader does. The training cell (the degradation experiment) and the samples that differ
only there are left to the end-to-end pipeline. The oracles: published counts (the VGG
paper and torchvision, the AlexNet paper, He et al.), the instructor's Keras blocks
(autograder/reference/architecture_blocks.py) in the course's skeletons and
`autograder.reference.counting` (tested against those counts in test_models.py and test_counting.py),
Keras's own layers, TensorFlow's LRN and scikit-image's Gabor kernels. The solution's own
blocks, handed to the skeletons as the lab does, must give the published networks.
"""
import functools

import numpy as np
import pytest

from labkit import Lab

keras = pytest.importorskip("keras")

from autograder.reference import architecture_blocks as blocks   # noqa: E402
from course import models                                   # noqa: E402
from autograder.reference.counting import count_params, layer_table       # noqa: E402

TRAINING = ("arch-degradation-run",)
PRELUDE = "import keras\nfrom keras import layers"
LAB = Lab("04-architectures")
reference = LAB.reference
UNTRAINED = tuple(gid for gid in LAB.tests if gid.removesuffix("-checks") not in TRAINING)
TRAINING_POINTS = sum(LAB.tests[f"{gid}-checks"][1] for gid in TRAINING)


def grade(answers: dict[str, str]) -> dict[str, float]:
    ns = LAB.namespace(answers, prelude=PRELUDE, skip=TRAINING)
    return {gid: s.score for gid, s in LAB.grade(ns, cells=UNTRAINED).items()}


@functools.cache
def solution_namespace():
    return LAB.namespace(LAB.answers_of({"base": "solution"}), prelude=PRELUDE, skip=TRAINING)


@functools.cache
def solution_scores():
    return LAB.grade(solution_namespace(), cells=UNTRAINED)


def test_solution_passes_every_check_against_the_reference():
    scores = solution_scores()
    assert LAB.failed_hidden(scores) == []
    assert {gid: s.score for gid, s in scores.items()} == {gid: LAB.tests[gid][1] for gid in UNTRAINED}
    assert sum(points for _, points in LAB.tests.values()) == 36


def test_every_hidden_count_matches_the_hidden_block():
    assert LAB.hidden_blocks_match_counts() == []


# Each mistake issue 17 lists, by its sample: the cells it must lose points in.
MISTAKES = {
    "wrong-shortcut-after-relu": "arch-residual-blocks-checks",
    "wrong-no-projection-on-stride": "arch-residual-blocks-checks",
    "wrong-se-per-pixel": "arch-se-block-checks",
    "wrong-inception-5x5-unreduced": "arch-inception-checks",
    "wrong-vgg-c-all-3x3": "arch-vgg-config-checks",
    "wrong-lrn-spatial-axis": "arch-lrn-checks",
    "wrong-rf-no-stride-product": "arch-receptive-fields-checks",
}


def test_every_listed_mistake_has_a_sample():
    assert set(MISTAKES) <= {s["name"] for s in LAB.samples}


WRONG = [s for s in LAB.samples if s["kind"] in ("wrong", "partial")
         and not set(s.get("answers", {})) & set(TRAINING)]


@pytest.mark.parametrize("sample", WRONG, ids=[s["name"] for s in WRONG])
def test_each_wrong_answer_fails_a_hidden_check_and_scores_as_expected(sample):
    ns = LAB.namespace(LAB.answers_of(sample), prelude=PRELUDE, skip=TRAINING)
    judged = LAB.grade(ns, cells=UNTRAINED)
    scores = {gid: s.score for gid, s in judged.items()}
    if sample["name"] in MISTAKES:
        cell = MISTAKES[sample["name"]]
        assert any(cell == f.split(":")[0] for f in LAB.failed_hidden(judged)), \
            f"{sample['name']}: no hidden check of {cell} fails"
        assert scores[cell] < LAB.tests[cell][1]
    for gid, expected in sample.get("expected_cells", {}).items():
        if gid in scores:
            assert scores[gid] == pytest.approx(expected, abs=1e-5), gid
    if sample.get("base") == "solution":
        assert sum(scores.values()) == pytest.approx(sample["expected"] - TRAINING_POINTS, abs=1e-5)
    else:
        assert sum(scores.values()) == pytest.approx(sample["expected"], abs=1e-5)


# --------------------------------------------------------------------- the reference's oracles

def test_alexnet_and_vgg_counts_are_the_published_ones():
    # Krizhevsky et al. / Caffe bvlc_alexnet: 60,965,224 (course builder, test_models.py).
    assert reference.alexnet_params(1000)["n"] == 60_965_224
    # VGG table 2 as torchvision counts it (test_models.py VGG_EXACT), and table 1's depths.
    exact = {"A": 132_863_336, "B": 133_047_848, "C": 133_638_952, "D": 138_357_544, "E": 143_667_240}
    depth = {"A": 11, "B": 13, "C": 16, "D": 16, "E": 19}
    for letter in "ABCDE":
        assert int(reference.vgg_params(letter).sum()) == exact[letter], letter
        config = reference.vgg_config(letter)
        assert sum(e.startswith("conv") for e in config) + 3 == depth[letter]
        assert config.count("maxpool") == 5
    assert reference.vgg_params("D")[1] == 7 * 7 * 512 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert [e for e in reference.vgg_config("C") if e.startswith("conv1")] == ["conv1-256", "conv1-512", "conv1-512"]


def test_receptive_fields_agree_with_the_counting_tables():
    model = models.build_vgg((32, 32, 3), 10, config=reference.vgg_config("D"), fc_units=16)
    table = layer_table(model)
    rows = [r for r in table.rows if r.layer_type in ("Conv2D", "MaxPooling2D")]
    spec = [(3, 1) if r.layer_type == "Conv2D" else (2, 2) for r in rows]
    got = reference.receptive_fields(spec)
    assert got.tolist() == [[r.receptive_field, r.stride] for r in rows]
    assert got[-1].tolist() == [212, 32]


def test_block_counts_agree_with_the_course_builders():
    for depth in (8, 14, 20, 32):
        for residual in (False, True):
            built = blocks.build_cifar_net(depth, shortcut="B", residual=residual)
            assert reference.cifar_net_params(depth, residual, 16, (32, 32, 3), 10)["n"] == count_params(built)
    # torchvision's ResNet-50 layer1[0]
    assert reference.bottleneck_params(64, 64, 1)["n"] == 75_008
    # SE-ResNet-50's 16 SE blocks (r = 16): 28,088,024 - 25,557,032
    se_channels = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    assert sum(reference.se_params(c, 16)["n"] for c in se_channels) == 28_088_024 - 25_557_032


def test_inception_and_grid_reduction_agree_with_the_keras_blocks():
    inp = keras.Input((28, 28, 192))
    module = keras.Model(inp, blocks.inception_module(inp, (64, 96, 128, 16, 32, 32), name="m"))
    got = reference.inception_params((28, 28, 192), (64, 96, 128, 16, 32, 32))
    assert got["n"] == module.count_params() == 163_328 + 368      # the weights, plus biases
    assert got["shape"] == [28, 28, 256]
    grid = keras.Input((35, 35, 320))
    block = keras.Model(grid, blocks.grid_reduction(grid))
    ref = reference.grid_reduction_params((35, 35, 320))
    assert ref["n"] == block.count_params()
    assert ref["shape"] == list(block.output.shape[1:]) == [17, 17, 640]


def test_counts_agree_with_keras():
    # What Keras's own layers count for the specifications the reference writes out.
    inp = keras.Input((6, 6, 16))
    x = inp
    for _ in range(3):
        y = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(
            keras.layers.ReLU()(keras.layers.BatchNormalization()(x)))
        x = keras.layers.Concatenate()([x, y])
    dense = keras.Model(inp, x)
    assert reference.dense_block_params(16, 3, 8)["n"] == count_params(dense) \
        == count_params(keras.Model(inp, blocks.dense_block(inp, 3, 8)))
    # DenseNet-B, as the lab's visible check states it: 2 * 16 + 16 * 32 + 2 * 32 + 9 * 32 * 8, then from 24
    assert count_params(keras.Model(inp, blocks.dense_block(inp, 2, 8, bottleneck=4))) == 2_912 + 3_184 == 6_096
    mini = keras.Sequential([keras.Input((21, 21, 3)), keras.layers.Conv2D(8, 3, strides=2, padding="same"),
                             keras.layers.BatchNormalization(), keras.layers.MaxPooling2D(2), keras.layers.Conv2D(12, 3),
                             keras.layers.Flatten(), keras.layers.Dense(10)])
    table = layer_table(mini, include_bias=False)
    macs = sum(r.connections for r in table.rows if r.layer_type in ("Conv2D", "Dense"))
    units, weights, connections = reference.scale_strided_net(21, 8, 12, 3)["s"]
    assert (weights, connections) == (count_params(mini), macs)
    pair = keras.Sequential([keras.Input((14, 14, 512)), keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False),
                             keras.layers.Conv2D(512, 1, use_bias=False)])
    assert reference.separable_cost(14, 14, 512, 512)[1] == layer_table(pair, include_bias=False).total_connections
    assert reference.mini_alexnet_params((32, 32, 3), 10, ())["n"] == 580_554   # the lab's hand count


def test_lrn_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 9)) * 60
    expected = tf.nn.local_response_normalization(x.astype("float32"), 2, 2.0, 1e-4, 0.75).numpy()
    assert np.max(np.abs(reference.lrn(x) - expected) / np.abs(expected).max()) < 1e-5


def test_gabor_matches_scikit_image():
    filters = pytest.importorskip("skimage.filters")
    sigma, theta, frequency, offset = 1.7, 0.6, 0.2, 0.4
    kernel = filters.gabor_kernel(frequency, theta=theta, sigma_x=sigma, sigma_y=sigma, offset=offset)
    size = kernel.shape[0]
    # skimage normalizes by 2 pi sigma^2 and rotates x' = x cos(theta) + y sin(theta), rows = y
    ours = reference.gabor(size, sigma, theta, 1 / frequency, offset) / (2 * np.pi * sigma ** 2)
    assert np.max(np.abs(ours - kernel.real)) < 1e-12


def test_se_block_matches_keras():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 8))
    w1, b1, w2, b2 = rng.standard_normal((8, 2)), rng.standard_normal(2), rng.standard_normal((2, 8)), rng.standard_normal(8)
    inp = keras.Input((3, 5, 8))
    model = keras.Model(inp, blocks.se_block(inp, 4, name="se"))
    model.get_layer("se_reduce").set_weights([w1, b1])
    model.get_layer("se_expand").set_weights([w2, b2])
    assert np.allclose(reference.se_block(x, w1, b1, w2, b2)["y"], keras.ops.convert_to_numpy(model(x)), atol=1e-5)


def test_chain_gain_and_pareto_front_on_hand_cases():
    half = [np.eye(2) * 0.5] * 3
    assert np.allclose(reference.chain_gain(half), [0.125, 0.25, 0.5])
    assert np.allclose(reference.chain_gain(half, residual=True), [3.375, 2.25, 1.5])
    diag = [np.diag([2.0, 0.1]), np.diag([0.5, 3.0])]          # commuting: the norm of the product is known
    assert np.allclose(reference.chain_gain(diag), [max(1.0, 0.3), 3.0])
    # a sweep over cost keeps a running best accuracy: an O(N log N) front to compare with
    rng = np.random.default_rng(3)
    cost, acc = rng.integers(0, 8, 60).astype(float), rng.integers(0, 8, 60).astype(float)
    order = sorted(range(60), key=lambda i: (cost[i], -acc[i], i))
    front, best = [], -np.inf
    for i in order:
        if acc[i] > best or (front and cost[front[-1]] == cost[i] and acc[front[-1]] == acc[i]):
            front.append(i)
            best = max(best, acc[i])
    assert reference.pareto_front(cost, acc).tolist() == sorted(front, key=lambda i: (cost[i], i))


def test_error_overlap_by_counting():
    y, a, b = [0, 1, 2, 3], [0, 1, 0, 0], [1, 1, 2, 0]
    assert reference.error_overlap(y, a, b).tolist() == [0.5, 0.5, 0.25, 0.25]


def test_forbidden_imports_are_flagged(tmp_path):
    import nbformat
    from autograder import integrity
    source = nbformat.read(LAB.source, as_version=4)
    cell = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "arch-residual-blocks")
    for line in ("from course.models._utils import conv_bn", "import autograder.reference.counting", "from autograder.reference import counting",
                 "from autograder.reference.architecture_blocks import basic_block"):
        cell.source = line + "\n"
        path = tmp_path / "sub.ipynb"
        nbformat.write(source, path)
        flags, _ = integrity.check_submission(nbformat.read(LAB.source, as_version=4), path, lab=LAB.name)
        assert "forbidden-import" in {f.code for f in flags}, line


def test_a_deleted_test_cell_is_flagged(tmp_path):
    """What the demo_only sample broken-deleted-test-cell shows through the pipeline, in process."""
    import nbformat
    from autograder import integrity
    source = nbformat.read(LAB.source, as_version=4)
    source.cells = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "arch-lrn-checks"]
    path = tmp_path / "sub.ipynb"
    nbformat.write(source, path)
    flags, _ = integrity.check_submission(nbformat.read(LAB.source, as_version=4), path, lab=LAB.name)
    assert "deleted-test-cell" in {f.code for f in flags}

# --------------------------------------------------------------------- the numbers the prose states

COMPUTING = ("Conv2D", "DepthwiseConv2D", "Dense")


def grosse_scale(model):
    """Units, trainable weights and multiply-adds of the computing layers, by autograder.reference.counting."""
    rows = [r for r in layer_table(model, include_bias=False).rows if r.layer_type in COMPUTING]
    weights = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return np.array([sum(r.units for r in rows), weights, sum(r.connections for r in rows)])


def test_part1_scale_table_numbers():
    lenet89, lenet98, alexnet = (grosse_scale(b()) for b in
                                 (models.build_lenet1989, lambda: models.build_lenet1998(include_top=False),
                                  blocks.build_alexnet))
    assert lenet89[0] + 256 == 1_256 and lenet89[2] + lenet89[0] == 64_660    # LeCun's conventions
    lenet98_all = layer_table(models.build_lenet1998(include_top=False))
    assert lenet98[1] == lenet98_all.total_weights == 60_000                     # LeCun's 60,000
    assert lenet98_all.total_units == 8_084 and lenet98_all.total_connections == 340_068   # Grosse's units
    with_weights = [l for l in models.build_lenet1998(include_top=False).layers if l.weights]
    assert sum(int(np.prod(l.output.shape[1:])) for l in with_weights) == 8_084           # the notebook's sum
    assert alexnet[:2].tolist() == [659_272, 60_965_224]
    assert (round(alexnet[0] / 8_084, -1), round(alexnet[1] / 60_000, -2)) == (80, 1_000)   # "80", "1,000 times"


def test_part2_and_3_numbers():
    assert count_params(blocks.build_alexnet(groups=1)) == 62_378_344                     # towers merged
    assert count_params(blocks.build_alexnet_one_gpu()) == 61_100_840                   # torchvision's
    for groups, share in ((2, 4), (1, 6)):
        m = blocks.build_alexnet(groups=groups)
        table = layer_table(m, include_bias=False)
        conv_weights = sum(r.weights for r in layer_table(m).rows if r.layer_type == "Conv2D")
        conv_macs = sum(r.connections for r in table.rows if r.layer_type == "Conv2D")
        _, weights, macs = grosse_scale(m)
        assert round(100 * conv_weights / weights) == share and conv_macs / macs > 0.9   # "4% and 6%", "over 90%"
    assert round(grosse_scale(blocks.build_alexnet())[2] / 1e8) == 7                 # AlexNet 0.7 G (Part 9)
    c = 64
    assert (27 * c * c, 49 * c * c) == (110_592, 200_704)
    alexnet_rf = reference.receptive_fields(((11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)))
    vgg16 = [(3, 1)] * 2 + [(2, 2)] + [(3, 1)] * 2 + [(2, 2)] + ([(3, 1)] * 3 + [(2, 2)]) * 2 + [(3, 1)] * 3
    assert alexnet_rf[-1, 0] == 195 and reference.receptive_fields(vgg16)[-1].tolist() == [196, 16]
    shares = {letter: reference.vgg_params(letter)[1] / reference.vgg_params(letter).sum() for letter in "AE"}
    assert (round(100 * shares["A"]), round(100 * shares["E"])) == (93, 86)
    assert round(grosse_scale(blocks.build_vgg(letter="D"))[2] / 1e8) == 155         # 15.5 G multiply-adds


def test_part4_and_5_numbers():
    maps = keras.Input((8, 8, 192))
    flat = keras.layers.Flatten()(maps)
    gap = keras.Model(maps, keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(10, 1)(maps)))
    dense = keras.Model(maps, keras.layers.Dense(10)(flat))
    alexnet_head = keras.Model(maps, keras.layers.Dense(10)(keras.layers.Dense(4096)(keras.layers.Dense(4096)(flat))))
    assert (count_params(gap), count_params(dense)) == (1_930, 122_890)
    assert round(count_params(alexnet_head) / 1e6) == 67 and round(count_params(alexnet_head) / 966_986, -1) == 70
    grid = keras.Input((28, 28, 192))
    module = keras.Model(grid, blocks.inception_module(grid, (64, 96, 128, 16, 32, 32), name="m"))
    assert round(grosse_scale(module)[2] / 1e6) == 128 and round(393_216 * 28 * 28 / 1e6) == 308
    for kernel, expected in ((5, 7_005_832), (3, 6_624_904)):                     # torchvision's batch norm
        m = blocks.build_googlenet(branch3_kernel_size=kernel)
        assert count_params(m) == expected and m.get_layer("predictions").count_params() == 1_025_000
    paper = models.build_googlenet(inception_module=blocks.inception_module)    # the lab's: biases, 5x5
    assert count_params(paper) == 6_998_552 and paper.get_layer("predictions").count_params() == 1_025_000


def test_part6_chain_gain_numbers():
    rng = np.random.default_rng(0)               # the lab's fifty 64x64 Jacobians
    jacobians = [0.2 / np.sqrt(64) * rng.standard_normal((64, 64)) for _ in range(50)]
    assert reference.chain_gain(jacobians)[0] < 1e-30
    residual = reference.chain_gain(jacobians, residual=True)
    assert 1 <= residual.min() and residual.max() <= 10


def test_part9_mobilenet_numbers():
    _, weights, macs = grosse_scale(models.build_mobilenet_v2())
    assert round(weights / 1e5) == 35 and round(macs / 1e8) == 3                     # 3.5 M, 0.3 G


# (the course's skeleton, what the lab passes it, the published count); each built and freed in turn
SKELETONS = [
    ("build_vgg", lambda ns: {"config": ns["vgg_config"]("D")}, 138_357_544),
    ("build_nin", lambda ns: {"mlpconv_block": ns["mlpconv_block"]}, 7_595_176),
    ("build_googlenet", lambda ns: {"inception_module": ns["inception_module"]}, 6_998_552),
    ("build_resnet18", lambda ns: {"basic_block": ns["basic_block"]}, 11_689_512),
    ("build_resnet50", lambda ns: {"bottleneck_block": ns["bottleneck_block"]}, 25_557_032),
    ("build_se_resnet50", lambda ns: {"bottleneck_block": ns["bottleneck_block"], "se_block": ns["se_block"]},
     28_088_024),
    ("build_densenet121", lambda ns: {"dense_block": ns["dense_block"]}, 7_978_856),
]


@pytest.mark.parametrize("builder,blocks_of,published", SKELETONS, ids=[s[0] for s in SKELETONS])
def test_the_solutions_blocks_in_the_course_skeletons_are_the_published_networks(builder, blocks_of, published):
    model = getattr(models, builder)(**blocks_of(solution_namespace()))
    assert count_params(model) == published
    del model
    keras.backend.clear_session()
