"""One submission's sandboxed kernel, as the judge uses it: start, run a cell, ask, restart.

    with KernelSession(workdir, limits, scale="tiny") as session:
        session.run_cell("x = 1", timeout=60)          # an ExecResult
        session.ask(call("square", 3.0))              # the answer as data, or AnswerError

The session owns the sandbox (autograder/sandbox.py), the kernel in it
(autograder/kernel.py), the exchange folder through which queries travel (the payload in
``in/``, which the kernel can only read; the answer in ``out/``) and the held-out data view
the kernel's ``COURSE_DATA`` points at (autograder/heldout.py). A query runs the protocol's
harness in the kernel (course/protocol.py) and its answer is read as data in this process
(autograder/answers.py). Whether and how to restart a dead kernel is the judge's decision.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from course import protocol
from course.protocol import AnswerError
from autograder import scratch
from autograder.memory import MemoryCap


STARTUP_TIMEOUT = 60  # seconds a kernel may take to start


class QueryTimeout(AnswerError):
    """The kernel gave no answer within the query's time."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """How much one submission may use."""

    cell_timeout: float = 60
    setup_timeout: float = 300        # the code cells before the first answer (imports)
    query_timeout: float = 30
    notebook_timeout: float = 900     # the notebook's cells, all together
    # The hard cap: cells, queries and restarts of one submission all end by then (a query
    # asked later fails; after a query timed out, the remaining ones share what is left).
    submission_timeout: float = 1200
    model_timeout: float = 120        # the grader's evaluation of one saved model
    memory_mb: int = 4096
    max_procs: int = 256
    max_output_bytes: int = 1_000_000
    file_size_mb: int = 200
    disk_mb: int = 1024           # the working folder, a tmpfs: all the notebook may write
    folders_mb: int = 512         # the host folders it writes answers to, watched
    tmp_mb: int = 256             # /tmp and /dev/shm, each a tmpfs
    max_answer_mb: int = 64       # an answer .npz (uncompressed) or a saved .keras model x4
    kernel_restarts: int = 3      # per notebook, after the kernel died


