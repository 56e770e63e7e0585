"""Squeeze-and-excitation: the SE block and SE-ResNet-50.

Reference:
    J. Hu, L. Shen, G. Sun (2018), Squeeze-and-Excitation Networks, CVPR.
"""

from keras import layers

from course.models.resnet import build_resnet


def squeeze_excite_block(x, *, ratio=16, name):
    """Reweight the channels of `x` by a gate computed from their global averages.

    Squeeze: global average pool to one number per channel. Excite: dense C -> C/r,
    ReLU, dense C/r -> C, sigmoid. Scale: multiply each channel by its gate. Adds
    2 C^2 / r + C / r + C parameters (both dense layers have biases).

    Reference:
        Hu, Shen, Sun (2018), Squeeze-and-Excitation Networks, figure 2 and section 3.

    Args:
        x: input tensor `(batch, H, W, C)`.
        ratio: reduction ratio r (16 in the paper); C must be divisible by it.
        name: prefix of the layer names.

    Returns:
        A tensor of the shape of `x`.
    """
    channels = x.shape[-1]
    if not isinstance(ratio, int) or ratio < 1 or channels % ratio:
        raise ValueError(
            f"{name}: ratio must be a positive integer dividing the {channels} channels; got {ratio!r}"
        )
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = layers.Dense(channels // ratio, activation="relu", name=f"{name}_reduce")(s)
    s = layers.Dense(channels, activation="sigmoid", name=f"{name}_expand")(s)
    return layers.Multiply(name=f"{name}_scale")([x, s])


def build_se_resnet50(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    ratio=16,
    small_input=False,
    classifier_activation="softmax",
    name="se_resnet50",
):
    """Build SE-ResNet-50: ResNet-50 with an SE block on every residual branch.

    28,088,024 trainable parameters at 1000 classes (ResNet-50's 25,557,032 plus
    2,530,992 in the 16 SE blocks), the count of the authors' released model;
    batch-norm moving statistics are not counted (see `course.models.resnet`).

    Reference:
        Hu, Shen, Sun (2018), Squeeze-and-Excitation Networks, table 1.

    Args:
        input_shape: `(H, W, C)`; H, W >= 32.
        num_classes: number of classes.
        ratio: SE reduction ratio.
        small_input: 3x3 stride-1 stem without max-pool, for 32x32 images.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """

    def attention(x, *, name):
        return squeeze_excite_block(x, ratio=ratio, name=name)

    return build_resnet(
        input_shape,
        num_classes,
        depth=50,
        small_input=small_input,
        attention=attention,
        classifier_activation=classifier_activation,
        name=name,
    )
