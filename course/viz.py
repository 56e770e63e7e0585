"""Pictures of what a network does: learning curves, filters, feature maps, errors.

Compute first, render second: the functions that look at a model or at labels return
arrays (``tile``, ``feature_maps``, ``errors``); the ``plot_*`` functions draw what was
computed on a Matplotlib ``ax`` (a new figure when ``ax`` is None) and return the ``ax``.

    from course import viz
    viz.plot_learning_curves(hist.history)
    viz.plot_filters(model.get_layer("conv1").get_weights()[0])
    maps = viz.feature_maps(model, x[:1], ["conv1", "conv2"])
    viz.plot_error_gallery(x_test, y_test, y_pred)
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["tile", "symmetric_scale", "feature_maps", "errors", "plot_learning_curves",
           "show_images", "plot_filters", "plot_feature_maps", "plot_confusion_matrix",
           "plot_error_gallery", "plot_top_activating"]


def _ax(ax, figsize=(6, 4)):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=figsize)
    return ax


# ----------------------------------------------------------------------------- compute

def symmetric_scale(x: Any) -> np.ndarray:
    """Map values to [0, 1] with zero at mid grey (0.5), as Forsyth's figure 17.10 does."""
    x = np.asarray(x, dtype=float)
    m = np.max(np.abs(x)) if x.size else 0.0
    return 0.5 + 0.5 * x / m if m > 0 else np.full_like(x, 0.5)


def tile(images: Any, ncols: int | None = None, pad: int = 1, fill: float = np.nan) -> np.ndarray:
    """Arrange N images (N, H, W) or (N, H, W, C) into one mosaic, row by row.

    Args:
        images: the images, all the same size.
        ncols: tiles per row (default: about a square).
        pad: pixels between tiles.
        fill: value of the padding (NaN draws as the background with ``imshow``).

    Returns:
        An array (rows*(H+pad)-pad, ncols*(W+pad)-pad[, C]).
    """
    images = np.asarray(images, dtype=float)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C); got shape {images.shape}")
    n, h, w = images.shape[:3]
    if n == 0:
        raise ValueError("tile needs at least one image; got 0")
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad) + images.shape[3:], fill)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return out


def feature_maps(model: Any, x: Any, layer_names: Sequence[str]) -> dict[str, np.ndarray]:
    """The outputs of the named layers of a functional Keras model for inputs ``x``.

    Returns:
        layer name -> array (N, H, W, C) (or (N, D) for dense layers), in the order given.
    """
    import keras
    missing = [n for n in layer_names if n not in [l.name for l in model.layers]]
    if missing:
        raise ValueError(f"no layer named {missing}; the model has {[l.name for l in model.layers]}")
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in layer_names])
    outs = probe.predict(np.asarray(x, dtype="float32"), verbose=0)
    if len(layer_names) == 1:
        outs = [outs]
    return {n: np.asarray(o) for n, o in zip(layer_names, outs)}


def errors(y_true: Any, y_pred: Any) -> np.ndarray:
    """Indices where the predicted label differs from the true one."""
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length; got {y_true.shape} and {y_pred.shape}")
    return np.flatnonzero(y_true != y_pred)


# ------------------------------------------------------------------------------ render

def plot_learning_curves(history: Any, ax=None, metrics: Sequence[str] = ("loss", "accuracy")):
    """Per-epoch training (solid) and validation (dashed) curves of each metric.

    Args:
        history: a dict of lists, a Keras ``History`` or a ``course.train.History``.
        ax: one axis (all metrics on it) or a sequence of axes (one per metric).
        metrics: which metrics to draw.

    Returns:
        The axis or axes drawn on.
    """
    hist = getattr(history, "history", history)
    if not isinstance(hist, Mapping):
        raise TypeError(f"history must be a dict of per-epoch lists or a History; got {type(history).__name__}")
    metrics = [m for m in metrics if m in hist]
    if not metrics:
        raise ValueError(f"none of the metrics are in the history; it has {sorted(hist)}")
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
        ax = list(ax[0])
    axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax] * len(metrics)
    for a, m in zip(axes, metrics):
        epochs = np.arange(1, len(hist[m]) + 1)
        line, = a.plot(epochs, hist[m], marker="o", label=f"train {m}")
        if f"val_{m}" in hist:
            a.plot(epochs, hist[f"val_{m}"], "--", marker="o", color=line.get_color(),
                   label=f"validation {m}")
        a.set_xlabel("epoch")
        a.set_ylabel(m if len(set(axes)) > 1 else "value")
        a.legend()
    return ax


