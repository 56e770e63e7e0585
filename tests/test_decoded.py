"""course.data's decoded copies: the same arrays as the compressed file, made once, checked at
every load, rebuilt when damaged or when the source changes, safe when several processes
build at once, and never required: a cache that cannot be written only costs time."""
import hashlib
import json
import os
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

from course import data
from test_data import _register


def _lzma_npz(path, seed=0, n=64):
    """An MNIST-shaped file written as the shared folder's are: .npy members, ZIP_LZMA."""
    rng = np.random.default_rng(seed)
    arrays = dict(x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  y_train=(np.arange(n) % 10).astype(np.uint8),
                  x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
                  y_test=(np.arange(20) % 10).astype(np.uint8))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_LZMA) as z:
        for key, a in arrays.items():
            with z.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array(fh, a, allow_pickle=False)
    return arrays


def _rewrite(path, seed):
    """New bytes for a source file, with an mtime of its own (a rewrite within the same
    clock tick and size would look unchanged to any stat-based cache, this one included)."""
    arrays = _lzma_npz(path, seed=seed)
    os.utime(path, ns=(seed, seed))
    return arrays


def _refuse_decompressing(monkeypatch):
    def refuse(path):
        raise AssertionError(f"decompressed {path}: a decoded copy should have been used")
    monkeypatch.setattr(data, "_npz", refuse)


def _mnist_arrays(split):
    (x, y), (xt, yt) = split
    return dict(x_train=x, y_train=y, x_test=xt, y_test=yt)


def _assert_same(got, want):
    assert got.keys() == want.keys()
    for key in want:
        assert got[key].dtype == want[key].dtype and np.array_equal(got[key], want[key]), key


@pytest.fixture
def home(tmp_path, monkeypatch):
    """COURSE_DECODED: where copies of files in read-only folders go (empty)."""
    folder = tmp_path / "home-decoded"
    monkeypatch.setenv("COURSE_DECODED", str(folder))
    return folder


@pytest.fixture
def source(tmp_cache, home):
    """A registered LZMA mnist.npz in a writable cache directory: (its arrays, its sha256)."""
    arrays = _lzma_npz(tmp_cache / "mnist.npz")
    return arrays, _register(tmp_cache, "mnist.npz")


def test_decoded_copy_gives_the_arrays_of_the_compressed_file(source, tmp_cache, home,
                                                             monkeypatch):
    arrays, sha = source
    monkeypatch.setenv("COURSE_DECODED", "off")
    _assert_same(_mnist_arrays(data.load("mnist")), arrays)
    assert not (tmp_cache / "decoded").exists(), "COURSE_DECODED=off must write nothing"
    monkeypatch.setenv("COURSE_DECODED", str(home))
    _assert_same(_mnist_arrays(data.load("mnist")), arrays)          # decodes: beside it
    manifest = json.loads((tmp_cache / "decoded" / sha / "manifest.json").read_text())
    assert manifest["sha256"] == sha and sorted(manifest["arrays"]) == sorted(arrays)
    _refuse_decompressing(monkeypatch)
    again = _mnist_arrays(data.load("mnist"))
    _assert_same(again, arrays)
    again["x_train"][0, 0, 0] ^= 1                                    # writable, and private
    _assert_same(_mnist_arrays(data.load("mnist")), arrays)


def test_real_mnist_decoded_has_the_canonical_array_hashes(shared_data, home, monkeypatch):
    """The oracle is the shared folder's MANIFEST.json (data.ARRAYS), not this code."""
    data.load("mnist")
    assert not (shared_data / "decoded").exists(), "the shared folder must stay untouched"
    assert (home / data.FILES["mnist.npz"] / "manifest.json").is_file()
    _refuse_decompressing(monkeypatch)
    got = _mnist_arrays(data.load("mnist"))
    for key, want in data.ARRAYS["mnist.npz"].items():
        assert hashlib.sha256(np.ascontiguousarray(got[key]).tobytes()).hexdigest() == want, key


def test_unchanged_source_is_not_hashed_again(source, monkeypatch):
    data.load("mnist")
    monkeypatch.setattr(data, "sha256_file", lambda p: pytest.fail("hashed the source again"))
    _refuse_decompressing(monkeypatch)
    _assert_same(_mnist_arrays(data.load("mnist")), source[0])


