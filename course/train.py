"""Fit a Keras model within a time budget, one line per epoch, with a history that plots.

    from course import train
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=..., metrics=["accuracy"])
    hist = train.fit(model, x, y, epochs=5, batch_size=128, validation_data=(xv, yv),
                     time_budget=300,          # seconds
                     schedule="cosine")        # the learning rate decays to 0 by the last epoch
    hist.plot()                                # loss and accuracy, train and validation
    print(hist.summary())                      # "5 epochs in 41 s; val_accuracy 0.9870"

The time budget is planned, not just enforced: after the first epoch, `fit` measures how
long an epoch takes and, when all `epochs` would not fit in the budget, plans as many as do
(and again after the second, which has no tracing in it: a plan only grows then),
so a cosine schedule ends at the last epoch actually run instead of being cut off half-way.
If later epochs turn out slower, training still stops after the epoch that crosses the budget.

The model must already be compiled: choosing the loss and the optimizer is the lab's job.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable

__all__ = ["fit", "History", "TimeBudget"]

SCHEDULES = (None, "cosine")
_clock = time.perf_counter     # one place to read the time (tests replace it)


@dataclasses.dataclass
class History:
    """What a training run produced: per-epoch metrics, time, and what the budget did to it.

    Attributes:
        history: metric name -> list of per-epoch values (Keras's ``History.history``).
        epochs: epochs actually run.
        seconds: wall-clock time of the whole fit.
        stopped_by_budget: True when the time budget ended training before ``planned``.
        planned: the epochs asked for.
        fitted: the epochs the run was planned for after its first epoch (``planned``, or
            fewer when the time budget could not hold them all).
        budget: the time budget in seconds, or None.
        cut_short: True when the budget stopped training before the end of its fitted plan
            (the later epochs ran slower than the first).
    """

    history: dict[str, list[float]]
    epochs: int
    seconds: float
    stopped_by_budget: bool = False
    planned: int | None = None
    fitted: int | None = None
    budget: float | None = None
    cut_short: bool = False

    def last(self, metric: str) -> float:
        """The final epoch's value of ``metric`` (e.g. ``"val_accuracy"``)."""
        if metric not in self.history:
            raise KeyError(f"no metric {metric!r}; have {sorted(self.history)}")
        return float(self.history[metric][-1])

    def status(self) -> str:
        """``"trained"`` when training ran to the end of its plan, else what stopped it.

        A plan the budget shortened after the first epoch still ends as planned (its
        learning-rate schedule reached its end), so it counts as trained; the summary says
        how many epochs the budget allowed.
        """
        if not self.cut_short:
            return "trained"
        return f"stopped by the {self.budget:.0f} s budget after {self.epochs} of {self.fitted} epochs"

    def summary(self) -> str:
        """One line: epochs done (of planned), time, the last validation (else training)
        accuracy, and what the time budget did."""
        planned = self.planned or self.epochs
        done = (_epochs(self.epochs) if self.epochs == planned
                else f"{self.epochs} of {planned} planned epochs")
        text = f"{done} in {self.seconds:.0f} s"
        for metric in ("val_accuracy", "accuracy"):
            if metric in self.history:
                text += f"; {metric} {self.last(metric):.4f}"
                break
        if self.cut_short:
            text += (f" (stopped by the {self.budget:.0f} s time budget after {self.epochs} of "
                     f"the {self.fitted} epochs it was planned for)")
        elif self.stopped_by_budget:
            text += (f" (the {self.budget:.0f} s time budget fits {_epochs(self.fitted)} on this "
                     "machine: the plan was fitted to it after the first epoch)")
        return text

    def plot(self, ax=None, metrics=("loss", "accuracy")):
        """Draw the learning curves (see ``course.viz.plot_learning_curves``)."""
        from course import viz
        return viz.plot_learning_curves(self.history, ax=ax, metrics=metrics)


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' * (n != 1)}"


def epochs_within(budget: float, first_epoch_seconds: float, planned: int) -> int:
    """How many epochs to plan when the first took ``first_epoch_seconds``: all ``planned``
    if they fit in ``budget``, else as many as fit, and never fewer than the one already run.

    The first epoch also traces and compiles the model, so it overestimates the others: the
    plan errs on the side of finishing within the budget.
    """
    if first_epoch_seconds <= 0:
        return planned
    return max(1, min(planned, int(budget // first_epoch_seconds)))


def cosine(peak: float, step: int, total: int) -> float:
    """The cosine schedule: ``peak`` at step 0, decaying to 0 at step ``total``."""
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(step / max(total, 1), 1.0)))


def _plan_callback(epochs: int, budget: float | None, schedule: str | None, verbose: int,
                   print_fn: Callable[[str], None]):
    import keras

    class Plan(keras.callbacks.Callback):
        """Fits the plan to the budget after epoch 1, drives the schedule, logs each epoch."""

        def __init__(self):
            super().__init__()
            self.fitted = epochs
            self.stopped = self.cut = False
            self.start = self.epoch_start = 0.0
            self.epoch = 0
            self.steps = None
            self.peak = None

        def on_train_begin(self, logs=None):
            self.start = _clock()
            self.steps = (self.params or {}).get("steps")
            if schedule is not None:
                lr = self.model.optimizer.learning_rate
                self.peak = float(lr.numpy())

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.epoch_start = epoch, _clock()

        def on_train_batch_begin(self, batch, logs=None):
            if self.peak is None or self.steps is None:
                return
            self.model.optimizer.learning_rate = cosine(
                self.peak, self.epoch * self.steps + batch, self.fitted * self.steps)

        def on_epoch_end(self, epoch, logs=None):
            now = _clock()
            note = ""
            if epoch == 0 and budget is not None:
                self.fitted = epochs_within(budget, now - self.start, epochs)
                if self.fitted < epochs:
                    note = (f" | the {budget:.0f} s budget fits {self.fitted} of {epochs} epochs "
                            "on this machine: plan fitted to them")
            elif epoch == 1 and budget is not None and self.fitted < epochs:
                # the first epoch also traced the model; the second is the true pace
                pace = max(now - self.epoch_start, 1e-9)
                more = 2 + int(max(0.0, budget - (now - self.start)) // pace)
                if more > self.fitted:
                    self.fitted = min(epochs, more)
                    note = f" | epoch 1 included tracing: plan refitted to {self.fitted} epochs"
            if epoch + 1 >= self.fitted and self.fitted < epochs:
                self.stopped = True
                self.model.stop_training = True
            elif budget is not None and now - self.start >= budget and epoch + 1 < self.fitted:
                self.stopped = self.cut = True
                self.model.stop_training = True
                note = f" | stopped: the {budget:.0f} s budget is spent"
            if verbose == 2:
                # loss first, then the other metrics; training before validation
                order = lambda kv: (kv[0].startswith("val_"), kv[0].removeprefix("val_") != "loss", kv[0])
                metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted((logs or {}).items(), key=order)
                                    if k != "learning_rate")
                print_fn(f"epoch {epoch + 1}/{self.fitted} {now - self.epoch_start:.0f} s: "
                         f"{metrics}{note}")

    return Plan()


def _budget_callback(seconds: float):
    import keras

    class TimeBudget(keras.callbacks.Callback):
        """Stop training at the end of the first epoch that ends after ``seconds``."""

        def __init__(self):
            super().__init__()
            self.start = None
            self.stopped = False

        def on_train_begin(self, logs=None):
            self.start = _clock()

        def on_epoch_end(self, epoch, logs=None):
            if _clock() - self.start >= seconds:
                self.stopped = True
                self.model.stop_training = True

    return TimeBudget()


def TimeBudget(seconds: float):  # noqa: N802 - reads like the callback class it returns
    """A Keras callback that stops training after the epoch during which ``seconds`` pass
    (for ``model.fit`` itself; ``train.fit(time_budget=...)`` also plans the epochs)."""
    if seconds is None or seconds <= 0:
        raise ValueError(f"time budget must be a positive number of seconds; got {seconds!r}")
    return _budget_callback(seconds)


def _check_schedule(model: Any, schedule: str | None) -> None:
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    if schedule is None:
        return
    import keras
    lr = getattr(model.optimizer, "_learning_rate", None)
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        raise ValueError(f"schedule={schedule!r} sets the learning rate itself, from the "
                         "optimizer's starting value: compile with a number, e.g. "
                         "keras.optimizers.Adam(1e-3), not a LearningRateSchedule")


def fit(model: Any, x: Any, y: Any = None, *, epochs: int = 1, batch_size: int = 128,
        validation_data: Any = None, validation_split: float = 0.0,
        time_budget: float | None = None, schedule: str | None = None,
        verbose: int | str = 2, callbacks: list | None = None,
        print_fn: Callable[[str], None] = print, **fit_kwargs: Any) -> History:
    """Train a compiled Keras model; plan and stop within the time budget.

    Args:
        model: a compiled ``keras.Model``.
        x, y: training data, as for ``model.fit``.
        epochs: most epochs to run.
        batch_size: minibatch size.
        validation_data / validation_split: as for ``model.fit``.
        time_budget: seconds. After the first epoch the plan shrinks to the epochs that fit
            (measured on this machine); if the budget still runs out, training stops at the
            end of the epoch that crosses it (an epoch is never cut in the middle).
            ``None``: no limit.
        schedule: ``None`` (the optimizer's own learning rate) or ``"cosine"``: from the
            optimizer's starting learning rate down to 0 at the end of the plan, step by
            step; the plan is the one fitted to the budget, so the decay always completes.
        verbose: ``2``: one line per epoch (epoch i/n, seconds, metrics); ``0``: silent;
            ``1`` or ``"auto"``: Keras's progress bar.
        callbacks: more Keras callbacks.
        print_fn: where the per-epoch lines go.
        **fit_kwargs: passed on to ``model.fit`` (``shuffle``, ``class_weight`` ...).

    Returns:
        A ``History``: per-epoch metrics, epochs run of planned, seconds, what the budget did.
    """
    if not getattr(model, "compiled", False) and getattr(model, "optimizer", None) is None:
        raise ValueError("compile the model first (model.compile(optimizer=..., loss=..., "
                         "metrics=['accuracy'])): fit trains, it does not choose a loss")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1; got {epochs!r}")
    if time_budget is not None and not time_budget > 0:
        raise ValueError(f"time_budget must be a positive number of seconds; got {time_budget!r}")
    _check_schedule(model, schedule)
    plan = _plan_callback(epochs, time_budget, schedule, verbose, print_fn)
    start = _clock()
    keras_history = model.fit(x, y, epochs=epochs, batch_size=batch_size,
                              validation_data=validation_data,
                              validation_split=validation_split,
                              verbose=0 if verbose == 2 else verbose,
                              callbacks=[*(callbacks or []), plan], **fit_kwargs)
    seconds = _clock() - start
    hist = {k: [float(v) for v in vals] for k, vals in keras_history.history.items()}
    ran = len(next(iter(hist.values()))) if hist else 0
    return History(hist, ran, seconds, bool(plan.stopped and ran < epochs), planned=epochs,
                   fitted=plan.fitted, budget=time_budget, cut_short=plan.cut)
