"""How big is a network? Units, weights, connections and receptive fields, layer by layer.

`layer_table(model)` computes one row per layer of any built Keras model (Sequential
or functional, ours or a student's) and returns the data; `LayerTable.to_text()`,
`LayerTable.print(print_fn=...)` and `LayerTable.to_html()` render it.

What is counted (Grosse, CSC321 lecture 12, "size of a conv net"):
- units: the numbers a layer outputs for one example (the product of its output
  shape); they must be stored for backprop.
- weights: the layer's parameters. By default exactly what Keras counts, so the total
  equals `model.count_params()`. `include_bias=False` leaves out bias vectors (Grosse's
  LeNet table); `moving_statistics=False` leaves out the batch-norm moving mean and
  variance, which PyTorch keeps as buffers: that is the number torchvision and the
  papers publish.
- connections: multiply-adds for one example. A convolution has
  `output units x kernel area x input channels / groups`, a dense layer
  `output units x inputs`, a pooling layer one per input in each window (Grosse counts
  these), batch norm one per unit. With `include_bias=True` a bias counts as one more
  connection per output unit (from a constant input, as LeCun 1989 counts);
  `include_bias=False` gives plain multiply-adds (a pool with a bias, as LeCun's
  subsampling, counts it too). Reshaping, activations, dropout,
  padding, additions and concatenations have none. A layer type this module does not
  know gets `None` (unknown), unless it defines
  `count_connections(input_shapes, output_shape, include_bias)` (and `kernel_size`
  and `strides` when it is a window over its input, for the receptive field).
- receptive field and stride: how many input pixels along each spatial axis one unit
  sees, and how many input pixels apart neighbouring units are, composed layer by
  layer (`rf_out = rf_in + (k - 1) * dilation * stride_in`, `stride_out = stride_in * s`).
  `"all"` means the unit sees the whole input (after a dense layer or a global pool).
  An int when all axes agree, else a tuple per axis; `None` when unknown.
"""

import dataclasses
import html
import math

import keras

ALL = "all"