class KernelSession:
    """A sandboxed kernel working in `workdir`, with `limits`, at `scale`."""

    def __init__(self, workdir: Path, limits: Limits, *, scale: str, data_dir: Path | None = None,
                 sandbox: bool | None = None, note: Callable[[str], None] = lambda text: None):
        self.workdir, self.limits, self.scale = Path(workdir), limits, scale
        self.data_dir, self.sandbox, self.note = data_dir, sandbox, note
        self.kernel = None
        self.view = None
        self.exchange: Path | None = None
        self.deadline: float | None = None  # time.monotonic() by which everything has ended
        self.memory: MemoryCap | None = None
        self.folder_cap: scratch.FolderCap | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Create the sandbox (with the held-out data view) and start the kernel in it."""
        from autograder.heldout import data_view, default_data_dir
        from autograder.kernel import SandboxedKernel
        from autograder.sandbox import Sandbox, probe

        env = {"COURSE_SCALE": self.scale}
        data_dirs, binds = [], []
        data_dir = self.data_dir or default_data_dir()
        usable = probe()[0] if self.sandbox is None else self.sandbox
        if data_dir is not None and Path(data_dir).is_dir():
            try:
                self.view = data_view(Path(data_dir))
                env["COURSE_DATA"] = self.view.env_dirs(sandboxed=usable)
                data_dirs = [self.view.view, self.view.others]
                binds = self.view.binds()
            except Exception as exc:
                self.note(f"no held-out data view: {type(exc).__name__}: {exc}")
        self.exchange = scratch.folder("x")
        box = Sandbox.create(self.workdir, self.exchange, self.limits, data_dirs=data_dirs,
                             file_binds=binds, env=env, sandbox=self.sandbox)
        self.memory = MemoryCap.create(int(self.limits.memory_mb) << 20)
        self.kernel = SandboxedKernel(box, max_output_bytes=self.limits.max_output_bytes,
                                      memory=self.memory, startup_timeout=STARTUP_TIMEOUT)
        self.kernel.start()
        # unsandboxed, the working folder is the host's too: watched with the others
        watched, cap = [box.outputs, box.kernel_dir], self.limits.folders_mb
        if not box.sandboxed:
            watched, cap = watched + [box.workdir], cap + self.limits.disk_mb
        self.folder_cap = scratch.FolderCap(watched, cap << 20, self.kernel.kill)

    @property
    def sandboxed(self) -> bool:
        return self.kernel is not None and self.kernel.box.sandboxed

    @property
    def restarts(self) -> int:
        return self.kernel.restarts if self.kernel is not None else 0

    def alive(self) -> bool:
        return self.kernel is not None and self.kernel.alive()

    def restart(self) -> None:
        """A fresh kernel in the same sandbox: the notebook's state is gone, and so are the
        files it wrote (its working folder is a tmpfs of the kernel's own) and answers."""
        self.kernel.stop()
        self._empty_outputs()
        if self.folder_cap is not None:
            self.folder_cap.rearm()
        if self.deadline is not None:  # starting it counts against the submission's cap too
            self.kernel.startup_timeout = max(1.0, min(STARTUP_TIMEOUT,
                                                       self.deadline - time.monotonic()))
        self.kernel.restart()

    def killed_for(self) -> str:
        """Why the grader killed the kernel since this was last asked ("" if it did not)."""
        if self.memory is not None and self.memory.exceeded():
            return f"ran out of memory (more than {self.limits.memory_mb} MB)"
        if self.folder_cap is not None and self.folder_cap.exceeded:
            return (f"wrote more than {self.folder_cap.limit >> 20} MB where the grader reads "
                    "answers")
        return ""

    def stop(self) -> None:
        if self.kernel is not None:
            self.kernel.stop()
        if self.memory is not None:
            self.memory.close()
        if self.folder_cap is not None:
            self.folder_cap.close()
        if self.exchange is not None:
            shutil.rmtree(self.exchange, ignore_errors=True)

    def __enter__(self) -> "KernelSession":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- cells and queries -------------------------------------------------------------
    def run_cell(self, source: str, timeout: float):
        """Run one cell's code; an ExecResult (status ok | error | timeout | dead | flood)."""
        return self.kernel.execute(source, timeout=timeout, hard_deadline=self.deadline)

    def ask(self, query, timeout: float | None = None) -> Any:
        """The kernel's answer to one query, as data; AnswerError when there is none."""
        if not self.alive():
            raise AnswerError("the kernel is not running (it died earlier)")
        timeout = self.limits.query_timeout if timeout is None else timeout
        box = self.kernel.box
        token = secrets.token_hex(8)
        fd = os.open(box.inputs / f"{token}.npz", os.O_WRONLY | os.O_CREAT | os.O_EXCL
                     | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as fh:
            protocol.dump(query.payload(), fh)
        res = self.kernel.execute(protocol.harness_code(token, str(box.inputs), str(box.outputs)),
                                  timeout=timeout, silent=True, record=False,
                                  hard_deadline=self.deadline)
        try:
            if res.status == "timeout":
                raise QueryTimeout(f"no answer within {timeout:.3g} s")
            if res.status == "dead" or self.kernel.dead:
                why = self.killed_for()
                raise AnswerError(f"the kernel {why} while answering" if why else
                                  "the kernel died while answering")
            from autograder import answers
            left = self.deadline - time.monotonic() if self.deadline else float("inf")
            model = answers.ModelLimits(seconds=max(0.0, min(self.limits.model_timeout, left)),
                                        memory_mb=self.limits.memory_mb)
            return answers.read(query, box.outputs, token, self.limits.max_answer_mb << 20,
                                self.heldout, res.error, model_limits=model)
        finally:  # the query's files, and whatever else the kernel left where answers go
            for p in box.inputs.glob(f"{token}*"):
                p.unlink(missing_ok=True)
            self._empty_outputs()

    def _empty_outputs(self) -> None:
        for p in self.kernel.box.outputs.iterdir():
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    p.unlink()
                except OSError:
                    pass

    def heldout(self, dataset: str):
        """(images, labels) a trained model is measured on: the half the notebook never saw."""
        held = self.view.heldout(dataset) if self.view is not None else None
        if held is None:
            from course import data
            _, held = data.load(dataset, print_fn=lambda *a: None)
            self.note(f"{dataset}: no held-out split, measured on the public test split")
        return held
