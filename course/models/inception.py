"""Inception: GoogLeNet (Inception v1) and the grid-size reduction module of Inception v3.

References:
    C. Szegedy et al. (2015), Going Deeper with Convolutions, CVPR (table 1).
    C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna (2016), Rethinking the
    Inception Architecture for Computer Vision, CVPR (figure 10; Forsyth's fig. 18.4).
"""

import keras
from keras import layers

from course.models._utils import check_input_shape, check_num_classes, conv_bn

# name -> (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj): table 1 of Szegedy 2015.
GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _unit(x, filters, kernel_size, *, batch_norm, name, strides=1, padding="torch"):
    """Convolution + ReLU, with batch norm (no bias) as torchvision, or with a bias as the paper."""
    if batch_norm:
        return conv_bn(x, filters, kernel_size, strides=strides, padding=padding,
                       bn_epsilon=1e-3, name=name)
    padding = "same" if padding == "torch" else padding
    if padding == "same" and strides > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                         activation="relu", name=f"{name}_conv")(x)


def inception_block(x, filters, *, branch3_kernel_size=5, batch_norm=True, name):
    """The Inception module of figure 2(b): 1x1 | 1x1->3x3 | 1x1->5x5 | pool->1x1, concatenated.

    Args:
        x: input tensor.
        filters: the six widths of a row of table 1 (see `GOOGLENET_MODULES`).
        branch3_kernel_size: kernel of the "5x5" branch (torchvision uses 3).
        batch_norm: batch norm after every convolution.
        name: prefix of the layer names.

    Returns:
        A tensor with `f1x1 + f3x3 + f5x5 + fpool` channels.
    """
    f1, r3, f3, r5, f5, fp = filters
    b1 = _unit(x, f1, 1, batch_norm=batch_norm, name=f"{name}_1x1")
    b2 = _unit(x, r3, 1, batch_norm=batch_norm, name=f"{name}_3x3_reduce")
    b2 = _unit(b2, f3, 3, batch_norm=batch_norm, name=f"{name}_3x3")
    b3 = _unit(x, r5, 1, batch_norm=batch_norm, name=f"{name}_5x5_reduce")
    b3 = _unit(b3, f5, branch3_kernel_size, batch_norm=batch_norm, name=f"{name}_5x5")
    b4 = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    b4 = _unit(b4, fp, 1, batch_norm=batch_norm, name=f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b2, b3, b4])


def _aux_classifier(x, num_classes, batch_norm, classifier_activation, name):
    """Auxiliary head: avg-pool 5/3, 1x1 conv (128), fc 1024, dropout 0.7, classifier."""
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = _unit(x, 128, 1, batch_norm=batch_norm, name=f"{name}_proj")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return layers.Dense(num_classes, activation=classifier_activation, name=f"{name}_predictions")(x)