_POINTWISE = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Softmax,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.Rescaling,
    keras.layers.Identity,
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Concatenate,
    keras.layers.ZeroPadding1D,
    keras.layers.ZeroPadding2D,
    keras.layers.ZeroPadding3D,
    keras.layers.RandomFlip,
    keras.layers.RandomRotation,
    keras.layers.RandomTranslation,
    keras.layers.RandomZoom,
    keras.layers.RandomContrast,
    keras.layers.RandomBrightness,
)
_NORMALIZATION = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.Normalization,
)
_POOLING = (
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D,
)
_GLOBAL_POOLING = (
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
)
_RESHAPING = (keras.layers.Flatten, keras.layers.Reshape, keras.layers.Permute)


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One layer of a `LayerTable`; see the module docstring for what each field counts."""

    name: str
    layer_type: str
    output_shape: tuple | None
    units: int | None
    weights: int
    connections: int | None
    receptive_field: int | tuple | str | None
    stride: int | tuple | None


@dataclasses.dataclass(frozen=True)
class LayerTable:
    """The rows of `layer_table`, their totals and renderings (compute first, render second)."""

    model_name: str
    rows: tuple
    include_bias: bool
    moving_statistics: bool

    def __getitem__(self, name):
        """The row of the layer called `name`."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no layer named {name!r}; layers: {[r.name for r in self.rows]}")

    @property
    def total_weights(self):
        """Sum of the weights column (equals `model.count_params()` with the defaults)."""
        return sum(r.weights for r in self.rows)

    @property
    def total_connections(self):
        """Sum of the connections column, or None when some layer's count is unknown."""
        values = [r.connections for r in self.rows]
        return None if any(v is None for v in values) else sum(values)

    @property
    def total_units(self):
        """Units of the layers that compute something (connections > 0).

        Reshaping, activation and merge layers repeat units already counted, so they
        are left out; a layer with unknown connections is counted.
        """
        return sum(r.units or 0 for r in self.rows if r.connections is None or r.connections > 0)

    def to_dataframe(self):
        """The rows as a pandas DataFrame, one column per `LayerRow` field."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(r) for r in self.rows])

    def _cells(self):
        header = ["Layer (type)", "Output shape", "Units", "Weights", "Connections", "RF", "Stride"]
        body = [
            [
                f"{r.name} ({r.layer_type})",
                _fmt_shape(r.output_shape),
                _fmt_int(r.units),
                _fmt_int(r.weights),
                _fmt_int(r.connections),
                _fmt_axes(r.receptive_field),
                "-" if r.receptive_field == ALL else _fmt_axes(r.stride),
            ]
            for r in self.rows
        ]
        total = ["Total", "", _fmt_int(self.total_units), _fmt_int(self.total_weights),
                 _fmt_int(self.total_connections), "", ""]
        return header, body, total

    def _caption(self):
        bias = "with biases" if self.include_bias else "without biases"
        stats = "with" if self.moving_statistics else "without"
        return (f"{self.model_name}: weights {bias}, {stats} batch-norm moving statistics; "
                "connections = multiply-adds per example; '?' = unknown")

    def to_text(self):
        """A fixed-width text table with a totals line."""
        header, body, total = self._cells()
        rows = [header, *body, total]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

        def line(row):
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

        rule = "-" * len(line(header))
        return "\n".join([self._caption(), rule, line(header), rule, *map(line, body), rule, line(total)])

    def print(self, print_fn=print):
        """Render with `to_text` and pass each line to `print_fn` (as `model.summary` does)."""
        for text_line in self.to_text().splitlines():
            print_fn(text_line)

    def to_html(self):
        """An HTML table for notebooks (also what Jupyter shows for a `LayerTable`)."""
        header, body, total = self._cells()

        def tr(cells, tag="td"):
            return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

        return (
            f"<table><caption>{html.escape(self._caption())}</caption>"
            f"<thead>{tr(header, 'th')}</thead><tbody>"
            + "".join(tr(r) for r in body)
            + f"</tbody><tfoot>{tr(total, 'th')}</tfoot></table>"
        )

    def _repr_html_(self):
        return self.to_html()

    def __str__(self):
        return self.to_text()


def _fmt_int(value):
    return "?" if value is None else f"{value:,}"


def _fmt_shape(shape):
    return "?" if shape is None else "(" + ", ".join(str(d) for d in shape) + ")"


def _fmt_axes(value):
    if value is None:
        return "?"
    if isinstance(value, tuple):
        return "x".join(_fmt_num(v) for v in value)
    return value if isinstance(value, str) else _fmt_num(value)


def _fmt_num(v):
    return str(int(v)) if float(v).is_integer() else f"{v:.3g}"


def _prod(values):
    return int(math.prod(int(v) for v in values))


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _squash(axes):
    """An int when every spatial axis agrees, else the tuple."""
    if axes is None or isinstance(axes, str):
        return axes
    axes = tuple(int(a) if float(a).is_integer() else a for a in axes)
    return axes[0] if len(set(axes)) == 1 else axes


# Receptive-field state of a tensor: None (unknown), ALL (whole input), or a pair of
# tuples (rf per spatial axis, stride per spatial axis).


def _merge_state(states):
    if any(s is None for s in states):
        return None
    if any(s == ALL for s in states):
        return ALL
    rf = tuple(max(axis) for axis in zip(*(s[0] for s in states)))
    stride = tuple(max(axis) for axis in zip(*(s[1] for s in states)))
    return rf, stride


def _window_state(state, kernel, strides, dilation=None, transpose=False):
    if state is None or state == ALL:
        return state
    rf, jump = state
    if len(kernel) != len(rf):
        return None
    dilation = dilation or (1,) * len(kernel)
    if transpose:
        new_jump = tuple(j / s for j, s in zip(jump, strides))
        new_rf = tuple(r + (k - 1) * d * nj for r, k, d, nj in zip(rf, kernel, dilation, new_jump))
        return new_rf, new_jump
    new_rf = tuple(r + (k - 1) * d * j for r, k, d, j in zip(rf, kernel, dilation, jump))
    return new_rf, tuple(j * s for j, s in zip(jump, strides))


def _bias_params(layer):
    bias = getattr(layer, "bias", None)
    if bias is not None and hasattr(bias, "shape"):
        return _prod(bias.shape)
    return 0


def _moving_statistics_params(layer):
    if isinstance(layer, keras.layers.BatchNormalization):
        return _prod(layer.moving_mean.shape) + _prod(layer.moving_variance.shape)
    return 0


def _weights(layer, include_bias, moving_statistics):
    if isinstance(layer, keras.Model):
        return sum(_weights(sub, include_bias, moving_statistics) for sub in layer.layers)
    n = layer.count_params() if layer.built else 0
    if not include_bias:
        n -= _bias_params(layer)
    if not moving_statistics:
        n -= _moving_statistics_params(layer)
    return n


def _conv_connections(layer, in_shape, out_shape):
    """Multiply-adds of a convolution, bias excluded."""
    kernel = _prod(layer.kernel_size)
    out_units = _prod(out_shape[1:])
    if isinstance(layer, (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        out_spatial = _prod(out_shape[1:-1])
        mid = in_shape[-1] * layer.depth_multiplier
        return out_spatial * mid * kernel + out_units * mid
    if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        return out_units * kernel
    if isinstance(layer, (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                          keras.layers.Conv3DTranspose)):
        return _prod(in_shape[1:]) * kernel * out_shape[-1]
    return out_units * kernel * in_shape[-1] // getattr(layer, "groups", 1)


def _describe(layer, in_shapes, out_shape, in_state, include_bias):
    """Return (connections, output receptive-field state) for one call of `layer`."""
    units = _prod(out_shape[1:])
    bias = units if include_bias and _bias_params(layer) else 0
    if hasattr(layer, "count_connections"):
        state = in_state
        if hasattr(layer, "kernel_size"):
            state = _window_state(in_state, layer.kernel_size, layer.strides)
        return layer.count_connections(in_shapes, out_shape, include_bias), state
    if isinstance(layer, keras.layers.InputLayer):
        return 0, in_state
    if isinstance(layer, keras.layers.Dense):
        state = in_state if len(out_shape) > 2 else ALL
        return units * in_shapes[0][-1] + bias, state
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                          keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                          keras.layers.Conv3DTranspose, keras.layers.DepthwiseConv1D,
                          keras.layers.DepthwiseConv2D, keras.layers.SeparableConv1D,
                          keras.layers.SeparableConv2D)):
        transpose = "Transpose" in type(layer).__name__
        state = _window_state(in_state, layer.kernel_size, layer.strides,
                              getattr(layer, "dilation_rate", None), transpose)
        return _conv_connections(layer, in_shapes[0], out_shape) + bias, state
    if isinstance(layer, _POOLING):
        return units * _prod(layer.pool_size) + bias, _window_state(in_state, layer.pool_size, layer.strides)
    if isinstance(layer, _GLOBAL_POOLING):
        return _prod(in_shapes[0][1:]), ALL
    if isinstance(layer, _NORMALIZATION):
        return units, in_state
    if isinstance(layer, _POINTWISE):
        return 0, in_state
    if isinstance(layer, _RESHAPING):
        return 0, in_state
    return None, None


def _nested(layer, in_state, include_bias, moving_statistics):
    """Connections and receptive-field state of a model used as a layer."""
    inner = layer_table(layer, include_bias=include_bias, moving_statistics=moving_statistics)
    last = inner.rows[-1] if inner.rows else None
    if last is None or in_state is None or last.receptive_field is None:
        return inner.total_connections, None
    if in_state == ALL or last.receptive_field == ALL:
        return inner.total_connections, ALL
    rf_in, jump_in = in_state
    n = len(rf_in)
    rf_sub = last.receptive_field if isinstance(last.receptive_field, tuple) else (last.receptive_field,) * n
    jump_sub = last.stride if isinstance(last.stride, tuple) else (last.stride,) * n
    rf = tuple(r + (s - 1) * j for r, s, j in zip(rf_in, rf_sub, jump_in))
    return inner.total_connections, (rf, tuple(j * s for j, s in zip(jump_in, jump_sub)))


def _shape(tensor):
    return tuple(tensor.shape)


def layer_table(model, *, include_bias=True, moving_statistics=True):
    """Count units, weights, connections and receptive fields of every layer of `model`.

    Works on any built Keras model (Sequential or functional, with layers of any
    type; see the module docstring for the conventions and for unknown layers).
    Grosse's LeNet table is `layer_table(build_lenet5(), include_bias=False)`.

    Reference:
        R. Grosse, CSC321 lecture 12, "size of a conv net"; Y. LeCun et al. (1989).

    Args:
        model: a built `keras.Model` (call it or give it an `Input` first).
        include_bias: count bias vectors as weights, and a bias as one connection
            per output unit (True, Keras' count) or leave biases out (Grosse's table).
        moving_statistics: count batch-norm moving mean and variance as weights
            (True, as `model.count_params()` does) or not (torchvision's count).

    Returns:
        A `LayerTable`: `rows` (one `LayerRow` per layer, in topological order),
        `table["layer_name"]`, `total_units`, `total_weights`, `total_connections`,
        `to_dataframe()`, `to_text()`, `print(print_fn)`, `to_html()`.

    Raises:
        ValueError: when `model` is not a Keras model or has not been built.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"layer_table needs a keras.Model; got {type(model).__name__}")
    try:
        inputs = _as_list(model.inputs)
    except (AttributeError, ValueError):
        inputs = None
    if not inputs or any(t is None for t in inputs):
        raise ValueError(
            f"layer_table needs a built model with known inputs (start it with keras.Input "
            f"or call it on data first); got model {model.name!r} with no defined inputs"
        )
    states = {id(t): (tuple(1 for _ in t.shape[1:-1]), tuple(1 for _ in t.shape[1:-1])) for t in inputs}
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            in_tensors = _as_list(layer.input)
            out_tensors = _as_list(layer.output)
        except (AttributeError, ValueError):  # a shared layer called more than once
            rows.append(LayerRow(layer.name, type(layer).__name__, None, None,
                                 _weights(layer, include_bias, moving_statistics), None, None, None))
            continue
        in_state = _merge_state([states.get(id(t)) for t in in_tensors])
        in_shapes = [_shape(t) for t in in_tensors]
        out_shape = _shape(out_tensors[0])
        if isinstance(layer, keras.Model):
            connections, state = _nested(layer, in_state, include_bias, moving_statistics)
        else:
            connections, state = _describe(layer, in_shapes, out_shape, in_state, include_bias)
        for t in out_tensors:
            states[id(t)] = state
        if state is None or state == ALL:
            rf, stride = state, None
        else:
            rf, stride = _squash(state[0]), _squash(state[1])
        units = _prod(out_shape[1:]) if None not in out_shape[1:] else None
        rows.append(LayerRow(
            name=layer.name,
            layer_type=type(layer).__name__,
            output_shape=out_shape[1:],
            units=units,
            weights=_weights(layer, include_bias, moving_statistics),
            connections=connections,
            receptive_field=rf,
            stride=stride,
        ))
    return LayerTable(model.name, tuple(rows), include_bias, moving_statistics)


def count_params(model, *, moving_statistics=False, include_bias=True):
    """Parameters of `model` as papers and torchvision count them.

    With the defaults: `model.count_params()` minus the batch-norm moving means and
    variances (PyTorch buffers, not parameters). For a freshly built model this equals
    the number of trainable parameters.

    Args:
        model: a built `keras.Model`.
        moving_statistics: also count the batch-norm moving statistics (then the result
            is `model.count_params()`).
        include_bias: count bias vectors.

    Returns:
        An int.
    """
    return sum(_weights(layer, include_bias, moving_statistics) for layer in model.layers)
