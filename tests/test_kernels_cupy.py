"""The fused CuPy kernels give the Array API path's results.

On the cupy backend (skipped without CuPy and a CUDA device; the GPU run,
``benchmarks/gpu_run.sh``, runs them): each kernel against the plain path on
the same arrays, special values included, the elementwise chains and the
updates bit for bit, the output errors (rows summed in another order) to
rounding; and a ``fit`` with the kernels switched on trains the model of one
without them, every kind of kernel having run.  On the host: switched off, or
on another backend, the kernels change nothing; and their C++ source, compiled
by the host's compiler where there is one, computes the formulas of the Array
API path.
"""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
from conftest import host, parameters

import mlp_xp
from mlp_xp import _kernels_cupy
from mlp_xp._backend import get_namespace, quiet_overflow
from mlp_xp.activations import ACTIVATIONS
from mlp_xp.costs import COSTS
from mlp_xp.network import output_error
from mlp_xp.objective import objective_gradients, objective_value, ratio
from mlp_xp.optimizers import SGD, Adam, copy_tree, owned_step


def _cupy_namespace():
    try:
        return get_namespace("cupy")
    except (ImportError, RuntimeError):
        return None


CUPY = _cupy_namespace()
needs_cupy = pytest.mark.skipif(CUPY is None, reason="needs CuPy and a CUDA device")
ELEMENTWISE = sorted(_kernels_cupy._VALUE)
FUSED = [("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")]
OPTIMIZERS = [SGD(), SGD(momentum=0.9), SGD(momentum=0.9, nesterov=True), Adam()]
OPTIMIZER_IDS = ["sgd", "momentum", "nesterov", "adam"]
SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 20.0, -20.0, 1e30, -1e30, np.inf, -np.inf, np.nan]


@pytest.fixture
def kernels(monkeypatch):
    """The kernels switched on, their caches emptied before and after."""
    monkeypatch.setattr(_kernels_cupy, "ENABLED", True)
    for cached in (_kernels_cupy._activation, _kernels_cupy._cost):
        cached.cache_clear()
    yield
    for cached in (_kernels_cupy._activation, _kernels_cupy._cost):
        cached.cache_clear()


def logits(rng, dtype):
    """(6, 13) normal values, the first row special (signed zeros, tiny, huge, inf, NaN)."""
    values = rng.normal(scale=3.0, size=(6, len(SPECIAL)))
    values[0] = SPECIAL
    return CUPY.asarray(values, dtype=getattr(CUPY, dtype))


def assert_same(got, want):
    np.testing.assert_array_equal(host(got), host(want))


# --- on the host -------------------------------------------------------------------------


def test_switched_off_or_off_cupy_the_kernels_change_nothing(monkeypatch, rng):
    """Off (the default), nothing is replaced; on, a NumPy model still trains on the Array
    API path (bit for bit the parameters of a fit with the kernels off)."""
    phis, cost = [ACTIVATIONS["relu"], ACTIVATIONS["softmax"]], COSTS["cross_entropy"]
    numpy = get_namespace("numpy")
    assert _kernels_cupy.with_kernels(numpy, phis, cost) == (phis, cost)
    sgd = SGD()
    assert _kernels_cupy.fused_update(sgd) is None and owned_step(sgd) == sgd.update
    x, labels = rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)
    options = dict(loss="cross_entropy", lr=0.05, batch_size=8, epochs=2, seed=1)
    trained = {}
    for enabled in (False, True):
        monkeypatch.setattr(_kernels_cupy, "ENABLED", enabled)
        assert _kernels_cupy.with_kernels(numpy, phis, cost) == (phis, cost)
        for optimizer, name in zip(OPTIMIZERS, OPTIMIZER_IDS):
            model = mlp_xp.MLP([4, 6, 3], "relu", "softmax", seed=0)
            model.fit(x, labels, optimizer=optimizer, **options)
            trained[enabled, name] = parameters(model)
    for name in OPTIMIZER_IDS:
        for on, off in zip(trained[True, name], trained[False, name]):
            np.testing.assert_array_equal(on, off)


# --- on CuPy -----------------------------------------------------------------------------


@needs_cupy
@pytest.mark.usefixtures("kernels")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_bias_and_activation_kernel_equals_the_array_api_path(name, dtype, rng):
    phi = ACTIVATIONS[name]
    (fused,), _ = _kernels_cupy.with_kernels(CUPY, [phi], COSTS["mse"])
    z, b = logits(rng, dtype), CUPY.asarray(rng.normal(size=len(SPECIAL)), dtype=getattr(CUPY, dtype))
    plain_z = CUPY.asarray(z, copy=True)
    plain_z += b
    a = fused.fused_bias(CUPY, z, b)
    assert_same(z, plain_z)
    assert_same(a, phi.value(CUPY, plain_z))


