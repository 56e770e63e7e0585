"""course.gradients: the gradient of the loss, checked against central differences, on each backend.

The oracle is independent of any autodiff: a float64 model's loss evaluated at w +- h for
each weight entry. JAX's CPU convolution keeps about float32 precision even in float64, so
h = 1e-3: truncation error ~h^2 = 1e-6, round-off ~1e-7 / h = 1e-4 (measured worst: 4e-4
under JAX); 1e-3 relative is the tolerance. A wrong gradient is off by O(1).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs under a given backend in a fresh interpreter (Keras fixes its backend at import).
_SCRIPT = r"""
import json, sys
import numpy as np
import os
if os.environ["KERAS_BACKEND"] == "jax":  # float64 needs x64 mode under JAX
    import jax
    jax.config.update("jax_enable_x64", True)
import keras
from keras import layers, ops
sys.path.insert(0, sys.argv[1])
from course.gradients import weight_gradients

keras.utils.set_random_seed(0)
inputs = keras.Input((5, 5, 2), dtype="float64")
h = layers.Conv2D(3, 3, activation="tanh", dtype="float64", name="conv")(inputs)
h = layers.Flatten(dtype="float64")(h)
outputs = layers.Dense(4, activation="softmax", dtype="float64", name="dense")(h)
model = keras.Model(inputs, outputs)
rng = np.random.default_rng(1)
x, y = rng.standard_normal((6, 5, 5, 2)), rng.integers(0, 4, 6)
grads = weight_gradients(model, x, y)

def value():
    return float(np.mean(ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(y, model(x)))))

worst = 0.0
for w in model.trainable_weights:
    base = np.asarray(ops.convert_to_numpy(w.value)).copy()
    numeric = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        for sign in (1, -1):
            moved = base.copy()
            moved[i] += sign * 1e-3
            w.assign(moved)
            numeric[i] += sign * value() / 2e-3
        w.assign(base)
    g = grads[w.path]
    worst = max(worst, float(np.max(np.abs(g - numeric) / np.maximum(1e-8, np.abs(g) + np.abs(numeric)))))
print("RESULT" + json.dumps({"paths": list(grads), "worst": worst}))
"""


def _run(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(ROOT)], env=env, capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_gradients_match_central_differences(backend):
    pytest.importorskip(backend)
    result = _run(backend)
    assert result["paths"] == ["conv/kernel", "conv/bias", "dense/kernel", "dense/bias"]
    assert result["worst"] < 1e-3, f"{backend}: relative error {result['worst']:.1e}"


def test_unknown_backend_is_refused(monkeypatch):
    keras = pytest.importorskip("keras")
    from course.gradients import weight_gradients
    monkeypatch.setattr(keras.backend, "backend", lambda: "numpy")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="got 'numpy'"):
        weight_gradients(model, np.zeros((1, 2)), np.zeros(1, dtype=int))
