"""Instructor reference for lab 01 (backpropagation by hand): one function per `ref=` name.

Plain NumPy, written independently of the solution notebook: where the notebook uses a
matrix product or a loop over the kernel, these use einsum, explicit Jacobians or
Toeplitz matrices, so a shared mistake is unlikely. Each function takes the inputs of the
check's query (see docs/checks.md) and returns what the student's code must produce.
"""
from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------------------------------
# Linear and pointwise modules

def linear(x, W, b, dout):
    """Linear module y = x W + b on a batch: outputs and all gradients."""
    y = np.einsum("nd,dm->nm", x, W) + b[None, :]
    dx = np.einsum("nm,dm->nd", dout, W)
    dW = np.einsum("nd,nm->dm", x, dout)
    db = np.einsum("nm->m", dout)
    return {"y": y, "dx": dx, "dW": dW, "db": db}


def relu(x, dout):
    """ReLU with h'(x) = 1[x > 0] (the notes' convention: the gradient at exactly 0 is 0)."""
    x = np.asarray(x, dtype=float)
    return {"y": np.where(x > 0, x, 0.0), "dx": np.where(x > 0, dout, 0.0)}


def sigmoid(x, dout):
    """Logistic sigmoid; derivative written through exp rather than s(1 - s)."""
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return {"y": s, "dx": dout * e / (1.0 + e) ** 2}


def tanh(x, dout):
    """Hyperbolic tangent; derivative as 1 / cosh^2."""
    return {"y": np.tanh(x), "dx": dout / np.cosh(x) ** 2}


def prelu(x, a, dout):
    """PReLU (He et al. 2015) as max(x, 0) + a min(x, 0); slope a at x <= 0 (the notes'
    convention), and da summed over the batch."""
    x = np.asarray(x, dtype=float)
    negative_part = np.minimum(x, 0.0)
    slope = np.where(x > 0, 1.0, np.broadcast_to(a, x.shape))
    return {"y": np.maximum(x, 0.0) + a * negative_part, "dx": dout * slope,
            "da": np.einsum("nd,nd->d", dout, negative_part)}


# ---------------------------------------------------------------------------------------
# Losses (averaged over the batch)

def euclidean_loss(x, y):
    """(1/N) sum_n 1/2 ||x_n - y_n||^2 and its gradient."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.asarray(y, dtype=float).reshape(x.shape)
    n = x.shape[0]
    diff = x - y
    return 0.5 * float(np.einsum("ij,ij->", diff, diff)) / n, diff / n


def softmax_loss(x, y):
    """Mean cross-entropy of softmax(x) against integer labels y, via log-sum-exp."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y).astype(int).reshape(-1)
    n = x.shape[0]
    top = x.max(axis=1, keepdims=True)
    logz = top[:, 0] + np.log(np.exp(x - top).sum(axis=1))
    loss = float(np.mean(logz - x[np.arange(n), y]))
    onehot = np.eye(x.shape[1])[y]
    return loss, (np.exp(x - logz[:, None]) - onehot) / n


# ---------------------------------------------------------------------------------------
# Gradient check

def numerical_gradient_cubic(x, h):
    """Central differences of f(x) = sum(x^3) with step h, in closed form.

    ((x + h)^3 - (x - h)^3) / 2h = 3x^2 + h^2 exactly, while a one-sided difference gives
    3x^2 + 3xh + h^2: with h = 1e-2 the two differ by a relative 1e-2 for |x| ~ 1.
    """
    return {"g": 3.0 * np.asarray(x) ** 2 + h ** 2, "restored": True}


# ---------------------------------------------------------------------------------------
# The notes' worked example: nodes 1, 2 (input) -> 3, 4 (tanh) -> 5 (linear)

def worked_example(x, y, W1, W2, lr):
    """One step of SGD on the 2-2-1 network (tanh hidden nodes, linear output node 5)
    with the Euclidean loss, written node by node as scalars."""
    x1, x2 = np.asarray(x, dtype=float).reshape(-1)
    target = float(np.asarray(y).reshape(-1)[0])
    w13, w14 = W1[0]
    w23, w24 = W1[1]
    w35, w45 = W2[:, 0]
    z3, z4 = w13 * x1 + w23 * x2, w14 * x1 + w24 * x2
    x3, x4 = np.tanh(z3), np.tanh(z4)
    x5 = w35 * x3 + w45 * x4
    loss = 0.5 * (x5 - target) ** 2
    d5 = x5 - target                                # dC/dx5
    d3 = d5 * w35 / np.cosh(z3) ** 2                # tanh'(z) = 1 / cosh^2(z)
    d4 = d5 * w45 / np.cosh(z4) ** 2
    dW1 = np.array([[d3 * x1, d4 * x1], [d3 * x2, d4 * x2]])
    dW2 = np.array([[d5 * x3], [d5 * x4]])
    return {"hidden": np.array([[x3, x4]]), "out": np.array([[x5]]), "loss": loss,
            "dW1": dW1, "dW2": dW2, "W1": W1 - lr * dW1, "W2": W2 - lr * dW2}


