"""Read what a student's kernel wrote for one query, as data, in the grader's process.

The kernel writes ``<token>.npz`` (an answer), ``<token>.keras`` (a trained model) or
``<token>.err`` (its code raised) into the exchange folder (course/protocol.py). Here each
file is opened without following links and size-capped; an answer is decoded with
``allow_pickle=False`` and a bound on its uncompressed size; a model is loaded with
``safe_mode=True`` and measured on held-out images, in a child process with memory and time
limits (:func:`model_accuracy`). Everything a kernel produced passes through :func:`read`.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import resource
import selectors
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from course import protocol
from course.protocol import AnswerError
from autograder.sandbox import offline

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
         heldout: Callable[[str], tuple[np.ndarray, np.ndarray]], run_error: str = "", *,
         model_limits: "ModelLimits | None" = None) -> Any:
    """The kernel's answer to `query` (for a trained model: its held-out accuracy).

    Raises AnswerError, whose message is the check's FAIL detail, when there is none.
    `heldout(data)` gives the images and labels a model is measured on; `run_error` is what
    the kernel reported when the harness itself failed; `model_limits` bound the process
    that loads and measures a model.
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
        return model_accuracy(raw, query, heldout, model_limits or ModelLimits())
    raw = read_private(outbox / f"{token}.npz", cap)
    if raw is None:
        raise AnswerError("no answer" + (f" ({run_error})" if run_error else ""))
    return protocol.loads(raw, cap)


@dataclasses.dataclass(frozen=True)
class ModelLimits:
    """What measuring one submitted model may cost the grader."""

    seconds: float = 120
    memory_mb: int = 4096
    unpacked_mb: int = 256      # the .keras archive's files, uncompressed


# Runs in a child process: load the model safely, measure it, print the result as JSON.
_MEASURE = r"""
import json, sys
import numpy as np
folder = sys.argv[1]  # model.keras, and x.npy, y.npy already cut to what counts
def say(**kw):
    sys.stdout.write("\n" + json.dumps(kw) + "\n")
import keras
from course.protocol import model_accuracy
sys.stdout.write("ready\n")
sys.stdout.flush()  # the time limit starts now: the import is the grader's, not the model's
try:
    model = keras.saving.load_model(folder + "/model.keras", safe_mode=True, compile=False)
except Exception as exc:
    say(error="the saved model could not be loaded safely "
              f"({type(exc).__name__}: {str(exc)[:200]})")
    sys.exit(0)
try:
    x, y = np.load(folder + "/x.npy"), np.load(folder + "/y.npy")
    say(accuracy=model_accuracy(model, x, y))
except Exception as exc:
    say(error=f"the model could not be evaluated ({type(exc).__name__}: {str(exc)[:200]})")
"""


def model_accuracy(raw: bytes, query, heldout, limits: ModelLimits) -> float:
    """Accuracy of a saved model on the images the notebook never loaded, measured in a
    child process with a memory limit and a time limit, without network (bubblewrap where it
    runs: :func:`autograder.sandbox.offline`): a model built to cost the grader
    (a config that inflates, layers that allocate gigabytes, a network too deep to run in
    time) fails its check and nothing else."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except Exception:
        raise AnswerError("the saved model is not a .keras archive") from None
    if unpacked > limits.unpacked_mb << 20:
        raise AnswerError(f"the saved model unpacks to more than {limits.unpacked_mb} MB")
    x, y = protocol.measured_images(*heldout(query.data), query.limit, query.classes)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "model.keras").write_bytes(raw)
        np.save(Path(tmp) / "x.npy", np.asarray(x))
        np.save(Path(tmp) / "y.npy", np.asarray(y))
        out, code = _measure(offline([sys.executable, "-c", _MEASURE, tmp], [tmp]),
                             limits)
    try:
        said = json.loads(out.decode(errors="replace").strip().splitlines()[-1])
    except Exception:
        said = {"error": "measuring the model failed (out of memory?)"
                if code else "measuring the model gave no result"}
    if "accuracy" not in said:
        raise AnswerError(str(said.get("error", "measuring the model failed")))
    return float(said["accuracy"])


STARTUP_SECONDS = 300  # the measuring process's own imports (the grader's cost)


def _measure(argv: list[str], limits: ModelLimits) -> tuple[bytes, int | None]:
    """Run the measuring process: what it printed and its exit status. Its memory is
    limited; `limits.seconds` counts from its "ready" line (after its imports)."""
    memory = limits.memory_mb << 20
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_DATA, (memory, memory)))
    out, ready = b"", False
    deadline = time.monotonic() + STARTUP_SECONDS
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 and ready:
                    raise AnswerError(f"measuring the model took more than {limits.seconds:.3g} s")
                if left <= 0:
                    raise RuntimeError("the model-measuring process did not start in "
                                       f"{STARTUP_SECONDS} s (the grader is overloaded)")
                if not sel.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                out += chunk
                if not ready and b"ready\n" in out:
                    ready, deadline = True, time.monotonic() + limits.seconds
        finally:
            _kill_group(proc)
    return out, proc.returncode


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()
