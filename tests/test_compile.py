"""The compiled step (``fit(compile=...)``, ``mlp_xp._compile``) gives the eager loop's results.

On a backend with a compiler (jax: ``jax.jit``, torch: ``torch.compile``) each
test trains one model eagerly and one compiled, from one seed, and asks for
the same parameters, losses, gradient norms and optimizer state to the
rounding of fused operations (float64: 1e-12 relative; float32: 1e-6).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS, parameters

import mlp_xp
from mlp_xp import _compile, training
from mlp_xp._backend import get_namespace
from mlp_xp.optimizers import SGD, Adam, LineSearchGD

without_compiler = pytest.mark.skip_backend("numpy", "array_api_strict", "cupy", reason="no compiler")
# torch.compile takes half a minute for each configuration: torch compiles the one of
# test_torch_compile_equals_eager, and each test below on JAX.
jax_only = pytest.mark.skip_backend("torch", reason="torch.compile costs half a minute per configuration")
TOLERANCE = {"float64": 1e-12, "float32": 1e-6}
OPTIMIZERS = [SGD(), SGD(momentum=0.9), SGD(momentum=0.9, nesterov=True), Adam()]
OPTIMIZER_IDS = ["sgd", "momentum", "nesterov", "adam"]


def fit_both(make_mlp, x, y, dtype="float64", layers=(4, 6, 5, 3), **options):
    """The models and Histories of an eager and a compiled fit, from one seed."""
    models = [make_mlp(list(layers), "tanh", "softmax", dtype=dtype, seed=1) for _ in range(2)]
    options = {"loss": "cross_entropy", "lr": 0.05, "epochs": 3, "seed": 2, **options}
    histories = [model.fit(x, y, compile=compile, **options) for model, compile in zip(models, (False, True))]
    return models, histories


def assert_same_training(models, histories, dtype="float64"):
    tolerance = TOLERANCE[dtype]
    for got, want in zip(parameters(models[1]), parameters(models[0])):
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)
    (eager, compiled) = histories
    np.testing.assert_allclose(compiled.loss, eager.loss, rtol=tolerance)
    np.testing.assert_allclose(compiled.layer_grad_norms, eager.layer_grad_norms, rtol=tolerance)
    assert models[1].n_updates == models[0].n_updates


@jax_only
@without_compiler
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=OPTIMIZER_IDS)
@pytest.mark.parametrize("options", [{}, {"alpha": 1e-2, "clip_norm": 0.5}], ids=["plain", "l2-clip"])
def test_compiled_fit_equals_eager_fit(optimizer, options, make_mlp, rng):
    x, labels = rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)
    models, histories = fit_both(make_mlp, x, labels, optimizer=optimizer, batch_size=8, **options)
    assert_same_training(models, histories)
    states = [model.optimizer_state or {} for model in models]
    assert states[1].keys() == states[0].keys()
    for key, value in states[0].items():
        if isinstance(value, list):
            for got, want in zip(states[1][key], value):
                np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-15)
        else:
            assert states[1][key] == value and type(states[1][key]) is type(value)  # Adam's t: a host int


@jax_only
@without_compiler
@pytest.mark.parametrize(
    ("sampling", "batch_size"),
    [("shuffle", 7), ("uniform", 8), ("sequential", 7), ("shuffle", None), ("shuffle", 1)],
    ids=["shuffle-shorter-last", "uniform", "sequential", "full-batch", "sgd"],
)
def test_every_batching_compiles_to_the_eager_result(sampling, batch_size, make_mlp, rng):
    x, labels = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    weights = rng.uniform(0.0, 2.0, size=30)
    models, histories = fit_both(
        make_mlp, x, labels, dtype="float32", layers=(4, 5, 3), optimizer="adam", sample_weight=weights,
        sampling=sampling, batch_size=batch_size, lr_schedule="invscaling",
    )  # fmt: skip
    assert_same_training(models, histories, "float32")


@jax_only
@without_compiler
def test_a_compiled_fit_resumes_a_compiled_fit(make_mlp, rng):
    """Adam's t stays a host int through compiled epochs: 2 + 2 epochs equal 4, and save."""
    x, labels = rng.normal(size=(24, 4)), rng.integers(0, 3, size=24)
    once, twice = (make_mlp([4, 5, 3], "relu", "softmax", seed=0) for _ in range(2))
    options = dict(loss="cross_entropy", optimizer="adam", batch_size=5, seed=3, compile=True)
    once.fit(x, labels, epochs=4, **options)
    twice.fit(x, labels, epochs=2, **options)
    twice.fit(x, labels, epochs=2, resume=True, **{**options, "seed": None})
    assert twice.optimizer_state["t"] == once.optimizer_state["t"] == 20
    assert isinstance(twice.optimizer_state["t"], int)


