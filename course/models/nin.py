"""Network in Network: mlpconv blocks and global average pooling in place of dense layers.

The mlpconv block is the caller's (lab 04 asks students to write it): the library holds the
network's layout only.

Reference:
    M. Lin, Q. Chen, S. Yan (2014), Network In Network, ICLR.
"""

import keras
from keras import layers

from course.models._utils import check_input_shape, check_num_classes

# (filters of the three layers, kernel of the first, stride of the first, what follows)
_IMAGENET = (((96, 96, 96), 11, 4, "max"), ((256, 256, 256), 5, 1, "max"), ((384, 384, 384), 3, 1, "max"),
             ((1024, 1024, None), 3, 1, None))
_CIFAR = (((192, 160, 96), 5, 1, "max"), ((192, 192, 192), 5, 1, "avg"), ((192, 192, None), 3, 1, None))


def build_nin(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    mlpconv_block,
    small_input=False,
    dropout=0.5,
    classifier_activation="softmax",
    name="nin",
):
    """Build Network in Network from an mlpconv block; its last block has one map per class.

    ImageNet layout (the authors' released Caffe model): mlpconv 11x11/4 (96-96-96),
    max-pool 3/2, mlpconv 5x5 (256-256-256), max-pool 3/2, mlpconv 3x3 (384-384-384),
    max-pool 3/2, dropout, mlpconv 3x3 (1024-1024-`num_classes`), global average pool:
    7,595,176 parameters at 1000 classes. `small_input=True` gives the paper's CIFAR-10
    net: mlpconv 5x5 (192-160-96), max-pool 3/2, dropout, mlpconv 5x5 (192-192-192),
    average-pool 3/2, dropout, mlpconv 3x3 (192-192-`num_classes`), global average pool:
    966,986 parameters at 10 classes. (With a "same"-padded first block, as lab 04's, the
    ImageNet grid is 56x56 after it rather than the Caffe model's 54x54: the parameters are
    the same.)

    Reference:
        Lin, Chen, Yan (2014), Network In Network, sections 3 and 4.2.

    Args:
        input_shape: `(H, W, C)`; H, W >= 32.
        num_classes: number of classes.
        mlpconv_block: `f(x, filters, kernel_size, strides=1, name=None)` -> tensor, a
            convolution and two 1x1 convolutions of the three `filters` widths.
        small_input: build the paper's CIFAR-10 network instead.
        dropout: dropout rate between blocks.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=32, arch=name)
    check_num_classes(num_classes, arch=name)
    inputs = keras.Input(shape=shape, name="input")
    x = inputs
    for i, (filters, kernel, strides, pool) in enumerate(_CIFAR if small_input else _IMAGENET, start=1):
        if filters[-1] is None:
            filters = (*filters[:2], num_classes)
            if not small_input:
                x = layers.Dropout(dropout, name=f"drop{i - 1}")(x)
        x = mlpconv_block(x, filters, kernel, strides=strides, name=f"block{i}")
        if pool is not None:
            pooling = layers.MaxPooling2D if pool == "max" else layers.AveragePooling2D
            x = pooling(3, strides=2, padding="same" if small_input else "valid", name=f"pool{i}")(x)
            if small_input:
                x = layers.Dropout(dropout, name=f"drop{i}")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
