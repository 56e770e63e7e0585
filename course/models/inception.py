"""GoogLeNet (Inception v1): its stem, its table of Inception modules and its heads.

The Inception module is the caller's (lab 04 asks students to write it): the library holds
the network's layout and the paper's table 1 as data.

Reference:
    C. Szegedy et al. (2015), Going Deeper with Convolutions, CVPR (table 1).
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


def _unit(x, filters, kernel_size, *, batch_norm, name, strides=1):
    """Convolution + ReLU, with batch norm (no bias) as torchvision, or with a bias as the paper."""
    if batch_norm:
        return conv_bn(x, filters, kernel_size, strides=strides, bn_epsilon=1e-3, name=name)
    padding = "same"
    if strides > 1:   # pad as PyTorch does (see conv_bn)
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                         activation="relu", name=f"{name}_conv")(x)


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
    inception_module,
    aux_classifiers=False,
    batch_norm=False,
    small_input=False,
    classifier_activation="softmax",
    name="googlenet",
):
    """Build GoogLeNet (Inception v1), table 1 of Szegedy et al. 2015, from an Inception module.

    Stem (conv 7x7/2, max-pool, conv 1x1, conv 3x3, max-pool), inception 3a-3b, max-pool,
    4a-4e, max-pool, 5a-5b, global average pool, dropout 0.4, dense. The modules' widths
    are `GOOGLENET_MODULES`. With the paper's module (biases, no batch norm, 5x5 kernels)
    and `batch_norm=False` this is the paper's network; torchvision's `googlenet` has batch
    norm after every convolution and 3x3 kernels in the "5x5" branch (6,624,904 trainable
    parameters without the auxiliary classifiers, 13,004,888 with them; 7,005,832 with
    5x5 kernels). Batch-norm moving statistics are not counted (PyTorch
    keeps them as buffers).

    Reference:
        Szegedy et al. (2015), Going Deeper with Convolutions, table 1 and section 5.

    Args:
        input_shape: `(H, W, C)`; H, W >= 64 (>= 32 with `small_input`; the
            auxiliary classifiers need H, W >= 224).
        num_classes: number of classes.
        inception_module: `f(x, filters, name=None)` -> tensor, the module for a row
            `(#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)` of table 1.
        aux_classifiers: add the two auxiliary heads on 4a and 4d; the model then has
            three outputs `[predictions, aux1_predictions, aux2_predictions]`.
        batch_norm: batch norm after the stem's and the auxiliary heads' convolutions
            (torchvision) or biases (paper).
        small_input: for 32x32 images: a 3x3 stride-1 stem conv without the two
            stem max-pools.
        classifier_activation: activation of the outputs (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=32 if small_input else 64, arch=name)
    check_num_classes(num_classes, arch=name)
    if aux_classifiers and (small_input or min(shape[:2]) < 224):
        raise ValueError(f"{name}: with aux_classifiers, input_shape must be at least (224, 224, C) and "
            f"small_input False; got {input_shape!r}, small_input={small_input!r}")
    unit = dict(batch_norm=batch_norm)
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
        x = inception_module(x, filters, name=f"inception{key}")
        if aux_classifiers and key in ("4a", "4d"):
            aux.append(_aux_classifier(x, num_classes, batch_norm, classifier_activation,
                                       f"aux{len(aux) + 1}"))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, [outputs, *aux] if aux else outputs, name=name)
