"""SE-ResNet-50: ResNet-50 with a squeeze-and-excitation block on every residual branch.

The bottleneck and SE blocks are the caller's (lab 04 asks students to write them).

Reference:
    J. Hu, L. Shen, G. Sun (2018), Squeeze-and-Excitation Networks, CVPR.
"""

from course.models.resnet import build_resnet


def build_se_resnet50(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    bottleneck_block,
    se_block,
    ratio=16,
    small_input=False,
    classifier_activation="softmax",
    name="se_resnet50",
):
    """Build SE-ResNet-50: `se_block(t, ratio)` on the residual branch of every bottleneck.

    28,088,024 trainable parameters at 1000 classes with r = 16 (ResNet-50's 25,557,032
    plus 2,530,992 in the 16 SE blocks), the count of the authors' released model;
    batch-norm moving statistics are not counted (see `course.models.resnet`).

    Reference:
        Hu, Shen, Sun (2018), Squeeze-and-Excitation Networks, table 1.

    Args:
        input_shape: `(H, W, C)`; H, W >= 32.
        num_classes: number of classes.
        bottleneck_block: as for `course.models.build_resnet` (it takes `attention=`).
        se_block: `f(x, ratio=16, name=None)` -> a tensor of x's shape.
        ratio: SE reduction ratio.
        small_input: 3x3 stride-1 stem without max-pool, for 32x32 images.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    return build_resnet(
        input_shape,
        num_classes,
        depth=50,
        bottleneck_block=bottleneck_block,
        small_input=small_input,
        attention=lambda t: se_block(t, ratio),
        classifier_activation=classifier_activation,
        name=name,
    )
