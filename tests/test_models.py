"""course.models: every published parameter count, and every small variant runs and learns.

Counts are built at the paper's input size with random weights (nothing is downloaded)
and compared exactly: a missing, extra or mis-sized layer changes them. For nets with
batch norm the published number is `autograder.reference.counting.count_params` (Keras' count minus
the batch-norm moving statistics, which PyTorch keeps as buffers). The skeletons that take
lab 04's blocks are built with the instructor's blocks
(`autograder.reference.architecture_blocks`, whose wrappers keep the builders' names).
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from autograder.reference import architecture_blocks as full
from course import models
from autograder.reference.counting import count_params

ROOT = Path(__file__).resolve().parents[1]


def builder_of(name):
    """A network by its builder's name: with the reference blocks where it needs blocks."""
    return getattr(full, name, None) or getattr(models, name)

# (builder, kwargs, published count, source of the number)
PUBLISHED = [
    ("build_alexnet_one_gpu", {}, 61_100_840, "torchvision alexnet"),
    ("build_alexnet", {}, 60_965_224, "Krizhevsky 2012 (Caffe bvlc_alexnet)"),
    ("build_vgg", {"letter": "D"}, 138_357_544, "Simonyan & Zisserman table 2; torchvision vgg16"),
    ("build_googlenet", {"branch3_kernel_size": 3}, 6_624_904, "torchvision googlenet"),
    ("build_googlenet", {"batch_norm": False}, 6_998_552, "Szegedy et al. 2015 (Caffe bvlc_googlenet)"),
    ("build_googlenet", {"branch3_kernel_size": 3, "aux_classifiers": True}, 13_004_888,
     "torchvision googlenet(aux_logits=True)"),
    ("build_resnet18", {}, 11_689_512, "torchvision resnet18"),
    ("build_resnet34", {}, 21_797_672, "torchvision resnet34"),
    ("build_resnet50", {}, 25_557_032, "torchvision resnet50"),
    ("build_se_resnet50", {}, 28_088_024, "Hu et al. released SE-ResNet-50"),
    ("build_densenet121", {}, 7_978_856, "torchvision densenet121"),
    ("build_mobilenet_v2", {}, 3_504_872, "torchvision mobilenet_v2"),
]
PUBLISHED_SLOW = [
    ("build_resnet101", {}, 44_549_160, "torchvision resnet101"),
    ("build_resnet152", {}, 60_192_808, "torchvision resnet152"),
]

# VGG table 2 (millions, rounded) and the exact counts they round.
VGG_MILLIONS = {"A": 133, "B": 133, "C": 134, "D": 138, "E": 144}
VGG_EXACT = {"A": 132_863_336, "B": 133_047_848, "C": 133_638_952, "D": 138_357_544, "E": 143_667_240}

# He et al. section 4.2 / table 6 (millions, rounded to two digits).
CIFAR_RESNET_MILLIONS = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7}


@pytest.mark.parametrize(
    "builder,kwargs,expected,source",
    PUBLISHED + [pytest.param(*p, marks=pytest.mark.slow) for p in PUBLISHED_SLOW],
    ids=lambda v: v if isinstance(v, str) and v.startswith("build_") else None,
)
def test_published_parameter_count(builder, kwargs, expected, source):
    model = builder_of(builder)(**kwargs)
    got = count_params(model)
    assert got == expected, f"{builder}({kwargs}): {got:,} parameters, {source} says {expected:,}"
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == got, "on a fresh model the published count is the trainable count"


@pytest.mark.parametrize("config", ["A", "D", pytest.param("B", marks=pytest.mark.slow),
                                    pytest.param("C", marks=pytest.mark.slow),
                                    pytest.param("E", marks=pytest.mark.slow)])
def test_vgg_configurations(config):
    model = full.build_vgg(letter=config)
    n = model.count_params()  # no batch norm: Keras' count is the published one
    assert n == VGG_EXACT[config]
    assert round(n / 1e6) == VGG_MILLIONS[config], f"VGG {config}: {n:,} is not {VGG_MILLIONS[config]}M"


@pytest.mark.parametrize("depth", sorted(CIFAR_RESNET_MILLIONS))
def test_cifar_resnet_parameter_counts(depth):
    n = count_params(full.build_cifar_resnet(depth=depth))
    digits = 1 if depth == 110 else 2
    assert round(n / 1e6, digits) == CIFAR_RESNET_MILLIONS[depth], f"ResNet-{depth}: {n:,}"


