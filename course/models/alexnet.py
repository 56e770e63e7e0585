"""AlexNet: the single-tower network torchvision ships and the original two-GPU version.

Reference:
    A. Krizhevsky, I. Sutskever, G. Hinton (2012), ImageNet Classification with Deep
    Convolutional Neural Networks, NIPS.
    A. Krizhevsky (2014), One weird trick for parallelizing convolutional neural
    networks (the single-tower widths 64-192-384-256-256 that torchvision uses).
"""

import keras
from keras import layers

from course.models._utils import LocalResponseNormalization, check_input_shape, check_num_classes


def _alexnet(shape, num_classes, *, widths, groups, lrn, small_input, fc_units, dropout,
             classifier_activation, name):
    """The five convolutions, three max-pools and three dense layers both versions share."""
    pool_padding = "same" if small_input else "valid"

    def conv(x, i, kernel, **kwargs):
        return layers.Conv2D(widths[i - 1], kernel, groups=groups[i - 1], activation="relu",
                             name=f"conv{i}", **kwargs)(x)

    def pool(x, i):
        if lrn and i < 3:
            x = LocalResponseNormalization(name=f"norm{i}")(x)
        return layers.MaxPooling2D(3, strides=2, padding=pool_padding, name=f"pool{i}")(x)

    inputs = keras.Input(shape=shape, name="input")
    if small_input:
        x = conv(inputs, 1, 5, padding="same")
    else:
        # torchvision pads conv1 by 2; the paper's 227x227 input needs no padding.
        x = inputs if lrn else layers.ZeroPadding2D(2, name="conv1_pad")(inputs)
        x = conv(x, 1, 11, strides=4)
    x = pool(x, 1)
    x = pool(conv(x, 2, 5, padding="same"), 2)
    for i in (3, 4, 5):
        x = conv(x, i, 3, padding="same")
    x = pool(x, 5)
    x = layers.Flatten(name="flatten")(x)
    for i in (6, 7):
        x = layers.Dropout(dropout, name=f"drop{i}")(x)
        x = layers.Dense(fc_units, activation="relu", name=f"fc{i}")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="fc8")(x)
    return keras.Model(inputs, outputs, name=name)


def build_alexnet(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    small_input=False,
    fc_units=4096,
    dropout=0.5,
    classifier_activation="softmax",
    name="alexnet",
):
    """Build single-tower AlexNet, layer for layer as torchvision's `alexnet`.

    conv1 11x11/4 (64) -> max-pool 3/2 -> conv2 5x5 (192) -> max-pool 3/2 ->
    conv3 3x3 (384) -> conv4 3x3 (256) -> conv5 3x3 (256) -> max-pool 3/2 ->
    fc6 4096 -> fc7 4096 -> fc8. At 224x224x3 with 1000 classes it has
    61,100,840 parameters (all trainable; no batch norm), torchvision's count, and
    about 0.71 G multiply-adds.

    Reference:
        Krizhevsky, Sutskever, Hinton (2012), ImageNet Classification with Deep
        Convolutional Neural Networks; Krizhevsky (2014), One weird trick.

    Args:
        input_shape: `(H, W, C)`; H, W >= 63 (>= 32 with `small_input`).
        num_classes: number of classes.
        small_input: for 32x32 images: conv1 becomes 5x5 with stride 1 and the
            pools use "same" padding (32 -> 16 -> 8 -> 4).
        fc_units: width of fc6 and fc7 (4096 in the paper).
        dropout: dropout rate before fc6 and fc7.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=32 if small_input else 63, arch=name)
    check_num_classes(num_classes, arch=name)
    return _alexnet(shape, num_classes, widths=(64, 192, 384, 256, 256), groups=(1,) * 5,
                    lrn=False, small_input=small_input, fc_units=fc_units, dropout=dropout,
                    classifier_activation=classifier_activation, name=name)


def build_alexnet_two_tower(
    input_shape=(227, 227, 3),
    num_classes=1000,
    *,
    small_input=False,
    fc_units=4096,
    dropout=0.5,
    classifier_activation="softmax",
    name="alexnet_two_tower",
):
    """Build the original AlexNet of the 2012 paper, its two GPUs as grouped convolutions.

    conv1 11x11/4 (96) -> LRN -> max-pool 3/2 -> conv2 5x5 (256, 2 groups) -> LRN ->
    max-pool 3/2 -> conv3 3x3 (384, both towers) -> conv4 3x3 (384, 2 groups) ->
    conv5 3x3 (256, 2 groups) -> max-pool 3/2 -> fc6 4096 -> fc7 4096 -> fc8.
    A convolution with `groups=2` is exactly two towers that do not talk to each other.
    At 227x227x3 (the size at which the paper's 55x55 first layer works out; the paper
    says 224) with 1000 classes: 60,965,224 parameters, the paper's "60 million", and
    conv2..conv5 have the paper's 186,624 / 64,896 / 64,896 / 43,264 units.

    Reference:
        Krizhevsky, Sutskever, Hinton (2012), ImageNet Classification with Deep
        Convolutional Neural Networks, section 3.5 and figure 2.

    Args:
        input_shape: `(H, W, C)`; H, W >= 67 (>= 32 with `small_input`).
        num_classes: number of classes.
        small_input: for 32x32 images: conv1 becomes 5x5 with stride 1 and the
            pools use "same" padding.
        fc_units: width of fc6 and fc7 (4096 in the paper).
        dropout: dropout rate before fc6 and fc7.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=32 if small_input else 67, arch=name)
    check_num_classes(num_classes, arch=name)
    return _alexnet(shape, num_classes, widths=(96, 256, 384, 384, 256), groups=(1, 2, 1, 2, 2),
                    lrn=True, small_input=small_input, fc_units=fc_units, dropout=dropout,
                    classifier_activation=classifier_activation, name=name)
