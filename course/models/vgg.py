"""VGG: stacks of small convolutions between 2x2 max-pools, then three dense layers.

The configuration (a column of the paper's table 1) is the caller's: lab 04 asks students to
write it (`vgg_config`), so the library holds the network's frame only.

Reference:
    K. Simonyan, A. Zisserman (2015), Very Deep Convolutional Networks for Large-Scale
    Image Recognition, ICLR (table 1: configurations; table 2: parameter counts).
"""

import keras
from keras import layers

from course.models._utils import check_input_shape, check_num_classes


def _layer_spec(entry, arch):
    """`"conv<k>-<n>"` -> (k, n); anything else is refused."""
    try:
        kernel, filters = (int(v) for v in entry.removeprefix("conv").split("-"))
    except (AttributeError, ValueError):
        raise ValueError(f"{arch}: each config entry must be 'maxpool' or 'conv<k>-<n>'; got {entry!r}") from None
    return kernel, filters


def build_vgg(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    config,
    fc_units=4096,
    dropout=0.5,
    classifier_activation="softmax",
    name="vgg",
):
    """Build a VGG network from a configuration list such as `["conv3-64", "maxpool", ...]`.

    Each `conv<k>-<n>` is a k x k convolution with n filters, stride 1, "same" padding and
    ReLU; each `maxpool` a 2x2 max-pool ("same", so small inputs shrink to 1x1 and stay).
    Then fc1 and fc2 (`fc_units`, ReLU, dropout) and the classifier. With table 1's column D
    at 224x224x3 and 1000 classes this is VGG-16: 138,357,544 parameters (no batch norm).

    Reference:
        Simonyan, Zisserman (2015), Very Deep Convolutional Networks for Large-Scale
        Image Recognition, table 1.

    Args:
        input_shape: `(H, W, C)` with H, W >= 1.
        num_classes: number of classes.
        config: the layers, input side first: "conv<k>-<n>" and "maxpool" entries.
        fc_units: width of fc1 and fc2 (4096 in the paper).
        dropout: dropout rate after fc1 and fc2.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`; layers named block<b>_conv<i>, block<b>_pool, fc1, fc2,
        predictions.
    """
    shape = check_input_shape(input_shape, min_size=1, arch=name)
    check_num_classes(num_classes, arch=name)
    if isinstance(config, str) or not config:
        raise ValueError(f"{name}: config must be a non-empty list of 'conv<k>-<n>' and 'maxpool'; got {config!r}")
    inputs = keras.Input(shape=shape, name="input")
    x, block, conv = inputs, 1, 0
    for entry in config:
        pooling = entry == "maxpool"
        if pooling:
            x = layers.MaxPooling2D(2, padding="same", name=f"block{block}_pool")(x)
            block, conv = block + 1, 0
            continue
        kernel, filters = _layer_spec(entry, name)
        conv += 1
        x = layers.Conv2D(filters, kernel, padding="same", activation="relu", name=f"block{block}_conv{conv}")(x)
    x = layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = layers.Dense(fc_units, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
