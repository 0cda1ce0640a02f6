"""A training step makes few array calls: as few as a hand-written NumPy loop, plus at most 10 %.

On a GPU every array call is a kernel launch of several microseconds; on a CPU
it costs a Python call of about one.  Small networks are bound by that count.
The calls are counted through a namespace whose arrays count every operation
made on them (``Counted``): functions of the namespace that take or give an
array, operators, in-place operators, indexing, ``.T`` and methods; reading
``shape``, ``dtype`` or ``device`` is free.  ``fit`` runs on that namespace as
on any Array API backend (``MLP(backend=namespace)``); one step is the
difference between an epoch of four batches and one of three (batch order,
forward, cost, backward, update and the loss sum).  The hand-written loop
(``hand_written_step``: the benchmarks' native NumPy loop, with NumPy's
methods, ``out=`` and boolean masks) is counted the same way and must train
the same parameters, so that the comparison is with a real step.

The bounds are the counts reached: a change that adds a call fails here.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import array_api_compat.numpy as compat_numpy
import numpy as np
import pytest

import mlp_xp

SIZES, BATCH, LR = [64, 32, 10], 32, 0.05
STEP_CALLS = {"sgd": 42, "momentum": 50, "adam": 82}  # fit's calls per step, held
MARGIN = 1.10  # at most 10 % above the hand-written loop


class Counter:
    """Counts the calls made on the arrays of ``namespace`` (``array_types``), by name."""

    def __init__(self, namespace: Any, array_types: tuple[type, ...]) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.array_types = array_types
        self.namespace = Namespace(namespace, self)

    def wrap(self, value: Any) -> Any:
        if isinstance(value, self.array_types):
            return Counted(value, self)
        if type(value) in (tuple, list):
            return type(value)(self.wrap(v) for v in value)
        return value

    def count(self, name: str) -> None:
        self.calls[name] += 1


def unwrap(value: Any) -> Any:
    if isinstance(value, Counted):
        return value.array
    if type(value) in (tuple, list):
        return type(value)(unwrap(v) for v in value)
    if isinstance(value, slice):
        return slice(unwrap(value.start), unwrap(value.stop), unwrap(value.step))
    return value


def holds_array(values: Any) -> bool:
    return any(isinstance(v, Counted) or (type(v) in (tuple, list) and holds_array(v)) for v in values)


class Namespace:
    """``namespace`` with every call that takes or gives an array counted."""

    __name__ = "counting"

    def __init__(self, namespace: Any, counter: Counter) -> None:
        self._namespace, self._counter = namespace, counter

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._namespace, name)
        if not callable(attribute) or isinstance(attribute, type):
            return attribute
        counter = self._counter

        def call(*args: Any, **kwargs: Any) -> Any:
            result = counter.wrap(attribute(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()}))
            if holds_array([*args, *kwargs.values(), result]):
                counter.count(name)
            return result

        return call


class Counted:
    """An array whose operations are counted (and done by the array it holds)."""

    __slots__ = ("array", "counter")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, array: Any, counter: Counter) -> None:
        self.array, self.counter = array, counter

    def __array_namespace__(self, api_version: Any = None) -> Namespace:
        return self.counter.namespace

    shape = property(lambda self: self.array.shape)
    dtype = property(lambda self: self.array.dtype)
    ndim = property(lambda self: self.array.ndim)
    device = property(lambda self: self.array.device)

    def __getattr__(self, name: str) -> Any:  # .T and methods
        attribute, counter = getattr(self.array, name), self.counter
        if not callable(attribute):
            counter.count("." + name)
            return counter.wrap(attribute)

        def call(*args: Any, **kwargs: Any) -> Any:
            counter.count("." + name)
            return counter.wrap(attribute(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()}))

        return call

    def __setitem__(self, key: Any, value: Any) -> None:
        self.counter.count("__setitem__")
        self.array[unwrap(key)] = unwrap(value)

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> Any:
        return self.array.__dlpack_device__()


def _operator(name: str) -> Any:
    def operator(self: Counted, *args: Any) -> Any:
        self.counter.count(name)
        return self.counter.wrap(getattr(self.array, name)(*unwrap(args)))

    return operator


def _in_place(name: str) -> Any:
    def operator(self: Counted, other: Any) -> Any:
        self.counter.count(name)
        self.array = getattr(self.array, name)(unwrap(other))
        return self

    return operator


OPERATORS = "add sub mul truediv floordiv mod pow matmul and or xor".split()
for _name in OPERATORS:
    for _form in ("__{}__", "__r{}__"):
        setattr(Counted, _form.format(_name), _operator(_form.format(_name)))
    setattr(Counted, f"__i{_name}__", _in_place(f"__i{_name}__"))
for _name in "lt le gt ge eq ne neg pos abs invert getitem float int bool index".split():
    setattr(Counted, f"__{_name}__", _operator(f"__{_name}__"))


# --- the two steps ---------------------------------------------------------------------


def data(n_batches: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n_batches * BATCH, SIZES[0])), rng.integers(0, SIZES[-1], size=n_batches * BATCH)


def optimizer_of(name: str) -> Any:
    return {"sgd": mlp_xp.SGD(), "momentum": mlp_xp.SGD(momentum=0.9), "adam": mlp_xp.Adam()}[name]


def fit_epoch(optimizer: str, n_batches: int) -> tuple[collections.Counter[str], mlp_xp.MLP]:
    """The calls of one epoch of ``fit`` (its set-up excluded), and the trained model."""
    counter = Counter(compat_numpy, (np.ndarray, np.generic))
    model = mlp_xp.MLP(SIZES, "relu", "softmax", backend=counter.namespace, seed=0)
    x, labels = data(n_batches)
    counter.calls.clear()
    model.fit(x, labels, loss="cross_entropy", optimizer=optimizer_of(optimizer), lr=LR,
              batch_size=BATCH, epochs=1, seed=1)  # fmt: skip
    return counter.calls, model


def hand_written_step(np: Any, W: list, b: list, x: Any, Y: Any, update: Any) -> Any:
    """One step as the benchmarks' native NumPy loop writes it: ReLU layers, softmax +
    cross-entropy from the logits, in place where NumPy allows; returns the summed loss."""
    activations = [x]
    for Wj, bj in zip(W[:-1], b[:-1]):
        z = activations[-1] @ Wj
        z += bj
        activations.append(np.maximum(z, 0, out=z))
    z = activations[-1] @ W[-1]
    z += b[-1]
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = np.log(s).sum() - (Y * z).sum()
    e /= s
    e -= Y
    delta = e
    delta *= 1.0 / x.shape[0]
    for j in reversed(range(len(W))):
        dW, db = activations[j].T @ delta, delta.sum(axis=0)
        if j > 0:
            delta = delta @ W[j].T
            delta *= activations[j] > 0
        update(j, dW, db)
    return loss


class HandWritten:
    """The hand-written loop with SGD, momentum (as scikit-learn) or Adam (as scikit-learn)."""

    def __init__(self, np: Any, model: mlp_xp.MLP, optimizer: str) -> None:
        self.np, self.optimizer = np, optimizer
        self.params = [np.array(mlp_xp.to_numpy(p), copy=True) for p in (*model.weights, *model.biases)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def update(self, i: int, grad: Any) -> None:
        p, m, v = self.params, self.m, self.v
        if self.optimizer == "sgd":
            grad *= LR
            p[i] -= grad
        elif self.optimizer == "momentum":
            m[i] = 0.9 * m[i] - LR * grad
            p[i] += m[i]
        else:
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * (grad * grad)
            rate = LR * math.sqrt(1 - 0.999**self.t) / (1 - 0.9**self.t)
            p[i] -= rate * m[i] / (self.np.sqrt(v[i]) + 1e-8)

    def epoch(self, x: Any, labels: Any, seed: int) -> None:
        np, n_layers = self.np, len(SIZES) - 1
        Y = np.asarray(labels[:, None] == np.arange(SIZES[-1]), dtype=np.float32)
        x = np.asarray(x, dtype=np.float32)
        order = np.asarray(np.random.default_rng(seed).permutation(x.shape[0]))
        total = 0.0
        for start in range(0, x.shape[0], BATCH):
            rows = order[start : start + BATCH]
            self.t += 1
            W, b = self.params[:n_layers], self.params[n_layers:]

            def update(j: int, dW: Any, db: Any) -> None:
                self.update(j, dW)
                self.update(n_layers + j, db)

            total = total + hand_written_step(np, W, b, x[rows], Y[rows], update)


def hand_written_epoch(optimizer: str, n_batches: int) -> tuple[collections.Counter[str], list[np.ndarray]]:
    """The calls of one epoch of the hand-written loop, and the parameters it trained."""
    counter = Counter(np, (np.ndarray, np.generic))
    loop = HandWritten(counter.namespace, mlp_xp.MLP(SIZES, "relu", "softmax", seed=0), optimizer)
    x, labels = data(n_batches)
    x, labels = counter.wrap(x), counter.wrap(labels)
    counter.calls.clear()
    loop.epoch(x, labels, seed=1)
    return counter.calls, [unwrap(p) for p in loop.params]


def per_step(epoch: Any, optimizer: str) -> tuple[int, collections.Counter[str]]:
    """Calls of one step: an epoch of four batches less one of three (per name too)."""
    four, three = epoch(optimizer, 4)[0], epoch(optimizer, 3)[0]
    difference = collections.Counter({k: four[k] - three[k] for k in four | three if four[k] != three[k]})
    return four.total() - three.total(), difference


# --- the tests -------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", STEP_CALLS)
def test_the_hand_written_loop_trains_as_fit(optimizer):
    """The reference is a real step: it gives fit's parameters (float32 rounding apart)."""
    _, model = fit_epoch(optimizer, 3)
    _, params = hand_written_epoch(optimizer, 3)
    for got, want in zip(params, (*model.weights, *model.biases)):
        np.testing.assert_allclose(got, mlp_xp.to_numpy(unwrap(want)), rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("optimizer", STEP_CALLS)
def test_a_step_of_fit_makes_few_array_calls(optimizer):
    """64-32-10, ReLU, softmax + cross-entropy, B = 32: fit's step makes at most the held
    number of calls, and at most 10 % more than the hand-written NumPy loop."""
    ours, ours_by_name = per_step(fit_epoch, optimizer)
    theirs, theirs_by_name = per_step(hand_written_epoch, optimizer)
    detail = f"fit {sorted(ours_by_name.items())}\nhand-written {sorted(theirs_by_name.items())}"
    assert ours <= STEP_CALLS[optimizer], f"{ours} calls per step, held at {STEP_CALLS[optimizer]}\n{detail}"
    assert ours <= MARGIN * theirs, f"{ours} calls per step against {theirs} by hand\n{detail}"


def test_the_counter_counts_every_kind_of_call():
    counter = Counter(compat_numpy, (np.ndarray, np.generic))
    xp = counter.namespace
    a = xp.asarray([[1.0, 2.0], [3.0, 4.0]])
    b = (a @ a.T)[0, :]
    b += 1.0
    xp.sum(-b, dtype=xp.float64)
    xp.finfo(xp.float32)  # no array: not a call
    float(xp.max(a))
    assert counter.calls == {"asarray": 1, ".T": 1, "__matmul__": 1, "__getitem__": 1, "__iadd__": 1,
                             "__neg__": 1, "sum": 1, "max": 1, "__float__": 1}  # fmt: skip
