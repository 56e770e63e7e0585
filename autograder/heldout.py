"""Held-out images for `trained_model` checks: the notebook sees part of a test split, the
grader keeps the rest.

    view = data_view(Path("/data/course"))      # once per data folder, cached on disk
    view.env_dirs(sandboxed=True)               # what COURSE_DATA is inside the sandbox
    x, y = view.heldout("mnist")                # images the notebook never loaded

For every data file with a test split (``mnist.npz``, ``fashion_mnist.npz``,
``cifar10_test.npz``, a lossless ``cifar10.npz``) the view holds a copy whose test split is
cut to the half :func:`course.data.stratified_indices` picks, recorded in the view's
``registry.json`` so that ``course.data`` verifies it; the other half is stored outside the
view, where only the grader reads it. Other files (the CIFAR-10 train parts, hymenoptera)
are bound read-only into a second folder at grading, over empty placeholders, so the
notebook reads them without the grader copying 200 MB per data folder.

The notebook's kernel never decompresses (see "Decoded copies" in ``course.data``): the view
holds, in ``view/decoded/``, decoded copies of its cut files (written here) and of the
other files (hard links to the host's copies that :func:`course.data.decode` makes or
finds, or copies where the two folders are on different file systems). ``course.data``
looks for them beside every ``COURSE_DATA`` directory, so a sandboxed kernel (``view`` and
``others`` bound read-only) and an unsandboxed one (``view`` and the source) both find them.
All of it is made once per data folder, with the view; grading runs copy nothing. The first
view on a host also decodes the files not decoded yet (the whole shared folder: ~100 s on a
loaded 2-core machine, against ~30 s for cutting the compressed files before); later views
take ~5 s. Disk: the cut files and their decoded copies take ~120 MB each for the shared
folder (the MNIST and Fashion-MNIST train splits are in both), the held-out halves 23 MB.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

SPLIT_FILES = {"mnist.npz": "mnist", "fashion_mnist.npz": "fashion_mnist",
               "cifar10_test.npz": "cifar10", "cifar10.npz": "cifar10"}
FORMAT = 2  # bump when the layout changes, so old caches are rebuilt


def cache_root() -> Path:
    return Path(os.environ.get("COURSE_GRADER_CACHE", Path.home() / ".cache" / "course-grader"))


@dataclasses.dataclass(frozen=True)
class DataView:
    source: Path
    view: Path                          # cut files + registry.json (bound read-only)
    others: Path                        # placeholders + registry.json; originals bound over them
    grader: Path                        # held-out halves: never bound into the sandbox
    bound_files: tuple[str, ...] = ()   # names in `others` to bind from `source`

    def env_dirs(self, sandboxed: bool) -> str:
        second = self.others if sandboxed else self.source
        return f"{self.view}{os.pathsep}{second}"

    def binds(self) -> list[tuple[str, str]]:
        return [(str(self.source / n), str(self.others / n)) for n in self.bound_files]

    def heldout(self, dataset: str) -> tuple[np.ndarray, np.ndarray] | None:
        path = self.grader / f"{dataset}.npz"
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as z:
            return z["x"], z["y"]


def default_data_dir() -> Path | None:
    try:
        from course import data
        for d in data.data_dirs():
            if d.is_dir():
                return d
    except Exception:
        pass
    return None


def data_view(data_dir: Path, root: Path | None = None) -> DataView:
    """The (cached) held-out view of `data_dir`; built on first use, atomically."""
    from course import data as cdata
    data_dir = Path(data_dir).resolve()
    root = Path(root or cache_root())
    stats = {p.name: p.stat() for p in data_dir.glob("*.npz")}
    names = sorted(stats)
    # A file added later (a data set fetched before grading another lab) makes a new view.
    files = [(n, stats[n].st_size, stats[n].st_mtime_ns) for n in names]
    key = hashlib.sha1(f"{FORMAT}:{data_dir}:{files}".encode()).hexdigest()[:12]
    final = root / key
    split = [n for n in names if n in SPLIT_FILES]
    bound = tuple(n for n in names if n not in SPLIT_FILES)
    view = DataView(data_dir, final / "view", final / "others", final / "grader", bound)
    if (final / "complete").is_file():
        return view
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".build-"))
    for d in ("view", "others", "grader"):
        (tmp / d).mkdir()
    source_reg = cdata.registry(data_dir)
    registry = {}
    for name in split:
        arrays = dict(cdata.load_file(data_dir / name))
        keep = cdata.stratified_indices(arrays["y_test"], len(arrays["y_test"]) // 2, seed=1)
        mask = np.zeros(len(arrays["y_test"]), bool)
        mask[keep] = True
        held_x, held_y = arrays["x_test"][~mask], arrays["y_test"][~mask]
        arrays["x_test"], arrays["y_test"] = arrays["x_test"][mask], arrays["y_test"][mask]
        np.savez(tmp / "view" / name, **arrays)
        registry[name] = cdata.sha256_file(tmp / "view" / name)
        dataset = SPLIT_FILES[name]
        np.savez(tmp / "grader" / f"{dataset}.npz", x=held_x, y=held_y)
    (tmp / "view" / "registry.json").write_text(json.dumps(registry, indent=1) + "\n")
    for name in split:
        cdata.decode(tmp / "view" / name)          # into view/decoded, beside the cut file
    for name in bound:
        if name in source_reg:
            _link_decoded(data_dir / name, tmp / "view" / "decoded")
    for name in bound:
        (tmp / "others" / name).touch()
    others_reg = {n: source_reg[n] for n in bound if n in source_reg}
    (tmp / "others" / "registry.json").write_text(json.dumps(others_reg, indent=1) + "\n")
    for d in ("view", "others"):
        os.chmod(tmp / d, 0o755)
    os.chmod(tmp / "grader", 0o700)
    os.chmod(tmp, 0o755)
    (tmp / "complete").touch()
    try:
        os.rename(tmp, final)
    except OSError:  # another worker finished first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return view


def _link_decoded(source: Path, store: Path) -> None:
    """Put the host's checked decoded copy of `source` into `store`: hard links, or a copy."""
    from course import data as cdata
    try:
        folder = cdata.decode(source)
    except cdata.DataError:
        return                  # a corrupt file: the notebook's own load will say so
    if folder is None:
        return
    dest = store / folder.name
    try:
        dest.mkdir(parents=True)
        for f in folder.iterdir():
            try:
                os.link(f, dest / f.name)
            except OSError:
                shutil.copyfile(f, dest / f.name)
    except OSError:             # the host's copy was replaced meanwhile: go without
        shutil.rmtree(dest, ignore_errors=True)
