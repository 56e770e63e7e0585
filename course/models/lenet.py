"""LeNet: LeCun et al.'s 1989 zip-code network and LeNet-5 (1998), as published and as Grosse tabulates it.

References:
    Y. LeCun et al. (1989), Backpropagation Applied to Handwritten Zip Code
    Recognition, Neural Computation 1(4).
    Y. LeCun, L. Bottou, Y. Bengio, P. Haffner (1998), Gradient-Based Learning Applied
    to Document Recognition, Proc. IEEE 86(11).
    R. Grosse, CSC321 lecture 12 (the table of units, weights and connections).
"""

import math

import keras
import numpy as np
from keras import layers
from keras import ops

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


# LeCun et al. 1998, Table I: the S2 maps each C3 map reads. Maps 0-5 read three
# neighbouring maps, 6-11 four neighbouring, 12-14 four non-neighbouring, 15 all six,
# "to break the symmetry in the network" with 1,516 instead of 2,416 parameters.
LENET1998_C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@keras.saving.register_keras_serializable(package="course")
def lecun_tanh(x):
    """LeCun's squashing function f(a) = 1.7159 tanh(2a/3) (1998, appendix A): f(+-1) = +-1."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package="course")
class Subsampling(layers.AveragePooling2D):
    """LeCun's subsampling map: the sum of each window times one trainable coefficient, plus one bias.

    Two parameters per map, whatever the map's size (LeNet-5's S2 has 12). Being an
    average pool underneath, `course.counting` counts its window connections and
    receptive field as for a pool, plus one bias connection per unit.
    """

    def build(self, input_shape):
        channels = (input_shape[-1],)
        self.coefficient = self.add_weight(shape=channels, initializer="ones", name="coefficient")
        self.bias = self.add_weight(shape=channels, initializer="zeros", name="bias")

    def call(self, x):
        window_sum = super().call(x) * float(math.prod(self.pool_size))
        return window_sum * self.coefficient + self.bias


@keras.saving.register_keras_serializable(package="course")
class TableConv2D(keras.layers.Layer):
    """A valid, stride-1 convolution in which output map j reads only the input maps `table[j]`.

    LeCun 1998's C3. One k x k kernel per (output map, input map) link and one bias
    per output map: `k * k * links + maps` parameters.
    """

    def __init__(self, table, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.table = tuple(tuple(int(i) for i in sources) for sources in table)
        self.kernel_size = (int(kernel_size), int(kernel_size))
        self.strides = (1, 1)
        sources = [i for maps in self.table for i in maps]
        routing = np.zeros((len(sources), len(self.table)), dtype="float32")
        routing[np.arange(len(sources)), [j for j, maps in enumerate(self.table) for _ in maps]] = 1.0
        self._sources = sources
        self._routing = routing

    def build(self, input_shape):
        if max(self._sources) >= input_shape[-1]:
            raise ValueError(f"{self.name}: the table reads map {max(self._sources)}; "
                             f"the input has {input_shape[-1]} maps")
        self.kernel = self.add_weight(shape=(*self.kernel_size, len(self._sources), 1),
                                      initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(len(self.table),), initializer="zeros", name="bias")

    def call(self, x):
        # One depthwise filter per link, then each output map sums its own links.
        links = ops.depthwise_conv(ops.take(x, self._sources, axis=-1), self.kernel, padding="valid")
        return ops.matmul(links, ops.convert_to_tensor(self._routing, dtype=links.dtype)) + self.bias

    def compute_output_shape(self, input_shape):
        h, w = (None if d is None else d - k + 1 for d, k in zip(input_shape[1:3], self.kernel_size))
        return (input_shape[0], h, w, len(self.table))

    def count_connections(self, input_shapes, output_shape, include_bias):
        """Per output position: k * k per link, plus one per map for its bias."""
        per_position = math.prod(self.kernel_size) * len(self._sources) + (len(self.table) if include_bias else 0)
        return math.prod(output_shape[1:-1]) * per_position

    def get_config(self):
        return {**super().get_config(), "table": self.table, "kernel_size": self.kernel_size[0]}


@keras.saving.register_keras_serializable(package="course")
class EuclideanRBF(keras.layers.Layer):
    """LeCun 1998's output layer: each class unit measures its input's squared distance to a fixed code.

    The codes are +-1 vectors chosen before training and never trained (LeCun drew
    them as 7x12 bitmaps of the characters; here they are random, from `seed`). The
    layer returns minus the distance, a logit: the nearest code wins, and softmax
    cross-entropy on it is the paper's criterion (eq. 9) without its rejection class.
    """

    def __init__(self, units, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.seed = int(seed)

    def build(self, input_shape):
        shape = (input_shape[-1], self.units)
        self.codes = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="codes")
        rng = np.random.default_rng(self.seed)
        self.codes.assign(rng.choice(np.array([-1.0, 1.0], dtype="float32"), size=shape))

    def call(self, x):
        distance = (ops.sum(ops.square(x), axis=-1, keepdims=True) - 2.0 * ops.matmul(x, self.codes)
                    + ops.sum(ops.square(self.codes), axis=0))
        return -distance

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def count_connections(self, input_shapes, output_shape, include_bias):
        """One per (input, class) pair, as a dense layer without bias."""
        return input_shapes[0][-1] * self.units

    def get_config(self):
        return {**super().get_config(), "units": self.units, "seed": self.seed}


def build_lenet1998(
    input_shape=(32, 32, 1),
    num_classes=10,
    *,
    include_top=True,
    activation=lecun_tanh,
    classifier_activation="softmax",
    name="lenet1998",
):
    """Build LeNet-5 as LeCun, Bottou, Bengio and Haffner published it in 1998.

    C1 conv 6@5x5 on 32x32 -> S2 subsampling (one coefficient and one bias per map)
    -> C3 conv 16@5x5 reading the S2 maps of the paper's Table I -> S4 subsampling ->
    C5 conv 120@5x5 -> F6 dense 84 -> output: Euclidean RBF units with fixed codes.
    Every hidden layer goes through the squashing function. Parameters per layer, as
    the paper states them: 156, 12, 1,516, 32, 48,120, 10,164, in all 60,000 trainable,
    plus 840 fixed codes. Without the output layer (`include_top=False`, the row of
    Grosse's lecture 12 summary table) `course.counting.layer_table` gives 8,084 units,
    60,000 weights and 340,068 connections (biases counted, as the paper does).
    The RBF logits spread widely (minus squared distances over 84 units): train with
    a small step (Adam at 1e-4; 1e-3 overshoots).

    Reference:
        LeCun, Bottou, Bengio, Haffner (1998), Gradient-Based Learning Applied to
        Document Recognition, Proc. IEEE 86(11), section II.B, Table I, appendix A.

    Args:
        input_shape: `(32, 32, C)`: the paper's 28x28 digits centred in a 32x32 field.
        num_classes: number of RBF output units (ignored without the top).
        include_top: end with the RBF output layer (True) or at F6's 84 units (False).
        activation: the squashing function of the hidden layers (LeCun's scaled tanh).
        classifier_activation: applied to the RBF logits (`None` gives the logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=32, exact=True, arch=name)
    check_num_classes(num_classes, arch=name)
    inputs = keras.Input(shape=shape, name="input")
    x = layers.Conv2D(6, 5, activation=activation, name="c1")(inputs)
    x = Subsampling(2, name="s2")(x)
    x = layers.Activation(activation, name="s2_act")(x)
    x = TableConv2D(LENET1998_C3_TABLE, 5, name="c3")(x)
    x = layers.Activation(activation, name="c3_act")(x)
    x = Subsampling(2, name="s4")(x)
    x = layers.Activation(activation, name="s4_act")(x)
    x = layers.Conv2D(120, 5, activation=activation, name="c5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation=activation, name="f6")(x)
    if include_top:
        x = EuclideanRBF(num_classes, name="output")(x)
        x = layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=name)