@jax_only
@without_compiler
def test_a_configuration_is_traced_once(backend, make_mlp, rng, monkeypatch):
    """A second fit of the same network, cost and optimizer (other data, epochs and
    learning rates) reuses the compiled programs: the step is not traced again."""
    traced = []
    original = training.BatchGradients.__call__
    monkeypatch.setattr(
        training.BatchGradients, "__call__", lambda self, *a, **k: traced.append(1) or original(self, *a, **k)
    )
    options = dict(loss="cross_entropy", batch_size=4, alpha=0.0123, compile=True)
    for epochs, lr in ((2, 0.1), (3, 0.01)):
        x, labels = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
        make_mlp([3, 7, 2], "relu", "softmax", seed=0).fit(x, labels, lr=lr, epochs=epochs, **options)
        if lr == 0.1:
            first = len(traced)
    assert 0 < first == len(traced)


@pytest.mark.skip_backend("numpy", "array_api_strict", "cupy", "jax", reason="a torch.compile test")
# torch 2.13's compiler imports torch.jit.script_method, which torch itself deprecates, and warns
# that it traces through array-api-compat's functools.lru_cache (of array types to namespaces).
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`:UserWarning")
def test_torch_compile_equals_eager(make_mlp, rng):
    """One configuration on torch: Adam's state, clipping, sample weights, a shorter last batch."""
    x, labels = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    models, histories = fit_both(
        make_mlp, x, labels, optimizer="adam", batch_size=7, clip_norm=0.5, sample_weight=rng.uniform(size=30)
    )
    assert_same_training(models, histories)


def _count_jax_reads(monkeypatch):
    """Every read of a JAX array on the host outside ``training.host_floats``, counted."""
    jax = pytest.importorskip("jax")
    reads, inside = [], []
    array_type = type(jax.numpy.zeros(()))
    for method in ("__float__", "__bool__", "__int__", "__index__", "__array__"):
        original = getattr(array_type, method)
        monkeypatch.setattr(
            array_type,
            method,
            lambda self, *a, _f=original, _m=method, **k: inside or reads.append(_m) or _f(self, *a, **k),
        )
    transfers = []

    def host_floats(xp, values, _f=training.host_floats):
        transfers.append(1)
        inside.append(1)
        try:
            return _f(xp, values)
        finally:
            inside.pop()

    monkeypatch.setattr(training, "host_floats", host_floats)
    return reads, transfers


@pytest.mark.skipif("jax" not in BACKENDS, reason="the JAX backend: run with MLP_XP_BACKENDS=jax")
def test_a_compiled_fit_reads_the_device_once_per_epoch(monkeypatch, rng):
    """As ``test_fit_reads_the_device_once_per_epoch`` on array_api_strict, for the compiled loop."""
    reads, transfers = _count_jax_reads(monkeypatch)
    x, y = rng.normal(size=(64, 3)), rng.integers(0, 2, size=64)
    model = mlp_xp.MLP([3, 4, 2], "relu", "softmax", backend="jax", seed=0)
    options = dict(
        loss="cross_entropy", batch_size=4, alpha=1e-3, validation_data=(x[:8], y[:8]), compile=True
    )
    model.fit(x, y, epochs=1, **options)
    checks = len(reads)
    reads.clear()
    transfers.clear()
    history = model.fit(x, y, epochs=6, **options)
    assert len(transfers) == 6 == history.n_epochs
    assert len(reads) == checks


# --- the choice of a compiler --------------------------------------------------------------------


def installed(backend: str, *values):
    """A parameter set that needs ``backend``'s library: skipped where it is not installed."""
    module = {"jax": "jax", "torch": "torch"}.get(backend, "numpy")
    missing = importlib.util.find_spec(module) is None
    return pytest.param(
        backend, *values, marks=pytest.mark.skipif(missing, reason=f"{module} is not installed")
    )


@pytest.mark.parametrize(
    ("backend", "choice", "optimizer", "expected"),
    [
        installed("jax", None, SGD(), "jax"),
        installed("jax", True, Adam(), "jax"),
        installed("jax", False, Adam(), None),
        installed("jax", None, LineSearchGD(), None),
        installed("torch", None, SGD(), None),
        installed("torch", True, SGD(momentum=0.5), "torch"),
        installed("numpy", None, Adam(), None),
        installed("array_api_strict", False, SGD(), None),
    ],
)
def test_the_compiler_is_chosen_by_backend_and_optimizer(backend, choice, optimizer, expected):
    assert _compile.choose_compiler(choice, get_namespace(backend), optimizer) == expected


@pytest.mark.parametrize(
    ("backend", "choice", "optimizer", "error", "match"),
    [
        installed("numpy", True, SGD(), ValueError, "compile=True needs a backend with a compiler"),
        installed("jax", True, LineSearchGD(), ValueError, r"compile=True: LineSearchGD.* runs eagerly"),
        installed("jax", True, mlp_xp.LBFGS(), ValueError, r"compile=True: LBFGS.* runs eagerly"),
        installed("numpy", "yes", SGD(), TypeError, "compile must be None, True or False, got 'yes'"),
    ],
)
def test_an_impossible_compile_is_refused_before_training(backend, choice, optimizer, error, match, rng):
    model = mlp_xp.MLP([3, 2], backend=backend, seed=0)
    before = parameters(model)
    with pytest.raises(error, match=match):
        model.fit(
            rng.normal(size=(6, 3)),
            rng.normal(size=(6, 2)),
            optimizer=optimizer,
            compile=choice,
            batch_size=None,
        )
    for p, q in zip(parameters(model), before):
        np.testing.assert_array_equal(p, q)
    assert model.history is None


# --- the benchmark script -----------------------------------------------------------------------


@pytest.mark.skipif("numpy" not in BACKENDS, reason="host-side: run with numpy")
def test_the_benchmark_script_runs_and_writes_its_table(monkeypatch, tmp_path, capsys):
    """benchmarks/compiled_step.py on a tiny run: every contender trains the same model."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    script = importlib.import_module("compiled_step")
    monkeypatch.setattr(script.h, "set_threads", lambda n: {"requested": n})  # no process-wide pinning
    contenders = ["numpy", "jax:step"] if importlib.util.find_spec("jax") else ["numpy"]
    argv = ["--contenders", ",".join(contenders), "--repeats", "1", "--epochs", "1", "--out", str(tmp_path)]
    assert script.main(argv) == 0
    (table,) = tmp_path.glob("compiled-step-*.md")
    rows = [line.split("|")[1].strip() for line in table.read_text(encoding="utf-8").splitlines()[6:]]
    assert rows == contenders
    losses = {line.split("|")[-2] for line in table.read_text(encoding="utf-8").splitlines()[6:]}
    assert len(losses) == 1  # one model, whoever trains it
    assert table.read_text(encoding="utf-8") in capsys.readouterr().out
