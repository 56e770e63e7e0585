"""ResNet: the ImageNet ResNet-18/34/50/101/152, their plain twins, and the CIFAR ResNets.

Parameter counts are stated as torchvision states them: trainable parameters, i.e.
`model.count_params()` minus the batch-norm moving means and variances (Keras stores
them as non-trainable weights; PyTorch keeps them as buffers): for a freshly built
model, the sum of `model.trainable_weights`' sizes.

Reference:
    K. He, X. Zhang, S. Ren, J. Sun (2016), Deep Residual Learning for Image
    Recognition, CVPR (table 1: ImageNet nets; section 4.2: CIFAR-10 nets).
"""

import keras
from keras import layers

from course.models._utils import (
    ChannelPad,
    check_choice,
    check_input_shape,
    check_num_classes,
    conv_bn,
)

# depth -> (block kind, blocks per stage), table 1 of He et al.
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def _shortcut(x, filters, strides, kind, name):
    """Return what the residual branch is added to, or None for a plain net."""
    if kind is None:
        return None
    if strides == 1 and x.shape[-1] == filters:
        return x
    if kind == "A":
        # He et al. option A: subsample by striding, zero-pad the new channels; no weights.
        x = layers.MaxPooling2D(1, strides=strides, name=f"{name}_subsample")(x)
        return ChannelPad(filters, name=f"{name}_chpad")(x)
    return conv_bn(x, filters, 1, strides=strides, activation=None, name=f"{name}_proj")


def _merge(x, shortcut, name, attention):
    if attention is not None:
        x = attention(x, name=f"{name}_se")
    if shortcut is not None:
        x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def basic_block(x, filters, *, strides=1, shortcut="B", attention=None, name):
    """Two 3x3 convolutions with a shortcut (figure 2 of He et al., left of figure 5).

    Args:
        x: input tensor.
        filters: output channels.
        strides: stride of the first convolution (2 starts a new stage).
        shortcut: "B" (projection when the shape changes, identity otherwise),
            "A" (zero-padding identity, no weights) or None (a plain block).
        attention: optional `f(x, name=...)` applied to the residual branch before
            the addition (the squeeze-and-excitation hook of `course.models.senet`).
        name: prefix of every layer name.

    Returns:
        The output tensor.
    """
    s = _shortcut(x, filters, strides, shortcut, name)
    x = conv_bn(x, filters, 3, strides=strides, name=f"{name}_1")
    x = conv_bn(x, filters, 3, activation=None, name=f"{name}_2")
    return _merge(x, s, name, attention)


def bottleneck_block(x, filters, *, strides=1, shortcut="B", attention=None, name):
    """1x1 reduce, 3x3, 1x1 expand to `4 * filters` (figure 5 right of He et al.).

    The stride sits on the 3x3 convolution, as in torchvision ("ResNet v1.5"); the
    parameter count is the same as with the stride on the first 1x1.

    Args: as `basic_block`; `filters` is the bottleneck width.

    Returns:
        The output tensor, `4 * filters` channels.
    """
    s = _shortcut(x, 4 * filters, strides, shortcut, name)
    x = conv_bn(x, filters, 1, name=f"{name}_1")
    x = conv_bn(x, filters, 3, strides=strides, name=f"{name}_2")
    x = conv_bn(x, 4 * filters, 1, activation=None, name=f"{name}_3")
    return _merge(x, s, name, attention)


def _head(x, num_classes, classifier_activation):
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)


