"""Keras 3 functional builders of the deep architectures, one per alias, all multi-horizon direct.

Every builder takes the :class:`~salesutils.models.windows.Layout` of the inputs (``past``:
lookback x channels, ``future``: h x channels of what is known ahead, ``static_cat``: codes for
embeddings, ``static_num``) and returns an uncompiled model whose output is ``(batch, h, 3)``: the
10%, 50% and 90% quantiles of the scaled target, ordered by construction
(:class:`OrderedQuantiles`). The networks are small on purpose: they must train on 2 CPU cores
inside the default report; ``width`` scales them up on a GPU.

- ``mlp``: everything flattened into one vector, a Dense stack (the article's model).
- ``tcn``: dilated causal 1-D convolutions (residual blocks, dilation 1, 2, 4, ... up to the
  lookback) over the past; the last step's state, the flattened future and the static context
  feed a Dense head.
- ``lstm`` / ``gru``: a sequence-to-sequence encoder-decoder: the encoder reads the past, its
  final state starts a decoder that reads the future-known inputs step by step, and each decoder
  step emits its three quantiles.
- ``transformer``: one token per period (lookback and horizon), projected to ``width`` with a
  learned position embedding and the static context added; Transformer encoder blocks attend over
  all tokens (the horizon tokens carry only future-known inputs, so nothing leaks), and the
  horizon tokens emit the quantiles.
"""

from __future__ import annotations

import os

import numpy as np

from .windows import Layout

__all__ = ["ARCHITECTURES", "build", "custom_objects", "QUANTILES"]

QUANTILES = (0.1, 0.5, 0.9)


def keras_module():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


_CUSTOM: dict | None = None


def custom_objects() -> dict:
    """The project's layers and loss, registered once for saving and loading ``.keras`` files."""
    global _CUSTOM
    if _CUSTOM is not None:
        return _CUSTOM
    keras = keras_module()

    @keras.saving.register_keras_serializable(package="salesutils")
    class OrderedQuantiles(keras.layers.Layer):
        """(batch, h, 3) raw outputs -> (batch, h, 3) quantiles q10 <= q50 <= q90: the median
        plus/minus softplus offsets, so that the interval can never cross."""

        def call(self, x):
            ops = keras.ops
            mid = x[..., 1]
            lo = mid - ops.softplus(x[..., 0])
            hi = mid + ops.softplus(x[..., 2])
            return ops.stack([lo, mid, hi], axis=-1)

    @keras.saving.register_keras_serializable(package="salesutils")
    def pinball_loss(y_true, y_pred):
        """Mean pinball (quantile) loss over the 10/50/90% quantiles and all h steps."""
        ops = keras.ops
        q = ops.convert_to_tensor(np.array(QUANTILES, dtype="float32"))
        err = ops.expand_dims(ops.cast(y_true, y_pred.dtype), -1) - y_pred
        return ops.mean(ops.maximum(q * err, (q - 1.0) * err))

    @keras.saving.register_keras_serializable(package="salesutils")
    class PositionEmbedding(keras.layers.Layer):
        """Adds a learned vector per position to a (batch, steps, width) sequence."""

        def build(self, input_shape):
            self.table = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros",
                                         name="table")

        def call(self, x):
            return x + keras.ops.cast(self.table, x.dtype)

    _CUSTOM = {"OrderedQuantiles": OrderedQuantiles, "pinball_loss": pinball_loss,
               "PositionEmbedding": PositionEmbedding}
    return _CUSTOM


def _inputs(layout: Layout):
    keras = keras_module()
    inp = {"past": keras.Input((layout.lookback, len(layout.past)), name="past"),
           "future": keras.Input((layout.h, len(layout.future)), name="future"),
           "static_num": keras.Input((len(layout.static_num),), name="static_num")}
    if layout.static_cat:
        inp["static_cat"] = keras.Input((len(layout.static_cat),), dtype="int32",
                                        name="static_cat")
    return inp


