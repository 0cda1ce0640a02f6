"""Bad input to the public entry points is refused, clearly, before anything changes.

Every case runs on every backend (``make_mlp``) and checks three things: the
exception type (``ValueError`` for a bad value, ``TypeError`` for a bad type),
a message naming the argument and what was expected, and that neither the
model's parameters nor the caller's arrays were modified.  Data cases run with
NumPy/list inputs and, where the input is numeric, with arrays of the model's
own backend.  A few positive cases at the end make sure the checks are not
stricter than the documented contract.
"""

from __future__ import annotations

import copy

import array_api_compat
import numpy as np
import pytest
import reference
from conftest import host, parameters

import mlp_xp

N = 6
_gen = np.random.default_rng(20261123)
X = _gen.normal(size=(N, 3))
Y_REG = _gen.normal(size=(N, 2))
Y_SIGN = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
Y_PROB = np.array([[0.0], [1.0], [1.0], [0.0], [0.25], [1.0]])
LABELS = np.array([0, 2, 1, 1, 0, 2])
ONE_HOT = np.eye(3)[LABELS]

# A model configuration per kind of target: MLP kwargs, its loss, valid y.
CONFIGS = {
    "mse": ({"layer_sizes": [3, 4, 2]}, "mse", Y_REG),
    "sign": ({"layer_sizes": [3, 4, 1], "activation": "tanh"}, "logistic", Y_SIGN),
    "bce": ({"layer_sizes": [3, 4, 1], "output_activation": "sigmoid"}, "binary_cross_entropy", Y_PROB),
    "ce": ({"layer_sizes": [3, 4, 3], "output_activation": "softmax"}, "cross_entropy", LABELS),
    "poisson": ({"layer_sizes": [3, 4, 2], "output_activation": "exp"}, "poisson", np.abs(Y_REG)),
}


def expects(*parts: str) -> str:
    """A regex that matches a message containing every part (regexes), in any order."""
    return "(?s)" + "".join(f"(?=.*{part})" for part in parts)


def replaced(a, index, value, dtype=np.float64) -> np.ndarray:
    """A copy of ``a`` with ``a[index] = value``."""
    b = np.array(a, dtype=dtype)
    b[index] = value
    return b


def snapshot(a):
    if array_api_compat.is_array_api_obj(a):
        return np.array(host(a), copy=True)
    return copy.deepcopy(a)


def assert_same(a, before) -> None:
    """The caller's input ``a`` still equals its snapshot ``before``."""
    if array_api_compat.is_array_api_obj(a):
        np.testing.assert_array_equal(host(a), before, strict=True)
    else:
        assert a == before


def assert_refused(model, call, exception, match, *inputs) -> None:
    """``call()`` raises ``exception`` matching ``match``; model and inputs untouched."""
    params, saved = parameters(model), [snapshot(a) for a in inputs]
    with pytest.raises(exception, match=match):
        call()
    after = parameters(model)
    assert len(after) == len(params)
    for p, q in zip(params, after):
        np.testing.assert_array_equal(q, p, strict=True)
    for a, before in zip(inputs, saved):
        assert_same(a, before)


def native(a, model):
    """``a`` as an array of the model's backend and device."""
    return model.xp.asarray(a, device=model.device)


def is_numeric(a) -> bool:
    return isinstance(a, (np.ndarray, np.generic)) and a.dtype.kind in "biufc"


CALLS = {
    "forward": lambda model, x, y, loss: model.forward(x),
    "gradients": lambda model, x, y, loss: model.gradients(x, y, loss),
    "fit": lambda model, x, y, loss: model.fit(x, y, loss, epochs=1, batch_size=2),
    "gradient_check": lambda model, x, y, loss: mlp_xp.gradient_check(model, x, y, loss),
}
XY_CALLS = ("gradients", "fit", "gradient_check")


def cases(table, calls) -> list:
    """pytest params: every case × entry point × input kind (NumPy/list, or native when numeric)."""
    params = []
    for case_id, *case in table:
        for call in calls:
            params.append(pytest.param(call, False, *case, id=f"{case_id}-{call}"))
            if is_numeric(case[-3]):
                params.append(pytest.param(call, True, *case, id=f"{case_id}-{call}-native"))
    return params


# --------------------------------------------------------------------------- x

