"""An independent reference: seed 003's MLP written out by hand in float64 NumPy.

Nothing here imports mlp_xp: the forward pass, backpropagation, the batches of an
epoch drawn from a seed, and plain mini-batch SGD, as the README and the seeds
define them.  Tests compare the library with these on every backend, so a
single-backend run still checks its numbers against something it did not compute.
"""

from __future__ import annotations

import math

import numpy as np

ACTIVATIONS = {
    "identity": (lambda z: z, lambda z, a: np.ones_like(z)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a**2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(float)),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z, a: a * (1.0 - a)),
}


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forward(weights, biases, activations, x):
    """ζʲ and αʲ of every layer; ``activations`` names Φ per layer ("softmax" last only)."""
    zs, outs = [], [np.asarray(x, dtype=np.float64)]
    for W, b, name in zip(weights, biases, activations):
        z = outs[-1] @ np.asarray(W, np.float64) + np.asarray(b, np.float64)
        zs.append(z)
        outs.append(softmax(z) if name == "softmax" else ACTIVATIONS[name][0](z))
    return zs, outs


def loss_and_gradients(weights, biases, activations, x, y, loss, sample_weight=None):
    """𝓔 = Σ wᵢCᵢ / Σ wᵢ (wᵢ = 1 without weights) and its gradients, by seed 003's rules.

    ``loss`` is "mse" (C = ½‖ŷ − y‖²) or "cross_entropy" after a softmax, with
    one-hot rows ``y``.
    """
    zs, outs = forward(weights, biases, activations, x)
    y = np.asarray(y, dtype=np.float64).reshape(outs[-1].shape)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if loss == "mse":
        costs, delta = 0.5 * ((outs[-1] - y) ** 2).sum(axis=1), outs[-1] - y
        delta = delta * ACTIVATIONS[activations[-1]][1](zs[-1], outs[-1])
    else:  # softmax + cross-entropy: 𝓑ᴸ = softmax(ζ) − y
        costs, delta = -(y * np.log(outs[-1])).sum(axis=1), outs[-1] - y
    delta = delta * (w / w.sum())[:, None]
    dW, db = [None] * len(weights), [None] * len(weights)
    for j in reversed(range(len(weights))):
        dW[j], db[j] = outs[j].T @ delta, delta.sum(axis=0)
        if j > 0:
            delta = (delta @ np.asarray(weights[j], np.float64).T) * ACTIVATIONS[activations[j - 1]][1](
                zs[j - 1], outs[j]
            )
    return float((w * costs).sum() / w.sum()), dW, db


def epoch_batches(rng, n, batch_size, sampling):
    """The row indices of each batch of one epoch, drawn as the README says: a permutation
    ("shuffle"), ⌈N/M⌉·M indices uniform with replacement ("uniform"), or the rows in order."""
    if batch_size is None:
        return [np.arange(n)]
    if sampling == "sequential":
        return [np.arange(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if sampling == "shuffle":
        order = rng.permutation(n) if batch_size < n else np.arange(n)
    else:
        order = rng.integers(0, n, size=math.ceil(n / batch_size) * batch_size)
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def sgd_fit(weights, biases, activations, x, y, loss, *, lr, batch_size, epochs, seed, sampling):
    """Plain SGD θ ← θ − η∇𝓔(batch) with the batches of ``epoch_batches``, from the seed's
    generator; returns the parameters and the per-epoch mean cost (summed while updating)."""
    weights = [np.array(W, np.float64) for W in weights]
    biases = [np.array(b, np.float64) for b in biases]
    rng, losses = np.random.default_rng(seed), []
    for _ in range(epochs):
        total, count = 0.0, 0
        for rows in epoch_batches(rng, len(x), batch_size, sampling):
            value, dW, db = loss_and_gradients(weights, biases, activations, x[rows], y[rows], loss)
            total, count = total + value * len(rows), count + len(rows)
            weights = [W - lr * g for W, g in zip(weights, dW)]
            biases = [b - lr * g for b, g in zip(biases, db)]
        losses.append(total / count)
    return weights, biases, losses
