"""Fit a Keras model within a time budget, with a progress bar and a history that plots.

    from course import train
    hist = train.fit(model, x, y, epochs=3, batch_size=128, validation_data=(xv, yv),
                     time_budget=300)          # seconds; stops after the epoch that crosses it
    hist.plot()                                # loss and accuracy, train and validation
    print(hist.summary())                      # "3 epochs in 41 s; val_accuracy 0.987"

The model must already be compiled: choosing the loss and the optimizer is the lab's job.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

__all__ = ["fit", "History", "TimeBudget"]


@dataclasses.dataclass
class History:
    """What a training run produced: per-epoch metrics, time, and whether the budget cut it.

    Attributes:
        history: metric name -> list of per-epoch values (Keras's ``History.history``).
        epochs: epochs actually run.
        seconds: wall-clock time of the whole fit.
        stopped_by_budget: True when the time budget ended training before ``epochs``.
    """

    history: dict[str, list[float]]
    epochs: int
    seconds: float
    stopped_by_budget: bool = False

    def last(self, metric: str) -> float:
        """The final epoch's value of ``metric`` (e.g. ``"val_accuracy"``)."""
        if metric not in self.history:
            raise KeyError(f"no metric {metric!r}; have {sorted(self.history)}")
        return float(self.history[metric][-1])

    def summary(self) -> str:
        """One line: epochs, time, and the last validation (else training) accuracy."""
        text = f"{self.epochs} epoch{'s' * (self.epochs != 1)} in {self.seconds:.0f} s"
        for metric in ("val_accuracy", "accuracy"):
            if metric in self.history:
                text += f"; {metric} {self.last(metric):.4f}"
                break
        if self.stopped_by_budget:
            text += " (stopped by the time budget)"
        return text

    def plot(self, ax=None, metrics=("loss", "accuracy")):
        """Draw the learning curves (see ``course.viz.plot_learning_curves``)."""
        from course import viz
        return viz.plot_learning_curves(self.history, ax=ax, metrics=metrics)


def _budget_callback(seconds: float):
    import keras

    class TimeBudget(keras.callbacks.Callback):
        """Stop training at the end of the first epoch that ends after ``seconds``."""

        def __init__(self):
            super().__init__()
            self.start = None
            self.stopped = False

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() - self.start >= seconds:
                self.stopped = True
                self.model.stop_training = True

    return TimeBudget()


def TimeBudget(seconds: float):  # noqa: N802 - reads like the callback class it returns
    """A Keras callback that stops training after the epoch during which ``seconds`` pass."""
    if seconds is None or seconds <= 0:
        raise ValueError(f"time budget must be a positive number of seconds; got {seconds!r}")
    return _budget_callback(seconds)


def fit(model: Any, x: Any, y: Any = None, *, epochs: int = 1, batch_size: int = 128,
        validation_data: Any = None, validation_split: float = 0.0,
        time_budget: float | None = None, verbose: int | str = "auto",
        callbacks: list | None = None, **fit_kwargs: Any) -> History:
    """Train a compiled Keras model; stop early when the time budget is spent.

    Args:
        model: a compiled ``keras.Model``.
        x, y: training data, as for ``model.fit``.
        epochs: most epochs to run.
        batch_size: minibatch size.
        validation_data / validation_split: as for ``model.fit``.
        time_budget: seconds; training stops at the end of the epoch that crosses it
            (an epoch is never cut in the middle). ``None``: no limit.
        verbose: Keras's progress bar (``"auto"``: a bar per epoch; ``2``: a line per epoch;
            ``0``: silent).
        callbacks: more Keras callbacks.
        **fit_kwargs: passed on to ``model.fit`` (``shuffle``, ``class_weight`` ...).

    Returns:
        A ``History`` (per-epoch metrics, epochs run, seconds, whether the budget stopped it).
    """
    if not getattr(model, "compiled", False) and getattr(model, "optimizer", None) is None:
        raise ValueError("compile the model first (model.compile(optimizer=..., loss=..., "
                         "metrics=['accuracy'])): fit trains, it does not choose a loss")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1; got {epochs!r}")
    cbs = list(callbacks or [])
    budget = TimeBudget(time_budget) if time_budget is not None else None
    if budget is not None:
        cbs.append(budget)
    start = time.perf_counter()
    keras_history = model.fit(x, y, epochs=epochs, batch_size=batch_size,
                              validation_data=validation_data,
                              validation_split=validation_split, verbose=verbose,
                              callbacks=cbs, **fit_kwargs)
    seconds = time.perf_counter() - start
    hist = {k: [float(v) for v in vals] for k, vals in keras_history.history.items()}
    ran = len(next(iter(hist.values()))) if hist else 0
    return History(hist, ran, seconds, bool(budget is not None and budget.stopped and ran < epochs))