_NOT_REAL = expects("x must hold real numbers")
X_CASES = [  # id, bad x, exception, match
    ("nan", replaced(X, (1, 2), np.nan), ValueError, expects("x ", "NaN or inf")),
    ("inf", replaced(X, (0, 0), np.inf), ValueError, expects("x ", "NaN or inf")),
    ("-inf", replaced(X, (5, 1), -np.inf), ValueError, expects("x ", "NaN or inf")),
    (
        "overflows-float32",
        replaced(X, (2, 0), -1e39),
        ValueError,
        expects("x ", "beyond the range", "float32"),
    ),
    ("2-features", X[:, :2], ValueError, expects("x has 2 features", "expects 3", r"layer_sizes\[0\]")),
    ("6-features", np.hstack([X, X]), ValueError, expects("x has 6 features", "expects 3")),
    ("1-D", X[:, 0], ValueError, expects("x must be 2-D", r"\(6,\)", "reshape")),
    ("3-D", X[None], ValueError, expects("x must be 2-D", r"\(1, 6, 3\)")),
    ("0-d", np.float64(1.5), ValueError, expects("x must be 2-D", r"\(\)")),
    ("python-scalar", 1.5, ValueError, expects("x must be 2-D")),
    ("0-rows", X[:0], ValueError, expects("x is empty", r"\(0, 3\)")),
    ("strings", X.astype(str), TypeError, _NOT_REAL),
    ("string-list", [["a", "b", "c"]] * N, TypeError, _NOT_REAL),
    ("object-list", [[1.0, None, 2.0]] * N, TypeError, _NOT_REAL),
    ("object-array", np.array([[1.0, {}, 2.0]] * N, dtype=object), TypeError, _NOT_REAL),
    ("none", None, TypeError, _NOT_REAL),
    ("ragged-list", [[1.0, 2.0, 3.0], [1.0, 2.0]] * 3, ValueError, expects("x must be a rectangular array")),
    ("complex", X * (1 + 1j), TypeError, _NOT_REAL),
    ("complex-list", (X * (1 + 1j)).tolist(), TypeError, _NOT_REAL),
]


@pytest.mark.parametrize(("call", "as_native", "x", "exception", "match"), cases(X_CASES, CALLS))
def test_bad_x_is_refused(make_mlp, call, as_native, x, exception, match):
    kwargs, loss, y = CONFIGS["mse"]
    model = make_mlp(**kwargs, seed=0)
    x = native(x, model) if as_native else x
    assert_refused(model, lambda: CALLS[call](model, x, y, loss), exception, match, x, y)


# --------------------------------------------------------------------------- y

_NAN_Y = expects("y ", "NaN or inf")
_LABELS_RANGE = expects("y ", "class labels outside 0..2")
_ONE_HOT = expects("y ", "cross_entropy", "one-hot rows")
_UNIT = expects("y ", "binary_cross_entropy", r"\[0, 1\]")
_UNIT_CE = expects("y ", "cross_entropy", r"\[0, 1\]")
_INT_LABELS = expects("y ", "cross_entropy", "integer class labels")
_BCE, _CE = "binary_cross_entropy", "cross_entropy"
Y_01 = (Y_SIGN > 0).astype(float)


def needs(loss: str, activation: str, got: str) -> str:
    return expects(f"loss='{loss}'", f"needs output_activation='{activation}'", f"'{got}'")


def signs(loss: str) -> str:
    return expects("y ", f"loss='{loss}'", r"-1 and \+1")


