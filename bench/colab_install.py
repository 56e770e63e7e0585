"""Install the student edition where Colab's packages are, and show that pip changes none.

    .venv/bin/python bench/colab_install.py [--work DIR]

Makes a venv holding Colab's published versions (tests/colab_pins.txt: TensorFlow 2.20.0,
Keras 3.13.2, numpy 2.1.3, IPython 7.34.0, ipykernel 6.17.1, notebook 6.5.7, ...) from the
package registry, publishes the student edition into a folder that stands in for its URL,
installs it as every lab's first cell does on Colab (`pip install <edition>`, dependencies
and build isolation included), and prints what that changed in `pip freeze` (expected: the
`course` line added, nothing else) and the course's one-line setup report in that venv.
It downloads about 1 GB: a benchmark, not a test (tests/test_publish.py checks the same
resolution offline against metadata stubs). Python 3.11 here; Colab runs 3.13.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "tests" / "colab_pins.txt"


def _run(*cmd, **kw) -> str:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def _freeze(python: Path) -> dict[str, str]:
    """name -> version (or "name @ url" for a package installed from a path)."""
    lines = _run(python, "-m", "pip", "freeze", "--all").splitlines()
    return dict(re.split(r"==| @ ", line, maxsplit=1) for line in lines if line.strip())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="folder to work in (kept)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="colab-install-"))
    work.mkdir(parents=True, exist_ok=True)
    venv, edition = work / "colab", work / "dl-labs"
    t = time.monotonic()
    _run(sys.executable, "-m", "venv", venv)   # an existing one is reused (--work)
    _run(venv / "bin" / "python", "-m", "pip", "uninstall", "-q", "-y", "course")
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", "-r", PINS)
    print(f"Colab-like venv: {time.monotonic() - t:.0f} s")
    before = _freeze(python)
    _run(sys.executable, "-m", "autograder", "publish", edition)
    t = time.monotonic()
    _run(python, "-m", "pip", "install", "-q", edition)          # as `pip install git+URL`
    print(f"pip install <student edition>: {time.monotonic() - t:.0f} s")
    after = _freeze(python)
    added = sorted(set(after) - set(before))
    changed = sorted(k for k in before if k in after and before[k] != after[k])
    removed = sorted(set(before) - set(after))
    print(f"added: {added}\nchanged: {[(k, before[k], after[k]) for k in changed]}\n"
          f"removed: {removed}")
    pins = dict(line.split("==") for line in PINS.read_text().splitlines()
                if line and not line.startswith("#"))
    moved = {k: after.get(k) for k, v in pins.items() if after.get(k) != v}
    print(f"Colab's pins after the install: {'all kept' if not moved else moved}")
    report = _run(python, "-c", "import course.env; course.env.setup(scale='tiny')", cwd=work,
                  env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    print(report.strip())
    ok = added == ["course"] and not changed and not removed and not moved
    print("OK: the edition added `course` and nothing else" if ok else "NOT OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
