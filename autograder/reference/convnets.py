"""Instructor reference for lab 02 (convnets): one function per `ref=` name.

Plain NumPy, written independently of the solution notebook: where the notebook loops
over output positions, the convolution here gathers every window at once
(`sliding_window_view`) and contracts with einsum; pooling reuses the same windows; the
counting table is computed from a layer *specification* with closed-form sizes, never
from a Keras model. Each function takes the inputs of the check's query (see
docs/checks.md) and returns what the student's code must produce. The three networks the
lab asks for are here as Keras models too (Keras is imported only when one is built), for
the tests of course.models and of the counting tables, and for bench/calibrate_lab02.py.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


# ---------------------------------------------------------------------------------------
# Convolution mechanics

def conv_output_size(n, k, stride=1, padding=0, dilation=1):
    """Output length of a convolution or pooling window along one axis.

    padding: an int (zeros added on *each* side), "valid" (0) or "same" (Keras/TensorFlow:
    ceil(n / stride), whatever the kernel).
    """
    if padding == "same":
        return int(math.ceil(n / stride))
    p = 0 if padding == "valid" else int(padding)
    span = dilation * (k - 1) + 1                      # the dilated kernel's extent
    return int((n + 2 * p - span) // stride + 1)


def _same_pads(n, k, stride):
    out = -(-n // stride)
    total = max((out - 1) * stride + k - n, 0)
    return total // 2, total - total // 2              # TensorFlow puts the extra zero after


def conv2d(x, w, b=None, stride=1, padding="valid"):
    """Cross-correlation as keras.ops.conv computes it: x (N, H, W, Ci), w (kh, kw, Ci, Co)."""
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    kh, kw = w.shape[:2]
    if padding == "same":
        x = np.pad(x, ((0, 0), _same_pads(x.shape[1], kh, stride),
                       _same_pads(x.shape[2], kw, stride), (0, 0)))
    win = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # N,Ho,Wo,Ci,kh,kw
    out = np.einsum("nhwcij,ijco->nhwo", win, w)
    if b is not None:
        out = out + np.asarray(b, dtype=float)
    return out


def conv1x1(x, w):
    """A 1x1 convolution: the same linear map (Ci -> Co) applied at every pixel."""
    return np.einsum("nhwc,co->nhwo", np.asarray(x, dtype=float), np.asarray(w, dtype=float))


def pool2d(x, size=2, stride=None, mode="max"):
    """Max or average pooling over size x size windows, 'valid' (no padding)."""
    stride = stride or size
    win = sliding_window_view(np.asarray(x, dtype=float), (size, size), axis=(1, 2))
    win = win[:, ::stride, ::stride]
    return win.max(axis=(-2, -1)) if mode == "max" else win.mean(axis=(-2, -1))


def shift_image(x, dy, dx):
    """Shift (N, H, W, C) images down by dy and right by dx rows/columns, filling with 0."""
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    h, w = x.shape[1:3]
    src_r = slice(max(0, -dy), min(h, h - dy))
    dst_r = slice(max(0, dy), min(h, h + dy))
    src_c = slice(max(0, -dx), min(w, w - dx))
    dst_c = slice(max(0, dx), min(w, w + dx))
    if src_r.start < src_r.stop and src_c.start < src_c.stop:
        out[:, dst_r, dst_c] = x[:, src_r, src_c]
    return out


# ---------------------------------------------------------------------------------------
# Counting: Grosse's table (units, weights, connections) plus trainable parameters

GROSSE_LENET5 = {   # CSC321 lecture 12, slide 14; parameters add the biases (Keras count)
    "units": [4704, 1176, 1600, 400, 120, 84, 10],
    "weights": [150, 0, 2400, 0, 48000, 10080, 840],
    "connections": [117600, 4704, 240000, 1600, 48000, 10080, 840],
    "parameters": [156, 0, 2416, 0, 48120, 10164, 850],
}


def lenet5_table():
    """The table for the lab's LeNet-5 (28x28 input, 'same' C1): Grosse's numbers."""
    return np.array([GROSSE_LENET5[c] for c in ("units", "weights", "connections",
                                                "parameters")]).T


def table_from_spec(input_shape, spec):
    """Rows (units, weights, connections, parameters) for a list of layer specs.

    spec items: ("conv", filters, k, stride, padding), ("pool", size), ("dense", units);
    a dense layer flattens what comes before it.
    """
    h, w, c = input_shape
    rows, flat = [], None
    for layer in spec:
        if layer[0] == "conv":
            _, f, k, s, pad = layer
            h, w = conv_output_size(h, k, s, pad), conv_output_size(w, k, s, pad)
            units = h * w * f
            rows.append((units, k * k * c * f, units * k * k * c, k * k * c * f + f))
            c = f
        elif layer[0] == "pool":
            size = layer[1]
            h, w = h // size, w // size
            units = h * w * c
            rows.append((units, 0, units * size * size, 0))
        else:
            n_in = flat if flat is not None else h * w * c
            units = layer[1]
            rows.append((units, n_in * units, n_in * units, n_in * units + units))
            flat = units
    return np.array(rows, dtype=np.int64)


def size_table_variant(size, channels, c1, c3, k, stride, padding, f5):
    """The run query's model (see the test cell): conv, max-pool, conv, avg-pool, 2 dense."""
    spec = [("conv", c1, k, stride, padding), ("pool", 2), ("conv", c3, k, 1, "valid"),
            ("pool", 2), ("dense", f5), ("dense", 10)]
    t = table_from_spec((size, size, channels), spec)
    return {"table": t, "counts": t[:, :3], "parameters": t[:, 3]}


