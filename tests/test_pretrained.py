"""autograder.pretrain and course.models.backbones: the shipped backbone is verified, a tampered
file is refused, the ImageNet path fails fast offline, and the pretraining recipe learns.

No test touches the network: COURSE_OFFLINE=1 (conftest) and the download is mocked.
"""
import importlib.util
import json
import shutil
import time

import keras
import numpy as np
import pytest

from autograder import pretrain
from course.data import ChecksumError, sha256_file
from course.models import BackboneUnavailable, backbone_card, backbone_names, pretrained
from course.models import backbones

SHIPPED = "resnet20_cifar_animals"


def test_the_shipped_backbone_matches_its_card():
    card = json.loads((backbones.WEIGHTS_DIR / f"{SHIPPED}.json").read_text())
    path = backbones.WEIGHTS_DIR / card["file"]
    assert sha256_file(path) == card["sha256"]
    assert path.stat().st_size == card["bytes"] < 5_000_000, "a backbone small enough to commit"
    program = card["command"].split()
    assert program[:2] == ["python", "-m"] and importlib.util.find_spec(program[2]), \
        f"the card's command must run a module that exists: {card['command']}"
    model = pretrained(SHIPPED)
    assert model.output_shape == (None, len(card["source_classes"]))
    assert {layer.name for layer in model.layers} >= {*card["block_ends"], card["feature_layer"],
                                                       "predictions"}
    info = backbone_card(SHIPPED)
    assert info.offline and info.input_shape == (32, 32, 3)
    assert info.source_classes == ("bird", "cat", "deer", "dog", "frog", "horse")
    assert 0.5 < info.source_accuracy <= 1.0
    assert backbone_names() == [SHIPPED, "mobilenet_v2_imagenet"]


def test_a_tampered_file_is_refused_naming_the_file_and_both_hashes(tmp_path):
    shutil.copytree(backbones.WEIGHTS_DIR, tmp_path / "w")
    card = json.loads((tmp_path / "w" / f"{SHIPPED}.json").read_text())
    path = tmp_path / "w" / card["file"]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError) as info:
        pretrained(SHIPPED, weights_dir=tmp_path / "w")
    message = str(info.value)
    assert str(path) in message and card["sha256"] in message and sha256_file(path) in message


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="resnet20_cifar_animals, mobilenet_v2_imagenet"):
        pretrained("resnet50_imagenet")


def _no_download(*args, **kwargs):
    raise AssertionError("keras.applications.MobileNetV2 must not be called offline")


def test_imagenet_backbone_fails_fast_offline_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))        # no cached weights
    monkeypatch.setattr(keras.applications, "MobileNetV2", _no_download)
    start = time.perf_counter()
    with pytest.raises(BackboneUnavailable) as info:
        pretrained("mobilenet_v2_imagenet")
    assert time.perf_counter() - start < 2.0
    message = str(info.value)
    assert "storage.googleapis.com" in message and "pretrained('resnet20_cifar_animals')" in message
    assert "COURSE_OFFLINE" in message
    card = backbone_card("mobilenet_v2_imagenet")        # the card needs no weights
    assert not card.offline and card.mean == card.std == (127.5, 127.5, 127.5)


def test_a_failed_download_becomes_a_clear_error(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- "
                        "[Errno 101] Network is unreachable")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "online", lambda host: True)
    monkeypatch.setattr(keras.applications, "MobileNetV2", refused)
    with pytest.raises(BackboneUnavailable, match="the download failed.*Network is unreachable"):
        pretrained("mobilenet_v2_imagenet")


def test_imagenet_path_builds_the_feature_extractor_its_card_describes(tmp_path, monkeypatch):
    real = keras.applications.MobileNetV2

    def without_download(**kwargs):
        assert kwargs["weights"] == "imagenet" and kwargs["include_top"] is False
        return real(**{**kwargs, "weights": None})

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "online", lambda host: True)
    monkeypatch.setattr(keras.applications, "MobileNetV2", without_download)
    model = pretrained("mobilenet_v2_imagenet")
    card = backbone_card("mobilenet_v2_imagenet")
    assert model.input_shape == (None, *card.input_shape)
    assert model.output_shape == (None, 1280)
    assert {layer.name for layer in model.layers} >= {*card.block_ends, card.feature_layer}


def _coloured_squares(n, classes=6, seed=0):
    """Images whose class is the colour and corner of a bright square, on noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(0, 0.3, (n, 32, 32, 3)).astype("float32")
    for i, c in enumerate(y):
        r, col = (c % 2) * 16, (c // 2 % 2) * 16
        x[i, r:r + 16, col:col + 16, c % 3] += 2.0
    return x, y


def test_a_tiny_pretraining_run_learns():
    x, y = _coloured_squares(720)
    xt, yt = _coloured_squares(300, seed=1)
    model = pretrain.train_backbone(x, y, epochs=3, batch_size=32, lr=0.05, verbose=0)
    assert model.output_shape == (None, 6) and model.name == pretrain.NAME
    assert pretrain.accuracy(model, xt, yt) > 0.8        # chance is 1/6


def test_source_split_and_standardization():
    y = np.array([[0], [2], [7], [9], [3]])
    x = np.arange(5)[:, None, None, None] * np.ones((5, 2, 2, 3), np.uint8)
    xs, ys = pretrain.source_split(x, y)
    assert ys.tolist() == [0, 5, 1] and xs[:, 0, 0, 0].tolist() == [1, 2, 4]
    mean, std = pretrain.channel_stats(np.full((2, 2, 2, 3), 10, np.uint8))
    assert mean == [10.0] * 3 and std == [0.0] * 3
    out = pretrain.standardize(np.full((1, 1, 1, 3), 130, np.uint8), [120.0] * 3, [5.0] * 3)
    assert out.dtype == np.float32 and np.all(out == 2.0)


@pytest.mark.slow
def test_the_command_writes_a_backbone_that_loads(tmp_path, shared_data, capsys):
    assert pretrain.main(["--epochs", "1", "--n-train", "600", "--n-val", "300",
                          "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "source accuracy" in printed and "sha256" in printed
    card = json.loads((tmp_path / f"{SHIPPED}.json").read_text())
    assert card["n_train"] == 600 and card["epochs"] == 1 and card["source_test_images"] == 6000
    assert pretrained(SHIPPED, weights_dir=tmp_path).count_params() > 270_000


def test_the_pretraining_command_builds_the_shipped_architecture():
    from autograder.reference.architecture_blocks import build_cifar_net

    def layout(model):
        return [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in model.layers]

    remade = build_cifar_net(20, num_classes=6, shortcut="B", name=pretrain.NAME)
    assert layout(remade) == layout(pretrained(SHIPPED))