Y_CASES = [  # id, config, loss (None: the config's), bad y, exception, match
    ("nan", "mse", None, replaced(Y_REG, (2, 1), np.nan), ValueError, _NAN_Y),
    ("inf", "mse", None, replaced(Y_REG, (0, 0), np.inf), ValueError, _NAN_Y),
    ("overflows", "mse", None, replaced(Y_REG, (0, 0), 4e38), ValueError, expects("y ", "beyond", "float32")),
    ("1-output", "mse", None, Y_REG[:, :1], ValueError, expects("y has 1 outputs", "model has 2")),
    ("3-outputs", "mse", None, np.hstack([Y_REG, Y_REG[:, :1]]), ValueError, expects("y has 3 outputs", "2")),
    ("1-D-for-2-outputs", "mse", None, Y_REG[:, 0], ValueError, expects("y is 1-D", "2 outputs")),
    ("5-rows", "mse", None, Y_REG[:-1], ValueError, expects("y has 5 samples", "x has 6")),
    ("12-rows", "mse", None, np.vstack([Y_REG, Y_REG]), ValueError, expects("y has 12 samples", "x has 6")),
    ("0-rows", "mse", None, Y_REG[:0], ValueError, expects("y has 0 samples", "x has 6")),
    ("0-d", "mse", None, np.float64(0.5), ValueError, expects("y must be 1-D or 2-D", r"\(\)")),
    ("3-D", "mse", None, Y_REG[:, :, None], ValueError, expects("y must be 1-D or 2-D", r"\(6, 2, 1\)")),
    ("strings", "mse", None, Y_REG.astype(str), TypeError, expects("y must hold real numbers")),
    ("object-list", "mse", None, [[1.0, None]] * N, TypeError, expects("y must hold real numbers")),
    ("ragged", "mse", None, [[1.0, 2.0], [1.0]] * 3, ValueError, expects("y must be a rectangular array")),
    ("complex", "mse", None, Y_REG * (1 + 1j), TypeError, expects("y must hold real numbers")),
    ("unknown-loss", "mse", "mae", Y_REG, ValueError, expects("loss must be one of", "'mse'", "'mae'")),
    ("loss-none", "mse", "NONE", Y_REG, ValueError, expects("loss must be one of", "None")),
    # a loss made for one output activation
    ("ce-after-identity", "mse", _CE, Y_REG, ValueError, needs(_CE, "softmax", "identity")),
    ("ce-after-sigmoid", "bce", _CE, Y_PROB, ValueError, needs(_CE, "softmax", "sigmoid")),
    ("bce-after-identity", "sign", _BCE, Y_PROB, ValueError, needs(_BCE, "sigmoid", "identity")),
    ("bce-after-softmax", "ce", _BCE, ONE_HOT, ValueError, needs(_BCE, "sigmoid", "softmax")),
    # cross_entropy: integer labels in 0..n-1, or rows of a distribution
    ("label-negative", "ce", None, replaced(LABELS, 3, -1, int), ValueError, _LABELS_RANGE),
    ("label-n_classes", "ce", None, replaced(LABELS, 3, 3, int), ValueError, _LABELS_RANGE),
    ("label-huge", "ce", None, replaced(LABELS, 0, 2**40, np.int64), ValueError, _LABELS_RANGE),
    ("label-list-out-of-range", "ce", None, [0, 1, 2, 3, 0, 1], ValueError, _LABELS_RANGE),
    ("labels-float", "ce", None, LABELS.astype(float), TypeError, _INT_LABELS),
    ("labels-column", "ce", None, LABELS[:, None], ValueError, expects("y has 1 outputs", "model has 3")),
    ("labels-5-rows", "ce", None, LABELS[:-1], ValueError, expects("y has 5 samples", "x has 6")),
    ("one-hot-row-sums-2", "ce", None, replaced(ONE_HOT, (1, 0), 1.0), ValueError, _ONE_HOT),
    ("one-hot-zero-row", "ce", None, replaced(ONE_HOT, 4, 0.0), ValueError, _ONE_HOT),
    ("one-hot-negative", "ce", None, replaced(ONE_HOT, 2, [-1.0, 1.0, 1.0]), ValueError, _UNIT_CE),
    ("one-hot-nan", "ce", None, replaced(ONE_HOT, (0, 1), np.nan), ValueError, _NAN_Y),
    ("one-hot-2-columns", "ce", None, ONE_HOT[:, :2], ValueError, expects("y has 2 outputs", "model has 3")),
    # logistic and hinge: y in {-1, +1}
    ("logistic-0-1", "sign", "logistic", Y_01, ValueError, signs("logistic")),
    ("hinge-0-1", "sign", "hinge", Y_01, ValueError, signs("hinge")),
    ("hinge-scaled", "sign", "hinge", 2.0 * Y_SIGN, ValueError, signs("hinge")),
    ("logistic-nan", "sign", "logistic", replaced(Y_SIGN, 0, np.nan), ValueError, _NAN_Y),
    # binary cross-entropy: y in [0, 1]
    ("bce-1.5", "bce", None, replaced(Y_PROB, (1, 0), 1.5), ValueError, _UNIT),
    ("bce-negative", "bce", None, replaced(Y_PROB, (3, 0), -0.2), ValueError, _UNIT),
    ("bce-signs", "bce", None, Y_SIGN, ValueError, _UNIT),
    ("bce-nan", "bce", None, replaced(Y_PROB, (3, 0), np.nan), ValueError, _NAN_Y),
    # poisson: y ≥ 0, after an exp output
    ("poisson-negative", "poisson", None, Y_REG, ValueError, expects("y ", "poisson", "non-negative")),
    (
        "poisson-after-identity",
        "mse",
        "poisson",
        np.abs(Y_REG),
        ValueError,
        needs("poisson", "exp", "identity"),
    ),
]


@pytest.mark.parametrize(
    ("call", "as_native", "config", "loss", "y", "exception", "match"), cases(Y_CASES, XY_CALLS)
)
def test_bad_y_or_loss_is_refused(make_mlp, call, as_native, config, loss, y, exception, match):
    kwargs, default_loss, _ = CONFIGS[config]
    model = make_mlp(**kwargs, seed=0)
    loss = {None: default_loss, "NONE": None}.get(loss, loss)
    y = native(y, model) if as_native else y
    assert_refused(model, lambda: CALLS[call](model, X, y, loss), exception, match, X, y)


@pytest.mark.parametrize("call", XY_CALLS)
def test_empty_x_and_y_are_refused(make_mlp, call):
    model = make_mlp([3, 4, 2], seed=0)
    assert_refused(
        model,
        lambda: CALLS[call](model, X[:0], Y_REG[:0], "mse"),
        ValueError,
        expects("x is empty"),
        X[:0],
        Y_REG[:0],
    )


# ------------------------------------------------------------------ fit options

