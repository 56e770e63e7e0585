"""LeNet: LeCun et al.'s 1989 zip-code network and LeNet-5 (1998).

References:
    Y. LeCun et al. (1989), Backpropagation Applied to Handwritten Zip Code
    Recognition, Neural Computation 1(4).
    Y. LeCun, L. Bottou, Y. Bengio, P. Haffner (1998), Gradient-Based Learning Applied
    to Document Recognition, Proc. IEEE 86(11).
    R. Grosse, CSC321 lecture 12 (the table of units, weights and connections).
"""

import math

import keras
from keras import layers

from course.models._utils import check_input_shape, check_num_classes


@keras.saving.register_keras_serializable(package="course")
class UnitBias(keras.layers.Layer):
    """Add one trainable bias per unit (per position and channel), as LeCun 1989 does.

    A convolution shares its kernel over positions but, in the 1989 network, every
    unit still has a bias of its own.
    """

    def build(self, input_shape):
        self.bias = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros", name="bias")

    def call(self, x):
        return x + self.bias

    def compute_output_shape(self, input_shape):
        return input_shape

    def count_connections(self, input_shapes, output_shape, include_bias):
        """One connection per unit (from the constant bias unit); see course.counting."""
        return math.prod(output_shape[1:]) if include_bias else 0


def build_lenet5(
    input_shape=(28, 28, 1),
    num_classes=10,
    *,
    c1_padding="same",
    activation="tanh",
    classifier_activation="softmax",
    name="lenet5",
):
    """Build LeNet-5 as Grosse's lecture 12 tabulates it.

    C1 conv 5x5x6 -> S2 average-pool 2 -> C3 conv 5x5x16 -> S4 average-pool 2 ->
    F5 dense 120 -> F6 dense 84 -> output dense `num_classes`.
    On 28x28 digits with `c1_padding="same"` (equivalent to LeCun's 32x32 padded
    input) the units per layer are Grosse's 4,704 / 1,176 / 1,600 / 400 / 120 / 84 / 10.
    Two simplifications that Grosse's table also makes: C3 is fully connected to the
    six S2 maps (LeCun's sparse connection table has 1,516 parameters, this C3 has
    2,416) and the subsampling layers have no trainable coefficient. Parameters
    (Keras `count_params`, biases included): 156 + 2,416 + 48,120 + 10,164 + 850 =
    61,706; without biases (Grosse's "weights") 150 + 2,400 + 48,000 + 10,080 + 840.

    Reference:
        LeCun, Bottou, Bengio, Haffner (1998), Gradient-Based Learning Applied to
        Document Recognition; Grosse, CSC321 lecture 12.

    Args:
        input_shape: `(H, W, C)` with H, W >= 28 (28x28 with "same", 32x32 with "valid").
        num_classes: number of classes.
        c1_padding: "same" (28x28 input) or "valid" (LeCun's 32x32 input).
        activation: activation of the hidden layers (LeCun used a scaled tanh).
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=28, arch=name)
    check_num_classes(num_classes, arch=name)
    if c1_padding not in ("same", "valid"):
        raise ValueError(f"{name}: c1_padding must be 'same' or 'valid'; got {c1_padding!r}")
    inputs = keras.Input(shape=shape, name="input")
    x = layers.Conv2D(6, 5, padding=c1_padding, activation=activation, name="c1")(inputs)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation=activation, name="f5")(x)
    x = layers.Dense(84, activation=activation, name="f6")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def build_lenet1989(
    input_shape=(16, 16, 1),
    num_classes=10,
    *,
    activation="tanh",
    classifier_activation="softmax",
    name="lenet1989",
):
    """Build LeCun et al.'s 1989 zip-code network ("LeNet-1989" in Grosse's lecture).

    H1: 12 maps 8x8 (5x5 kernels, stride 2), H2: 12 maps 4x4 (5x5 kernels, stride 2,
    each map looking at 8 of the 12 H1 maps), H3: 30 units, output: 10 units.
    Every unit of H1 and H2 has its own bias (`UnitBias`). H1 is built as three
    groups of four maps (A, B, C); the H2 maps read A+B, B+C and A+C, four maps each,
    so that each H2 unit sees 8 maps as in the paper (the paper does not print its
    exact table). Totals match the paper: 1,256 units (with the 256 inputs), 9,760
    free parameters and 64,660 connections (counting a bias as a connection).

    Reference:
        LeCun et al. (1989), Backpropagation Applied to Handwritten Zip Code
        Recognition, Neural Computation 1(4), section 5.

    Args:
        input_shape: `(16, 16, C)`.
        num_classes: number of classes.
        activation: activation of the hidden layers.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=16, exact=True, arch=name)
    check_num_classes(num_classes, arch=name)
    inputs = keras.Input(shape=shape, name="input")

    def maps(x, filters, prefix):
        x = layers.Conv2D(filters, 5, strides=2, padding="same", use_bias=False, name=prefix)(x)
        x = UnitBias(name=f"{prefix}_bias")(x)
        return layers.Activation(activation, name=f"{prefix}_act")(x)

    h1 = {g: maps(inputs, 4, f"h1{g}") for g in "abc"}
    h2 = []
    for g, (p, q) in zip("abc", ("ab", "bc", "ac")):
        pair = layers.Concatenate(name=f"h2{g}_in")([h1[p], h1[q]])
        h2.append(maps(pair, 4, f"h2{g}"))
    x = layers.Concatenate(name="h2")(h2)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(30, activation=activation, name="h3")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="output")(x)
    return keras.Model(inputs, outputs, name=name)
