"""Instructor side of lab 04: the Keras blocks students write, and the networks built from them.

Lab 04 asks students to write local response normalization, AlexNet, the NiN, Inception,
grid-reduction, residual, squeeze-and-excitation and dense blocks, VGG's configurations and
the CIFAR ResNet. `course.models` (what students install) holds only the skeletons: stems,
stage layouts, heads and the papers' tables as data; its paper-size builders take the blocks
as required keyword arguments with the signatures the lab asks for. This module gives them
the instructor's blocks, so the course's tests (test_models.py, test_counting.py), the
pretraining of lab 05's backbone (`python -m autograder.pretrain`) and
bench/race_throughput.py count and build the published networks. `autograder` is never
published, and the leak scan treats every line of these functions as a secret.

Kept apart from `autograder/reference/architectures.py` (plain NumPy, imported by the
grader to judge `ref=` checks) so that judging never imports Keras.

References:
    Krizhevsky, Sutskever, Hinton (2012), ImageNet Classification with Deep Convolutional
    Neural Networks; Krizhevsky (2014), One weird trick for parallelizing convolutional
    neural networks; Simonyan, Zisserman (2015), Very Deep Convolutional Networks;
    Lin, Chen, Yan (2014), Network In Network; Szegedy et al. (2015, 2016), Going Deeper
    with Convolutions, Rethinking the Inception Architecture; He, Zhang, Ren, Sun (2016),
    Deep Residual Learning; Hu, Shen, Sun (2018), Squeeze-and-Excitation Networks;
    Huang, Liu, van der Maaten, Weinberger (2017), Densely Connected Convolutional Networks.
"""
from __future__ import annotations

import functools
import itertools
import math

import keras
from keras import layers, ops

from autograder.reference.architectures import vgg_config
from course import models
from course.models._utils import check_choice, check_input_shape, conv_bn


_UNNAMED = itertools.count(1)   # conv_bn names its layers from a prefix: unnamed blocks get one


def _named(name, suffix):
    return f"{name}_{suffix}" if name else None


