"""The course library: what every lab imports.

Submodules load on first use, so ``import course`` is instant and never imports Keras
or TensorFlow (a lab's first cell does that, through ``course.env.setup()``)::

    import course
    course.env.setup()                      # seeds, quiet logs, device, scale
    (x, y), (xt, yt) = course.data.load("mnist")
"""
import importlib

__all__ = ["env", "data", "checks", "models", "train", "viz"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'course' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