FIT_CASES = [  # fit kwargs, exception, match
    ({"batch_size": 0}, ValueError, expects("batch_size must be >= 1", "got 0")),
    ({"batch_size": -4}, ValueError, expects("batch_size must be >= 1", "-4")),
    ({"batch_size": 2.0}, TypeError, expects("batch_size must be an int", "2.0")),
    ({"batch_size": True}, TypeError, expects("batch_size must be an int", "True")),
    ({"batch_size": "2"}, TypeError, expects("batch_size must be an int")),
    ({"epochs": 0}, ValueError, expects("epochs must be >= 1", "got 0")),
    ({"epochs": -1}, ValueError, expects("epochs must be >= 1")),
    ({"epochs": 2.5}, TypeError, expects("epochs must be an int")),
    ({"epochs": None}, TypeError, expects("epochs must be an int")),
    ({"lr": 0}, ValueError, expects("lr must be a positive", "0")),
    ({"lr": 0.0}, ValueError, expects("lr must be a positive")),
    ({"lr": -0.1}, ValueError, expects("lr must be a positive", "-0.1")),
    ({"lr": float("inf")}, ValueError, expects("lr must be a positive finite")),
    ({"lr": float("nan")}, ValueError, expects("lr must be a positive finite")),
    ({"lr": "0.1"}, TypeError, expects("lr must be a positive number")),
    ({"lr": None}, TypeError, expects("lr must be a positive number")),
    ({"lr": True}, TypeError, expects("lr must be a positive number")),
    ({"power_t": -0.5}, ValueError, expects("power_t must be a positive")),
    ({"power_t": float("nan")}, ValueError, expects("power_t must be a positive")),
    ({"power_t": "half"}, TypeError, expects("power_t must be a positive")),
    ({"tol": -1e-3}, ValueError, expects("tol must be a positive")),
    ({"tol": float("nan")}, ValueError, expects("tol must be a positive")),
    ({"tol": "small"}, TypeError, expects("tol must be a positive")),
    ({"loss": "mae"}, ValueError, expects("loss must be one of", "'mse'", "'mae'")),
    ({"optimizer": "rmsprop"}, ValueError, expects("optimizer must be one of", "'sgd'", "'rmsprop'")),
    ({"optimizer": None}, ValueError, expects("optimizer must be one of", "init", "step")),
    ({"sampling": "bootstrap"}, ValueError, expects("sampling must be one of", "'shuffle'", "'uniform'")),
    ({"sampling": None}, ValueError, expects("sampling must be one of")),
    (
        {"lr_schedule": "cosine"},
        ValueError,
        expects("lr_schedule must be one of", "'constant'", "'invscaling'", "'cosine'"),
    ),
    ({"lr_schedule": None}, ValueError, expects("lr_schedule must be one of")),
    ({"on_divergence": "ignore"}, ValueError, expects("on_divergence must be one of", "'raise'", "'warn'")),
    ({"alpha": -1e-4}, ValueError, expects("alpha must be a non-negative finite", "-0.0001")),
    ({"alpha": float("inf")}, ValueError, expects("alpha must be a non-negative finite")),
    ({"alpha": "some"}, TypeError, expects("alpha must be a non-negative number")),
    ({"clip_norm": 0.0}, ValueError, expects("clip_norm must be a positive")),
    ({"clip_norm": -1.0}, ValueError, expects("clip_norm must be a positive")),
    ({"sample_weight": [1.0, 2.0]}, ValueError, expects("sample_weight must have shape", r"\(2,\)")),
    ({"sample_weight": -np.ones(len(X))}, ValueError, expects("sample_weight must be non-negative")),
    ({"sample_weight": np.zeros(len(X))}, ValueError, expects("sample_weight", "positive sum")),
    ({"sample_weight": replaced(np.ones(len(X)), 0, np.nan)}, ValueError, expects("sample_weight", "NaN")),
    ({"sample_weight": np.ones((len(X), 1))}, ValueError, expects("sample_weight must have shape")),
    ({"sample_weight": ["a"] * len(X)}, TypeError, expects("sample_weight must hold real numbers")),
    ({"validation_data": X}, TypeError, expects("validation_data must be a pair")),
    ({"validation_data": (X[:, :2], Y_REG)}, ValueError, expects("validation_data\\[0\\] has 2 features")),
    ({"validation_data": (X, Y_REG[:, :1])}, ValueError, expects("validation_data\\[1\\] has 1 outputs")),
    ({"validation_data": (X, Y_REG[:-1])}, ValueError, expects("validation_data\\[1\\] has", "samples")),
    (
        {"validation_data": (X, replaced(Y_REG, (0, 0), np.inf))},
        ValueError,
        expects("validation_data", "NaN"),
    ),
    ({"callbacks": [print, "stop"]}, TypeError, expects("callbacks\\[1\\] must be a callable")),
    ({"callbacks": 3}, TypeError, expects("callbacks must be a callable or a sequence")),
    ({"early_stopping": "val_loss"}, TypeError, expects("early_stopping must be None or an EarlyStopping")),
    (
        {"early_stopping": mlp_xp.EarlyStopping("val_score")},
        ValueError,
        expects("early_stopping monitors 'val_score'", "validation_data"),
    ),
    ({"seed": -1}, ValueError, expects("seed", "non-negative")),
    ({"seed": 1.5}, TypeError, expects("seed", "int")),
    ({"seed": "1"}, TypeError, expects("seed", "int")),
]