def test_a_changed_source_is_decoded_again_and_its_old_copy_deleted(source, tmp_cache):
    _, old_sha = source
    data.load("mnist")
    new = _rewrite(tmp_cache / "mnist.npz", seed=1)                  # e.g. a new download
    new_sha = _register(tmp_cache, "mnist.npz")
    assert new_sha != old_sha
    _assert_same(_mnist_arrays(data.load("mnist")), new)
    assert [p.name for p in (tmp_cache / "decoded").iterdir()] == [new_sha]


def test_a_replaced_source_is_still_refused(source, tmp_cache):
    """The copy is of the registered bytes; a wrong file in its place is the usual error."""
    data.load("mnist")
    _rewrite(tmp_cache / "mnist.npz", seed=2)
    with pytest.raises(data.ChecksumError, match="sha256 mismatch"):
        data.load("mnist")


def _flip_a_pixel(folder):
    path = folder / "x_train.npy"
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))


def _truncate(folder):
    path = folder / "x_train.npy"
    os.chmod(path, 0o644)
    os.truncate(path, path.stat().st_size - 1000)


def _garble_manifest(folder):
    os.chmod(folder / "manifest.json", 0o644)
    (folder / "manifest.json").write_text("{not json")


def _delete_an_array(folder):
    (folder / "y_test.npy").unlink()


@pytest.mark.parametrize("damage", [_flip_a_pixel, _truncate, _garble_manifest, _delete_an_array])
def test_a_damaged_copy_is_never_used_and_is_rebuilt(source, tmp_cache, monkeypatch, damage):
    arrays, sha = source
    data.load("mnist")
    damage(tmp_cache / "decoded" / sha)
    _assert_same(_mnist_arrays(data.load("mnist")), arrays)
    _refuse_decompressing(monkeypatch)                              # rebuilt where it was
    _assert_same(_mnist_arrays(data.load("mnist")), arrays)
    assert [p.name for p in (tmp_cache / "decoded").iterdir()] == [sha], "no leftovers"


def test_a_damaged_copy_in_a_folder_that_cannot_be_written_is_bypassed(tmp_path, monkeypatch):
    source_dir = tmp_path / "readonly"
    source_dir.mkdir()
    arrays = _lzma_npz(source_dir / "mnist.npz")
    sha = _register(source_dir, "mnist.npz")
    monkeypatch.setenv("COURSE_DATA", str(source_dir))
    monkeypatch.setenv("COURSE_DECODED", str(source_dir / "decoded"))
    assert data.decode(source_dir / "mnist.npz") == source_dir / "decoded" / sha
    _flip_a_pixel(source_dir / "decoded" / sha)
    os.chmod(source_dir / "decoded", 0o555)
    os.chmod(source_dir, 0o555)
    monkeypatch.setenv("COURSE_DECODED", str(tmp_path / "a-file" / "decoded"))
    (tmp_path / "a-file").write_text("")                            # nowhere to write
    try:
        _assert_same(_mnist_arrays(data.load("mnist")), arrays)
        assert data.decode(source_dir / "mnist.npz") is None
    finally:
        os.chmod(source_dir, 0o755)
        os.chmod(source_dir / "decoded", 0o755)


def test_a_read_only_source_folder_keeps_its_copy_in_course_decoded(tmp_path, home,
                                                                    monkeypatch):
    source_dir = tmp_path / "shared"
    source_dir.mkdir()
    arrays = _lzma_npz(source_dir / "mnist.npz")
    sha = _register(source_dir, "mnist.npz")
    os.chmod(source_dir, 0o555)     # read-only by its permission bits: even root leaves it
    monkeypatch.setenv("COURSE_DATA", str(source_dir))
    try:
        _assert_same(_mnist_arrays(data.load("mnist")), arrays)
        assert sorted(os.listdir(source_dir)) == ["mnist.npz", "registry.json"]
        assert (home / sha / "manifest.json").is_file()
        _refuse_decompressing(monkeypatch)
        _assert_same(_mnist_arrays(data.load("mnist")), arrays)
    finally:
        os.chmod(source_dir, 0o755)


