"""The small networks of the first labs: Forsyth's MNIST and CIFAR-10 nets, a 2-layer MLP.

Reference:
    D. Forsyth (2019), Applied Machine Learning, chapter 17 (figures 17.9 and 17.15),
    which follow the MatConvNet `cnn_mnist` and `cnn_cifar` examples.
"""

import keras
from keras import layers

from course.models._utils import check_input_shape, check_num_classes


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


def build_forsyth_mnist(
    input_shape=(28, 28, 1),
    num_classes=10,
    *,
    conv_activation=None,
    classifier_activation="softmax",
    name="forsyth_mnist",
):
    """Build Forsyth's simple MNIST network (figure 17.9).

    conv 5x5x20 -> max-pool 2 -> conv 5x5x50 -> max-pool 2 -> conv 4x4x500 (a
    fully connected layer written as a convolution) -> ReLU -> conv 1x1x`num_classes`
    -> softmax. As in the figure (and MatConvNet's example) the first two
    convolutions have no ReLU; the max-pools are their non-linearity. Pass
    `conv_activation="relu"` to add one. Parameters: 520 + 25,050 + 400,500 + 5,010
    = 431,080 for 10 classes, all trainable.

    Reference:
        D. Forsyth (2019), Applied Machine Learning, section 17.2, figure 17.9.

    Args:
        input_shape: `(28, 28, C)`; the 4x4 layer needs exactly 28x28 inputs.
        num_classes: number of classes.
        conv_activation: activation after the two 5x5 convolutions (`None`: as in the book).
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=28, exact=True, arch=name)
    check_num_classes(num_classes, arch=name)
    inputs = keras.Input(shape=shape, name="input")
    x = layers.Conv2D(20, 5, activation=conv_activation, name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(50, 5, activation=conv_activation, name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(500, 4, activation="relu", name="fc1")(x)
    x = layers.Conv2D(num_classes, 1, name="fc2")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def build_forsyth_cifar(
    input_shape=(32, 32, 3),
    num_classes=10,
    *,
    classifier_activation="softmax",
    name="forsyth_cifar",
):
    """Build Forsyth's simple CIFAR-10 network (figure 17.15).

    conv 5x5x32 -> max-pool 3/2 -> ReLU -> conv 5x5x32 -> ReLU -> avg-pool 3/2 ->
    conv 5x5x64 -> ReLU -> avg-pool 3/2 -> conv 4x4x64 (fully connected) -> ReLU
    (the 64 top ReLUs of figure 17.19) -> conv 1x1x`num_classes` -> softmax.
    Parameters: 2,432 + 25,632 + 51,264 + 65,600 + 650 = 145,578 for 10 classes.

    Reference:
        D. Forsyth (2019), Applied Machine Learning, section 17.2, figure 17.15.

    Args:
        input_shape: `(32, 32, C)`; the 4x4 layer needs exactly 32x32 inputs.
        num_classes: number of classes.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=32, exact=True, arch=name)
    check_num_classes(num_classes, arch=name)
    inputs = keras.Input(shape=shape, name="input")
    x = layers.Conv2D(32, 5, padding="same", name="conv1")(inputs)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.Conv2D(32, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same", name="pool2")(x)
    x = layers.Conv2D(64, 5, padding="same", activation="relu", name="conv3")(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same", name="pool3")(x)
    x = layers.Conv2D(64, 4, activation="relu", name="fc1")(x)
    x = layers.Conv2D(num_classes, 1, name="fc2")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