def _kwargs_id(kwargs: dict) -> str:
    return ",".join(f"{k}={v!r}" for k, v in kwargs.items())


@pytest.mark.parametrize(
    ("kwargs", "exception", "match"),
    [pytest.param(*case, id=_kwargs_id(case[0])) for case in FIT_CASES],
)
def test_bad_fit_option_is_refused(make_mlp, kwargs, exception, match):
    model = make_mlp([3, 4, 2], seed=0)
    options = {"loss": "mse", "epochs": 1, "batch_size": 2, **kwargs}
    assert_refused(model, lambda: model.fit(X, Y_REG, **options), exception, match, X, Y_REG)


@pytest.mark.parametrize("eps", [0.0, float("nan"), float("inf"), "tiny"])
def test_bad_gradient_check_eps_is_refused(make_mlp, eps):
    model = make_mlp([3, 4, 2], seed=0)
    assert_refused(
        model,
        lambda: mlp_xp.gradient_check(model, X, Y_REG, "mse", eps=eps),
        (ValueError, TypeError),
        expects("eps"),
        X,
        Y_REG,
    )


# ------------------------------------------------------------------ constructor

_SIZES_SHORT = expects("layer_sizes", "at least the input and output")
_SIZES_TYPE = expects("layer_sizes must be a sequence of ints")
CONSTRUCTOR_CASES = [  # MLP kwargs (over layer_sizes=[3, 4, 2]), exception, match
    ({"layer_sizes": [3]}, ValueError, _SIZES_SHORT),
    ({"layer_sizes": []}, ValueError, _SIZES_SHORT),
    ({"layer_sizes": [3, 0, 2]}, ValueError, expects(r"layer_sizes\[1\] must be >= 1", "got 0")),
    ({"layer_sizes": [0, 4, 2]}, ValueError, expects(r"layer_sizes\[0\] must be >= 1")),
    ({"layer_sizes": [3, 4, -2]}, ValueError, expects(r"layer_sizes\[2\] must be >= 1", "-2")),
    ({"layer_sizes": [3, 4.0, 2]}, TypeError, expects(r"layer_sizes\[1\] must be an int", "4.0")),
    ({"layer_sizes": [3, "4", 2]}, TypeError, expects(r"layer_sizes\[1\] must be an int")),
    ({"layer_sizes": [3, True, 2]}, TypeError, expects(r"layer_sizes\[1\] must be an int")),
    ({"layer_sizes": [3, None, 2]}, TypeError, expects(r"layer_sizes\[1\] must be an int")),
    ({"layer_sizes": "342"}, TypeError, _SIZES_TYPE),
    ({"layer_sizes": 3}, TypeError, _SIZES_TYPE),
    ({"layer_sizes": None}, TypeError, _SIZES_TYPE),
    ({"activation": "swish"}, ValueError, expects("activation must be one of", "'relu'", "'swish'")),
    ({"activation": None}, (ValueError, TypeError), expects("activation")),
    ({"activation": "softmax"}, ValueError, expects("activation", "softmax", "output layer only")),
    ({"activation": "exp"}, ValueError, expects("activation", "exp", "output layer only")),
    (
        {"layer_sizes": [3, 4, 4, 2], "activation": ["relu", "softmax"]},
        ValueError,
        expects("activation", "softmax", "output layer only", "hidden layer 2"),
    ),
    (
        {"layer_sizes": [3, 4, 4, 2], "activation": ["relu"]},
        ValueError,
        expects("activation", r"one per hidden layer \(2\)", "got 1"),
    ),
    (
        {"layer_sizes": [3, 4, 4, 2], "activation": ["relu", "tanh", "relu"]},
        ValueError,
        expects("activation", r"one per hidden layer \(2\)", "got 3"),
    ),
    (
        {"layer_sizes": [3, 2], "activation": ["relu"]},
        ValueError,
        expects("activation", r"one per hidden layer \(0\)"),
    ),
    (
        {"layer_sizes": [3, 4, 4, 2], "activation": ["relu", "swish"]},
        ValueError,
        expects(r"activation\[1\] must be one of", "'swish'"),
    ),
    ({"output_activation": "swish"}, ValueError, expects("output_activation must be one of", "'swish'")),
    ({"output_activation": None}, ValueError, expects("output_activation must be one of")),
    (
        {"layer_sizes": [3, 4, 1], "output_activation": "softmax"},
        ValueError,
        expects("output_activation='softmax'", "at least 2 output units", r"layer_sizes\[-1\] = 1"),
    ),
    (
        {"backend": "mxnet"},
        ValueError,
        expects(
            "backend must be one of", "'numpy'", "'cupy'", "'torch'", "'array_api_strict'", "'jax'", "'mxnet'"
        ),
    ),
    ({"backend": "Numpy"}, ValueError, expects("backend must be one of", "'Numpy'")),
    ({"backend": 42}, TypeError, expects("backend must be one of", "array namespace", "42")),
    ({"dtype": "float16"}, ValueError, expects("dtype must be 'float32' or 'float64'", "float16")),
    ({"dtype": "int32"}, ValueError, expects("dtype must be 'float32' or 'float64'", "int32")),
    ({"dtype": "double"}, ValueError, expects("dtype must be 'float32' or 'float64'")),
    ({"dtype": None}, ValueError, expects("dtype must be 'float32' or 'float64'")),
    ({"device": "not-a-device"}, ValueError, expects("device='not-a-device'", "not a device of backend")),
    ({"init": "xavier"}, ValueError, expects("init must be None, one of", "'lecun'", "'xavier'")),
    (
        {"init": lambda rng, i, o: rng.normal(size=(o, i))},
        ValueError,
        expects("init", "must return an array of shape"),
    ),
    (
        {"init": lambda rng, i, o: np.full((i, o), np.nan)},
        ValueError,
        expects(r"init\(3, 4\)", "NaN or infinite", "; initial weights must be finite$"),
    ),
    ({"init": lambda rng, i, o: np.full((i, o), -np.inf)}, ValueError, expects("init", "NaN or infinite")),
    ({"seed": -1}, ValueError, expects("seed", "non-negative")),
    ({"seed": 1.5}, TypeError, expects("seed", "int")),
    ({"seed": "7"}, TypeError, expects("seed", "int")),
    ({"seed": True}, TypeError, expects("seed", "int")),
]