def _static_context(inp: dict, layout: Layout):
    """Embeddings of the static codes (dimension ~ half the levels, at most 16) and the numbers."""
    keras = keras_module()
    parts = [inp["static_num"]]
    for j, (name, card) in enumerate(layout.static_cat):
        dim = int(min(16, (card + 1) // 2 + 1))
        code = inp["static_cat"][:, j]
        parts.append(keras.layers.Embedding(card, dim, name=f"embed_{j}")(code))
    return parts[0] if len(parts) == 1 else keras.layers.Concatenate()(parts)


def _head(x, h: int, name: str):
    """(batch, features) -> (batch, h, 3) ordered quantiles (float32 under mixed precision)."""
    keras = keras_module()
    x = keras.layers.Dense(h * len(QUANTILES), dtype="float32")(x)
    x = keras.layers.Reshape((h, len(QUANTILES)), dtype="float32")(x)
    return custom_objects()["OrderedQuantiles"](name="quantiles", dtype="float32")(x)


def _seq_head(x):
    """(batch, h, features) -> (batch, h, 3) ordered quantiles."""
    keras = keras_module()
    x = keras.layers.Dense(len(QUANTILES), dtype="float32")(x)
    return custom_objects()["OrderedQuantiles"](name="quantiles", dtype="float32")(x)


def build_mlp(layout: Layout, hidden=(128, 64), dropout: float = 0.1, **_):
    keras = keras_module()
    inp = _inputs(layout)
    x = keras.layers.Concatenate()([keras.layers.Flatten()(inp["past"]),
                                    keras.layers.Flatten()(inp["future"]),
                                    _static_context(inp, layout)])
    for units in hidden:
        x = keras.layers.Dense(units, activation="relu")(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inp, _head(x, layout.h, "mlp"), name="mlp")


def build_tcn(layout: Layout, width: int = 32, kernel_size: int = 3, dropout: float = 0.1,
              hidden=(64,), **_):
    keras = keras_module()
    inp = _inputs(layout)
    x = keras.layers.Conv1D(width, 1)(inp["past"])
    rate = 1
    while rate < layout.lookback:
        y = keras.layers.Conv1D(width, kernel_size, padding="causal", dilation_rate=rate,
                                activation="relu")(x)
        if dropout:
            y = keras.layers.SpatialDropout1D(dropout)(y)
        x = keras.layers.Add()([x, y])
        rate *= 2
    last = x[:, -1, :]
    z = keras.layers.Concatenate()([last, keras.layers.Flatten()(inp["future"]),
                                    _static_context(inp, layout)])
    for units in hidden:
        z = keras.layers.Dense(units, activation="relu")(z)
    return keras.Model(inp, _head(z, layout.h, "tcn"), name="tcn")


def _build_seq2seq(layout: Layout, cell: str, width: int = 32, dropout: float = 0.0, **_):
    keras = keras_module()
    inp = _inputs(layout)
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    static = _static_context(inp, layout)
    enc_out = rnn(width, return_state=True, dropout=dropout, name="encoder")(inp["past"])
    states = enc_out[1:]
    rep = keras.layers.RepeatVector(layout.h)(static)
    dec_in = keras.layers.Concatenate()([inp["future"], rep])
    dec = rnn(width, return_sequences=True, name="decoder")(dec_in, initial_state=list(states))
    dec = keras.layers.Dense(width, activation="relu")(dec)
    return keras.Model(inp, _seq_head(dec), name=cell)


def build_lstm(layout: Layout, **params):
    return _build_seq2seq(layout, "lstm", **params)


def build_gru(layout: Layout, **params):
    return _build_seq2seq(layout, "gru", **params)


def build_transformer(layout: Layout, width: int = 32, heads: int = 4, blocks: int = 2,
                      dropout: float = 0.1, **_):
    keras = keras_module()
    inp = _inputs(layout)
    L, h = layout.lookback, layout.h
    past = keras.layers.Dense(width, name="past_tokens")(inp["past"])
    fut = keras.layers.Dense(width, name="future_tokens")(inp["future"])
    x = keras.layers.Concatenate(axis=1)([past, fut])  # (batch, L + h, width)
    x = custom_objects()["PositionEmbedding"](name="position")(x)
    context = keras.layers.Dense(width, name="static_context")(_static_context(inp, layout))
    x = x + keras.layers.Reshape((1, width))(context)
    for b in range(blocks):
        a = keras.layers.LayerNormalization()(x)
        a = keras.layers.MultiHeadAttention(heads, max(1, width // heads), dropout=dropout,
                                            name=f"attention_{b}")(a, a)
        x = x + a
        f = keras.layers.LayerNormalization()(x)
        f = keras.layers.Dense(2 * width, activation="relu")(f)
        f = keras.layers.Dense(width)(f)
        x = x + f
    out = x[:, -h:, :]
    out = keras.layers.LayerNormalization()(out)
    return keras.Model(inp, _seq_head(out), name="transformer")


#: alias -> builder(layout, **params)
ARCHITECTURES = {"mlp": build_mlp, "tcn": build_tcn, "lstm": build_lstm, "gru": build_gru,
                 "transformer": build_transformer}


def build(arch: str, layout: Layout, learning_rate: float = 1e-3, **params):
    """The compiled network of ``arch`` (Adam, pinball loss, gradient clipping)."""
    keras = keras_module()
    model = ARCHITECTURES[arch](layout, **params)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
                  loss=custom_objects()["pinball_loss"])
    return model
