"""Input validation and small layers shared by the builders of `course.models`."""

import math

import keras
from keras import layers
from keras import ops


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


@keras.saving.register_keras_serializable(package="course")
class ChannelPad(keras.layers.Layer):
    """Zero-pad the channel axis (last) up to `channels`: He et al.'s shortcut option A."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def call(self, x):
        extra = self.channels - x.shape[-1]
        before = extra // 2
        pad = [[0, 0]] * (len(x.shape) - 1) + [[before, extra - before]]
        return ops.pad(x, pad)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.channels,)

    def count_connections(self, input_shapes, output_shape, include_bias):
        """No multiply-adds (for the counting tables)."""
        return 0

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="course")
class LocalResponseNormalization(keras.layers.Layer):
    """Krizhevsky et al.'s local response normalization across channels.

    `b_c = a_c / (k + alpha * sum_{c' in window(c)} a_{c'}^2) ** beta`, with a window
    of `depth_radius * 2 + 1` neighbouring channels. Defaults are the AlexNet paper's
    (k=2, n=5, alpha=1e-4, beta=0.75); `alpha` multiplies the plain sum, as in the paper.

    Reference:
        Krizhevsky, Sutskever, Hinton (2012), ImageNet Classification with Deep
        Convolutional Neural Networks, section 3.3.
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, x):
        channels = x.shape[-1]
        r = self.depth_radius
        sq = ops.pad(ops.square(x), [[0, 0]] * (len(x.shape) - 1) + [[r, r]])
        window = sum(sq[..., i : i + channels] for i in range(2 * r + 1))
        return x / ops.power(self.bias + self.alpha * window, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def count_connections(self, input_shapes, output_shape, include_bias):
        """One multiply-add per unit and channel of its window (for the counting tables)."""
        return math.prod(output_shape[1:]) * (2 * self.depth_radius + 1)

    def get_config(self):
        return {
            **super().get_config(),
            "depth_radius": self.depth_radius,
            "bias": self.bias,
            "alpha": self.alpha,
            "beta": self.beta,
        }


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