@pytest.mark.parametrize(
    ("kwargs", "exception", "match"),
    [pytest.param(*case, id=_kwargs_id(case[0])) for case in CONSTRUCTOR_CASES],
)
def test_bad_constructor_argument_is_refused(make_mlp, kwargs, exception, match):
    kwargs = {"layer_sizes": [3, 4, 2], **kwargs}
    before = copy.deepcopy(kwargs)
    with pytest.raises(exception, match=match):
        make_mlp(**kwargs)
    assert kwargs == before


@pytest.mark.parametrize("dtype", ["float16", "int32"])
def test_bad_dtype_is_refused_for_native_dtype_objects(make_mlp, xp, dtype):
    with pytest.raises(ValueError, match=expects("dtype must be 'float32' or 'float64'")):
        make_mlp([3, 4, 2], dtype=getattr(xp, dtype, None) or dtype)


# ----------------------------------------------------- refusals leave no trace


def test_refused_fit_does_not_consume_the_models_generator(make_mlp):
    """A refused call changes nothing that a later fit could see: same result as no call."""
    fresh, refused = make_mlp([3, 4, 2], seed=3), make_mlp([3, 4, 2], seed=3)
    for bad in ({"y": Y_REG[:-1]}, {"lr": -1.0}, {"sampling": "bootstrap"}, {"x": X[:, :2]}):
        with pytest.raises(ValueError):
            refused.fit(**{"x": X, "y": Y_REG, "epochs": 1, "batch_size": 2, **bad})
    fresh.fit(X, Y_REG, epochs=2, batch_size=2)
    refused.fit(X, Y_REG, epochs=2, batch_size=2)
    for p, q in zip(parameters(fresh), parameters(refused)):
        np.testing.assert_array_equal(q, p)


def test_parameter_comparison_detects_a_real_update(make_mlp):
    """The 'unchanged' assertions above are meaningful: a valid fit does change them."""
    model = make_mlp([3, 4, 2], seed=0)
    before = parameters(model)
    model.fit(X, Y_REG, epochs=1, batch_size=2)
    assert any(not np.array_equal(p, q) for p, q in zip(before, parameters(model)))


# ------------------------------------------------ not over-strict: accepted input


def assert_same_gradients(a, b) -> None:
    (loss_a, dW_a, db_a), (loss_b, dW_b, db_b) = a, b
    assert loss_a == loss_b
    for g, h in zip([*dW_a, *db_a], [*dW_b, *db_b]):
        np.testing.assert_array_equal(host(g), host(h))


def test_integer_x_is_accepted(make_mlp):
    model = make_mlp([3, 4, 2], seed=0)
    x_int = np.round(3 * X).astype(np.int64)
    expected = host(model.forward(x_int.astype(np.float64)))
    for x in (x_int, x_int.astype(np.int32), x_int.tolist(), native(x_int, model)):
        np.testing.assert_array_equal(host(model.forward(x)), expected)
    assert_same_gradients(model.gradients(x_int, Y_REG), model.gradients(x_int.astype(float), Y_REG))


def test_python_lists_are_accepted(make_mlp):
    model = make_mlp([3, 4, 2], seed=0)
    np.testing.assert_array_equal(host(model.forward(X.tolist())), host(model.forward(X)))
    assert_same_gradients(model.gradients(X.tolist(), Y_REG.tolist()), model.gradients(X, Y_REG))
    from_arrays = make_mlp([3, 4, 2], seed=0)
    model.fit(X.tolist(), Y_REG.tolist(), epochs=1, seed=1)
    from_arrays.fit(X, Y_REG, epochs=1, seed=1)
    assert_same_models(model, from_arrays)


