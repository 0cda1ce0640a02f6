"""Fused CuPy kernels for the chains of the training step: an edge module, off by default.

On a GPU every array call launches a kernel of a few microseconds, and the step
of a small network is bound by their number.  Each kernel here does in one
launch what the Array API path does in several, with the same operations in
the same order, compiled with ``--fmad=false`` (no product and sum merged into
one rounding), so that its elementwise results are the Array API path's bits:

=====================================  ==========================================  =================
chain (float32 or float64)             Array API calls                             kernels
=====================================  ==========================================  =================
ζ += β; α = Φ(ζ) of a hidden layer     2 (relu, tanh), 3, 7, 10 (sigmoid)          1
Φ'(ζ) ⊙ g                              3 (relu, sigmoid, tanh), 5, 10 (softplus)   1
C and 𝓑ᴸ of softmax + cross-entropy    12                                          1
C and 𝓑ᴸ of sigmoid + binary CE        16                                          1
SGD, momentum (Nesterov), Adam         2, 4 (6), 12 per parameter                  1 per parameter
=====================================  ==========================================  =================

for Φ = relu, leaky_relu, sigmoid, tanh, softplus.  The output-error kernels
sum each row in one thread, in column order: their costs and 𝓑ᴸ equal the
Array API path's to rounding, not bit for bit.

``MLP_XP_CUPY_KERNELS=1`` in the environment switches them on (``ENABLED``,
read at import) for models on CuPy: ``fit``'s step then takes kernel-backed
activations and costs from ``with_kernels`` (in ``objective_gradients``) and
its update from ``fused_update`` (in ``owned_step``).  Not yet run on a GPU.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import array_api_compat

from .activations import ACTIVATIONS, LEAKY_SLOPE, Activation
from .costs import COSTS, Cost

ENABLED = os.environ.get("MLP_XP_CUPY_KERNELS", "0") == "1"
OPTIONS = ("--fmad=false",)
THREADS = 128  # per block of the output-error kernels, one thread per row
SLOPES = (LEAKY_SLOPE, 1.0 - LEAKY_SLOPE)  # s and 1 − s of leaky_relu, as activations.py forms them

# α = Φ(ζ) and out = Φ'(ζ) ⊙ g, written as activations.py computes them (CuPy's
# maximum gives NaN for a NaN operand: kept).  s and r are leaky_relu's slopes.
_SIGMOID = "T e = exp(-fabs(z)); T sigma = z >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);"
_VALUE = {
    "relu": "a = isnan(z) ? z : max(z, (T)0);",
    "leaky_relu": "a = isnan(z) ? z : max(z, s * z);",
    "sigmoid": _SIGMOID + " a = sigma;",
    "tanh": "a = tanh(z);",
    "softplus": "a = (isnan(z) ? z : max(z, (T)0)) + log1p(exp(-fabs(z)));",
}
_VJP = {
    "relu": "out = (T)(z > (T)0) * g;",
    "leaky_relu": "out = g * (s + r * (T)(z > (T)0));",
    "sigmoid": "out = g * a * ((T)1 - a);",
    "tanh": "out = g * ((T)1 - a * a);",
    "softplus": _SIGMOID + " out = g * sigma;",
}
# One thread per row i of the logits z (rows × cols, C order): the cost value[i] and the row of 𝓑ᴸ.
_OUTPUT_ERRORS = {
    "cross_entropy": """
    T top = zi[0];
    for (int k = 1; k < cols; ++k) top = (isnan(zi[k]) || zi[k] > top) ? zi[k] : top;
    T total = 0;
    for (int k = 0; k < cols; ++k) total += exp(zi[k] - top);
    T log_total = log(total);
    for (int k = 0; k < cols; ++k) {
        T shifted = zi[k] - top;
        cost += yi[k] * (yi[k] == (T)0 ? (T)0 : log_total - shifted);
        di[k] = exp(shifted) / total - yi[k];
    }""",
    "binary_cross_entropy": """
    for (int k = 0; k < cols; ++k) {
        T z = zi[k], e = exp(-fabs(z)), tail = e / ((T)1 + e);
        cost += ((isnan(z) ? z : max(z, (T)0)) - yi[k] * z) + log1p(e);
        di[k] = z >= (T)0 ? ((T)1 - yi[k]) - tail : tail - yi[k];
    }""",
}
_OUTPUT_ERROR_KERNEL = """typedef {ctype} T;
extern "C" __global__ void output_error(const T* z, const T* y, T* value, T* delta, int rows, int cols) {{
    int i = blockDim.x * blockIdx.x + threadIdx.x;
    if (i >= rows) return;
    const T* zi = z + (long long)i * cols;
    const T* yi = y + (long long)i * cols;
    T* di = delta + (long long)i * cols;
    T cost = 0;
    {body}
    value[i] = cost;
}}"""
# The optimizers' in-place updates (optimizers.py), one parameter p at a time.
_UPDATES = {
    "sgd": ("T g, T lr", "T p", "p = p - lr * g;"),
    "momentum": ("T g, T lr, T mu", "T p, T v", "T lr_g = lr * g; v = v * mu; v = v - lr_g; p = p + v;"),
    "nesterov": (
        "T g, T lr, T mu",
        "T p, T v",
        "T lr_g = lr * g; v = v * mu; v = v - lr_g; p = p + (mu * v - lr_g);",
    ),
    "adam": (
        "T g, T b1, T c1, T b2, T c2, T rate, T eps",
        "T p, T m, T v",
        "m = m * b1; m = m + c1 * g; v = v * b2; v = v + c2 * (g * g); p = p - rate * m / (sqrt(v) + eps);",
    ),
}


def with_kernels(xp: Any, phis: Sequence[Activation], cost: Cost) -> tuple[Sequence[Activation], Cost]:
    """``phis`` and ``cost`` backed by the fused kernels where they are switched on and ``xp``
    is CuPy's namespace; else ``phis`` and ``cost`` themselves.

    The built-in elementwise activations get ``fused_bias`` and a kernel ``vjp``,
    cross-entropy and binary cross-entropy a kernel ``fused``; others stay as they are.
    """
    if not ENABLED or not array_api_compat.is_cupy_namespace(xp):
        return phis, cost
    return [_activation(phi) for phi in phis], _cost(cost)


def fused_update(optimizer: Any) -> Callable[..., tuple[list[Any], Any]] | None:
    """``optimizer.update`` (an ``SGD`` or ``Adam``) as one kernel per parameter for CuPy
    arrays (other arrays: ``optimizer.update`` itself); None where the kernels are off."""
    if not ENABLED:
        return None

    def update(params: list[Any], grads: Sequence[Any], state: Any, lr: float) -> tuple[list[Any], Any]:
        if not array_api_compat.is_cupy_array(params[0]):
            return optimizer.update(params, grads, state, lr)
        if optimizer.name == "adam":
            state["t"] += 1
            b1, b2, rate = optimizer.beta1, optimizer.beta2, optimizer.step_size(lr, state["t"])
            for p, g, m, v in zip(params, grads, state["m"], state["v"]):
                _update_kernel("adam")(g, b1, 1 - b1, b2, 1 - b2, rate, optimizer.eps, p, m, v)
        elif optimizer.momentum == 0.0:
            for p, g in zip(params, grads):
                _update_kernel("sgd")(g, lr, p)
        else:
            kernel = _update_kernel("nesterov" if optimizer.nesterov else "momentum")
            for p, g, v in zip(params, grads, state["velocity"]):
                kernel(g, lr, optimizer.momentum, p, v)
        return params, state

    return update


@functools.cache
def _activation(phi: Activation) -> Activation:
    if ACTIVATIONS.get(phi.name) is not phi or phi.name not in _VALUE:
        return phi
    name = phi.name
    value = _elementwise(f"mlp_xp_bias_{name}", "T b, T s, T r", "T z, T a", f"z = z + b; {_VALUE[name]}")
    vjp = _elementwise(f"mlp_xp_vjp_{name}", "T z, T a, T g, T s, T r", "T out", _VJP[name])
    cupy = importlib.import_module("cupy")

    def fused_bias(xp: Any, z: Any, b: Any) -> Any:
        a = cupy.empty_like(z)
        value(b, *SLOPES, z, a)
        return a

    return dataclasses.replace(phi, vjp=lambda xp, z, a, g: vjp(z, a, g, *SLOPES), fused_bias=fused_bias)


@functools.cache
def _cost(cost: Cost) -> Cost:
    if COSTS.get(cost.name) is not cost or cost.name not in _OUTPUT_ERRORS:
        return cost
    cupy = importlib.import_module("cupy")
    body = _OUTPUT_ERRORS[cost.name]

    def fused(xp: Any, y: Any, z: Any) -> tuple[Any, Any]:
        z, y = cupy.ascontiguousarray(z), cupy.ascontiguousarray(y, dtype=z.dtype)
        rows, cols = z.shape
        value, delta = cupy.empty((rows,), dtype=z.dtype), cupy.empty_like(z)
        kernel = _row_kernel(body, "double" if z.dtype == cupy.float64 else "float")
        arguments = (z, y, value, delta, cupy.int32(rows), cupy.int32(cols))
        kernel((math.ceil(rows / THREADS),), (THREADS,), arguments)
        return value, delta

    return dataclasses.replace(cost, fused=fused)


@functools.cache
def _elementwise(name: str, inputs: str, outputs: str, operation: str) -> Any:
    cupy = importlib.import_module("cupy")
    return cupy.ElementwiseKernel(inputs, outputs, operation, name, options=OPTIONS)


@functools.cache
def _row_kernel(body: str, ctype: str) -> Any:
    source = _OUTPUT_ERROR_KERNEL.format(ctype=ctype, body=body)
    return importlib.import_module("cupy").RawKernel(source, "output_error", options=OPTIONS)


def _update_kernel(name: str) -> Any:
    return _elementwise(f"mlp_xp_{name}_update", *_UPDATES[name])
