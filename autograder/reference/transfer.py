"""Instructor reference for lab 05 (transfer): one function per `ref=` name.

Written independently of the solution notebook. The preprocessing is the card's formula in
NumPy (no Keras layer); tapped features come from one multi-output model of the shipped
backbone fed the NumPy-standardized images, pooled with a NumPy mean; freezing is decided
from the layer list alone; the nearest neighbours and the principal components are NumPy
linear algebra. Each function takes the inputs of the check's query (docs/checks.md) and
returns what the student's code must produce (for `run` queries, a dict of output names).
"""
from __future__ import annotations

import functools

import numpy as np

BN = "BatchNormalization"


@functools.lru_cache(maxsize=None)
def _backbone(name):
    from course.models import backbone_card, pretrained
    return pretrained(name), backbone_card(name)


def _standardize(x, card):
    """Images in [0, 1] -> the backbone's input: (255 x - mean) / std per channel."""
    x255 = np.asarray(x, dtype="float64") * 255.0
    return (x255 - np.asarray(card.mean)) / np.asarray(card.std)


def preprocessed(x, name):
    from course.models import backbone_card
    return {"y": _standardize(x, backbone_card(name))}


def _pooled(name, x, layer_names):
    import keras
    model, card = _backbone(name)
    taps = keras.Model(model.input, [model.get_layer(n).output for n in layer_names])
    outs = taps(_standardize(x, card).astype("float32"), training=False)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    arrays = [keras.ops.convert_to_numpy(o) for o in outs]
    return [a.mean(axis=(1, 2)) if a.ndim == 4 else a for a in arrays]


def tapped_features(x, name, names):
    f = _pooled(name, x, list(names))
    return {f"f{i}": v for i, v in enumerate(f)}


def head_inputs(name, k, x):
    """The transfer model's head reads the backbone's pooled features (dropout is off)."""
    _, card = _backbone(name)
    return {"f": _pooled(name, x, [card.feature_layer])[0]}


def probe_accuracy(x, y, shift, m, spread):
    from sklearn.linear_model import LogisticRegression
    f = np.asarray(x, float) * 10.0 ** np.linspace(-spread, spread, np.shape(x)[1])
    f[:, 0] += shift * np.asarray(y)
    y = np.asarray(y)
    mu, sd = f[:m].mean(0), f[:m].std(0)
    sd[sd == 0] = 1.0
    clf = LogisticRegression(C=1.0, max_iter=5000).fit((f[:m] - mu) / sd, y[:m])
    return {"acc": float(np.mean(clf.predict((f[m:] - mu) / sd) == y[m:]))}


def frozen_flags(name, cut):
    """Trainable flag of every layer with weights: above the cut, and never a batch norm."""
    model, _ = _backbone(name)
    names = [layer.name for layer in model.layers]
    position = -1 if cut is None else names.index(cut)
    return {"flags": [i > position and type(layer).__name__ != BN
                      for i, layer in enumerate(model.layers) if layer.weights]}


def unfreezing_plan(ends, n, e, lr, drop):
    ends = list(ends)
    plan = [[ends[len(ends) - 1 - k], str(e), f"{(lr if k == 0 else lr / drop):.3g}"]
            for k in range(n)]
    return {"all": plan}


def nearest_neighbours(queries, bank, k=5):
    q = np.asarray(queries, float)
    b = np.asarray(bank, float)
    cos = np.einsum("qd,nd->qn", q, b) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(b, axis=1))
    return np.argsort(-cos, axis=1, kind="stable")[:, :k]


def embedding_abs(f):
    centred = np.asarray(f, float) - np.mean(f, axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = vectors[:, np.argsort(values)[::-1][:2]]
    return {"e": np.abs(centred @ top)}


def source_probabilities(name, x):
    import keras
    model, card = _backbone(name)
    return {"p": keras.ops.convert_to_numpy(model(_standardize(x, card).astype("float32"), training=False))}