def show_images(images: Any, ax=None, ncols: int | None = None, titles: Sequence[str] | None = None,
                cmap: str = "gray", symmetric: bool = False, pad: int = 1):
    """Draw images as one mosaic on one axis, with an optional title above each tile.

    ``symmetric=True`` maps zero to mid grey (for kernels and responses that change sign).
    """
    images = np.asarray(images, dtype=float)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    ax = _ax(ax)
    ncols = ncols or math.ceil(math.sqrt(len(images)))
    mosaic = tile(symmetric_scale(images) if symmetric else images, ncols=ncols, pad=pad,
                  fill=np.nan if images.ndim == 3 else 1.0)
    ax.imshow(mosaic, cmap=cmap, vmin=0 if symmetric else None, vmax=1 if symmetric else None,
              interpolation="nearest")
    h, w = images.shape[1:3]
    for i, t in enumerate(titles or []):
        r, c = divmod(i, ncols)
        ax.text(c * (w + pad) + w / 2, r * (h + pad) - 0.5, t, ha="center", va="bottom",
                fontsize=7, color="tab:red")
    ax.set_axis_off()
    return ax


def plot_filters(kernels: Any, ax=None, ncols: int | None = None, channel: int | None = None):
    """First-layer kernels (kh, kw, C_in, C_out) as a grid, zero at mid grey.

    With 3 input channels the kernels are drawn in colour; otherwise input ``channel``
    (default 0) is drawn.
    """
    k = np.asarray(kernels, dtype=float)
    if k.ndim != 4:
        raise ValueError(f"kernels must be (kh, kw, C_in, C_out); got shape {k.shape}")
    k = np.moveaxis(k, -1, 0)                       # (C_out, kh, kw, C_in)
    if k.shape[-1] == 3 and channel is None:
        images = symmetric_scale(k)
        ax = _ax(ax)
        ax.imshow(tile(images, ncols=ncols, fill=1.0), interpolation="nearest")
        ax.set_axis_off()
        return ax
    return show_images(k[..., channel or 0], ax=ax, ncols=ncols, symmetric=True)


def plot_feature_maps(maps: Any, ax=None, max_maps: int = 32, ncols: int | None = None):
    """The channels of one example's feature maps (H, W, C) as a grid, zero at mid grey."""
    maps = np.asarray(maps, dtype=float)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"maps must be (H, W, C) for one example; got shape {maps.shape}")
    return show_images(np.moveaxis(maps, -1, 0)[:max_maps], ax=ax, ncols=ncols, symmetric=True)


def plot_confusion_matrix(cm: Any, class_names: Sequence[str] | None = None, ax=None,
                          annotate: bool = True):
    """A confusion matrix (rows: true class, columns: predicted), counts written in the cells."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix is square (K, K); got shape {cm.shape}")
    ax = _ax(ax, figsize=(5, 5))
    # A log-like colour scale, so the few off-diagonal errors show next to a large diagonal.
    ax.imshow(np.log1p(cm), cmap="Blues")
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(cm))]
    ax.set_xticks(range(len(cm)), names, rotation=90 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(len(cm)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if annotate:
        big = np.log1p(cm.max()) / 2 if cm.size else 0
        for (i, j), v in np.ndenumerate(cm):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color="white" if np.log1p(v) > big else "black")
    return ax


def plot_error_gallery(images: Any, y_true: Any, y_pred: Any, ax=None, class_names=None,
                       max_images: int = 100, ncols: int | None = None):
    """Every misclassified image (up to ``max_images``), titled "predicted (true)".

    Returns:
        (ax, indices of all the errors).
    """
    idx = errors(y_true, y_pred)
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    name = (lambda c: str(class_names[c])) if class_names is not None else str
    shown = idx[:max_images]
    ax = _ax(ax, figsize=(10, 10))
    if len(shown) == 0:
        ax.text(0.5, 0.5, "no errors", ha="center")
        ax.set_axis_off()
        return ax, idx
    titles = [f"{name(y_pred[i])} ({name(y_true[i])})" for i in shown]
    show_images(np.asarray(images)[shown], ax=ax, ncols=ncols or min(10, len(shown)),
                titles=titles, pad=8)
    ax.set_title(f"{len(idx)} errors: predicted (true)")
    return ax, idx


def plot_top_activating(images: Any, top: Any, ax=None, units: Sequence[int] | None = None,
                        ncols: int = 5):
    """For each unit, the block of images that excite it most (Forsyth's figure 17.19).

    Args:
        images: the image set, (N, H, W[, C]) in [0, 1].
        top: (U, k) indices into ``images``, row u = the unit's images, strongest first.
        units: the unit numbers, written above each block.
        ncols: blocks per row.
    """
    images, top = np.asarray(images, dtype=float), np.asarray(top)
    if top.ndim != 2:
        raise ValueError(f"top must be (units, k) indices; got shape {top.shape}")
    side = math.ceil(math.sqrt(top.shape[1]))
    blocks = np.stack([np.nan_to_num(tile(images[row], ncols=side, fill=1.0), nan=1.0)
                       for row in top])
    titles = [f"unit {u}" for u in (units if units is not None else range(len(top)))]
    return show_images(blocks, ax=_ax(ax, figsize=(10, 5)), ncols=ncols, titles=titles, pad=6)