# ---------------------------------------------------------------------------------------
# 1D convolution and max pooling

def _toeplitz(w, n):
    """The (n, n) matrix T with conv(x) = T x: zero padding, centre at (M - 1) // 2."""
    m = len(w)
    c = (m - 1) // 2
    T = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            k = i + c - j
            if 0 <= k < m:
                T[i, j] = w[k]
    return T


def conv1d(x, w, dout):
    """'Same' 1D convolution (kernel flipped, zero padding) as a matrix product."""
    x = np.atleast_2d(x)
    dout = np.atleast_2d(dout)
    n, m = x.shape[1], len(w)
    T = _toeplitz(w, n)
    y = x @ T.T
    dx = dout @ T
    # dT/dw[k] is the indicator of the k-th diagonal: dw[k] = sum of dout_i x_j over i + c - j = k
    dw = np.array([np.sum(dout * (x @ _toeplitz(np.eye(m)[k], n).T)) for k in range(m)])
    return {"y": y, "dx": dx, "dw": dw}


def maxpool1d(x, dout, size, stride=None):
    """Max pooling over windows [s*i, s*i + size), ties to the first maximum, tail dropped."""
    stride = size if stride is None else stride
    x = np.atleast_2d(x)
    batch, n = x.shape
    n_out = (n - size) // stride + 1
    y = np.empty((batch, n_out))
    dx = np.zeros_like(x, dtype=float)
    for b in range(batch):
        for i in range(n_out):
            window = list(x[b, i * stride:i * stride + size])
            best = max(window)
            j = window.index(best)
            y[b, i] = best
            dx[b, i * stride + j] += dout[b, i]
    return {"y": y, "dx": dx}


# ---------------------------------------------------------------------------------------
# Sequential net, SGD step, one epoch of training

def _mlp_forward_backward(x, W1, b1, W2, b2, dout):
    h_pre = np.einsum("nd,dm->nm", x, W1) + b1
    h = np.maximum(h_pre, 0.0)
    y = np.einsum("nd,dm->nm", h, W2) + b2
    dh = np.einsum("nm,dm->nd", dout, W2) * (h_pre > 0)
    return y, {
        "dx": np.einsum("nm,dm->nd", dh, W1),
        "dW1": np.einsum("nd,nm->dm", x, dh), "db1": dh.sum(axis=0),
        "dW2": np.einsum("nd,nm->dm", h, dout), "db2": dout.sum(axis=0),
    }


def sequential(x, W1, b1, W2, b2, dout):
    """Linear - ReLU - Linear: output, input gradient and the four parameter gradients."""
    y, g = _mlp_forward_backward(x, W1, b1, W2, b2, dout)
    return {"y": y, **g}


def sgd_step(p, g, lr):
    """Plain gradient descent: the parameter moves against the gradient."""
    return {"p": p + (-lr) * g}


def train_epoch(x, y, W1, b1, W2, b2, batch_size, lr):
    """One epoch of minibatch SGD on Linear-ReLU-Linear + softmax loss, batches in order."""
    W1, b1, W2, b2 = (a.copy() for a in (W1, b1, W2, b2))
    losses = []
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        zeros = np.zeros((len(xb), W2.shape[1]))
        scores, _ = _mlp_forward_backward(xb, W1, b1, W2, b2, zeros)
        loss, dscores = softmax_loss(scores, yb)
        _, g = _mlp_forward_backward(xb, W1, b1, W2, b2, dscores)
        W1, b1 = W1 - lr * g["dW1"], b1 - lr * g["db1"]
        W2, b2 = W2 - lr * g["dW2"], b2 - lr * g["db2"]
        losses.append(loss)
    return {"losses": np.array(losses), "W1": W1, "b1": b1, "W2": W2, "b2": b2}