@keras.saving.register_keras_serializable(package="course_reference")
class LocalResponseNormalization(keras.layers.Layer):
    """AlexNet's normalization across channels: a_c / (k + alpha * sum of a^2 over 2r + 1 channels) ** beta."""

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        keras.layers.Layer.__init__(self, **kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = int(depth_radius), float(bias), float(alpha), float(beta)

    def call(self, x):
        width = 2 * self.depth_radius + 1
        # The window sum as a 1D convolution of ones over the channel axis of every pixel.
        squares = ops.expand_dims(ops.reshape(ops.square(x), (-1, x.shape[-1])), -1)
        window = ops.conv(squares, ops.ones((width, 1, 1), dtype=x.dtype), padding="same")
        window = ops.reshape(window, (-1, *x.shape[1:]))
        return x / ops.power(self.bias + self.alpha * window, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def count_connections(self, input_shapes, output_shape, include_bias):
        """One multiply-add per unit and channel of its window (see autograder.reference.counting)."""
        return math.prod(output_shape[1:]) * (2 * self.depth_radius + 1)

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="course_reference")
class ChannelPad(keras.layers.Layer):
    """He et al.'s shortcut option A: zero channels appended around the input's up to `channels`."""

    def __init__(self, channels, **kwargs):
        keras.layers.Layer.__init__(self, **kwargs)
        self.channels = int(channels)

    def call(self, x):
        missing = self.channels - x.shape[-1]
        return ops.pad(x, [[0, 0]] * (len(x.shape) - 1) + [[missing // 2, missing - missing // 2]])

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.channels)

    def count_connections(self, input_shapes, output_shape, include_bias):
        """No multiply-adds (see autograder.reference.counting)."""
        return 0

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


# --------------------------------------------------------------------------------------------
# AlexNet: the paper's two towers with LRN, and torchvision's one-GPU network (2014)

def _alexnet(shape, num_classes, *, widths, groups, lrn, small_input, fc_units, dropout,
             classifier_activation, name):
    pool_padding = "same" if small_input else "valid"
    inputs = keras.Input(shape, name="input")
    if small_input:
        x = layers.Conv2D(widths[0], 5, padding="same", activation="relu", name="conv1")(inputs)
    else:
        # torchvision pads conv1 by 2; the paper's 227x227 input needs no padding.
        x = inputs if lrn else layers.ZeroPadding2D(2, name="conv1_pad")(inputs)
        x = layers.Conv2D(widths[0], 11, strides=4, activation="relu", name="conv1")(x)
    for i in (1, 2, 5):
        if i == 2:
            x = layers.Conv2D(widths[1], 5, padding="same", groups=groups[1], activation="relu", name="conv2")(x)
        if i == 5:
            for j in (3, 4, 5):
                x = layers.Conv2D(widths[j - 1], 3, padding="same", groups=groups[j - 1], activation="relu",
                                  name=f"conv{j}")(x)
        if lrn and i < 5:
            x = LocalResponseNormalization(name=f"norm{i}")(x)
        x = layers.MaxPooling2D(3, strides=2, padding=pool_padding, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    for i in (6, 7):
        x = layers.Dense(fc_units, activation="relu", name=f"fc{i}")(layers.Dropout(dropout, name=f"drop{i}")(x))
    return keras.Model(inputs, layers.Dense(num_classes, activation=classifier_activation, name="fc8")(x), name=name)


def build_alexnet(input_shape=(227, 227, 3), num_classes=1000, *, groups=2, small_input=False, fc_units=4096,
                  dropout=0.5, classifier_activation="softmax", name="alexnet_two_tower"):
    """The 2012 AlexNet (groups=2: its two GPUs as grouped convolutions; LRN after conv1 and conv2).

    At 227x227x3 and 1000 classes: 60,965,224 parameters (62,378,344 with groups=1).
    `small_input` makes conv1 5x5/1 and the pools 'same', for 32x32 images.
    """
    return _alexnet(tuple(input_shape), num_classes, widths=(96, 256, 384, 384, 256), groups=(1, groups, 1, groups, groups),
                    lrn=True, small_input=small_input, fc_units=fc_units, dropout=dropout,
                    classifier_activation=classifier_activation, name=name)


def build_alexnet_one_gpu(input_shape=(224, 224, 3), num_classes=1000, *, small_input=False, fc_units=4096,
                          dropout=0.5, classifier_activation="softmax", name="alexnet"):
    """torchvision's AlexNet (Krizhevsky 2014's widths 64-192-384-256-256, no LRN): 61,100,840 parameters."""
    return _alexnet(tuple(input_shape), num_classes, widths=(64, 192, 384, 256, 256), groups=(1,) * 5, lrn=False,
                    small_input=small_input, fc_units=fc_units, dropout=dropout,
                    classifier_activation=classifier_activation, name=name)


# --------------------------------------------------------------------------------------------
# The blocks, with the lab's signatures (and instructor-only options after them)

def mlpconv_block(x, filters, kernel_size, strides=1, name=None):
    """NiN's mlpconv: a kernel_size convolution, then two 1x1 convolutions (ReLU, 'same')."""
    for i, (width, kernel, stride) in enumerate(zip(filters, (kernel_size, 1, 1), (strides, 1, 1))):
        x = layers.Conv2D(width, kernel, strides=stride, padding="same", activation="relu",
                          name=_named(name, ("conv", "mlp1", "mlp2")[i]))(x)
    return x


def _conv_unit(x, filters, kernel_size, *, batch_norm, name, strides=1):
    """Convolution and ReLU: with a bias (the papers) or batch norm instead (torchvision)."""
    if batch_norm:
        return conv_bn(x, filters, kernel_size, strides=strides, name=name, bn_epsilon=1e-3)
    padding = "same" if strides == 1 else "valid"
    return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, activation="relu",
                         name=_named(name, "conv"))(x)


def inception_module(x, filters, *, reduce=True, name=None, batch_norm=False, branch3_kernel_size=5):
    """GoogLeNet's module (figure 2b): 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | max-pool 3/1 -> 1x1.

    `batch_norm=True, branch3_kernel_size=3` is torchvision's variant (6,624,904 parameters
    for the whole GoogLeNet).
    """
    n1, n3r, n3, n5r, n5, npool = filters
    unit = functools.partial(_conv_unit, batch_norm=batch_norm)
    branches = [unit(x, n1, 1, name=_named(name, "1x1"))]
    for width, reduced, kernel, label in ((n3, n3r, 3, "3x3"), (n5, n5r, branch3_kernel_size, "5x5")):
        source = unit(x, reduced, 1, name=_named(name, f"{label}_reduce")) if reduce else x
        branches.append(unit(source, width, kernel, name=_named(name, label)))
    pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=_named(name, "pool"))(x)
    branches.append(unit(pooled, npool, 1, name=_named(name, "pool_proj")))
    return layers.Concatenate(name=_named(name, "concat"))(branches)


def grid_reduction(x, *, filters_double=(64, 96, 160), filters_single=(64, 160), name=None):
    """Inception v3's grid reduction (Forsyth fig. 18.4): two stride-2 branches beside a stride-2 pool."""
    unit = functools.partial(_conv_unit, batch_norm=False)
    long = unit(unit(x, filters_double[0], 1, name=_named(name, "dbl_1")), filters_double[1], 3,
                name=_named(name, "dbl_2"))
    long = unit(long, filters_double[2], 3, strides=2, name=_named(name, "dbl_3"))
    short = unit(unit(x, filters_single[0], 1, name=_named(name, "single_1")), filters_single[1], 3, strides=2,
                 name=_named(name, "single_2"))
    pooled = layers.MaxPooling2D(3, strides=2, name=_named(name, "pool"))(x)
    return layers.Concatenate(name=_named(name, "concat"))([long, short, pooled])


def _shortcut(x, channels, strides, kind, name):
    """What the residual branch is added to: x, its projection (B) or its zero-padded subsample (A)."""
    if strides == 1 and x.shape[-1] == channels:
        return x
    if kind == "A":
        x = layers.MaxPooling2D(1, strides=strides, name=f"{name}_subsample")(x)
        return ChannelPad(channels, name=f"{name}_chpad")(x)
    return conv_bn(x, channels, 1, strides=strides, activation=None, name=f"{name}_proj")


def _residual_end(y, x, channels, strides, *, residual, attention, shortcut, name):
    if attention is not None:
        y = attention(y)
    if residual:
        y = layers.Add(name=f"{name}_add")([_shortcut(x, channels, strides, shortcut, name), y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def basic_block(x, filters, strides=1, *, residual=True, attention=None, name=None, shortcut="B"):
    """He et al.'s basic block; `shortcut` "B" projects when the shape changes, "A" zero-pads."""
    name = name or f"basic_block{next(_UNNAMED)}"
    y = conv_bn(x, filters, 3, strides=strides, name=f"{name}_1")
    y = conv_bn(y, filters, 3, activation=None, name=f"{name}_2")
    return _residual_end(y, x, filters, strides, residual=residual, attention=attention, shortcut=shortcut,
                         name=name)


def bottleneck_block(x, filters, strides=1, *, attention=None, name=None, shortcut="B"):
    """He et al.'s bottleneck (1x1, 3x3 with the stride as torchvision, 1x1 to 4 * filters)."""
    name = name or f"bottleneck_block{next(_UNNAMED)}"
    y = conv_bn(x, filters, 1, name=f"{name}_1")
    y = conv_bn(y, filters, 3, strides=strides, name=f"{name}_2")
    y = conv_bn(y, 4 * filters, 1, activation=None, name=f"{name}_3")
    return _residual_end(y, x, 4 * filters, strides, residual=True, attention=attention, shortcut=shortcut,
                         name=name)


def se_block(x, ratio=16, name=None):
    """Squeeze (a mean per channel), excite (C -> C/r ReLU -> C sigmoid), scale each channel."""
    channels = x.shape[-1]
    gate = layers.GlobalAveragePooling2D(keepdims=True, name=_named(name, "squeeze"))(x)
    for width, activation, label in ((channels // ratio, "relu", "reduce"), (channels, "sigmoid", "expand")):
        gate = layers.Dense(width, activation=activation, name=_named(name, label))(gate)
    return layers.Multiply(name=_named(name, "scale"))([x, gate])


def dense_block(x, num_layers, growth_rate=12, bottleneck=None, name=None):
    """DenseNet: each layer (BN, ReLU, [1x1 to bottleneck * k,] 3x3 to k) appended to all before it."""
    for i in range(1, num_layers + 1):
        prefix = _named(name, f"layer{i}")
        y = x
        steps = ([(bottleneck * growth_rate, 1)] if bottleneck else []) + [(growth_rate, 3)]
        for j, (width, kernel) in enumerate(steps, start=1):
            y = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=_named(prefix, f"{j}_bn"))(y)
            y = layers.Activation("relu", name=_named(prefix, f"{j}_relu"))(y)
            y = layers.Conv2D(width, kernel, padding="same", use_bias=False, name=_named(prefix, f"{j}_conv"))(y)
        x = layers.Concatenate(name=_named(prefix, "concat"))([x, y])
    return x


def build_cifar_net(depth, *, residual=True, width=16, attention=None, input_shape=(32, 32, 3), num_classes=10,
                    shortcut="B", classifier_activation="softmax", name=None):
    """He et al.'s CIFAR-10 net with 6n + 2 weight layers (section 4.2); option A: 0.27M for ResNet-20.

    Layers are named as lab 05's shipped backbone has them (conv1_relu, conv2_block3_out, avg_pool).
    """
    arch = name or "cifar_resnet"
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"{arch}: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110); got {depth!r}")
    check_choice(shortcut, {"A", "B"}, what="shortcut", arch=arch)
    name = name or f"{'resnet' if residual else 'plain'}{depth}_cifar"
    inputs = keras.Input(shape=check_input_shape(input_shape, min_size=8, arch=name), name="input")
    x = conv_bn(inputs, width, 3, name="conv1")
    for stage in range(3):
        for b in range((depth - 2) // 6):
            x = basic_block(x, width * 2 ** stage, 2 if (b == 0 and stage > 0) else 1, residual=residual,
                            attention=attention, shortcut=shortcut, name=f"conv{stage + 2}_block{b + 1}")
    pooled = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(pooled)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


# --------------------------------------------------------------------------------------------
# The course's skeletons with these blocks: the published networks, for tests and benchmarks

def build_cifar_resnet(input_shape=(32, 32, 3), num_classes=10, *, depth=20, shortcut="A", **kwargs):
    """He et al.'s CIFAR ResNet as the paper counts it (option A shortcuts by default)."""
    return build_cifar_net(depth, input_shape=input_shape, num_classes=num_classes, shortcut=shortcut, **kwargs)


def build_vgg(input_shape=(224, 224, 3), num_classes=1000, *, letter="D", **kwargs):
    """A column of VGG's table 1 through `course.models.build_vgg` (D: VGG-16, E: VGG-19)."""
    return models.build_vgg(input_shape, num_classes, config=vgg_config(letter),
                            **{"name": {"D": "vgg16", "E": "vgg19"}.get(letter, f"vgg_{letter.lower()}"), **kwargs})


def build_nin(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    return models.build_nin(input_shape, num_classes, mlpconv_block=mlpconv_block, **kwargs)


def build_googlenet(input_shape=(224, 224, 3), num_classes=1000, *, batch_norm=True, branch3_kernel_size=5,
                    **kwargs):
    """GoogLeNet with batch norm as torchvision has it; branch3_kernel_size=3 is torchvision's count."""
    module = functools.partial(inception_module, batch_norm=batch_norm, branch3_kernel_size=branch3_kernel_size)
    return models.build_googlenet(input_shape, num_classes, inception_module=module, batch_norm=batch_norm, **kwargs)


def build_resnet(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    return models.build_resnet(input_shape, num_classes, basic_block=basic_block,
                               bottleneck_block=bottleneck_block, **kwargs)


def _resnet_of_depth(depth, residual=True):
    def build(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
        return build_resnet(input_shape, num_classes, depth=depth, residual=residual, **kwargs)
    build.__doc__ = f"{'ResNet' if residual else 'The plain net'}-{depth} with the reference blocks."
    return build


build_resnet18, build_resnet34, build_resnet50, build_resnet101, build_resnet152 = (
    _resnet_of_depth(d) for d in (18, 34, 50, 101, 152))
build_plain18, build_plain34 = (_resnet_of_depth(d, residual=False) for d in (18, 34))


def build_se_resnet50(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    return models.build_se_resnet50(input_shape, num_classes, bottleneck_block=bottleneck_block,
                                    se_block=se_block, **kwargs)


def build_densenet121(input_shape=(224, 224, 3), num_classes=1000, **kwargs):
    return models.build_densenet121(input_shape, num_classes, dense_block=dense_block, **kwargs)