@pytest.mark.parametrize("loss", ["mse", "logistic", "hinge"])
def test_1d_y_is_accepted_for_one_output(make_mlp, loss):
    model = make_mlp([3, 4, 1], "tanh", seed=0)
    assert_same_gradients(model.gradients(X, Y_SIGN, loss), model.gradients(X, Y_SIGN[:, None], loss))
    assert_same_gradients(model.gradients(X, Y_SIGN.tolist(), loss), model.gradients(X, Y_SIGN, loss))


def test_bce_accepts_probabilities_and_int_targets(make_mlp):
    model = make_mlp([3, 4, 1], output_activation="sigmoid", dtype="float64", seed=0)
    labels = (Y_PROB > 0.5).astype(np.int64)
    assert_same_gradients(
        model.gradients(X, labels, "binary_cross_entropy"),
        model.gradients(X, labels.astype(float), "binary_cross_entropy"),
    )
    p, y = host(model.forward(X)), Y_PROB  # 0.25 is a valid soft target
    loss = model.gradients(X, Y_PROB[:, 0], "binary_cross_entropy")[0]
    assert loss == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_labels_and_one_hot_rows_agree(make_mlp, dtype):
    model = make_mlp([3, 4, 3], output_activation="softmax", dtype=dtype, seed=0)
    expected = model.gradients(X, ONE_HOT, "cross_entropy")
    for y in (
        LABELS,
        LABELS.astype(np.int32),
        LABELS.astype(np.uint8),
        LABELS.tolist(),
        native(LABELS, model),
        ONE_HOT.astype(np.int64),
        ONE_HOT.tolist(),
        native(ONE_HOT, model),
    ):
        assert_same_gradients(model.gradients(X, y, "cross_entropy"), expected)
    soft = np.full((N, 3), 1.0 / 3.0)  # rows summing to 1 within rounding
    loss = model.gradients(X, soft, "cross_entropy")[0]
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    assert loss == pytest.approx(-np.mean(np.log(host(model.forward(X))).sum(axis=1) / 3), rel=tolerance)
    one_hot = make_mlp([3, 4, 3], output_activation="softmax", dtype=dtype, seed=0)
    model.fit(X, LABELS, "cross_entropy", epochs=1, seed=1)
    one_hot.fit(X, ONE_HOT, "cross_entropy", epochs=1, seed=1)
    assert_same_models(model, one_hot)


def test_numpy_input_works_on_every_backend(make_mlp):
    """NumPy data give arrays of the model's backend and device, and the numbers of the
    float64 hand computation (``reference``): outputs, gradients, a training step."""
    model = make_mlp([3, 4, 2], dtype="float64", seed=0)
    params, activations = parameters(model), ["relu", "identity"]
    out = model.forward(X)
    assert array_api_compat.array_namespace(out) is model.xp
    assert array_api_compat.device(out) == model.device
    np.testing.assert_allclose(host(out), reference.forward(params[:2], params[2:], activations, X)[1][-1])
    loss, dW, db = model.gradients(X, Y_REG)
    expected = reference.loss_and_gradients(params[:2], params[2:], activations, X, Y_REG, "mse")
    assert loss == pytest.approx(expected[0], rel=1e-12)
    for got, want in zip([*dW, *db], [*expected[1], *expected[2]]):
        np.testing.assert_allclose(host(got), want, rtol=1e-12, atol=1e-15)
    assert mlp_xp.gradient_check(model, X[:2], Y_REG[:2]) <= 1e-6
    assert model.fit(X, Y_REG, lr=0.1, epochs=1).loss == [pytest.approx(expected[0], rel=1e-12)]
    for got, p, g in zip(parameters(model), params, [*expected[1], *expected[2]]):
        np.testing.assert_allclose(got, p - 0.1 * g, rtol=1e-12, atol=1e-15)


