"""autograder.reference.counting: Grosse's LeNet table, published multiply-adds, VGG's arithmetic, any model.

The oracles are independent of this code: numbers printed in the seeds (Grosse's
lecture 12 table, the AlexNet paper's neuron counts quoted there, the VGG deck's
27C^2 / 49C^2 and 103M / 17M / 4M) and published multiply-add counts.
"""

import functools

import keras
import numpy as np
import pytest

from autograder.reference.convnets import lenet5
from autograder.reference import architecture_blocks as full
from course import models
from autograder.reference.counting import ALL, LayerTable, count_params, layer_table

# Grosse, CSC321 lecture 12, slide 14 "sizes of layers in LeNet" (seed 001):
# layer: (units, connections, weights), weights without biases, C3 fully connected.
GROSSE_LENET = {
    "c1": (4_704, 117_600, 150),
    "s2": (1_176, 4_704, 0),
    "c3": (1_600, 240_000, 2_400),
    "s4": (400, 1_600, 0),
    "f5": (120, 48_000, 48_000),
    "f6": (84, 10_080, 10_080),
    "output": (10, 840, 840),
}


@functools.cache
def full_size(builder):
    """Each big model once per test session (building VGG-16 takes seconds and 0.5 GB), with
    lab 04's reference blocks where the skeleton needs blocks."""
    return getattr(full, builder)()


def test_grosse_lenet_table_exactly():
    table = layer_table(lenet5(), include_bias=False)
    for name, expected in GROSSE_LENET.items():
        row = table[name]
        assert (row.units, row.connections, row.weights) == expected, (
            f"{name}: (units, connections, weights) = {(row.units, row.connections, row.weights)}, "
            f"Grosse's table says {expected}")
    # Sums of his columns. (His summary slide differs: it counts LeCun's sparse C3
    # without the output layer; see test_lenet_1998_matches_lecun_and_grosse.)
    assert table.total_units == sum(v[0] for v in GROSSE_LENET.values()) == 8_094
    assert table.total_connections == sum(v[1] for v in GROSSE_LENET.values()) == 422_824
    assert table.total_weights == sum(v[2] for v in GROSSE_LENET.values()) == 61_470


def test_lenet_with_biases_is_what_keras_counts():
    model = lenet5()
    table = layer_table(model)
    # Each bias adds one weight and one connection per output unit (conv: per map).
    expected = {"c1": (150 + 6, 117_600 + 4_704), "c3": (2_400 + 16, 240_000 + 1_600),
                "f5": (48_000 + 120, 48_000 + 120), "f6": (10_080 + 84, 10_080 + 84),
                "output": (840 + 10, 840 + 10)}
    for name, (weights, connections) in expected.items():
        assert (table[name].weights, table[name].connections) == (weights, connections), name
    assert table.total_weights == model.count_params() == 61_706


# LeCun et al. 1998, section II.B: (trainable parameters, connections) of each layer,
# biases counted in both, C3 read through Table I.
LECUN_1998 = {
    "c1": (156, 122_304),
    "s2": (12, 5_880),
    "c3": (1_516, 151_600),
    "s4": (32, 2_000),
    "c5": (48_120, 48_120),
    "f6": (10_164, 10_164),
}


def test_lenet_1998_matches_lecun_and_grosse():
    table = layer_table(models.build_lenet1998(include_top=False))
    for name, expected in LECUN_1998.items():
        assert (table[name].weights, table[name].connections) == expected, (
            f"{name}: (parameters, connections) = {(table[name].weights, table[name].connections)}, "
            f"LeCun 1998 says {expected}")
    # Grosse's lecture 12 summary row "LeNet (1998)": 8,084 units (C1..F6, no input, no
    # output layer) and 60,000 parameters. He prints 344,000 connections; the paper's own
    # per-layer figures above sum to 340,068.
    assert table.total_units == 8_084
    assert table.total_weights == sum(w for w, _ in LECUN_1998.values()) == 60_000
    assert table.total_connections == sum(c for _, c in LECUN_1998.values()) == 340_068
    # By hand: rf_out = rf_in + (k - 1) * stride_in, as for the 1998 net drawn with pools.
    assert (table["c3"].receptive_field, table["s4"].receptive_field, table["c5"].receptive_field) == (14, 16, 32)