def lenet5_size_table():
    """size_table(build_lenet5()) must be Grosse's table (all of it, or the counts alone);
    `lenet5()` below is that network."""
    table = lenet5_table()
    return {"table": table, "counts": table[:, :3], "parameters": table[:, 3]}


# ---------------------------------------------------------------------------------------
# Lab 02's networks as Keras models: what the student's build_lenet5, build_forsyth_mnist
# and build_forsyth_cifar return, for the tests of course.models and of the counting
# tables, and for bench/calibrate_lab02.py. (Keras is imported only when one is built.)

def lenet5(num_classes=10):
    """LeNet-5 as Grosse's lecture 12 tabulates it: 28x28 input, "same" C1, fully connected
    C3, plain average pools; 61,706 parameters (Grosse's 61,470 weights plus the biases)."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1), name="input"),
        layers.Conv2D(6, 5, padding="same", activation="tanh", name="c1"),
        layers.AveragePooling2D(2, name="s2"),
        layers.Conv2D(16, 5, activation="tanh", name="c3"),
        layers.AveragePooling2D(2, name="s4"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation="tanh", name="f5"),
        layers.Dense(84, activation="tanh", name="f6"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ], name="lenet5")


def forsyth_mnist(num_classes=10):
    """Forsyth's figure 17.9 (MatConvNet's cnn_mnist): no ReLU after the two 5x5
    convolutions, the max-pools are their non-linearity; 431,080 parameters."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1), name="input"),
        layers.Conv2D(20, 5, name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(50, 5, name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Conv2D(500, 4, activation="relu", name="fc1"),
        layers.Conv2D(num_classes, 1, name="fc2"),
        layers.Flatten(name="flatten"),
        layers.Activation("softmax", name="predictions"),
    ], name="forsyth_mnist")


def forsyth_cifar(num_classes=10):
    """Forsyth's figure 17.15 (MatConvNet's cnn_cifar): overlapping 3/2 pools, the 64 top
    ReLUs of figure 17.19 in "fc1"; 145,578 parameters."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((32, 32, 3), name="input"),
        layers.Conv2D(32, 5, padding="same", name="conv1"),
        layers.MaxPooling2D(3, strides=2, padding="same", name="pool1"),
        layers.ReLU(name="relu1"),
        layers.Conv2D(32, 5, padding="same", activation="relu", name="conv2"),
        layers.AveragePooling2D(3, strides=2, padding="same", name="pool2"),
        layers.Conv2D(64, 5, padding="same", activation="relu", name="conv3"),
        layers.AveragePooling2D(3, strides=2, padding="same", name="pool3"),
        layers.Conv2D(64, 4, activation="relu", name="fc1"),
        layers.Conv2D(num_classes, 1, name="fc2"),
        layers.Flatten(name="flatten"),
        layers.Activation("softmax", name="predictions"),
    ], name="forsyth_cifar")


# ---------------------------------------------------------------------------------------
# Evaluation helpers

def confusion_matrix(y_true, y_pred, num_classes):
    """Counts C[i, j] of examples of true class i predicted as j."""
    y_true = np.asarray(y_true).astype(int).reshape(-1)
    y_pred = np.asarray(y_pred).astype(int).reshape(-1)
    cm = np.zeros((int(num_classes), int(num_classes)), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_accuracy(y_true, y_pred, num_classes):
    """Fraction of each true class predicted correctly (NaN for a class with no examples)."""
    cm = confusion_matrix(y_true, y_pred, num_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(cm) / cm.sum(axis=1)


def top_activating(activations, k=9):
    """(U, k) indices of the k examples with the largest activation of each unit, largest first."""
    a = np.asarray(activations, dtype=float)
    order = np.argsort(-a, axis=0, kind="stable")[:int(k)]
    return order.T