def test_nowhere_to_write_falls_back_to_decompressing_quietly(tmp_path, monkeypatch, capfd):
    source_dir = tmp_path / "shared"
    source_dir.mkdir()
    arrays = _lzma_npz(source_dir / "mnist.npz")
    _register(source_dir, "mnist.npz")
    os.chmod(source_dir, 0o555)
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("COURSE_DATA", str(source_dir))
    monkeypatch.setenv("COURSE_DECODED", str(tmp_path / "a-file" / "decoded"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _assert_same(_mnist_arrays(data.load("mnist")), arrays)
            _assert_same(_mnist_arrays(data.load("mnist")), arrays)
    finally:
        os.chmod(source_dir, 0o755)
    assert capfd.readouterr() == ("", "")
    assert sorted(os.listdir(source_dir)) == ["mnist.npz", "registry.json"]


def _publish(folder, arrays, sha):
    path = folder / "mnist.npz"
    return data._publish(folder / "decoded", sha, path, data._stamp(path), arrays)


def test_a_publisher_that_finds_a_copy_in_place_keeps_it(source, tmp_cache):
    """Two builders: the second one's rename fails and it keeps the first one's copy."""
    arrays, sha = source
    first = _publish(tmp_cache, arrays, sha)
    inode = (first / "x_train.npy").stat().st_ino
    assert _publish(tmp_cache, arrays, sha) == first
    assert (first / "x_train.npy").stat().st_ino == inode
    assert [p.name for p in (tmp_cache / "decoded").iterdir()] == [sha]


def test_a_publisher_replaces_a_damaged_copy_in_place(source, tmp_cache):
    arrays, sha = source
    first = _publish(tmp_cache, arrays, sha)
    _truncate(first)
    assert _publish(tmp_cache, arrays, sha) == first
    _assert_same(data._read_decoded(first, sha, None), arrays)
    assert [p.name for p in (tmp_cache / "decoded").iterdir()] == [sha]


BUILDER = """
import hashlib, sys, time
from pathlib import Path
import numpy as np
from course import data
sync, me = Path(sys.argv[1]), sys.argv[2]


def all_reach(stage):
    (sync / f"{stage}-{me}").touch()
    while len(list(sync.glob(f"{stage}-*"))) < 4:
        time.sleep(0.005)


decompress = data._npz
def decompress_then_wait(path):
    arrays = decompress(path)
    all_reach("decompressed")   # so no one publishes before all four have found no copy
    return arrays


data._npz = decompress_then_wait
all_reach("started")
(x, y), (xt, yt) = data.load("mnist")
digest = hashlib.sha256()
for a in (x, y, xt, yt):
    digest.update(np.ascontiguousarray(a).tobytes())
print(digest.hexdigest())
"""


@pytest.mark.timeout(120)
def test_concurrent_builders_do_not_collide(source, tmp_cache, home, tmp_path):
    """Four processes find no copy, decompress, then all publish at the same moment."""
    arrays, sha = source
    want = hashlib.sha256(b"".join(arrays[k].tobytes()
                                   for k in ("x_train", "y_train", "x_test", "y_test"))).hexdigest()
    sync = tmp_path / "sync"
    sync.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER, str(sync), str(i)], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(4)]
    try:
        outs = [p.communicate(timeout=100) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert [out.strip() for out, _ in outs] == [want] * 4
    assert [p.name for p in (tmp_cache / "decoded").iterdir()] == [sha], "one copy, no leftovers"
    assert not home.exists(), "a builder that lost the race must not write elsewhere"
    _assert_same(data._read_decoded(tmp_cache / "decoded" / sha, sha, None), arrays)


def test_off_means_no_decoding_at_all(source, tmp_cache, monkeypatch):
    monkeypatch.setenv("COURSE_DECODED", "off")
    monkeypatch.setattr(data, "_npz", lambda p: pytest.fail("decode() decompressed for nothing"))
    assert data.decode(tmp_cache / "mnist.npz") is None
    assert not (tmp_cache / "decoded").exists()
