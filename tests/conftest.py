"""Shared fixtures.

``make test`` points ``COURSE_DATA`` at ``../shared/data`` when that folder exists (the real
data sets); a fresh clone has no such folder, and tests that need the real files skip.
Tests never touch the network: ``COURSE_OFFLINE=1`` is set for every test unless a test
removes it (the probe tests do, with hosts that cannot answer).
"""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_CANDIDATES = [ROOT.parent / "shared" / "data"]


def _shared_data_dir():
    for d in [Path(p) for p in os.environ.get("COURSE_DATA", "").split(os.pathsep) if p] \
            + SHARED_DATA_CANDIDATES:
        if (d / "mnist.npz").is_file() and (d / "MANIFEST.json").is_file():
            return d
    return None


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")


@pytest.fixture
def shared_data(monkeypatch):
    """The real data sets (../shared/data), as the only COURSE_DATA; skips when absent."""
    d = _shared_data_dir()
    if d is None:
        pytest.skip("needs ../shared/data (the real data sets); absent in a fresh clone")
    monkeypatch.setenv("COURSE_DATA", str(d))
    return d


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty data cache as the only COURSE_DATA directory."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("COURSE_DATA", str(cache))
    return cache
