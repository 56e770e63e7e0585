"""Instructor reference for lab 04 (architectures): one function per `ref=` name.

Plain NumPy, written independently of the solution notebook: the parameter and
multiply-add counts are closed forms over a layer *specification* (what each check's
snippet builds, stated again here), never read from a Keras model; the VGG columns are
table 1 of Simonyan & Zisserman (2015) typed in as printed; the numerical functions
(LRN, squeeze-and-excitation, Gabor, Jacobian products, the Pareto front) loop where the
notebook vectorizes or the other way round. Each function takes the inputs of its check's
query (see docs/checks.md) and returns what the student's code must produce.
"""
from __future__ import annotations

import math

import numpy as np


# ---------------------------------------------------------------------------------------
# Part 1: units, weights and connections (Grosse's three sizes)

def _same(n, stride):
    return -(-n // stride)


def scale_strided_net(size, c1, c2, k):
    """Conv(c1, k, stride 2, 'same') -> BN -> max-pool 2 -> Conv(c2, k, 'valid') -> flatten -> Dense(10)."""
    h1 = _same(size, 2)
    h2 = h1 // 2
    h3 = h2 - k + 1
    conv1_units, conv2_units = h1 * h1 * c1, h3 * h3 * c2
    units = conv1_units + conv2_units + 10
    weights = (k * k * 3 * c1 + c1) + 2 * c1 + (k * k * c1 * c2 + c2) + (conv2_units * 10 + 10)
    connections = conv1_units * k * k * 3 + conv2_units * k * k * c1 + conv2_units * 10
    return {"s": np.array([units, weights, connections], dtype=np.int64)}


def scale_separable_block(size, c, f):
    """DepthwiseConv 3x3 'same' (no bias) -> BN -> ReLU -> Conv 1x1 to f (no bias) -> BN."""
    dw_units, pw_units = size * size * c, size * size * f
    weights = 9 * c + 2 * c + c * f + 2 * f
    connections = dw_units * 9 + pw_units * c
    return {"s": np.array([dw_units + pw_units, weights, connections], dtype=np.int64)}


# ---------------------------------------------------------------------------------------
# Part 2: AlexNet

def lrn(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75):
    """Krizhevsky et al. section 3.3, channel by channel."""
    x = np.asarray(x, dtype=float)
    channels = x.shape[-1]
    out = np.empty_like(x)
    for c in range(channels):
        lo, hi = max(0, c - depth_radius), min(channels - 1, c + depth_radius)
        energy = np.sum(x[..., lo:hi + 1] ** 2, axis=-1)
        out[..., c] = x[..., c] / (bias + alpha * energy) ** beta
    return out


# (kernel, input channels per group, output channels) of the two-tower AlexNet's convolutions
_ALEXNET_CONVS = [(11, 3, 96), (5, 48, 256), (3, 256, 384), (3, 192, 384), (3, 192, 256)]


def alexnet_params(c):
    """Parameters of the two-tower AlexNet at 227x227x3 with `c` classes (6x6x256 maps reach fc6)."""
    conv = sum(k * k * cin * cout + cout for k, cin, cout in _ALEXNET_CONVS)
    dense = (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * c + c)
    return {"n": conv + dense}


def mini_alexnet_params(shape, classes, remove):
    """The mini-AlexNet of the notebook's specification, without the layers in `remove`."""
    h, _, channels = shape
    convs = [("conv1", 7, 32), ("conv2", 5, 64), ("conv3", 3, 96), ("conv4", 3, 96), ("conv5", 3, 64)]
    total = 0
    for name, k, width in convs:
        if name in remove:
            continue
        total += k * k * channels * width + width
        channels = width
    for _ in range(3):                 # three max-pools 3/2 'same'
        h = _same(h, 2)
    n_in = h * h * channels
    for name in ("fc6", "fc7"):
        if name not in remove:
            total += n_in * 256 + 256
            n_in = 256
    return {"n": total + n_in * classes + classes}


# ---------------------------------------------------------------------------------------
# Part 3: receptive fields and VGG

def receptive_fields(layer_specs):
    """rf_l = 1 + sum_{i <= l} (k_i - 1) * prod_{j < i} s_j; jump_l = prod_{j <= l} s_j."""
    kernels = np.array([k for k, _ in layer_specs], dtype=np.int64)
    strides = np.array([s for _, s in layer_specs], dtype=np.int64)
    jumps = np.cumprod(strides)
    before = np.concatenate([[1], jumps[:-1]])
    rf = 1 + np.cumsum((kernels - 1) * before)
    return np.stack([rf, jumps], axis=1)


# Table 1 of Simonyan & Zisserman (2015), one list per block (between max-pools).
_VGG_TABLE = {
    "A": [["conv3-64"], ["conv3-128"], ["conv3-256"] * 2, ["conv3-512"] * 2, ["conv3-512"] * 2],
    "B": [["conv3-64"] * 2, ["conv3-128"] * 2, ["conv3-256"] * 2, ["conv3-512"] * 2, ["conv3-512"] * 2],
    "C": [["conv3-64"] * 2, ["conv3-128"] * 2, ["conv3-256", "conv3-256", "conv1-256"],
          ["conv3-512", "conv3-512", "conv1-512"], ["conv3-512", "conv3-512", "conv1-512"]],
    "D": [["conv3-64"] * 2, ["conv3-128"] * 2, ["conv3-256"] * 3, ["conv3-512"] * 3, ["conv3-512"] * 3],
    "E": [["conv3-64"] * 2, ["conv3-128"] * 2, ["conv3-256"] * 4, ["conv3-512"] * 4, ["conv3-512"] * 4],
}


def vgg_config(letter):
    return [entry for block in _VGG_TABLE[letter] for entry in block + ["maxpool"]]


def vgg_params(letter, num_classes=1000):
    conv, channels = 0, 3
    for block in _VGG_TABLE[letter]:
        for entry in block:
            kernel, width = int(entry[4]), int(entry.split("-")[1])
            conv += kernel * kernel * channels * width + width
            channels = width
    flat = 7 * 7 * channels                    # 224 / 2**5
    fc = flat * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * num_classes + num_classes
    return np.array([conv, fc], dtype=np.int64)


# ---------------------------------------------------------------------------------------
# Part 4: NiN

def nin_params(c):
    """NiN for CIFAR: mlpconv (192, 160, 96) 5x5, (192, 192, 192) 5x5, (192, 192, c) 3x3."""
    def mlpconv(cin, widths, k):
        a, b, d = widths
        return (k * k * cin * a + a) + (a * b + b) + (b * d + d)
    return {"n": mlpconv(3, (192, 160, 96), 5) + mlpconv(96, (192, 192, 192), 5) + mlpconv(192, (192, 192, c), 3)}


# ---------------------------------------------------------------------------------------
# Part 5: Inception

def inception_params(shape, f):
    h, w, cin = shape
    f1, r3, f3, r5, f5, fp = f
    n = (cin * f1 + f1) + (cin * r3 + r3) + (9 * r3 * f3 + f3) + (cin * r5 + r5) + (25 * r5 * f5 + f5) \
        + (cin * fp + fp)
    return {"n": n, "shape": [h, w, f1 + f3 + f5 + fp]}


def grid_reduction_params(shape, fd=(64, 96, 160), fs=(64, 160)):
    h, w, cin = shape
    a1, a2, a3 = fd
    b1, b2 = fs
    n = (cin * a1 + a1) + (9 * a1 * a2 + a2) + (9 * a2 * a3 + a3) + (cin * b1 + b1) + (9 * b1 * b2 + b2)
    return {"n": n, "shape": [(h - 3) // 2 + 1, (w - 3) // 2 + 1, a3 + b2 + cin]}


# ---------------------------------------------------------------------------------------
# Part 6: residual learning

def relu_of_input(x):
    """A residual block whose branch outputs 0 is ReLU(0 + x)."""
    return {"y": np.maximum(np.asarray(x, dtype=float), 0.0)}


def basic_block_params(c_in, filters, strides, residual):
    """Trainable parameters: two 3x3 kernels, two BN (gamma, beta), a projection when needed."""
    n = 9 * c_in * filters + 9 * filters * filters + 4 * filters
    if residual and (strides != 1 or c_in != filters):
        n += c_in * filters + 2 * filters
    return {"n": n}


def bottleneck_params(c_in, filters, strides):
    out = 4 * filters
    n = c_in * filters + 9 * filters * filters + filters * out + 2 * (filters + filters + out)
    if strides != 1 or c_in != out:
        n += c_in * out + 2 * out
    return {"n": n}


def cifar_net_params(depth, residual, width, shape, classes):
    n_blocks = (depth - 2) // 6
    total = 9 * shape[2] * width + 2 * width
    channels = width
    for stage in range(3):
        filters = width * 2 ** stage
        for b in range(n_blocks):
            strides = 2 if (b == 0 and stage > 0) else 1
            total += basic_block_params(channels, filters, strides, residual)["n"]
            channels = filters
    return {"n": total + channels * classes + classes}


def chain_gain(jacobians, residual=False):
    """For each l, build J_L ... J_l afresh (quadratic, but plain to read)."""
    mats = [np.asarray(m, dtype=float) for m in jacobians]
    eye = np.eye(mats[0].shape[0])
    factors = [eye + m if residual else m for m in mats]
    norms = []
    for l in range(len(factors)):
        product = eye
        for j in range(len(factors) - 1, l - 1, -1):
            product = product @ factors[j]
        norms.append(np.linalg.svd(product, compute_uv=False)[0])
    return np.array(norms)


# ---------------------------------------------------------------------------------------
# Part 7: after ResNet

def se_block(x, w1, b1, w2, b2):
    x = np.asarray(x, dtype=float)
    squeeze = x.mean(axis=(1, 2))                                  # (N, C)
    hidden = np.maximum(squeeze @ np.asarray(w1) + np.asarray(b1), 0.0)
    gate = 1.0 / (1.0 + np.exp(-(hidden @ np.asarray(w2) + np.asarray(b2))))
    return {"y": x * gate[:, None, None, :]}


def se_params(c, r):
    return {"n": 2 * c * c // r + c // r + c}


def dense_block_params(c, n_layers, k):
    n = 0
    for i in range(n_layers):
        seen = c + i * k
        n += 2 * seen + 9 * seen * k
    return {"n": n}


def separable_cost(h, w, c_in, c_out, k=3):
    grid = h * w
    return np.array([grid * k * k * c_in * c_out, grid * (k * k * c_in + c_in * c_out)], dtype=np.int64)


# ---------------------------------------------------------------------------------------
# Part 8: Gabor functions and shared errors

def gabor(size, sigma, theta, wavelength, phase=0.0):
    centre = (size - 1) / 2
    out = np.empty((size, size))
    for row in range(size):
        for col in range(size):
            x, y = col - centre, row - centre
            u = x * math.cos(theta) + y * math.sin(theta)
            out[row, col] = math.exp(-(x * x + y * y) / (2 * sigma ** 2)) * math.cos(2 * math.pi * u / wavelength + phase)
    return out


def error_overlap(y_true, pred_a, pred_b):
    y = np.rint(np.asarray(y_true, dtype=float)).ravel()
    a = np.rint(np.asarray(pred_a, dtype=float)).ravel()
    b = np.rint(np.asarray(pred_b, dtype=float)).ravel()
    n = len(y)
    wrong_a = sum(int(p != t) for p, t in zip(a, y))
    wrong_b = sum(int(p != t) for p, t in zip(b, y))
    both = sum(int(p != t and q != t) for p, q, t in zip(a, b, y))
    return np.array([wrong_a / n, wrong_b / n, both / n, (wrong_a / n) * (wrong_b / n)])


def error_overlap_correlated(y, u, v):
    """The check's snippet: a is right 60% of the time, b copies a 70% of the time, else is right."""
    y = np.asarray(y)
    a = np.where(np.asarray(u) < 0.6, y, (y + 1) % 10)
    b = np.where(np.asarray(v) < 0.7, a, y)
    return {"r": error_overlap(y, a, b)}


# ---------------------------------------------------------------------------------------
# Part 9: the race

def pareto_front(cost, accuracy):
    cost, accuracy = list(map(float, np.ravel(cost))), list(map(float, np.ravel(accuracy)))
    keep = []
    for i in range(len(cost)):
        dominated = False
        for j in range(len(cost)):
            if cost[j] <= cost[i] and accuracy[j] >= accuracy[i] and (cost[j] < cost[i] or accuracy[j] > accuracy[i]):
                dominated = True
                break
        if not dominated:
            keep.append(i)
    keep.sort(key=lambda i: (cost[i], i))
    return np.array(keep, dtype=np.int64)
