"""The sandbox itself, without a kernel: what a confined process can see, reach and use."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.judge import Limits

pytestmark = pytest.mark.skipif(not sandbox.probe()[0],
                                reason=f"bubblewrap unusable here: {sandbox.probe()[1]}")


def confined(tmp_path, code: str, limits: Limits = Limits(memory_mb=512, max_procs=32,
                                                           file_size_mb=5)):
    exchange = tmp_path / "x"
    box = sandbox.Sandbox.create(tmp_path / "work", exchange, limits)
    argv = box.wrap([sys.executable, "-c", code])
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env=box.popen_kwargs()["env"])


def test_the_command_shows_only_what_is_needed(tmp_path):
    box = sandbox.Sandbox.create(tmp_path / "w", tmp_path / "x", Limits())
    argv = " ".join(box.wrap([sys.executable, "-m", "ipykernel_launcher"]))
    repo = str(Path(sandbox.__file__).resolve().parents[1])
    assert "--unshare-net" in argv or "--unshare-all" in argv
    assert f"{repo}/course" in argv
    for hidden in ("solutions", "autograder", "labs"):
        assert f"{repo}/{hidden}" not in argv
    assert "--ro-bind / /" not in argv


def test_the_instructor_reference_cannot_be_imported(tmp_path):
    # lab 02's hostile sample imports its answers from here; in the kernel that must fail
    done = confined(tmp_path, """
for name in ("autograder.reference.convnets", "autograder.reference.counting"):
    try:
        __import__(name)
        print("IMPORTED", name)
    except ModuleNotFoundError:
        print("refused", name)
""")
    assert done.stdout.split() == ["refused", "autograder.reference.convnets",
                                   "refused", "autograder.reference.counting"], done.stdout + done.stderr


def test_confined_process_sees_a_minimal_read_only_world(tmp_path):
    done = confined(tmp_path, """
import os, sys
print(sorted(os.listdir('/')))
print(os.listdir('/tmp'))
for path in ('/usr/x', '/etc/x', sys.prefix + '/x'):
    try:
        open(path, 'w'); print('WROTE', path)
    except OSError:
        pass
open('mine.txt', 'w').write('ok')
print('env', sorted(os.environ))
print('read back', open('mine.txt').read())
""")
    assert done.returncode == 0, done.stderr
    assert "WROTE" not in done.stdout
    # its working folder is its own (a sized tmpfs): writable, and nothing reaches the host
    assert "read back ok" in done.stdout and not (tmp_path / "work" / "mine.txt").exists()
    top = set(eval(done.stdout.splitlines()[0]))
    system = {"usr", "etc", "lib", "lib64", "lib32", "bin", "sbin", "tmp", "proc", "dev"}
    # The repository, the interpreter and pytest's tmp_path may live anywhere (CI clones
    # under /check): their top folders are shown because what is inside them is bound.
    bound = {Path(p).resolve().parts[1] for p in
             (sandbox.course_dir(), sys.prefix, sys.base_prefix, tmp_path)}
    assert top <= system | bound, top - system - bound
    assert not top & {"srv", "mnt", "media", "boot", "var", "run"}
    assert "PYTHONPATH" not in done.stdout and "JPY_PARENT_PID" not in done.stdout


def test_limits_apply_inside(tmp_path):
    done = confined(tmp_path, """
import resource, os
print(resource.getrlimit(resource.RLIMIT_NPROC)[0], resource.getrlimit(resource.RLIMIT_DATA)[0] >> 20,
      resource.getrlimit(resource.RLIMIT_FSIZE)[0] >> 20, os.getuid() != 0)
""")
    assert done.stdout.split() == ["32", "512", "5", "True"], done.stderr


def test_every_writable_tmpfs_has_a_size_and_dev_is_read_only(tmp_path):
    done = confined(tmp_path, """
import os
for path in ('.', '/tmp', '/dev/shm'):
    st = os.statvfs(path)
    print(path, st.f_blocks * st.f_frsize >> 20)
try:
    open('/dev/x', 'w')
    print('wrote /dev')
except OSError:
    pass
""", Limits(memory_mb=512, max_procs=32, file_size_mb=5, disk_mb=40, tmp_mb=20))
    assert done.stdout.split() == [".", "40", "/tmp", "20", "/dev/shm", "20"], done.stderr


def test_probe_reports_why_when_unusable(monkeypatch):
    sandbox.probe.cache_clear()
    monkeypatch.setenv("COURSE_GRADER_NO_SANDBOX", "1")
    try:
        usable, why = sandbox.probe()
        assert not usable and "COURSE_GRADER_NO_SANDBOX" in why
    finally:
        sandbox.probe.cache_clear()


def test_offline_helpers_see_no_network_and_write_nothing(tmp_path):
    """What the grader runs on student files (a model's measurement) runs offline."""
    (tmp_path / "in.txt").write_text("readable")
    code = ("import socket, sys\n"
            "print(open(sys.argv[1]).read())\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=3); print('online')\n"
            "except OSError:\n    print('offline')\n"
            "try:\n    open(sys.argv[1] + '.w', 'w'); print('wrote')\n"
            "except OSError:\n    print('read-only')\n")
    argv = sandbox.offline([sys.executable, "-c", code, str(tmp_path / "in.txt")],
                           [str(tmp_path)])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["readable", "offline", "read-only"], done.stderr
