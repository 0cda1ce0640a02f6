"""Input checks for the public entry points.

Each check raises ``ValueError`` or ``TypeError`` naming the argument, what
was expected and what was received, before anything is modified.  Data checks
run on the model's device and read one boolean back per check.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence, Set
from itertools import pairwise
from typing import Any

import array_api_compat

from ._backend import quiet_overflow, to_namespace, widest_float
from .activations import INITS, Activation, get_activation
from .costs import Cost

WEIGHT_RANGE = (2.0**-64, 2.0**64)  # sample weights used as given; others rescaled by a power of two


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_real(value: Any, name: str, low: float, high: float, *, low_open: bool = False) -> float:
    """``value`` as a float in [low, high), or (low, high) when ``low_open``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not ((low < number if low_open else low <= number) and number < high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g})"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return number


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (≥ 0 with ``allow_zero``)."""
    kind = "non-negative" if allow_zero else "positive"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a {kind} number, got {value!r}")
    number = float(value)
    if not (0.0 <= number if allow_zero else 0.0 < number) or number == float("inf") or number != number:
        raise ValueError(f"{name} must be a {kind} finite number, got {value!r}")
    return number


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a bool: True or False (NumPy's booleans too), nothing merely truthy."""
    if isinstance(value, bool) or (
        getattr(value, "shape", None) == () and str(getattr(value, "dtype", "")) == "bool"
    ):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def check_init(init: Any) -> Any:
    """``None``, one of ``INITS`` or a callable ``(rng, fan_in, fan_out) -> array``."""
    if init is None or callable(init) or init in INITS:
        return init
    raise ValueError(
        f"init must be None, one of {', '.join(map(repr, INITS))} or a callable "
        f"(rng, fan_in, fan_out) -> array, got {init!r}"
    )


