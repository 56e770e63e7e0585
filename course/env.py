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

import contextlib
import dataclasses
import os
import random
import re
import sys
import tempfile

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


_quiet_logs()   # at import: a lab imports course.env before anything imports TensorFlow


# TensorFlow's native start-up lines ("All log messages before absl::InitializeLog() ...",
# "I0000 ... cudart_stub.cc:31] Could not find cuda drivers ...", the oneDNN notice) are
# written to file descriptor 2 before any log level applies, so TF_CPP_MIN_LOG_LEVEL does not
# stop them: the backend is imported with that descriptor set aside.
_NATIVE_LOG_LINE = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d:\d\d"
                              r"|To enable the following instructions)")


@contextlib.contextmanager
def _native_startup_lines_dropped():
    """Run the body with fd 2 captured; drop the backend's start-up log lines, pass the rest on.

    If the body raises, everything it wrote is passed on, to help explain the error.
    """
    try:
        saved = os.dup(2)
    except OSError:          # no usable descriptor 2 (some embedded interpreters): do nothing
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = [l for l in lines if failed or not _NATIVE_LOG_LINE.match(l)]
            if kept:
                sys.stderr.write("".join(kept))


def _device(backend: str) -> tuple[str, str]:
    """(device description, backend version) for an already-imported backend, no slow probes.

    The probe logs natively too (TensorFlow's "failed call to cuInit" where there is no GPU,
    at any log level below 3): those lines are dropped as the import's are."""
    with _native_startup_lines_dropped():
        return _probe_device(backend)


def _probe_device(backend: str) -> tuple[str, str]:
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


def import_backend():
    """Keras, its backend imported with the start-up log lines dropped; what `setup()` does
    first, and what a process that is not a lab (the grader's workers) calls before Keras."""
    _quiet_logs()
    with _native_startup_lines_dropped():
        import keras
    return keras


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
    import numpy as np
    keras = import_backend()
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
    keras = import_backend()
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
