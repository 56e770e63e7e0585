"""course.viz and course.train: pictures are computed as arrays, then drawn; fit keeps time."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_tile_places_each_image_row_by_row():
    imgs = np.arange(5 * 2 * 3).reshape(5, 2, 3).astype(float)
    m = viz.tile(imgs, ncols=2, pad=1, fill=-1)
    assert m.shape == (3 * 3 - 1, 2 * 4 - 1)
    assert np.array_equal(m[0:2, 4:7], imgs[1]) and np.array_equal(m[6:8, 0:3], imgs[4])
    assert np.all(m[6:8, 4:7] == -1)          # the sixth tile is empty
    with pytest.raises(ValueError, match="got shape"):
        viz.tile(np.zeros((2, 2)))


def test_symmetric_scale_puts_zero_at_mid_grey():
    s = viz.symmetric_scale([-2.0, 0.0, 1.0])
    assert np.allclose(s, [0.0, 0.5, 0.75])
    assert np.allclose(viz.symmetric_scale(np.zeros(3)), 0.5)


def test_errors_are_the_mismatches():
    assert list(viz.errors([1, 2, 3, 4], np.array([[1], [0], [3], [0]]))) == [1, 3]


def test_every_plot_draws_on_a_given_axis():
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(2, 4)
    ax = axes.ravel()
    viz.plot_learning_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
                              "accuracy": [0.5, 0.8]}, ax=list(ax[:2]))
    assert len(ax[0].lines) == 2 and len(ax[1].lines) == 1
    viz.plot_filters(rng.standard_normal((5, 5, 1, 20)), ax=ax[2])
    viz.plot_filters(rng.standard_normal((5, 5, 3, 8)), ax=ax[3])
    viz.plot_feature_maps(rng.standard_normal((1, 12, 12, 6)), ax=ax[4])
    cm = np.array([[5, 1], [0, 4]])
    viz.plot_confusion_matrix(cm, ["cat", "dog"], ax=ax[5])
    assert len(ax[5].texts) == 3              # zero cells are left blank
    _, idx = viz.plot_error_gallery(rng.uniform(size=(6, 8, 8)), [0, 1, 2, 3, 4, 5],
                                    [0, 1, 9, 3, 9, 5], ax=ax[6])
    assert list(idx) == [2, 4] and ax[6].texts[0].get_text() == "9 (2)"
    viz.plot_top_activating(rng.uniform(size=(20, 4, 4, 3)), np.arange(18).reshape(2, 9),
                            ax=ax[7], units=[3, 7])
    assert [t.get_text() for t in ax[7].texts] == ["unit 3", "unit 7"]


def _tiny_model(keras, lr=1e-2):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=64):
    x = np.random.default_rng(0).standard_normal((n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype(int)


def test_fit_stops_at_the_time_budget_and_the_history_plots():
    keras = pytest.importorskip("keras")
    from course import train

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="compile the model first"):
        train.fit(model, np.zeros((8, 4)), np.zeros(8))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _data()
    hist = train.fit(model, x, y, epochs=50, batch_size=16, validation_split=0.25,
                     time_budget=1e-9, verbose=0)
    assert hist.epochs == 1 and hist.stopped_by_budget and hist.planned == 50 and hist.fitted == 1
    assert set(hist.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert "1 of 50 planned epochs in" in hist.summary() and "val_accuracy" in hist.summary()
    assert "budget fits 1 epoch on this machine" in hist.summary()
    assert hist.status() == "trained"        # the plan, fitted to the budget, ran to its end
    axes = hist.plot()
    assert len(axes) == 2


def test_epochs_within_the_budget_are_planned_from_the_first_epoch():
    from course.train import epochs_within

    assert epochs_within(420, 50, 10) == 8        # 8 epochs of 50 s fit in 420 s
    assert epochs_within(420, 20, 5) == 5         # all fit: the plan stands
    assert epochs_within(420, 500, 10) == 1       # the first epoch already spent it
    assert epochs_within(420, 0, 10) == 10


def test_cosine_schedule_runs_from_the_peak_to_zero():
    from course.train import cosine

    assert cosine(1e-3, 0, 100) == pytest.approx(1e-3)
    assert cosine(1e-3, 50, 100) == pytest.approx(5e-4)
    assert cosine(1e-3, 100, 100) == pytest.approx(0.0, abs=1e-12)
    assert cosine(1e-3, 130, 100) == pytest.approx(0.0, abs=1e-12)


class _FakeClock:
    """Seconds that pass only when an epoch ends: `per_epoch[i]` for epoch i."""

    def __init__(self, per_epoch):
        self.now, self.per_epoch = 0.0, list(per_epoch)

    def __call__(self):
        return self.now


def _advancing(keras, clock):
    class Advance(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            clock.now += clock.per_epoch[epoch]
    return Advance()


def _recording_lr(keras, seen):
    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
    return Record()


def _fit_on_clock(monkeypatch, per_epoch, epochs, budget, cosine=False):
    """train.fit of the tiny model, `epochs` in a `budget`, on a clock where epoch i takes
    per_epoch[i] seconds; with `cosine`, the cosine schedule and its printed lines. Returns
    (history, printed lines, the learning rate of every step with `cosine`)."""
    keras = pytest.importorskip("keras")
    from course import train

    clock = _FakeClock(per_epoch)
    monkeypatch.setattr(train, "_clock", clock)
    lines, lrs = [], []
    callbacks = [_advancing(keras, clock)] + ([_recording_lr(keras, lrs)] if cosine else [])
    options = {"schedule": "cosine", "print_fn": lines.append} if cosine else {"verbose": 0}
    x, y = _data()
    hist = train.fit(_tiny_model(keras), x, y, epochs=epochs, batch_size=16, time_budget=budget,
                     callbacks=callbacks, **options)
    return hist, lines, lrs


def test_the_plan_and_its_cosine_schedule_fit_the_budget(monkeypatch):
    from course.train import cosine

    hist, lines, lrs = _fit_on_clock(monkeypatch, [50] * 10, 10, 420, cosine=True)  # 50 s each
    # 420 s hold 8 epochs of 50 s: the plan shrinks to 8 after the first, and the cosine
    # reaches (almost) zero on the last step of epoch 8 instead of being cut off half-way
    assert (hist.epochs, hist.fitted, hist.planned) == (8, 8, 10)
    assert hist.stopped_by_budget and not hist.cut_short and hist.status() == "trained"
    assert len(lrs) == 8 * 4 and lrs[0] == pytest.approx(1e-2)
    assert lrs[-1] == pytest.approx(cosine(1e-2, 31, 32), rel=1e-5) and lrs[-1] < 1e-4
    assert len(lines) == 8 and lines[0].startswith("epoch 1/8 ") and "fits 8 of 10 epochs" in lines[0]
    assert "8 of 10 planned epochs" in hist.summary()


def test_the_plan_grows_after_a_first_epoch_slowed_by_tracing(monkeypatch):
    from course.train import cosine

    # tracing makes epoch 1 three times slower
    hist, lines, lrs = _fit_on_clock(monkeypatch, [60] + [20] * 19, 20, 300, cosine=True)
    # epoch 1 alone plans 300 // 60 = 5; after epoch 2 (80 s used, 20 s each) 2 + 220 // 20 = 13,
    # which end at 60 + 12 * 20 = 300 s
    assert (hist.epochs, hist.fitted, hist.planned) == (13, 13, 20)
    assert hist.stopped_by_budget and not hist.cut_short
    assert "refitted to 13 epochs" in lines[1] and lines[-1].startswith("epoch 13/13 ")
    assert lrs[-1] == pytest.approx(cosine(1e-2, 13 * 4 - 1, 13 * 4), rel=1e-5)


def test_a_second_epoch_never_plans_past_the_budget(monkeypatch):
    # 2 planned; after epoch 2, 50 s are left
    hist, _, _ = _fit_on_clock(monkeypatch, [150, 100, 100], 10, 300)
    assert (hist.epochs, hist.fitted) == (2, 2)


def test_a_budget_spent_before_the_plan_ends_says_so(monkeypatch):
    # later epochs slower than the first
    hist, _, _ = _fit_on_clock(monkeypatch, [100] + [200] * 9, 5, 420)
    # planned 4 after the first epoch (100 s); 100 + 200 + 200 = 500 s > 420 after epoch 3
    assert (hist.epochs, hist.fitted) == (3, 4) and hist.cut_short
    assert hist.status() == "stopped by the 420 s budget after 3 of 4 epochs"
    assert "stopped by the 420 s time budget after 3 of the 4 epochs" in hist.summary()


def test_fit_without_budget_runs_every_epoch_and_rejects_a_foreign_schedule():
    keras = pytest.importorskip("keras")
    from course import train

    x, y = _data()
    hist = train.fit(_tiny_model(keras), x, y, epochs=2, batch_size=32, verbose=0)
    assert (hist.epochs, hist.fitted, hist.status()) == (2, 2, "trained")
    assert hist.summary().startswith("2 epochs in")
    model = _tiny_model(keras)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, 10)),
                  "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="compile with a number"):
        train.fit(model, x, y, schedule="cosine")
    with pytest.raises(ValueError, match="schedule must be one of"):
        train.fit(_tiny_model(keras), x, y, schedule="linear")
