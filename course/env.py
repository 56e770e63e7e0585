"""The first call of every lab: seeds, quiet logs, device report, Colab detection, scale.

    import course.env
    env = course.env.setup(seed=0)          # prints one line, returns an Env
    epochs = course.env.by_scale(tiny=1, cpu=3, gpu=15)

Scale says how big a lab runs: ``tiny`` (CI: seconds, small subsets), ``cpu`` (a laptop:
about 15 minutes a lab) or ``gpu`` (full data). It comes from ``setup(scale=...)``, else the
``COURSE_SCALE`` environment variable, else ``gpu`` when a GPU is visible and ``cpu``
otherwise.

``REPO_URL`` is the one place the address of the course's *student edition* lives (the
repository that ``python -m autograder publish`` writes: the library and the released labs,
no answers): the Colab install cell of every lab and the README badges use it, never the
instructor's repository. Set ``COURSE_REPO_URL`` to point at a fork.
"""
from __future__ import annotations

import dataclasses
import os
import random
import sys

SCALES = ("tiny", "cpu", "gpu")
DEFAULT_REPO_URL = "https://github.com/dl-course/dl-labs"
REPO_URL = os.environ.get("COURSE_REPO_URL", DEFAULT_REPO_URL).rstrip("/")


@dataclasses.dataclass(frozen=True)
class Env:
    """What ``setup()`` found and decided."""

    scale: str
    backend: str
    device: str
    on_colab: bool
    seed: int


_current: Env | None = None


def on_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def colab_url(notebook: str, repo_url: str | None = None, branch: str = "main") -> str:
    """The 'Open in Colab' address of a notebook path in the repository."""
    repo = (repo_url or REPO_URL).rstrip("/")
    if not repo.startswith("https://github.com/"):
        raise ValueError(f"Colab opens GitHub repositories only; got repo_url={repo!r}")
    return ("https://colab.research.google.com/github/"
            f"{repo[len('https://github.com/'):]}/blob/{branch}/{notebook.lstrip('/')}")


def _quiet_logs() -> None:
    """Silence TensorFlow's C++ and Python logs (must run before TensorFlow is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass


def _device(backend: str) -> tuple[str, str]:
    """(device description, backend version) for an already-imported backend, no slow probes."""
    if backend == "tensorflow":
        import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
        gpus = tf.config.list_physical_devices("GPU")
        name = "CPU"
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            name = details.get("device_name", "GPU")
        return (f"GPU: {name}" if gpus else name), tf.__version__
    if backend == "jax":
        import jax
        gpus = [d for d in jax.devices() if d.platform in ("gpu", "cuda", "rocm")]
        return (f"GPU: {gpus[0].device_kind}" if gpus else "CPU"), jax.__version__
    if backend == "torch":
        import torch
        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(0)}", torch.__version__
        return "CPU", torch.__version__
    return "CPU", "?"


def _resolve_scale(scale: str | None, device: str) -> str:
    chosen = scale or os.environ.get("COURSE_SCALE") or ("gpu" if device.startswith("GPU") else "cpu")
    chosen = chosen.strip().lower()
    if chosen not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {chosen!r} "
                         "(from setup(scale=...) or the COURSE_SCALE environment variable)")
    return chosen


def setup(seed: int = 0, scale: str | None = None, *, print_fn=print) -> Env:
    """Prepare a lab: quiet logs, fix seeds, report the device, choose the scale.

    Args:
        seed: seeds Python's ``random``, NumPy and the Keras backend
            (``keras.utils.set_random_seed``).
        scale: ``"tiny"``, ``"cpu"`` or ``"gpu"``; default: ``$COURSE_SCALE``, else
            ``"gpu"`` when a GPU is visible and ``"cpu"`` otherwise.
        print_fn: where the one-line report goes (``None``: nowhere).

    Returns:
        An ``Env(scale, backend, device, on_colab, seed)``; ``course.env.scale()`` and
        ``by_scale()`` read it afterwards.
    """
    global _current
    _quiet_logs()
    import numpy as np
    import keras

    keras.utils.set_random_seed(seed)   # also seeds random and numpy
    random.seed(seed)
    np.random.seed(seed)
    backend = keras.backend.backend()
    device, backend_version = _device(backend)
    chosen = _resolve_scale(scale, device)
    _current = Env(scale=chosen, backend=backend, device=device, on_colab=on_colab(), seed=seed)
    if print_fn is not None:
        where = " on Colab" if _current.on_colab else ""
        print_fn(f"course: keras {keras.__version__} on {backend} {backend_version}, "
                 f"numpy {np.__version__}, {device}{where} | scale={chosen} seed={seed}")
    return _current


def current() -> Env | None:
    """The ``Env`` of the last ``setup()`` call, or None before it."""
    return _current


def scale() -> str:
    """The current scale: set by ``setup()``, else ``$COURSE_SCALE``, else from the device."""
    if _current is not None:
        return _current.scale
    if os.environ.get("COURSE_SCALE"):
        return _resolve_scale(None, "CPU")
    _quiet_logs()
    import keras
    return _resolve_scale(None, _device(keras.backend.backend())[0])


_FALLBACK = {"tiny": ("tiny", "cpu", "gpu"), "cpu": ("cpu", "tiny", "gpu"),
             "gpu": ("gpu", "cpu", "tiny")}


_UNSET = object()


def by_scale(tiny=_UNSET, cpu=_UNSET, gpu=_UNSET, *, scale_name: str | None = None):
    """Pick the value for the current scale, e.g. ``epochs = by_scale(tiny=1, cpu=3, gpu=15)``.

    A scale left out borrows from its neighbour: ``gpu`` from ``cpu`` then ``tiny``; ``cpu``
    from ``tiny`` then ``gpu``; ``tiny`` from ``cpu`` then ``gpu``. ``None`` given
    explicitly is a value (``n_train=by_scale(tiny=2000, cpu=None)``: all data at cpu).
    """
    values = {"tiny": tiny, "cpu": cpu, "gpu": gpu}
    if all(v is _UNSET for v in values.values()):
        raise ValueError("by_scale needs at least one of tiny=, cpu=, gpu=")
    now = _resolve_scale(scale_name, "CPU") if scale_name else scale()
    return next(values[s] for s in _FALLBACK[now] if values[s] is not _UNSET)
