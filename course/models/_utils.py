"""Input validation and the convolution-batch-norm-activation unit shared by `course.models`."""

from keras import layers


def check_input_shape(input_shape, *, min_size, arch, channels=None, exact=False):
    """Return `input_shape` as a tuple `(H, W, C)` after checking it.

    Raises:
        ValueError: when the shape is not `(H, W, C)` with `H, W >= min_size`
            (`H == W == min_size` if `exact`; `C == channels` when given), saying
            what was received.
    """
    shape = tuple(input_shape) if input_shape is not None else None
    ok = (
        shape is not None
        and len(shape) == 3
        and all(isinstance(d, int) and d > 0 for d in shape)
        and shape[0] >= min_size
        and shape[1] >= min_size
    )
    if not ok:
        raise ValueError(
            f"{arch}: input_shape must be (H, W, C) with integer H, W >= {min_size}; "
            f"got {input_shape!r}"
        )
    if exact and shape[:2] != (min_size, min_size):
        raise ValueError(
            f"{arch}: input_shape must be ({min_size}, {min_size}, C); got {input_shape!r}"
        )
    if channels is not None and shape[2] != channels:
        raise ValueError(
            f"{arch}: input_shape must have {channels} channel(s); got {input_shape!r}"
        )
    return shape


def check_num_classes(num_classes, *, arch):
    """Raise ValueError unless `num_classes` is an integer >= 2."""
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"{arch}: num_classes must be an integer >= 2; got {num_classes!r}")
    return num_classes


def check_choice(value, choices, *, what, arch):
    """Raise ValueError unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{arch}: {what} must be one of {sorted(choices)}; got {value!r}")
    return value


def conv_bn(
    x,
    filters,
    kernel_size,
    *,
    name,
    strides=1,
    padding="torch",
    activation="relu",
    depthwise=False,
    bn_epsilon=1e-5,
):
    """Convolution (no bias) -> batch norm -> activation, padded as PyTorch pads.

    Strided convolutions get symmetric zero padding of `kernel_size // 2` and then a
    "valid" convolution, so output sizes and alignment match torchvision; stride 1
    uses "same". `padding="valid"` pads nothing (Inception v3's grid reductions). Layers are named `<name>_conv` (or `_dwconv`), `<name>_bn`,
    `<name>_<activation>`; `activation=None` stops after the batch norm.
    """
    if padding not in ("torch", "valid"):
        raise ValueError(f"{name}: padding must be 'torch' or 'valid'; got {padding!r}")
    if padding == "torch":
        padding = "same"
    if padding == "same" and strides > 1 and kernel_size > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    if depthwise:
        x = layers.DepthwiseConv2D(
            kernel_size, strides=strides, padding=padding, use_bias=False, name=f"{name}_dwconv"
        )(x)
    else:
        x = layers.Conv2D(
            filters, kernel_size, strides=strides, padding=padding, use_bias=False,
            name=f"{name}_conv",
        )(x)
    x = layers.BatchNormalization(epsilon=bn_epsilon, momentum=0.9, name=f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_{getattr(activation, '__name__', activation)}")(x)
    return x