@needs_cupy
@pytest.mark.usefixtures("kernels")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_vjp_kernel_equals_the_array_api_path(name, dtype, rng):
    phi = ACTIVATIONS[name]
    (fused,), _ = _kernels_cupy.with_kernels(CUPY, [phi], COSTS["mse"])
    z, g = logits(rng, dtype), logits(rng, dtype)
    a = phi.value(CUPY, z)
    assert_same(fused.vjp(CUPY, z, a, g), phi.vjp(CUPY, z, a, g))


@needs_cupy
@pytest.mark.usefixtures("kernels")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("loss", "activation"), FUSED)
def test_output_error_kernel_equals_the_array_api_path_to_rounding(loss, activation, dtype, rng):
    """Logits up to ±1e4 (saturating), and a row spread beyond the float range."""
    phi, cost = ACTIVATIONS[activation], COSTS[loss]
    (fused_phi,), fused_cost = _kernels_cupy.with_kernels(CUPY, [phi], cost)
    big = 0.75 * float(np.finfo(dtype).max)
    z = rng.normal(scale=5.0, size=(9, 4))
    z[0], z[1, :2] = [1e4, -1e4, 0.0, 3.0], [big, -big]
    y = np.eye(4)[rng.integers(0, 4, size=9)] if loss == "cross_entropy" else rng.integers(0, 2, size=(9, 4))
    z, y = (CUPY.asarray(a, dtype=getattr(CUPY, dtype)) for a in (z, y))
    tolerance = 1e-5 if dtype == "float32" else 1e-13
    got, want = (
        output_error(CUPY, fused_phi, fused_cost, z, None, y),
        output_error(CUPY, phi, cost, z, None, y),
    )
    for g, w in zip(got, want):
        np.testing.assert_allclose(host(g), host(w), rtol=tolerance, atol=tolerance)


@needs_cupy
@pytest.mark.usefixtures("kernels")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_update_kernels_equal_the_in_place_update(optimizer, dtype, rng):
    """Three updates of a weight matrix and a bias vector: the same parameters and state."""
    params = [CUPY.asarray(rng.normal(size=s), dtype=getattr(CUPY, dtype)) for s in [(5, 3), (3,)]]
    fused_params, state = copy_tree(params), optimizer.init(params)
    fused_state = copy_tree(state)
    for _ in range(3):
        grads = [CUPY.asarray(rng.normal(size=p.shape), dtype=p.dtype) for p in params]
        fused_params, fused_state = owned_step(optimizer)(fused_params, copy_tree(grads), fused_state, 0.05)
        params, state = optimizer.update(params, grads, state, 0.05)
    for got, want in zip(fused_params, params):
        assert_same(got, want)
    for key in state or {}:
        if isinstance(state[key], list):
            for got, want in zip(fused_state[key], state[key]):
                assert_same(got, want)
        else:
            assert fused_state[key] == state[key]


@needs_cupy
@pytest.mark.parametrize(
    ("activation", "output", "loss"),
    [("relu", "softmax", "cross_entropy"), ("tanh", "sigmoid", "binary_cross_entropy")],
)
@pytest.mark.parametrize("optimizer", [SGD(momentum=0.9), Adam()], ids=["momentum", "adam"])
def test_fit_with_the_kernels_trains_as_fit_without(
    activation, output, loss, optimizer, kernels, monkeypatch, rng
):
    """Three epochs of mini-batches: the same losses and parameters to float32 rounding; the
    bias, vjp, output-error and update kernels all ran."""
    ran = set()

    def counted(make, kind):
        def making(*args):
            kernel = make(*args)
            return lambda *a, **k: ran.add(kind(args)) or kernel(*a, **k)

        return making

    name_part = lambda args: args[0].split("_")[2]  # noqa: E731  mlp_xp_<bias|vjp|sgd|momentum|adam>_...
    monkeypatch.setattr(_kernels_cupy, "_elementwise", counted(_kernels_cupy._elementwise, name_part))
    monkeypatch.setattr(_kernels_cupy, "_row_kernel", counted(_kernels_cupy._row_kernel, lambda a: "output"))
    x = rng.normal(size=(96, 8))
    y = rng.integers(0, 3, size=96) if loss == "cross_entropy" else rng.integers(0, 2, size=(96, 3))
    options = dict(loss=loss, optimizer=optimizer, lr=0.01, batch_size=16, epochs=3, seed=2)
    trained = []
    for enabled in (True, False):
        monkeypatch.setattr(_kernels_cupy, "ENABLED", enabled)
        model = mlp_xp.MLP([8, 16, 16, 3], activation, output, backend="cupy", seed=0)
        history = model.fit(x, y, **options)
        trained.append((parameters(model), history.loss))
    (fused, fused_loss), (plain, plain_loss) = trained
    np.testing.assert_allclose(fused_loss, plain_loss, rtol=1e-4)
    for got, want in zip(fused, plain):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert ran == {"bias", "vjp", "output", optimizer.name if optimizer.name == "adam" else "momentum"}