def build_resnet(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    depth=50,
    residual=True,
    small_input=False,
    attention=None,
    classifier_activation="softmax",
    name=None,
):
    """Build an ImageNet ResNet of table 1 of He et al., or its plain counterpart.

    Stem conv 7x7/2 (64) + max-pool 3/2, four stages of basic (18, 34) or bottleneck
    (50, 101, 152) blocks with 64/128/256/512 base widths, global average pool, dense.
    Trainable parameters at 224x224x3 and 1000 classes (torchvision's numbers; see
    the module docstring): ResNet-18 11,689,512; 34 21,797,672; 50 25,557,032;
    101 44,549,160; 152 60,192,808. Multiply-adds: about 1.82 G (18) and 4.1 G (50).

    Reference:
        He, Zhang, Ren, Sun (2016), Deep Residual Learning for Image Recognition, table 1.

    Args:
        input_shape: `(H, W, C)`; H, W >= 32.
        num_classes: number of classes.
        depth: one of 18, 34, 50, 101, 152.
        residual: False builds the plain net of the paper's figure 3 (no shortcuts at
            all, so no projection convolutions either).
        small_input: for 32x32 images: the stem becomes a 3x3 stride-1 convolution
            without max-pool (the usual CIFAR ResNet-18: 11,173,962 trainable
            parameters for 10 classes, about 0.56 G multiply-adds).
        attention: optional per-block hook (see `basic_block`); used by SE-ResNets.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name; defaults to "resnet<depth>" or "plain<depth>".

    Returns:
        An uncompiled `keras.Model`.
    """
    arch = name or "resnet"
    check_choice(depth, IMAGENET_DEPTHS, what="depth", arch=arch)
    name = name or f"{'resnet' if residual else 'plain'}{depth}"
    shape = check_input_shape(input_shape, min_size=32, arch=name)
    check_num_classes(num_classes, arch=name)
    kind, stages = IMAGENET_DEPTHS[depth]
    block = basic_block if kind == "basic" else bottleneck_block
    inputs = keras.Input(shape=shape, name="input")
    if small_input:
        x = conv_bn(inputs, 64, 3, name="conv1")
    else:
        x = conv_bn(inputs, 64, 7, strides=2, name="conv1")
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, (blocks, filters) in enumerate(zip(stages, (64, 128, 256, 512)), start=2):
        for b in range(1, blocks + 1):
            x = block(
                x,
                filters,
                strides=2 if (b == 1 and stage > 2) else 1,
                shortcut="B" if residual else None,
                attention=attention,
                name=f"conv{stage}_block{b}",
            )
    outputs = _head(x, num_classes, classifier_activation)
    return keras.Model(inputs, outputs, name=name)


def build_resnet18(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-18 (11,689,512 trainable parameters); see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=18, **kwargs)


def build_resnet34(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-34 (21,797,672 trainable parameters); see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=34, **kwargs)


def build_resnet50(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-50 (25,557,032 trainable parameters); see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=50, **kwargs)


def build_resnet101(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-101 (44,549,160 trainable parameters); see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=101, **kwargs)


def build_resnet152(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-152 (60,192,808 trainable parameters); see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=152, **kwargs)


def build_plain18(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build the 18-layer plain net (ResNet-18 without shortcuts); see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=18, residual=False, **kwargs)


def build_plain34(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build the 34-layer plain net (ResNet-34 without shortcuts); see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=34, residual=False, **kwargs)


def build_cifar_resnet(
    input_shape=(32, 32, 3),
    num_classes=10,
    *,
    depth=20,
    shortcut="A",
    residual=True,
    classifier_activation="softmax",
    name=None,
):
    """Build the CIFAR-10 ResNet of He et al. section 4.2 (depth 6n + 2).

    conv 3x3 (16), then three stages of n basic blocks with 16, 32, 64 filters on
    32x32, 16x16 and 8x8 maps, global average pool, dense. With shortcut option A
    (identity, zero-padded channels, as in the paper) the trainable parameters for
    10 classes are ResNet-20 269,722; 32 464,154; 44 658,586; 56 853,018;
    110 1,727,962: the paper's 0.27M / 0.46M / 0.66M / 0.85M / 1.7M.

    Reference:
        He, Zhang, Ren, Sun (2016), Deep Residual Learning for Image Recognition,
        section 4.2 and table 6.

    Args:
        input_shape: `(H, W, C)` with H, W >= 8 (the paper uses 32x32x3).
        num_classes: number of classes.
        depth: 6n + 2 for an integer n >= 1 (20, 32, 44, 56, 110, ...).
        shortcut: "A" (parameter-free, the paper's CIFAR choice) or "B" (projections).
        residual: False gives the plain net of the same depth.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name; defaults to "resnet<depth>_cifar" or "plain<depth>_cifar".

    Returns:
        An uncompiled `keras.Model`.
    """
    arch = name or "cifar_resnet"
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"{arch}: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110); got {depth!r}")
    check_choice(shortcut, {"A", "B"}, what="shortcut", arch=arch)
    name = name or f"{'resnet' if residual else 'plain'}{depth}_cifar"
    shape = check_input_shape(input_shape, min_size=8, arch=name)
    check_num_classes(num_classes, arch=name)
    n = (depth - 2) // 6
    inputs = keras.Input(shape=shape, name="input")
    x = conv_bn(inputs, 16, 3, name="conv1")
    for stage, filters in enumerate((16, 32, 64), start=2):
        for b in range(1, n + 1):
            x = basic_block(
                x,
                filters,
                strides=2 if (b == 1 and stage > 2) else 1,
                shortcut=shortcut if residual else None,
                name=f"conv{stage}_block{b}",
            )
    outputs = _head(x, num_classes, classifier_activation)
    return keras.Model(inputs, outputs, name=name)


def build_resnet20(input_shape=(32, 32, 3), num_classes=10, **kwargs):
    """Build the CIFAR ResNet-20 (269,722 trainable parameters); see `build_cifar_resnet`."""
    return build_cifar_resnet(input_shape, num_classes, depth=20, **kwargs)
