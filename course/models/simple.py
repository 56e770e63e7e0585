"""The 2-layer perceptron of lab 01 (lab 02's convnets are the students' to write)."""

import keras
from keras import layers

from course.models._utils import check_num_classes


def build_mlp(
    input_shape=(28, 28, 1),
    num_classes=10,
    *,
    hidden_units=128,
    activation="relu",
    classifier_activation="softmax",
    name="mlp",
):
    """Build the 2-layer perceptron of lab 01: flatten, one hidden layer, classifier.

    With the defaults (28x28x1 digits, 128 hidden units, 10 classes) it has
    784 * 128 + 128 + 128 * 10 + 10 = 101,770 parameters.

    Args:
        input_shape: shape of one example, any rank; it is flattened.
        num_classes: number of output units.
        hidden_units: width of the hidden layer (an integer >= 1).
        activation: activation of the hidden layer.
        classifier_activation: activation of the output layer (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    check_num_classes(num_classes, arch=name)
    if not isinstance(hidden_units, int) or hidden_units < 1:
        raise ValueError(f"{name}: hidden_units must be an integer >= 1; got {hidden_units!r}")
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = layers.Flatten(name="flatten")(inputs)
    x = layers.Dense(hidden_units, activation=activation, name="hidden")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