def test_lenet_1998_output_layer_is_fixed_rbf_codes():
    model = models.build_lenet1998()
    rbf = model.get_layer("output")
    assert count_params(model) == 60_000 + 840
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 60_000
    assert layer_table(model)["output"].connections == 84 * 10
    assert set(np.unique(rbf.codes.numpy())) == {-1.0, 1.0}


def test_lenet_1998_c3_is_a_masked_full_convolution():
    # Oracle: Keras' dense 6->16 convolution with the kernel zero outside Table I.
    c3 = models.build_lenet1998(include_top=False).get_layer("c3")
    x = np.random.default_rng(0).standard_normal((2, 14, 14, 6)).astype("float32")
    links = c3.kernel.numpy()[..., 0]
    full = np.zeros((5, 5, 6, 16), dtype="float32")
    pairs = [(i, j) for j, sources in enumerate(models.lenet.LENET1998_C3_TABLE) for i in sources]
    assert len(pairs) == 60  # 6 maps x 3 + 9 x 4 + 1 x 6
    for link, (i, j) in enumerate(pairs):
        full[:, :, i, j] = links[:, :, link]
    expected = keras.ops.convert_to_numpy(keras.ops.conv(x, full, padding="valid")) + c3.bias.numpy()
    # float32 sums of 150 products: agreement to 1e-5 relative is round-off.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(c3(x)), expected, rtol=1e-5, atol=1e-5)


def test_lenet_1989_matches_lecun():
    # LeCun et al. 1989, section 5: 64,660 connections, 9,760 free parameters
    # (Grosse's slide 16 rounds them to 65,000 and 9,760); biases count as connections.
    table = layer_table(models.build_lenet1989())
    assert table.total_connections == 64_660
    assert table.total_weights == 9_760


def test_receptive_fields_and_strides_of_lenet():
    table = layer_table(lenet5())
    got = {n: (table[n].receptive_field, table[n].stride) for n in ("c1", "s2", "c3", "s4")}
    # By hand: rf_out = rf_in + (k - 1) * stride_in.
    assert got == {"c1": (5, 1), "s2": (6, 2), "c3": (14, 2), "s4": (16, 4)}
    assert table["f5"].receptive_field == ALL


