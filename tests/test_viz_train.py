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


def test_fit_stops_at_the_time_budget_and_the_history_plots():
    keras = pytest.importorskip("keras")
    from course import train

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="compile the model first"):
        train.fit(model, np.zeros((8, 4)), np.zeros(8))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).standard_normal((64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    hist = train.fit(model, x, y, epochs=50, batch_size=16, validation_split=0.25,
                     time_budget=1e-9, verbose=0)
    assert hist.epochs == 1 and hist.stopped_by_budget
    assert set(hist.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert "1 epoch in" in hist.summary() and "val_accuracy" in hist.summary()
    axes = hist.plot()
    assert len(axes) == 2