def build_googlenet(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    aux_classifiers=False,
    batch_norm=True,
    branch3_kernel_size=5,
    small_input=False,
    classifier_activation="softmax",
    name="googlenet",
):
    """Build GoogLeNet (Inception v1), table 1 of Szegedy et al. 2015.

    Stem (conv 7x7/2, max-pool, conv 1x1, conv 3x3, max-pool), inception 3a-3b,
    max-pool, 4a-4e, max-pool, 5a-5b, global average pool, dropout 0.4, dense.
    torchvision's `googlenet` uses batch norm and, in the "5x5" branch, a 3x3 kernel;
    with `branch3_kernel_size=3` this builder has its 6,624,904 trainable parameters
    without auxiliary classifiers and 13,004,888 with them. With the paper's 5x5
    kernel (the default) it has 7,005,832 trainable parameters. Batch-norm moving
    statistics are not counted, as in PyTorch, where they are buffers.

    Reference:
        Szegedy et al. (2015), Going Deeper with Convolutions, table 1 and section 5.

    Args:
        input_shape: `(H, W, C)`; H, W >= 64 (>= 32 with `small_input`; the
            auxiliary classifiers need H, W >= 224).
        num_classes: number of classes.
        aux_classifiers: add the two auxiliary heads on 4a and 4d; the model then has
            three outputs `[predictions, aux1_predictions, aux2_predictions]`.
        batch_norm: batch norm after each convolution (torchvision) or biases (paper).
        branch3_kernel_size: 5 (paper) or 3 (torchvision).
        small_input: for 32x32 images: a 3x3 stride-1 stem conv without the two
            stem max-pools.
        classifier_activation: activation of the outputs (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=32 if small_input else 64, arch=name)
    check_num_classes(num_classes, arch=name)
    if branch3_kernel_size not in (3, 5):
        raise ValueError(f"{name}: branch3_kernel_size must be 3 or 5; got {branch3_kernel_size!r}")
    if aux_classifiers and (small_input or min(shape[:2]) < 224):
        raise ValueError(f"{name}: with aux_classifiers, input_shape must be at least (224, 224, C) and "
            f"small_input False; got {input_shape!r}, small_input={small_input!r}")
    unit = dict(batch_norm=batch_norm)
    block = dict(branch3_kernel_size=branch3_kernel_size, **unit)
    inputs = keras.Input(shape=shape, name="input")
    if small_input:
        x = _unit(inputs, 192, 3, name="conv1", **unit)
    else:
        x = _unit(inputs, 64, 7, strides=2, name="conv1", **unit)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
        x = _unit(x, 64, 1, name="conv2", **unit)
        x = _unit(x, 192, 3, name="conv3", **unit)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    aux = []
    for key, filters in GOOGLENET_MODULES.items():
        if key in ("4a", "5a"):
            pool = 3 if key == "4a" else 2
            x = layers.MaxPooling2D(pool, strides=2, padding="same", name=f"pool{key[0]}")(x)
        x = inception_block(x, filters, name=f"inception{key}", **block)
        if aux_classifiers and key in ("4a", "4d"):
            aux.append(_aux_classifier(x, num_classes, batch_norm, classifier_activation,
                                       f"aux{len(aux) + 1}"))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, [outputs, *aux] if aux else outputs, name=name)


def grid_reduction_block(x, *, filters_double=(64, 96, 160), filters_single=(64, 160), name):
    """Inception-v3 grid-size reduction (Szegedy 2016 figure 10; Forsyth figure 18.4).

    Halve the grid while widening, without a representational bottleneck: two
    convolution branches with stride 2 (1x1 -> 3x3 -> 3x3/2 and 1x1 -> 3x3/2) run
    beside a stride-2 max-pool, and their outputs are concatenated. With the
    defaults a 35x35x320 input becomes 17x17x640 (320 pooled + 160 + 160).

    Args:
        x: input tensor `(batch, H, W, C)`.
        filters_double: widths of the 1x1, 3x3 and 3x3/2 convolutions of the long branch.
        filters_single: widths of the 1x1 and 3x3/2 convolutions of the short branch.
        name: prefix of the layer names.

    Returns:
        A tensor `(batch, (H - 3) // 2 + 1, (W - 3) // 2 + 1, C + filters_double[-1] + filters_single[-1])`.
    """
    unit = dict(batch_norm=True)
    a = _unit(x, filters_double[0], 1, name=f"{name}_dbl_1", **unit)
    a = _unit(a, filters_double[1], 3, name=f"{name}_dbl_2", **unit)
    a = _unit(a, filters_double[2], 3, strides=2, padding="valid", name=f"{name}_dbl_3", **unit)
    b = _unit(x, filters_single[0], 1, name=f"{name}_single_1", **unit)
    b = _unit(b, filters_single[1], 3, strides=2, padding="valid", name=f"{name}_single_2", **unit)
    p = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(name=f"{name}_concat")([a, b, p])


def build_grid_reduction(input_shape=(35, 35, 320), *, name="grid_reduction", **kwargs):
    """Wrap `grid_reduction_block` as a model (a module, so it has no `num_classes`).

    Args:
        input_shape: `(H, W, C)` with H, W >= 3; (35, 35, 320) as in the figure.
        name: model name.
        **kwargs: widths passed to `grid_reduction_block`.

    Returns:
        An uncompiled `keras.Model` mapping 35x35x320 to 17x17x640 with the defaults.
    """
    shape = check_input_shape(input_shape, min_size=3, arch=name)
    inputs = keras.Input(shape=shape, name="input")
    outputs = grid_reduction_block(inputs, name="reduction", **kwargs)
    return keras.Model(inputs, outputs, name=name)