def test_alexnet_units_from_the_paper():
    # Krizhevsky et al. fig. 2 caption (quoted in seed 001): neurons per layer
    # 253,440-186,624-64,896-64,896-43,264-4096-4096-1000. The first is a known slip of
    # the paper (55 x 55 x 96 = 290,400), so it is checked as the product instead.
    table = layer_table(full_size("build_alexnet"))
    units = [table[n].units for n in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")]
    assert units == [55 * 55 * 96, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]


# Published multiply-adds per 224x224 image (32x32 for the CIFAR ResNet-18). They are
# printed to 2-3 significant digits, so 1% is the tolerance; dropping any one conv of
# these nets changes the total by more than that.
PUBLISHED_MACS = [
    ("build_alexnet_one_gpu", {}, 0.71e9),
    ("build_vgg", {}, 15.5e9),
    ("build_resnet18", {}, 1.82e9),
    ("build_resnet50", {}, 4.1e9),
]


@pytest.mark.parametrize("builder,kwargs,expected", PUBLISHED_MACS, ids=[p[0] for p in PUBLISHED_MACS])
def test_published_multiply_adds(builder, kwargs, expected):
    got = layer_table(full_size(builder), include_bias=False).total_connections
    assert got == pytest.approx(expected, rel=0.01), f"{builder}: {got / 1e9:.3f} G multiply-adds"


def test_cifar_resnet18_multiply_adds():
    model = full.build_resnet18((32, 32, 3), 10, small_input=True)
    got = layer_table(model, include_bias=False).total_connections
    assert got == pytest.approx(0.56e9, rel=0.01), f"{got / 1e9:.3f} G"


def test_three_3x3_convs_against_one_7x7():
    # Seed 003: 7x7 has 7^2 C^2 weights, three stacked 3x3 have 3 (3^2 C^2) = 27 C^2,
    # with the same 7x7 receptive field.
    c = 64
    inputs = keras.Input((56, 56, c))
    x = inputs
    for i in range(3):
        x = keras.layers.Conv2D(c, 3, padding="same", name=f"conv3x3_{i}")(x)
    stack = keras.Model(inputs, x)
    single = keras.Model(inputs, keras.layers.Conv2D(c, 7, padding="same", name="conv7x7")(inputs))
    stack_table = layer_table(stack, include_bias=False)
    single_table = layer_table(single, include_bias=False)
    assert stack_table.total_weights == 27 * c * c
    assert single_table.total_weights == 49 * c * c
    assert stack_table["conv3x3_2"].receptive_field == single_table["conv7x7"].receptive_field == 7


def test_vgg16_fully_connected_layers():
    # Seed 003: FC1 7*7*512*4096 = 103M, FC2 4096*4096 = 17M, FC3 4096*1000 = 4M; total 138M.
    table = layer_table(full_size("build_vgg"), include_bias=False)
    fc = [table[n].weights for n in ("fc1", "fc2", "predictions")]
    assert fc == [7 * 7 * 512 * 4096, 4096 * 4096, 4096 * 1000]
    assert [round(w / 1e6) for w in fc] == [103, 17, 4]
    with_bias = layer_table(full_size("build_vgg"))
    assert round(with_bias.total_weights / 1e6) == 138
    # Conv5_3 of VGG-16 sees 196x196 pixels, 16 apart; after the last pool 212, 32 apart.
    assert (with_bias["block5_conv3"].receptive_field, with_bias["block5_conv3"].stride) == (196, 16)
    assert (with_bias["block5_pool"].receptive_field, with_bias["block5_pool"].stride) == (212, 32)


@pytest.mark.parametrize("builder,kwargs", [
    ("build_cifar_resnet", {}),
    ("build_googlenet", {"input_shape": (32, 32, 3), "num_classes": 10, "small_input": True}),
    ("build_mobilenet_v2", {"input_shape": (32, 32, 3), "num_classes": 10, "small_input": True}),
    ("build_alexnet", {"input_shape": (32, 32, 3), "num_classes": 10, "small_input": True}),
    ("build_lenet1989", {}),
    ("build_se_resnet50", {"input_shape": (32, 32, 3), "num_classes": 10, "small_input": True}),
])
def test_totals_agree_with_keras(builder, kwargs):
    model = (getattr(full, builder, None) or getattr(models, builder))(**kwargs)
    table = layer_table(model)
    assert table.total_weights == model.count_params()
    assert table.total_connections is not None, "every layer of our builders has a known count"
    assert layer_table(model, moving_statistics=False).total_weights == count_params(model)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert count_params(model) == trainable


def test_a_student_sequential_model_and_keras_applications():
    student = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.SeparableConv2D(16, 3, dilation_rate=1),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    table = layer_table(student)
    assert table.total_weights == student.count_params()
    assert [r.receptive_field for r in table.rows[:3]] == [3, 4, 8]
    app = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=10)
    assert layer_table(app).total_weights == app.count_params()


def test_a_nested_model_counts_as_its_layers():
    inner = lenet5()
    outer = keras.Sequential([keras.Input((28, 28, 1)), inner, keras.layers.Dense(2, name="head")])
    table = layer_table(outer)
    assert table.total_weights == outer.count_params()
    assert table[inner.name].connections == layer_table(inner).total_connections


@keras.saving.register_keras_serializable(package="tests")
class _Mystery(keras.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.w


def test_unknown_layers_are_counted_and_marked_unknown():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = _Mystery(name="mystery")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="after")(x))
    table = layer_table(model)
    assert table["mystery"].weights == 4
    assert table["mystery"].connections is None
    assert table.total_connections is None
    assert table.total_weights == model.count_params()
    assert table["after"].receptive_field is None, "what follows an unknown layer is unknown"
    assert "?" in table.to_text()


def test_renderings():
    table = layer_table(lenet5(), include_bias=False)
    lines = []
    table.print(print_fn=lines.append)
    assert lines[-1].split()[:4] == ["Total", "8,094", "61,470", "422,824"]
    assert any(line.startswith("c1 (Conv2D)") and "117,600" in line for line in lines)
    html = table.to_html()
    assert html.startswith("<table>") and "117,600" in html and html == table._repr_html_()
    frame = table.to_dataframe()
    assert list(frame.columns) == ["name", "layer_type", "output_shape", "units", "weights",
                                   "connections", "receptive_field", "stride"]
    assert frame.set_index("name").loc["c3", "connections"] == 240_000
    assert isinstance(table, LayerTable)


def test_bad_inputs_raise_with_what_was_received():
    with pytest.raises(ValueError, match="keras.Model; got int"):
        layer_table(3)
    unbuilt = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="built model"):
        layer_table(unbuilt)
    with pytest.raises(KeyError, match="no layer named 'c9'"):
        layer_table(lenet5())["c9"]
