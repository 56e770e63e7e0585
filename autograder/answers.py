"""Read what a student's kernel wrote for one query, as data, in the grader's process.

The kernel writes ``<token>.npz`` (an answer), ``<token>.keras`` (a trained model) or
``<token>.err`` (its code raised) into the exchange folder (course/protocol.py). Here each
file is opened without following links and size-capped; an answer is decoded with
``allow_pickle=False`` and a bound on its uncompressed size; a model is loaded with
``safe_mode=True`` and measured on held-out images. Everything a kernel produced passes
through :func:`read`, so that one function is all there is to move into a separate,
resource-limited process.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from course import protocol
from course.protocol import AnswerError

ERROR_BYTES = 4000
MODEL_FACTOR = 4  # a saved model may be this many times the answer cap


def read_private(path: Path, cap: int) -> bytes | None:
    """The bytes of a regular file the kernel wrote, never following a link; None if absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnswerError(f"the answer file could not be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise AnswerError("the answer is not a regular file")
        if st.st_size > cap:
            raise AnswerError(f"the answer is too large ({st.st_size >> 20} MB)")
        return fh.read(cap + 1)[:cap]


def read(query, outbox: Path, token: str, cap: int,
         heldout: Callable[[str], tuple[np.ndarray, np.ndarray]], run_error: str = "") -> Any:
    """The kernel's answer to `query` (for a trained model: its held-out accuracy).

    Raises AnswerError, whose message is the check's FAIL detail, when there is none.
    `heldout(data)` gives the images and labels a model is measured on; `run_error` is what
    the kernel reported when the harness itself failed.
    """
    err = read_private(outbox / f"{token}{protocol.ANSWER_ERROR}", ERROR_BYTES)
    if err is not None:
        try:
            name, message = json.loads(err.decode())
        except Exception:
            name, message = "Error", "(unreadable)"
        raise AnswerError(protocol.failure(str(name), str(message)))
    if protocol.answer_suffix(query) == ".keras":
        raw = read_private(outbox / f"{token}.keras", MODEL_FACTOR * cap)
        if raw is None:
            raise AnswerError("the model was not saved")
        return model_accuracy(raw, query, heldout)
    raw = read_private(outbox / f"{token}.npz", cap)
    if raw is None:
        raise AnswerError("no answer" + (f" ({run_error})" if run_error else ""))
    return protocol.loads(raw, cap)


def model_accuracy(raw: bytes, query, heldout) -> float:
    """Accuracy of a saved model on the images the notebook never loaded."""
    import keras

    x, y = heldout(query.data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(raw)
        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as exc:
            raise AnswerError(f"the saved model could not be loaded safely "
                              f"({type(exc).__name__}: {str(exc)[:200]})") from None
    return protocol.model_accuracy(model, x, y, query.limit, query.classes)
