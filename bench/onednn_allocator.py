"""oneDNN's memory pool against the system allocator: data size, resident size and training speed.

With oneDNN on (TensorFlow's default on x86), TensorFlow allocates tensors from a pool that
grows by large regions and never shrinks, so a kernel's data size (VmData, what the grader's
RLIMIT_DATA counts) stays at its highest point even after the networks are freed.
`TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1` keeps oneDNN's kernels but allocates with malloc, which
returns freed memory. This runs the same work in a fresh process for each setting, in turns
(A B A B ...), and prints per run: VmData and VmRSS after building and freeing three paper-size
AlexNets and a VGG-16 one at a time, and the images per second of training a small CIFAR-sized
convnet and a ResNet-20 (what labs 02-05 train), after one warm-up epoch.

    python bench/onednn_allocator.py --rounds 2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"pool (default)": {}, "system allocator": {"TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1"}}

_WORK = r"""
import gc, json, time
import numpy as np
import keras
from keras import layers
from autograder.reference import architecture_blocks as blocks
from course import models


def status():
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmData", "VmRSS"):
            out[key] = int(value.split()[0]) // 1024
    return out


result = {}
for build in (blocks.build_alexnet, blocks.build_alexnet, blocks.build_alexnet,
              lambda: models.build_vgg(config=blocks.vgg_config("D"))):
    model = build()
    model(np.zeros((1, *model.input.shape[1:]), dtype="float32"), training=False)
    del model
    keras.backend.clear_session()
    gc.collect()
result["after_big_nets"] = status()
rng = np.random.default_rng(0)
images, labels = rng.random((2048, 32, 32, 3), dtype="float32"), rng.integers(0, 10, 2048)
small = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(32, 3, padding="same", activation="relu"),
                          layers.MaxPooling2D(), layers.Conv2D(64, 3, padding="same", activation="relu"),
                          layers.MaxPooling2D(), layers.Flatten(), layers.Dense(128, activation="relu"),
                          layers.Dense(10, activation="softmax")])
for name, model in (("convnet", small), ("resnet20", blocks.build_cifar_resnet())):
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(images[:256], labels[:256], batch_size=64, epochs=1, verbose=0)      # trace and warm up
    start = time.perf_counter()
    model.fit(images, labels, batch_size=64, epochs=1, verbose=0)
    result[name + "_images_per_s"] = round(len(images) / (time.perf_counter() - start), 1)
result["end"] = status()
print("RESULT " + json.dumps(result))
"""


def run_once(env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", _WORK], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env}, timeout=1800)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not line:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(line[-1][len("RESULT "):])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"load average at start: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    for r in range(args.rounds):
        for label, env in SETTINGS.items():
            got = run_once(env)
            print(f"round {r + 1} {label:17s} after the big nets VmData {got['after_big_nets']['VmData']:>5} MB "
                  f"VmRSS {got['after_big_nets']['VmRSS']:>5} MB; end VmData {got['end']['VmData']:>5} MB; "
                  f"convnet {got['convnet_images_per_s']:>7.1f} img/s, ResNet-20 {got['resnet20_images_per_s']:>6.1f} img/s; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
