"""Gradients of a Keras model's loss with respect to its weights, on any Keras backend.

Keras 3 has no backend-neutral `grad`: each backend differentiates its own way
(TensorFlow a tape, JAX a pure function of the weights, PyTorch `backward`). Labs that
look at gradients themselves (how their size changes with depth, say) call this instead
of writing three versions.

    grads = weight_gradients(model, x, y)                 # {weight path: numpy array}
    norms = {path: np.linalg.norm(g) for path, g in grads.items()}
"""
from __future__ import annotations

import numpy as np


def weight_gradients(model, x, y, *, loss="sparse_categorical_crossentropy", training=True):
    """Gradient of the mean loss over the batch `(x, y)` with respect to each trainable weight.

    Args:
        model: a built `keras.Model`.
        x, y: one batch of inputs and targets (NumPy arrays).
        loss: a Keras loss name or function, applied to `(y, model(x))`.
        training: call the model in training mode (batch norm uses the batch's statistics,
            as in a training step; dropout is active).

    Returns:
        A dict from each trainable weight's `path` (e.g. "conv1/kernel") to its gradient as a
        float NumPy array of the weight's shape, in `model.trainable_weights` order.
    """
    import keras
    from keras import ops

    loss_fn = keras.losses.get(loss)
    weights = model.trainable_weights
    x, y = ops.convert_to_tensor(np.asarray(x)), ops.convert_to_tensor(np.asarray(y))
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        with tf.GradientTape() as tape:
            value = ops.mean(loss_fn(y, model(x, training=training)))
        grads = tape.gradient(value, weights)
    elif backend == "jax":
        import jax
        non_trainable = [v.value for v in model.non_trainable_variables]

        def mean_loss(trainable):
            out, _ = model.stateless_call(trainable, non_trainable, x, training=training)
            return ops.mean(loss_fn(y, out))

        grads = jax.grad(mean_loss)([v.value for v in weights])
    elif backend == "torch":
        for w in weights:
            w.value.grad = None
        ops.mean(loss_fn(y, model(x, training=training))).backward()
        grads = [w.value.grad for w in weights]
    else:
        raise ValueError(f"weight_gradients supports the tensorflow, jax and torch backends; got {backend!r}")
    return {w.path: np.asarray(ops.convert_to_numpy(g), dtype=float) for w, g in zip(weights, grads)}
