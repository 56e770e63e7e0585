"""Start, drive and stop one Jupyter kernel inside the sandbox.

    with SandboxedKernel(box) as k:
        res = k.execute("x = 1", timeout=60)     # an ExecResult: status, outputs, ...

The kernel talks over unix sockets (``transport="ipc"``) in the sandbox's exchange folder:
with its own network namespace, TCP on loopback would not reach the grader. Outputs are
kept up to a byte budget (the rest is counted and dropped); a cell that floods output far
beyond it is interrupted. A cell past its time limit is interrupted with SIGINT; one that
ignores the interrupt, and a kernel that dies, leave the kernel ``dead``: the caller
decides whether to restart it. ``stop`` always kills the kernel's whole process group.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import signal
import sys
import time
from pathlib import Path

import psutil
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

from autograder.memory import MemoryCap
from autograder.sandbox import Sandbox

FLOOD_FACTOR = 20  # interrupt a cell whose output passes this many times the budget
# After an interrupt, a kernel still sending messages is draining output it wrote before
# (a loaded machine can take longer than a few seconds: 5 s of silence lost the flood sample
# its points at load 12-17): it is dead only when silent for
# INTERRUPT_GRACE seconds, or still busy INTERRUPT_LIMIT seconds after the interrupt.
INTERRUPT_GRACE, INTERRUPT_LIMIT = 15, 60


@dataclasses.dataclass
class ExecResult:
    """What one execution did. `status`: ok | error | timeout | dead | flood."""

    status: str
    outputs: list = dataclasses.field(default_factory=list)
    error: str = ""
    ename: str = ""             # the exception's class name (status error)
    seconds: float = 0.0
    output_bytes: int = 0
    truncated: bool = False


def _descendants(pid: int) -> list[psutil.Process]:
    """Every process below `pid` (none when it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _kill_tree(km) -> None:
    """SIGKILL the kernel's process, its descendants and their process groups."""
    proc = getattr(km, "provisioner", None) and getattr(km.provisioner, "process", None)
    pid = getattr(proc, "pid", None)
    if pid is None:
        return
    for target in [pid] + [p.pid for p in _descendants(pid)]:
        try:  # its process group too: what it forked and detached
            os.killpg(target, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass


def _both(first, second):
    """One preexec_fn calling `first` (if any), then `second`."""
    def run():
        if first is not None:
            first()
        second()
    return run


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


class SandboxedKernel:
    """One IPython kernel in `box`, with outputs capped at `max_output_bytes` in all."""

    def __init__(self, box: Sandbox, *, max_output_bytes: int = 1_000_000,
                 startup_timeout: float = 60, memory: MemoryCap | None = None):
        self.box = box
        self.memory = memory
        self.max_output_bytes = max_output_bytes
        self.startup_timeout = startup_timeout
        self.output_bytes = 0
        self.km: KernelManager | None = None
        self.kc = None
        self.dead = False
        self.restarts = 0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        km = KernelManager(transport="ipc", ip=str(self.box.kernel_dir / "s"),
                           connection_file=str(self.box.kernel_dir / "kernel.json"))
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        km._kernel_spec = KernelSpec(argv=self.box.wrap(argv), language="python",
                                     display_name="sandboxed python", resource_dir="")
        km.write_connection_file()
        self.box.give(Path(km.connection_file))
        kwargs = self.box.popen_kwargs()
        if self.memory is not None:
            kwargs["preexec_fn"] = _both(kwargs.get("preexec_fn"), self.memory.preexec)
        try:
            km.start_kernel(cwd=str(self.box.workdir), **kwargs)
        finally:
            kwargs["stderr"].close()  # the kernel holds its own copy of the log
        self.km = km
        pid = getattr(km.provisioner.process, "pid", None)
        if self.memory is not None and pid is not None:
            self.memory.watch(pid)
        kc = km.blocking_client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=self.startup_timeout)
        except RuntimeError as exc:
            self.kc = kc
            self.stop()
            raise RuntimeError(f"the kernel did not start: {exc}") from None
        self.kc = kc
        self.dead = False

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        for f in self.box.kernel_dir.iterdir():
            try:
                f.unlink()
            except OSError:
                pass
        self.start()

    def alive(self) -> bool:
        return self.km is not None and self.km.is_alive() and not self.dead

    def stop(self) -> None:
        """Kill the kernel and everything it started (its process group and descendants)."""
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
        km, self.km, self.kc = self.km, None, None
        if km is None:
            return
        _kill_tree(km)
        try:
            km.shutdown_kernel(now=True)
        except Exception:
            pass
        try:
            km.cleanup_resources()
        except Exception:
            pass

    def kill(self) -> None:
        """SIGKILL the kernel's processes (safe from another thread; `stop` cleans up)."""
        if self.km is not None:
            _kill_tree(self.km)

    def __enter__(self) -> "SandboxedKernel":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- running code ------------------------------------------------------------------
    def interrupt(self) -> None:
        """SIGINT to the kernel itself (inside bwrap, which does not forward signals)."""
        if self.km is None:
            return
        pid = getattr(self.km.provisioner.process, "pid", None)
        targets = [p.pid for p in _descendants(pid)
                   if "ipykernel_launcher" in _cmdline(p)] if pid else []
        for p in targets or ([pid] if pid else []):
            try:
                os.kill(p, signal.SIGINT)
            except OSError:
                pass

    def execute(self, code: str, timeout: float, *, silent: bool = False,
                record: bool = True, hard_deadline: float | None = None) -> ExecResult:
        """Run `code`; wait at most `timeout` s for it to finish (then interrupt it), and
        never past `hard_deadline` (time.monotonic(); then the kernel is left dead)."""
        t0 = time.monotonic()
        if not self.alive():
            self.dead = True
            return ExecResult("dead", error="the kernel is not running")
        msg_id = self.kc.execute(code, silent=silent, store_history=not silent,
                                 allow_stdin=False, stop_on_error=False)
        res = ExecResult("ok")
        deadline = t0 + timeout
        interrupted_at = last_heard = None
        reply_seen = idle_seen = False
        while not (reply_seen and idle_seen):
            now = time.monotonic()
            if hard_deadline is not None and now > hard_deadline:
                self.dead = True  # no grace left: the caller stops the kernel
                res.status = "timeout" if res.status in ("ok", "error") else res.status
                break
            if interrupted_at is None and now > deadline:
                res.status = "timeout"
                self.interrupt()
                interrupted_at = now
            if interrupted_at is not None and (
                    now > max(interrupted_at, last_heard or 0) + INTERRUPT_GRACE
                    or now > interrupted_at + INTERRUPT_LIMIT):
                self.dead = True  # it ignored the interrupt: the caller restarts it
                break
            if not self.km.is_alive():
                self.dead = True
                res.status, res.error = "dead", "the kernel died"
                break
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                msg = None
            if msg is not None and msg.get("parent_header", {}).get("msg_id") == msg_id:
                last_heard = time.monotonic()
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content.get("execution_state") == "idle":
                    idle_seen = True
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    size = len(repr(content))
                    self.output_bytes += size
                    res.output_bytes += size
                    if kind == "error":
                        res.error = f"{content.get('ename')}: {content.get('evalue')}"[:500]
                        res.ename = str(content.get("ename", ""))[:100]
                        if res.status == "ok":
                            res.status = "error"
                    if record and self.output_bytes <= self.max_output_bytes:
                        res.outputs.append({"output_type": kind, **content})
                    elif record:
                        res.truncated = True
                    if (res.output_bytes > FLOOD_FACTOR * self.max_output_bytes
                            and interrupted_at is None):
                        res.status = "flood"
                        self.interrupt()
                        interrupted_at = time.monotonic()
            if not reply_seen:
                try:
                    reply = self.kc.get_shell_msg(timeout=0)
                except queue.Empty:
                    reply = None
                if reply is not None and reply.get("parent_header", {}).get("msg_id") == msg_id:
                    reply_seen = True
                    if reply["content"].get("status") == "error" and res.status == "ok":
                        res.status = "error"
                        res.error = res.error or reply["content"].get("evalue", "")[:500]
                        res.ename = res.ename or str(reply["content"].get("ename", ""))[:100]
        res.seconds = time.monotonic() - t0
        return res

