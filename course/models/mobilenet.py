"""MobileNetV2: inverted residual blocks with linear bottlenecks, for transfer learning.

Reference:
    M. Sandler, A. Howard, M. Zhu, A. Zhmoginov, L.-C. Chen (2018), MobileNetV2:
    Inverted Residuals and Linear Bottlenecks, CVPR (table 2).
"""

import keras
from keras import layers

from course.models._utils import check_input_shape, check_num_classes, conv_bn

# (expansion t, output channels c, repeats n, first stride s): table 2 of the paper.
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _make_divisible(value, divisor=8):
    """Round channels to a multiple of 8, never below 90% of `value` (as the authors do)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def inverted_residual_block(x, filters, *, expansion, strides, name):
    """Expand 1x1 (ReLU6) -> depthwise 3x3 (ReLU6) -> project 1x1 (linear), plus identity.

    The identity shortcut is used when the stride is 1 and the channels agree.
    """
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = conv_bn(y, in_channels * expansion, 1, activation="relu6", name=f"{name}_expand")
    y = conv_bn(y, None, 3, strides=strides, depthwise=True, activation="relu6", name=f"{name}_depthwise")
    y = conv_bn(y, filters, 1, activation=None, name=f"{name}_project")
    if strides == 1 and in_channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def build_mobilenet_v2(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    alpha=1.0,
    small_input=False,
    dropout=0.2,
    classifier_activation="softmax",
    name="mobilenet_v2",
):
    """Build MobileNetV2 as torchvision does.

    conv 3x3/2 (32), 17 inverted residual blocks (table 2), conv 1x1 (1280), global
    average pool, dropout, dense. At alpha=1 and 1000 classes: 3,504,872 trainable
    parameters, torchvision's count (`model.count_params()`, with the batch-norm
    moving statistics, is 3,538,984, as for `keras.applications.MobileNetV2`).

    Reference:
        Sandler et al. (2018), MobileNetV2: Inverted Residuals and Linear Bottlenecks.

    Args:
        input_shape: `(H, W, C)`; H, W >= 32.
        num_classes: number of classes.
        alpha: width multiplier (> 0).
        small_input: for 32x32 images: the stem and the first strided stage use
            stride 1, so the last maps are 4x4 rather than 1x1.
        dropout: dropout rate before the classifier.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=32, arch=name)
    check_num_classes(num_classes, arch=name)
    if not isinstance(alpha, (int, float)) or alpha <= 0:
        raise ValueError(f"{name}: alpha must be a number > 0; got {alpha!r}")
    inputs = keras.Input(shape=shape, name="input")
    x = conv_bn(inputs, _make_divisible(32 * alpha), 3, strides=1 if small_input else 2,
                activation="relu6", name="conv1")
    block = 0
    for stage, (t, c, n, s) in enumerate(MOBILENET_V2_STAGES):
        if small_input and stage == 1:
            s = 1
        for i in range(n):
            x = inverted_residual_block(
                x, _make_divisible(c * alpha), expansion=t, strides=s if i == 0 else 1,
                name=f"block{block}",
            )
            block += 1
    x = conv_bn(x, max(1280, _make_divisible(1280 * alpha)), 1, activation="relu6", name="conv_last")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
