"""VGG: the configurations A, A-LRN, B, C, D (VGG-16) and E (VGG-19) of Simonyan & Zisserman.

Reference:
    K. Simonyan, A. Zisserman (2015), Very Deep Convolutional Networks for Large-Scale
    Image Recognition, ICLR (table 1: configurations; table 2: parameter counts).
"""

import keras
from keras import layers

from course.models._utils import (
    LocalResponseNormalization,
    check_choice,
    check_input_shape,
    check_num_classes,
)

# Each block is a list of (kernel size, filters); a 2x2 max-pool ends every block.
_A = [[(3, 64)], [(3, 128)], [(3, 256)] * 2, [(3, 512)] * 2, [(3, 512)] * 2]
_B = [[(3, 64)] * 2, [(3, 128)] * 2, [(3, 256)] * 2, [(3, 512)] * 2, [(3, 512)] * 2]
_C = _B[:2] + [b + [(1, b[0][1])] for b in _B[2:]]
_D = _B[:2] + [b + [(3, b[0][1])] for b in _B[2:]]
_E = _B[:2] + [b + [(3, b[0][1])] * 2 for b in _B[2:]]
VGG_CONFIGS = {"A": _A, "A-LRN": _A, "B": _B, "C": _C, "D": _D, "E": _E}


def build_vgg(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    config="D",
    fc_units=4096,
    dropout=0.5,
    classifier_activation="softmax",
    name=None,
):
    """Build a VGG network from a column of the paper's table 1.

    Stacks of 3x3 convolutions (config C also has 1x1 ones), stride 1 and "same"
    padding, each stack followed by a 2x2 max-pool; then fc1 4096, fc2 4096 and the
    classifier. "A-LRN" adds a local response normalization after the first
    convolution. At 224x224x3 with 1000 classes the parameter counts (all trainable,
    no batch norm) are A 132,863,336; A-LRN the same; B 133,047,848; C 133,638,952;
    D 138,357,544 (VGG-16); E 143,667,240 (VGG-19): the paper's 133/133/133/134/138/144
    million. The builder also works at 32x32 (five pools leave 1x1x512); pass a
    smaller `fc_units` there.

    Reference:
        Simonyan, Zisserman (2015), Very Deep Convolutional Networks for Large-Scale
        Image Recognition, table 1.

    Args:
        input_shape: `(H, W, C)` with H, W >= 32.
        num_classes: number of classes.
        config: one of "A", "A-LRN", "B", "C", "D", "E".
        fc_units: width of fc1 and fc2 (4096 in the paper).
        dropout: dropout rate after fc1 and fc2.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name; defaults to "vgg_<config>" ("vgg16" for D, "vgg19" for E).

    Returns:
        An uncompiled `keras.Model`.
    """
    check_choice(config, VGG_CONFIGS, what="config", arch=name or "vgg")
    if name is None:
        name = {"D": "vgg16", "E": "vgg19"}.get(config, "vgg_" + config.lower().replace("-", "_"))
    shape = check_input_shape(input_shape, min_size=32, arch=name)
    check_num_classes(num_classes, arch=name)
    inputs = keras.Input(shape=shape, name="input")
    x = inputs
    for b, block in enumerate(VGG_CONFIGS[config], start=1):
        for i, (kernel, filters) in enumerate(block, start=1):
            x = layers.Conv2D(
                filters, kernel, padding="same", activation="relu", name=f"block{b}_conv{i}"
            )(x)
            if config == "A-LRN" and b == 1 and i == 1:
                x = LocalResponseNormalization(name="block1_lrn")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(fc_units, activation="relu", name="fc1")(x)
    x = layers.Dropout(dropout, name="fc1_dropout")(x)
    x = layers.Dense(fc_units, activation="relu", name="fc2")(x)
    x = layers.Dropout(dropout, name="fc2_dropout")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def build_vgg16(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build VGG-16 (configuration D, 138,357,544 parameters); see `build_vgg`."""
    return build_vgg(input_shape, num_classes, config="D", **kwargs)


def build_vgg19(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build VGG-19 (configuration E, 143,667,240 parameters); see `build_vgg`."""
    return build_vgg(input_shape, num_classes, config="E", **kwargs)