def test_hand_counted_small_nets():
    # Each count is written out in the builder's docstring from the layer widths.
    assert models.build_mlp().count_params() == 784 * 128 + 128 + 128 * 10 + 10
    # LeCun 1998, section II.B: "60,000 trainable parameters", plus 84 x 10 fixed RBF codes.
    assert models.build_lenet1998().count_params() == 60_000 + 840
    # LeCun 1989, section 5: "9760 free parameters".
    assert models.build_lenet1989().count_params() == 9_760
    # NIN: Caffe model-zoo ImageNet net and the paper's CIFAR-10 net, layer by layer.
    imagenet_nin = (34_944 + 2 * 9_312) + (614_656 + 2 * 65_792) + (885_120 + 2 * 147_840) \
        + (3_539_968 + 1_049_600 + 1_025_000)
    assert full.build_nin().count_params() == imagenet_nin == 7_595_176
    cifar_nin = (14_592 + 30_880 + 15_456) + (460_992 + 2 * 37_056) + (331_968 + 37_056 + 1_930)
    assert full.build_nin((32, 32, 3), 10, small_input=True).count_params() == cifar_nin


def test_plain_nets_are_resnets_without_shortcuts():
    # ResNet-18's three projection shortcuts: 1x1 conv + batch norm (gamma, beta).
    projections = sum(cin * cout + 2 * cout for cin, cout in [(64, 128), (128, 256), (256, 512)])
    assert count_params(full.build_plain18()) == 11_689_512 - projections
    plain = full.build_plain34()
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)


def test_googlenet_paper_kernel_and_grid_reduction():
    # Paper's 5x5 kernels add (25 - 9) * reduce * out weights to each module's branch.
    extra = 16 * sum(r5 * f5 for (_, _, _, r5, f5, _) in models.inception.GOOGLENET_MODULES.values())
    assert count_params(full.build_googlenet()) == 6_624_904 + extra
    inputs = keras.Input((35, 35, 320))    # Forsyth fig. 18.4: 35x35x320 -> 17x17x640
    assert tuple(full.grid_reduction(inputs).shape) == (None, 17, 17, 640)


def test_the_skeletons_need_their_blocks():
    with pytest.raises(TypeError, match="bottleneck_block"):
        models.build_se_resnet50()
    with pytest.raises(ValueError, match="bottleneck_block=<function>"):
        models.build_resnet50(basic_block=full.basic_block)


def test_every_layer_is_named():
    for model in (full.build_resnet18((32, 32, 3), 10, small_input=True), models.build_lenet1989(),
                  models.build_lenet1998(), full.build_googlenet((32, 32, 3), 10, small_input=True)):
        generic = [layer.name for layer in model.layers
                   if layer.name.split("_")[0] in {"conv2d", "dense", "batch", "activation", "add"}]
        assert not generic, f"{model.name} has auto-named layers: {generic[:5]}"


@pytest.mark.parametrize("call,message", [
    (lambda: models.build_resnet50(input_shape=(16, 16, 3)), "(16, 16, 3)"),
    (lambda: models.build_resnet(depth=42), "42"),
    (lambda: models.build_vgg(config=["conv3-64", "conv3"]), "'conv3'"),
    (lambda: full.build_cifar_resnet(depth=21), "21"),
    (lambda: models.build_lenet1998(num_classes=1), "1"),
    (lambda: models.build_lenet1998(input_shape=(28, 28, 1)), "(28, 28, 1)"),
    (lambda: full.build_googlenet((128, 128, 3), aux_classifiers=True), "(128, 128, 3)"),
])
def test_invalid_arguments_say_what_was_received(call, message):
    with pytest.raises(ValueError, match="must") as info:
        call()
    assert message in str(info.value)