def check_callbacks(callbacks: Any) -> tuple[Any, ...]:
    """A tuple of callables ``(model, history) -> stop?``."""
    callbacks = (callbacks,) if callable(callbacks) else callbacks
    if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"callbacks must be a callable or a sequence of callables, got {callbacks!r}")
    callbacks = tuple(callbacks)
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"callbacks[{i}] must be a callable (model, history) -> bool, got {callback!r}")
    return callbacks


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_layer_sizes(layer_sizes: Any) -> list[int]:
    if isinstance(layer_sizes, (str, bytes, Set)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(f"layer_sizes must be a sequence of ints, got {layer_sizes!r}")
    if len(layer_sizes) < 2:
        raise ValueError(
            "layer_sizes must give at least the input and output sizes, "
            f"e.g. [4, 8, 3], got {list(layer_sizes)!r}"
        )
    return [check_int(n, f"layer_sizes[{i}]") for i, n in enumerate(layer_sizes)]


def check_activations(
    activation: Any, output_activation: Any, layer_sizes: Sequence[int]
) -> list[Activation]:
    """One Activation per layer: the hidden ones, then the output one."""
    n_hidden = len(layer_sizes) - 2
    if isinstance(activation, str) or isinstance(activation, Activation):
        hidden = [get_activation(activation)] * n_hidden
    elif isinstance(activation, (list, tuple)):
        names = list(activation)
        if len(names) != n_hidden:
            raise ValueError(
                f"activation must be one name, or one per hidden layer ({n_hidden}), "
                f"got {len(names)} names: {names!r}"
            )
        hidden = [get_activation(a, f"activation[{i}]") for i, a in enumerate(names)]
    else:
        raise TypeError(f"activation must be a name or a list of names, got {activation!r}")
    for i, phi in enumerate(hidden):
        if phi.output_only:
            raise ValueError(
                f"activation {phi.name!r} is for the output layer only (output_activation), "
                f"got it for hidden layer {i + 1}"
            )
    output = get_activation(output_activation, "output_activation")
    if not output.elementwise and layer_sizes[-1] < 2:
        raise ValueError(
            f"output_activation={output.name!r} needs at least 2 output units, "
            f"got layer_sizes[-1] = {layer_sizes[-1]}"
        )
    return [*hidden, output]


def check_loss_pair(cost: Cost, output: Activation) -> None:
    if cost.output_activation not in (None, output.name):
        raise ValueError(
            f"loss={cost.name!r} needs output_activation={cost.output_activation!r}, "
            f"but the model's output activation is {output.name!r}"
        )


def check_parameters(
    xp: Any, weights: Any, biases: Any, layer_sizes: Sequence[int], dtype: Any, device: Any
) -> None:
    """The model's ``weights`` and ``biases``, which the user may assign: lists of
    arrays of its namespace, dtype and device, shaped as ``layer_sizes`` needs.
    Reads nothing from the device."""
    n_layers = len(layer_sizes) - 1
    shapes: dict[str, list[tuple[int, ...]]] = {
        "weights": list(pairwise(layer_sizes)),
        "biases": [(n,) for n in layer_sizes[1:]],
    }
    for name, arrays in (("weights", weights), ("biases", biases)):
        if not isinstance(arrays, list) or len(arrays) != n_layers:
            got = f"a list of {len(arrays)}" if isinstance(arrays, list) else f"a {type(arrays).__name__}"
            raise TypeError(f"model.{name} must be a list of {n_layers} arrays (one per layer), got {got}")
        for j, (a, shape) in enumerate(zip(arrays, shapes[name])):
            _check_parameter(xp, a, f"model.{name}[{j}]", shape, dtype, device)


def _check_parameter(xp: Any, a: Any, name: str, shape: tuple[int, ...], dtype: Any, device: Any) -> None:
    if not array_api_compat.is_array_api_obj(a) or array_api_compat.array_namespace(a) is not xp:
        raise TypeError(
            f"{name} must be an array of the model's backend {xp.__name__}, got {type(a).__name__}"
        )
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, but the model's dtype is {dtype}")
    if tuple(a.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(a.shape)}, but the model's layer_sizes need {shape}")
    if array_api_compat.device(a) != device:
        raise ValueError(
            f"{name} is on device {array_api_compat.device(a)!r}, but the model is on {device!r}"
        )


def _is_finite(xp: Any, a: Any) -> bool:
    # NaN propagates through max and min (Array API standard), ±inf is an extreme:
    # two reductions, no array of a's size, one value read back.
    return bool(xp.isfinite(xp.max(a)) & xp.isfinite(xp.min(a)))


def _check_finite(xp: Any, a: Any, name: str, given: Any) -> None:
    """``a``, the data ``given`` cast to the model's dtype, holds only finite numbers."""
    if _is_finite(xp, a):
        return
    if a.dtype != given.dtype and _is_finite(xp, given):
        raise ValueError(
            f"{name} holds finite values beyond the range of the model's dtype {a.dtype} "
            f"(largest {float(xp.finfo(a.dtype).max):.4g}), which overflow it to infinity; "
            "rescale the data or use dtype='float64'"
        )
    raise ValueError(f"{name} contains NaN or infinity")


def as_features(xp: Any, data: Any, n_features: int, dtype: Any, device: Any, name: str = "x") -> Any:
    """``data`` as a finite (N, n_features) array of the model's dtype and device."""
    x = to_namespace(data, xp, device, name)
    check_features_shape(tuple(x.shape), n_features, name)
    return as_finite(xp, x, dtype, name)


def check_features_shape(shape: tuple[int, ...], n_features: int, name: str = "x") -> None:
    """``shape`` is (N, n_features) with N ≥ 1."""
    if len(shape) != 2:
        hint = " (reshape a single feature with x.reshape(-1, 1))" if len(shape) == 1 else ""
        raise ValueError(f"{name} must be 2-D, shape (n_samples, n_features), got shape {shape}{hint}")
    if shape[0] == 0:
        raise ValueError(f"{name} is empty: shape {shape}")
    if shape[1] != n_features:
        raise ValueError(
            f"{name} has {shape[1]} features, but the model expects {n_features} (layer_sizes[0])"
        )


def as_finite(xp: Any, a: Any, dtype: Any, name: str) -> Any:
    """``a`` (an array of ``xp``, any shape) cast to ``dtype``, which must hold only finite
    numbers; read only: an array of that dtype is not copied."""
    with quiet_overflow():  # values beyond the dtype's range are reported below
        converted = xp.astype(a, dtype, copy=False)
    _check_finite(xp, converted, name, a)
    return converted


def as_targets(
    xp: Any,
    data: Any,
    n_outputs: int,
    n_samples: int,
    cost: Cost,
    dtype: Any,
    device: Any,
    name: str = "y",
    x_name: str = "x",
) -> Any:
    """``data`` as an (N, n_outputs) target array valid for ``cost``, N the rows of ``x_name``.

    Integer class labels, shape (N,), are range-checked and then one-hot
    encoded for ``cross_entropy``; a 1-D target is a column when n_outputs = 1.
    """
    y = to_namespace(data, xp, device, name)
    if y.ndim == 0 or y.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {tuple(y.shape)}")
    if y.shape[0] != n_samples:
        raise ValueError(f"{name} has {y.shape[0]} samples, but {x_name} has {n_samples}")
    if cost.targets == "distribution" and y.ndim == 1:
        return _one_hot(xp, y, n_outputs, dtype, device, name)
    if y.ndim == 1:
        if n_outputs != 1:
            raise ValueError(
                f"{name} is 1-D, which fits a model with one output, but the model has {n_outputs} outputs"
            )
        y = xp.reshape(y, (n_samples, 1))
    if y.shape[1] != n_outputs:
        raise ValueError(f"{name} has {y.shape[1]} outputs, but the model has {n_outputs} (layer_sizes[-1])")
    with quiet_overflow():
        given, y = y, xp.astype(y, dtype)
    _check_finite(xp, y, name, given)
    _check_target_values(xp, y, cost, name, given.dtype)
    return y


def _one_hot(xp: Any, labels: Any, n_classes: int, dtype: Any, device: Any, name: str) -> Any:
    if not xp.isdtype(labels.dtype, "integral"):
        raise TypeError(
            f"{name} for loss='cross_entropy' must be integer class labels of shape (N,) or one-hot "
            f"rows of shape (N, {n_classes}), got dtype {labels.dtype} of shape {tuple(labels.shape)}"
        )
    # Checked before any indexing (CuPy wraps out-of-range indices silently), in a
    # float dtype that holds every class count and orders every integer (uint8 cannot
    # hold 256; torch compares no uint16..uint64), then as the default integer (int64,
    # or int32 on JAX without 64-bit mode), exact for valid labels.
    values = xp.astype(labels, widest_float(xp, device))
    if not bool(xp.all((values >= 0.0) & (values <= n_classes - 1))):
        raise ValueError(
            f"{name} holds class labels outside 0..{n_classes - 1}: "
            f"min {int(xp.min(values))}, max {int(xp.max(values))}"
        )
    return one_hot(xp, labels, n_classes, dtype, device)


def one_hot(xp: Any, labels: Any, n_classes: int, dtype: Any, device: Any) -> Any:
    """Integer class labels, shape (N,), already range-checked, as one-hot rows (N, n_classes)."""
    classes = xp.arange(n_classes, device=device)
    return xp.astype(xp.expand_dims(xp.astype(labels, classes.dtype), axis=1) == classes, dtype)


def _check_target_values(xp: Any, y: Any, cost: Cost, name: str, given_dtype: Any) -> None:
    if cost.targets == "sign" and not bool(xp.all((y == 1.0) | (y == -1.0))):
        raise ValueError(f"{name} for loss={cost.name!r} must hold only -1 and +1")
    if cost.targets in ("probability", "distribution") and not bool(xp.all((y >= 0.0) & (y <= 1.0))):
        raise ValueError(f"{name} for loss={cost.name!r} must lie in [0, 1]")
    if cost.targets == "non_negative" and not bool(xp.all(y >= 0.0)):
        raise ValueError(
            f"{name} for loss={cost.name!r} must be non-negative, got a minimum of {float(xp.min(y))}"
        )
    if cost.targets == "distribution":
        tolerance = _sum_tolerance(xp, y.dtype, given_dtype)
        if not bool(xp.all(xp.abs(xp.sum(y, axis=1) - 1.0) <= tolerance)):
            raise ValueError(
                f"{name} for loss={cost.name!r} must be one-hot rows (or rows summing to 1) "
                "or integer class labels of shape (N,)"
            )


def _sum_tolerance(xp: Any, *dtypes: Any) -> float:
    """How far from 1 a row of probabilities may sum: 1e-8 when the rows and the model
    are float64 (or the rows integers), else 1e-3, or 4 ulps of a float coarser than float32."""
    eps = max(float(xp.finfo(d).eps) for d in dtypes if xp.isdtype(d, "real floating"))
    return 1e-8 if eps <= float(xp.finfo(xp.float64).eps) else max(1e-3, 4.0 * eps)


def as_sample_weight(xp: Any, data: Any, n_samples: int, dtype: Any, device: Any) -> Any:
    """``data`` as a finite, non-negative (N,) array with a positive sum.

    Weights count as repetitions of their samples (Σw divides the penalty, as in
    scikit-learn), and the batch cost Σ wᵢCᵢ / Σ wᵢ does not depend on their
    scale.  Weights whose largest value lies outside [2⁻⁶⁴, 2⁶⁴] are rescaled
    first, in float64 where the device has it, by a power of two (exactly), so
    that a float32 model neither overflows on them nor loses them as subnormals.
    """
    given = to_namespace(data, xp, device, "sample_weight")
    if given.ndim != 1 or given.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {tuple(given.shape)}")
    w = xp.astype(given, widest_float(xp, device))
    _check_finite(xp, w, "sample_weight", w)
    if not bool(xp.all(w >= 0.0)) or not bool(xp.sum(w) > 0.0):
        raise ValueError("sample_weight must be non-negative with a positive sum")
    largest = float(xp.max(w))
    if not WEIGHT_RANGE[0] <= largest <= WEIGHT_RANGE[1]:
        w = w * 2.0 ** -math.frexp(largest)[1]  # the largest weight in [1/2, 1)
    return xp.astype(w, dtype)