@needs_cupy
@pytest.mark.usefixtures("kernels")
@pytest.mark.parametrize(("loss", "activation"), FUSED)
def test_the_line_searches_value_is_the_step_s_value(loss, activation, rng):
    """A line search compares 𝓔 from ``objective_value`` with the step's from
    ``objective_gradients``: with the kernels on, both come from the same kernels."""
    model = mlp_xp.MLP([5, 7, 3], "tanh", activation, backend="cupy", seed=0)
    params, cost = [*model.weights, *model.biases], COSTS[loss]
    y = (
        np.eye(3)[rng.integers(0, 3, size=16)]
        if loss == "cross_entropy"
        else rng.integers(0, 2, size=(16, 3))
    )
    batch = (
        CUPY.asarray(rng.normal(size=(16, 5)), dtype=CUPY.float32),
        CUPY.asarray(y, dtype=CUPY.float32),
        None,
    )
    total, weight, _, _ = objective_gradients(
        CUPY, params, model.phis, batch, cost, 1e-3, CUPY.float64, output=False
    )
    assert objective_value(CUPY, params, model.phis, batch, cost, 1e-3, CUPY.float64) == ratio(total, weight)


# --- the kernels' source on the host -----------------------------------------------------

HOST = """#include <algorithm>
#include <cmath>
#include <cstdio>
using std::exp; using std::fabs; using std::isnan; using std::log; using std::log1p; using std::max;
using std::sqrt; using std::tanh;
#define __global__
struct Index { int x; } blockDim = {1}, blockIdx = {0}, threadIdx = {0};
typedef double T;
void print(T x) { std::printf("%.17g\\n", x); }
"""


def c_array(values) -> str:
    """A C++ initialiser list of doubles, NaN and infinities included."""

    def literal(v: float) -> str:
        if math.isnan(v):
            return "NAN"
        return ("INFINITY" if v > 0 else "-INFINITY") if math.isinf(v) else repr(float(v))

    return "{" + ", ".join(map(literal, np.ravel(values))) + "}"


def run_on_host(tmp_path, definitions: list[str], statements: list[str]) -> np.ndarray:
    """Compile ``definitions`` and a ``main`` of ``statements`` with the host's C++ compiler
    (no a*b + c contracted into one rounding, as the kernels are compiled); what they print."""
    compiler = shutil.which("g++") or shutil.which("clang++")
    if compiler is None:
        pytest.skip("needs a C++ compiler on the host")
    source = HOST + "\n".join(definitions) + "\nint main() {\n" + "\n".join(statements) + "\n}\n"
    (tmp_path / "kernels.cpp").write_text(source)
    binary = str(tmp_path / "kernels")
    command = [compiler, "-O1", "-ffp-contract=off", "-o", binary, str(tmp_path / "kernels.cpp")]
    subprocess.run(command, check=True, capture_output=True, text=True)
    printed = subprocess.run([binary], check=True, capture_output=True, text=True).stdout
    return np.array([float(word) for word in printed.split()])