# Small variants the labs train: (builder, kwargs, input shape, classes).
SMALL = {
    "mlp": ("build_mlp", {}, (28, 28, 1), 10),
    "lenet1989": ("build_lenet1989", {}, (16, 16, 1), 10),
    "lenet1998": ("build_lenet1998", {}, (32, 32, 1), 10),
    "alexnet": ("build_alexnet_one_gpu", {"small_input": True, "fc_units": 256}, (32, 32, 3), 10),
    "alexnet_two_tower": ("build_alexnet", {"small_input": True, "fc_units": 256}, (32, 32, 3), 10),
    "vgg16": ("build_vgg", {"letter": "D", "fc_units": 256}, (32, 32, 3), 10),
    "nin": ("build_nin", {"small_input": True}, (32, 32, 3), 10),
    "googlenet": ("build_googlenet", {"small_input": True}, (32, 32, 3), 10),
    "resnet18": ("build_resnet18", {"small_input": True}, (32, 32, 3), 10),
    "resnet20": ("build_cifar_resnet", {}, (32, 32, 3), 10),
    "plain20": ("build_cifar_resnet", {"residual": False}, (32, 32, 3), 10),
    "resnet20_option_b": ("build_cifar_resnet", {"shortcut": "B"}, (32, 32, 3), 10),
    "se_resnet50": ("build_se_resnet50", {"small_input": True}, (32, 32, 3), 10),
    "densenet121": ("build_densenet121", {"small_input": True}, (32, 32, 3), 10),
    "mobilenet_v2": ("build_mobilenet_v2", {"small_input": True}, (32, 32, 3), 10),
}
# LeNet-1998's RBF logits are minus squared distances over 84 units (spread ~25 at
# initialization): Adam at 1e-3 overshoots, as the builder's docstring says.
LEARNING_RATE = {"lenet1998": 1e-4}
SLOW_TRAINING = {"se_resnet50", "densenet121", "googlenet", "mobilenet_v2", "resnet18", "alexnet_two_tower"}


def _build_small(key):
    builder, kwargs, shape, classes = SMALL[key]
    return builder_of(builder)(input_shape=shape, num_classes=classes, **kwargs)


def _batch(key, n=2, seed=0):
    _, _, shape, classes = SMALL[key]
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape), dtype=np.float32), rng.integers(0, classes, n)


# Runs in a fresh interpreter, because Keras fixes its backend at import time.
_FORWARD_SCRIPT = """
import json, sys, numpy as np
sys.path.insert(0, sys.argv[1])
import tests.test_models as t
out = {}
for key in sys.argv[2].split(","):
    x, _ = t._batch(key)
    out[key] = list(t._build_small(key).predict(x, verbose=0).shape)
print("SHAPES" + json.dumps(out))
"""

# Building a model under JAX on a CPU is slow (10-40 s for a ResNet-20 on 2 busy
# cores), so the quick suite checks the nets with custom layers (UnitBias, ChannelPad,
# Subsampling, TableConv2D, EuclideanRBF) and the full suite all of them.
QUICK_BACKEND_CHECK = ("mlp", "lenet1989", "lenet1998", "resnet20")


def _shapes_under(backend, keys):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", _FORWARD_SCRIPT, str(ROOT), ",".join(keys)],
                          env=env, capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("SHAPES")][-1]
    return {k: tuple(v) for k, v in json.loads(line[len("SHAPES"):]).items()}


@pytest.fixture(scope="module")
def tensorflow_shapes():
    if keras.backend.backend() == "tensorflow":
        return {key: tuple(_build_small(key)(_batch(key)[0], training=False).shape) for key in SMALL}
    return _shapes_under("tensorflow", SMALL)


def test_small_variants_forward_on_tensorflow(tensorflow_shapes):
    for key, shape in tensorflow_shapes.items():
        assert shape == (2, SMALL[key][3]), f"{key}: output {shape}, expected (2, {SMALL[key][3]})"


def _skip_unless_installed(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_custom_layers_run_on_other_backends(backend, tensorflow_shapes):
    _skip_unless_installed(backend)
    assert _shapes_under(backend, QUICK_BACKEND_CHECK) == {k: tensorflow_shapes[k] for k in QUICK_BACKEND_CHECK}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_small_variants_same_shapes_on_other_backends(backend, tensorflow_shapes):
    _skip_unless_installed(backend)
    assert _shapes_under(backend, SMALL) == tensorflow_shapes


@pytest.mark.parametrize("key", [k if k not in SLOW_TRAINING else pytest.param(k, marks=pytest.mark.slow)
                                 for k in SMALL])
def test_a_few_training_steps_lower_the_loss(key):
    keras.utils.set_random_seed(0)
    model = _build_small(key)
    # Eager: tracing a graph costs more than six steps on a batch of eight.
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE.get(key, 1e-3)), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)
    x, y = _batch(key, n=8)
    losses = [float(model.train_on_batch(x, y)) for _ in range(6)]
    assert losses[-1] < losses[0], f"{key}: loss went {losses[0]:.4f} -> {losses[-1]:.4f} on one repeated batch"