def assert_same_models(a, b) -> None:
    for p, q in zip(parameters(a), parameters(b)):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize(
    ("kwargs", "canonical"),
    [
        ({"batch_size": 100}, {"batch_size": None}),
        ({"batch_size": np.int64(2), "epochs": np.int32(2)}, {"batch_size": 2, "epochs": 2}),
        ({"lr": 1, "epochs": 1}, {"lr": 1.0, "epochs": 1}),
        ({"lr": np.float32(0.05)}, {"lr": float(np.float32(0.05))}),
        ({"tol": 1e-12}, {}),
        ({"lr_schedule": "invscaling", "power_t": 0.25}, {"lr_schedule": lambda k: 0.1 / (k + 1) ** 0.25}),
        ({"lr_schedule": "robbins_monro"}, {"lr_schedule": lambda k: 0.1 / (k + 1)}),
        ({"optimizer": mlp_xp.SGD()}, {"optimizer": "sgd"}),
        ({"seed": np.uint32(3)}, {"seed": 3}),
    ],
    ids=[
        "batch-beyond-n",
        "numpy-ints",
        "int-lr",
        "float32-lr",
        "tol",
        "invscaling",
        "robbins-monro",
        "sgd-object",
        "uint32-seed",
    ],
)
def test_valid_fit_options_are_accepted(make_mlp, kwargs, canonical):
    """Each option, in any of its accepted types and forms, trains as its plain form does."""
    model, twin = make_mlp([3, 4, 2], seed=0), make_mlp([3, 4, 2], seed=0)
    options = {"epochs": 2, "batch_size": 4, "seed": 3}
    history = model.fit(X, Y_REG, **{**options, **kwargs})
    expected = twin.fit(X, Y_REG, **{**options, **canonical})
    assert_same_models(model, twin)
    assert history.loss == expected.loss and history.n_epochs == expected.n_epochs >= 1
    assert len(history.grad_norm) == (history.n_epochs if "tol" in kwargs else 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"layer_sizes": (3, 4, 2)},
        {"layer_sizes": np.array([3, 4, 2])},
        {"layer_sizes": [3, 2]},
        {"layer_sizes": [3, 4, 4, 2], "activation": ("relu", "tanh")},
        {"layer_sizes": [3, 4, 2], "output_activation": "softmax"},
    ],
    ids=_kwargs_id,
)
def test_valid_constructor_arguments_are_accepted(make_mlp, kwargs):
    model = make_mlp(**kwargs)
    assert [tuple(w.shape) for w in model.weights] == [
        (a, b) for a, b in zip(kwargs["layer_sizes"][:-1], kwargs["layer_sizes"][1:])
    ]


@pytest.mark.parametrize("seed", [np.int64(3), np.uint32(3)], ids=["int64", "uint32"])
def test_numpy_integer_seeds_are_accepted(make_mlp, seed):
    """Seeds follow batch_size/epochs (operator.index): NumPy integers are ints."""
    model, twin = make_mlp([3, 4, 2], seed=seed), make_mlp([3, 4, 2], seed=3)
    assert_same_models(model, twin)
    model.fit(X, Y_REG, epochs=1, batch_size=2, seed=seed)
    twin.fit(X, Y_REG, epochs=1, batch_size=2, seed=3)
    assert_same_models(model, twin)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "uint64", "int8", "int16"])
def test_class_labels_of_every_integer_dtype_are_accepted(make_mlp, rng, dtype):
    """Labels 0..255 of a 256-class model (0..127 for int8, which holds no more), on
    NumPy and native arrays: uint8 cannot hold the class count 256, and torch
    compares no uint16..uint64 arrays."""
    top = 128 if dtype == "int8" else 256
    labels = rng.permutation(np.arange(256) % top).astype(dtype)
    model = make_mlp([3, 4, 256], output_activation="softmax", seed=0)
    x = rng.normal(size=(256, 3))
    expected = model.gradients(x, np.eye(256)[labels.astype(np.int64)], "cross_entropy")
    for y in (labels, native(labels, model)):
        assert_same_gradients(model.gradients(x, y, "cross_entropy"), expected)


@pytest.mark.parametrize(
    ("labels", "extremes"),
    [
        (np.array([0, 255, 3], dtype=np.uint8), "min 0, max 255"),
        (np.array([0, 2**63 + 4096, 3], dtype=np.uint64), f"min 0, max {2**63 + 4096}"),
        (np.array([0, -1, 3], dtype=np.int8), "min -1, max 3"),
    ],
    ids=["uint8-255", "uint64-beyond-int64", "int8-negative"],
)
def test_class_labels_out_of_range_are_refused_in_any_integer_dtype(make_mlp, labels, extremes):
    model = make_mlp([3, 4, 10], output_activation="softmax", seed=0)
    for y in (labels, native(labels, model)):
        assert_refused(
            model,
            lambda y=y: model.gradients(X[:3], y, "cross_entropy"),
            ValueError,
            expects("y holds class labels outside 0..9", extremes),
            X[:3],
            y,
        )


def test_soft_labels_computed_in_float32_are_accepted_by_a_float64_model(make_mlp, rng):
    """Rows that sum to 1 in float32 (off by ~1e-7 in float64) are valid: the tolerance
    follows the precision of the given rows, not only the model's."""
    logits = rng.normal(size=(N, 3)).astype(np.float32)
    soft = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.abs(soft.astype(np.float64).sum(axis=1) - 1.0).max() > 1e-8  # the case at hand
    model = make_mlp([3, 4, 3], output_activation="softmax", dtype="float64", seed=0)
    expected = -np.mean((soft * np.log(host(model.forward(X)))).sum(axis=1))
    for y in (soft, native(soft, model)):
        assert model.gradients(X, y, "cross_entropy")[0] == pytest.approx(expected, rel=1e-6)
    off = np.full((N, 3), 1.0 / 3.0) + np.array([1e-6, 0.0, 0.0])  # float64 rows off by 1e-6: refused
    assert_refused(model, lambda: model.gradients(X, off, "cross_entropy"), ValueError, _ONE_HOT, X, off)
