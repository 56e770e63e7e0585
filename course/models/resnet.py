"""ResNet: the ImageNet ResNet-18/34/50/101/152 and their plain twins, from residual blocks.

The blocks are the caller's (lab 04 asks students to write them): the library holds the
stem, the stage layout of the paper's table 1 and the head.

Parameter counts are stated as torchvision states them: trainable parameters, i.e.
`model.count_params()` minus the batch-norm moving means and variances (Keras stores
them as non-trainable weights; PyTorch keeps them as buffers): for a freshly built
model, the sum of `model.trainable_weights`' sizes.

Reference:
    K. He, X. Zhang, S. Ren, J. Sun (2016), Deep Residual Learning for Image
    Recognition, CVPR (table 1).
"""

import keras
from keras import layers

from course.models._utils import check_choice, check_input_shape, check_num_classes, conv_bn

# depth -> (block kind, blocks per stage), table 1 of He et al.
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
STAGE_WIDTHS = (64, 128, 256, 512)


def build_resnet(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    depth=50,
    basic_block=None,
    bottleneck_block=None,
    residual=True,
    small_input=False,
    attention=None,
    classifier_activation="softmax",
    name=None,
):
    """Build an ImageNet ResNet of table 1 of He et al., or its plain counterpart, from its blocks.

    Stem conv 7x7/2 (64) + max-pool 3/2, four stages of basic (18, 34) or bottleneck
    (50, 101, 152) blocks with 64/128/256/512 base widths (the first block of stages 3-5
    has stride 2), global average pool, dense. With blocks that project the shortcut when
    the shape changes (option B), trainable parameters at 224x224x3 and 1000 classes are
    torchvision's: ResNet-18 11,689,512; 34 21,797,672; 50 25,557,032; 101 44,549,160;
    152 60,192,808. Multiply-adds: about 1.82 G (18) and 4.1 G (50).

    Reference:
        He, Zhang, Ren, Sun (2016), Deep Residual Learning for Image Recognition, table 1.

    Args:
        input_shape: `(H, W, C)`; H, W >= 32.
        num_classes: number of classes.
        depth: one of 18, 34, 50, 101, 152.
        basic_block: `f(x, filters, strides=1, *, residual=True, attention=None, name=None)`,
            needed for depths 18 and 34.
        bottleneck_block: `f(x, filters, strides=1, *, attention=None, name=None)` with
            `4 * filters` output channels, needed for depths 50, 101, 152.
        residual: False builds the plain net of the paper's figure 3 (the block is called
            with `residual=False`).
        small_input: for 32x32 images: the stem becomes a 3x3 stride-1 convolution
            without max-pool (the usual CIFAR ResNet-18).
        attention: passed to every block (`f(tensor) -> tensor` on the residual branch;
            see `course.models.build_se_resnet50`).
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
    if not callable(block):
        raise ValueError(f"{name}: depth {depth} is built from {kind} blocks: pass {kind}_block=<function>; "
                         f"got {block!r}")
    options = {}
    if not residual:
        options["residual"] = False
    if attention is not None:
        options["attention"] = attention
    inputs = keras.Input(shape=shape, name="input")
    if small_input:
        x = conv_bn(inputs, 64, 3, name="conv1")
    else:
        x = conv_bn(inputs, 64, 7, strides=2, name="conv1")
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, (blocks, filters) in enumerate(zip(stages, STAGE_WIDTHS), start=2):
        for b in range(1, blocks + 1):
            strides = 2 if (b == 1 and stage > 2) else 1
            x = block(x, filters, strides, name=f"conv{stage}_block{b}", **options)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def build_resnet18(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-18 (11,689,512 trainable parameters); pass `basic_block`; see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=18, **kwargs)


def build_resnet34(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-34 (21,797,672 trainable parameters); pass `basic_block`; see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=34, **kwargs)


def build_resnet50(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-50 (25,557,032 trainable parameters); pass `bottleneck_block`; see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=50, **kwargs)


def build_resnet101(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-101 (44,549,160 trainable parameters); pass `bottleneck_block`; see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=101, **kwargs)


def build_resnet152(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    """Build ResNet-152 (60,192,808 trainable parameters); pass `bottleneck_block`; see `build_resnet`."""
    return build_resnet(input_shape, num_classes, depth=152, **kwargs)