def test_the_kernels_source_computes_the_array_api_formulas(tmp_path, rng):
    """The CUDA C++ of every elementwise kernel and of both output-error kernels, compiled in
    double on the host, against the Array API path on NumPy, special values included."""
    numpy, (s, r) = get_namespace("numpy"), _kernels_cupy.SLOPES
    z = np.where(rng.random(len(SPECIAL)) < 0.5, SPECIAL, rng.normal(scale=3.0, size=len(SPECIAL)))
    b, g = rng.normal(size=(2, len(SPECIAL)))
    logits = rng.normal(scale=4.0, size=(4, 3))
    targets = {
        "cross_entropy": np.eye(3)[rng.integers(0, 3, size=4)],
        "binary_cross_entropy": rng.integers(0, 2, size=(4, 3)) * 1.0,
    }
    big = 0.75 * np.finfo(float).max  # a spread beyond the float range: z − max z = −inf where y = 0
    logits[0], targets["cross_entropy"][0] = [big, -big, 0.0], [1.0, 0.0, 0.0]
    definitions, statements, want = [], [], []
    for name in ELEMENTWISE:
        definitions += [
            f"void value_{name}(T b, T s, T r, T& z, T& a) {{ z = z + b; {_kernels_cupy._VALUE[name]} }}",
            f"void vjp_{name}(T z, T a, T g, T s, T r, T& out) {{ {_kernels_cupy._VJP[name]} }}",
        ]
        statements.append(
            f"{{ T z[] = {c_array(z)}, b[] = {c_array(b)}, g[] = {c_array(g)}, s = {s!r}, r = {r!r};"
            f" for (int i = 0; i < {z.size}; ++i) {{ T a, out; value_{name}(b[i], s, r, z[i], a);"
            f" vjp_{name}(z[i], a, g[i], s, r, out); print(a); print(out); }} }}"
        )
    for loss, body in _kernels_cupy._OUTPUT_ERRORS.items():
        kernel = _kernels_cupy._OUTPUT_ERROR_KERNEL.format(ctype="double", body=body)
        definitions.append(
            kernel.replace("typedef double T;", "").replace("output_error", f"output_error_{loss}")
        )
        statements.append(
            f"{{ T z[] = {c_array(logits)}, y[] = {c_array(targets[loss])}, value[4], delta[12];"
            " for (int i = 0; i < 4; ++i) {"
            f" threadIdx.x = i; output_error_{loss}(z, y, value, delta, 4, 3); }}"
            " for (T v : value) print(v); for (T d : delta) print(d); }"
        )
    with quiet_overflow():
        for name in ELEMENTWISE:
            phi, biased = ACTIVATIONS[name], z + b
            a = phi.value(numpy, biased)
            want.append(np.stack([a, phi.vjp(numpy, biased, a, g)], axis=1).ravel())
        for loss in _kernels_cupy._OUTPUT_ERRORS:
            value, delta = COSTS[loss].fused(numpy, targets[loss], logits)
            want += [value, delta.ravel()]
    got = run_on_host(tmp_path, definitions, statements)
    np.testing.assert_allclose(got, np.concatenate(want), rtol=1e-14, atol=1e-15)


def test_the_update_kernels_source_computes_the_optimizers_updates(tmp_path, rng):
    """One update of each optimizer from a state of random moments, in double on the host,
    against the optimizers' own ``update`` on NumPy."""
    numpy = get_namespace("numpy")
    p, g, m = rng.normal(size=(3, 8))
    v, lr = rng.random(8), 0.05
    cases = {  # kernel: (optimizer, its state, the kernel's scalars, the kernel's outputs)
        "sgd": (SGD(), None, [lr], [p]),
        "momentum": (SGD(momentum=0.9), {"velocity": [m]}, [lr, 0.9], [p, m]),
        "nesterov": (SGD(momentum=0.9, nesterov=True), {"velocity": [m]}, [lr, 0.9], [p, m]),
        "adam": (
            Adam(),
            {"m": [m], "v": [v], "t": 2},
            [0.9, 1 - 0.9, 0.999, 1 - 0.999, Adam().step_size(lr, 3), 1e-8],  # as fused_update passes them
            [p, m, v],
        ),
    }
    definitions, statements, want = [], [], []
    for name, (optimizer, state, scalars, outputs) in cases.items():
        inputs, outs, operation = _kernels_cupy._UPDATES[name]
        signature = ", ".join([inputs, *(f"T& {o.split()[1]}" for o in outs.split(", "))])
        definitions.append(f"void update_{name}({signature}) {{ {operation} }}")
        arrays = ", ".join(f"o{k}[] = {c_array(o)}" for k, o in enumerate(outputs))
        arguments = ", ".join(["g[i]", *map(repr, scalars), *(f"o{k}[i]" for k in range(len(outputs)))])
        printing = " ".join(f"print(o{k}[i]);" for k in range(len(outputs)))
        statements.append(
            f"{{ T g[] = {c_array(g)}, {arrays};"
            f" for (int i = 0; i < 8; ++i) {{ update_{name}({arguments}); {printing} }} }}"
        )
        params, state = optimizer.update([numpy.asarray(p, copy=True)], [numpy.asarray(g, copy=True)],
                                         copy_tree(state), lr)  # fmt: skip
        moments = [] if state is None else [state[key][0] for key in ("velocity", "m", "v") if key in state]
        want.append(np.stack([params[0], *moments], axis=1).ravel())
    got = run_on_host(tmp_path, definitions, statements)
    np.testing.assert_array_equal(got, np.concatenate(want))
