"""Network in Network: convolutions followed by 1x1 "mlpconv" layers and global average pooling.

Reference:
    M. Lin, Q. Chen, S. Yan (2014), Network In Network, ICLR.
"""

import keras
from keras import layers

from course.models._utils import check_input_shape, check_num_classes


def mlpconv_block(x, filters, kernel_size, *, strides=1, padding="same", name):
    """One convolution and two 1x1 convolutions (a shared MLP at every position), all ReLU.

    Args:
        x: input tensor.
        filters: three output widths `(conv, 1x1, 1x1)`.
        kernel_size: kernel of the first convolution.
        strides: stride of the first convolution.
        padding: padding of the first convolution.
        name: prefix of the layer names.

    Returns:
        The output tensor.
    """
    x = layers.Conv2D(filters[0], kernel_size, strides=strides, padding=padding,
                      activation="relu", name=f"{name}_conv")(x)
    x = layers.Conv2D(filters[1], 1, activation="relu", name=f"{name}_mlp1")(x)
    return layers.Conv2D(filters[2], 1, activation="relu", name=f"{name}_mlp2")(x)


def build_nin(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    small_input=False,
    dropout=0.5,
    classifier_activation="softmax",
    name="nin",
):
    """Build Network in Network: mlpconv blocks, then global average pooling as the classifier.

    ImageNet version (the authors' released Caffe model): mlpconv 11x11/4
    (96-96-96), max-pool 3/2, mlpconv 5x5 (256-256-256), max-pool 3/2, mlpconv 3x3
    (384-384-384), max-pool 3/2, dropout, mlpconv 3x3 (1024-1024-`num_classes`),
    global average pool, softmax: 7,595,176 parameters at 1000 classes.
    `small_input=True` gives the paper's CIFAR-10 net: mlpconv 5x5 (192-160-96),
    max-pool 3/2, dropout, mlpconv 5x5 (192-192-192), average-pool 3/2, dropout,
    mlpconv 3x3 (192-192-`num_classes`), global average pool: 966,986 parameters
    at 10 classes. There is no fully connected layer: the last 1x1 layer has one
    map per class and its spatial average is the class score.

    Reference:
        Lin, Chen, Yan (2014), Network In Network, sections 3 and 4.2.

    Args:
        input_shape: `(H, W, C)`; H, W >= 67 (>= 32 with `small_input`).
        num_classes: number of classes.
        small_input: build the paper's CIFAR-10 network instead.
        dropout: dropout rate between blocks.
        classifier_activation: activation of the output (`None` gives logits).
        name: model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    shape = check_input_shape(input_shape, min_size=32 if small_input else 67, arch=name)
    check_num_classes(num_classes, arch=name)
    inputs = keras.Input(shape=shape, name="input")
    if small_input:
        x = mlpconv_block(inputs, (192, 160, 96), 5, name="block1")
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
        x = layers.Dropout(dropout, name="drop1")(x)
        x = mlpconv_block(x, (192, 192, 192), 5, name="block2")
        x = layers.AveragePooling2D(3, strides=2, padding="same", name="pool2")(x)
        x = layers.Dropout(dropout, name="drop2")(x)
        x = mlpconv_block(x, (192, 192, num_classes), 3, name="block3")
    else:
        x = mlpconv_block(inputs, (96, 96, 96), 11, strides=4, padding="valid", name="block1")
        x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
        x = mlpconv_block(x, (256, 256, 256), 5, name="block2")
        x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
        x = mlpconv_block(x, (384, 384, 384), 3, name="block3")
        x = layers.MaxPooling2D(3, strides=2, name="pool3")(x)
        x = layers.Dropout(dropout, name="drop3")(x)
        x = mlpconv_block(x, (1024, 1024, num_classes), 3, name="block4")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
