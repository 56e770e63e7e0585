"""DenseNet: every layer reads the concatenation of all earlier feature maps of its block.

The dense block is the caller's (lab 04 asks students to write it): the library holds the
stem, the transitions, the paper's block sizes and the head.

Reference:
    G. Huang, Z. Liu, L. van der Maaten, K. Weinberger (2017), Densely Connected
    Convolutional Networks, CVPR (table 1: DenseNet-121/169/201/264).
"""

import keras
from keras import layers

from course.models._utils import check_input_shape, check_num_classes, conv_bn

DENSENET_BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}


def _bn_relu_conv(x, filters, kernel_size, name):
    """Pre-activation order of DenseNet: batch norm -> ReLU -> convolution (no bias)."""
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    return layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=f"{name}_conv")(x)


def transition_block(x, *, compression=0.5, name):
    """Batch norm, ReLU, 1x1 convolution to `compression * C` channels, 2x2 average pool."""
    x = _bn_relu_conv(x, int(x.shape[-1] * compression), 1, name)
    return layers.AveragePooling2D(2, name=f"{name}_pool")(x)


def build_densenet(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    dense_block,
    depth=121,
    growth_rate=32,
    small_input=False,
    classifier_activation="softmax",
    name=None,
):
    """Build DenseNet-BC (121, 169 or 201) as torchvision does.

    Stem conv 7x7/2 (64) + max-pool 3/2; four dense blocks separated by transitions
    that halve the channels; final batch norm and ReLU; global average pool; dense.
    DenseNet-121 at 1000 classes: 7,978,856 trainable parameters, torchvision's
    count (batch-norm moving statistics excluded; `model.count_params()` is 8,062,504).

    Reference:
        Huang, Liu, van der Maaten, Weinberger (2017), Densely Connected
        Convolutional Networks, table 1.

    Args:
        input_shape: `(H, W, C)`; H, W >= 32.
        num_classes: number of classes.
        dense_block: `f(x, num_layers, growth_rate=12, bottleneck=None, name=None)`, called
            with `bottleneck=4` (DenseNet-B: a 1x1 convolution to 4k maps before each 3x3).
        depth: 121, 169 or 201.
        growth_rate: k, channels added per layer (32 in the paper's ImageNet nets).
        small_input: 3x3 stride-1 stem without max-pool, for 32x32 images.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name; defaults to "densenet<depth>".

    Returns:
        An uncompiled `keras.Model`.
    """
    if depth not in DENSENET_BLOCKS:
        raise ValueError(f"{name or 'densenet'}: depth must be one of {sorted(DENSENET_BLOCKS)}; got {depth!r}")
    name = name or f"densenet{depth}"
    shape = check_input_shape(input_shape, min_size=32, arch=name)
    check_num_classes(num_classes, arch=name)
    inputs = keras.Input(shape=shape, name="input")
    if small_input:
        x = layers.Conv2D(2 * growth_rate, 3, padding="same", use_bias=False, name="conv1_conv")(inputs)
    else:
        x = conv_bn(inputs, 2 * growth_rate, 7, strides=2, name="conv1")
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    blocks = DENSENET_BLOCKS[depth]
    for i, n in enumerate(blocks, start=1):
        x = dense_block(x, n, growth_rate, bottleneck=4, name=f"conv{i + 1}")
        if i < len(blocks):  # a transition between blocks, none after the last
            x = transition_block(x, name=f"pool{i + 1}")
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def build_densenet121(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build DenseNet-121 (7,978,856 trainable parameters); pass `dense_block`; see `build_densenet`."""
    return build_densenet(input_shape, num_classes, depth=121, **kwargs)
