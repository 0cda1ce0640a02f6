r"""
Seed 004's neuron: gradient descent with a line search
======================================================

Seed 004 trains one sigmoid neuron without bias, ŷ = σ(w₁₁x₁ + w₁₂x₂), on four
points, and minimises the squared error

.. math::

   E(w_{11}, w_{12}) = \sum_{i=1}^{4}
   \big(y^i - \sigma(w_{11} x_1^i + w_{12} x_2^i)\big)^2

by gradient descent: the direction :math:`d^k = -\nabla E(w^k)`, a step
:math:`\alpha^k > 0`, :math:`w^{k+1} = w^k + \alpha^k d^k`, until :math:`\|\nabla E\|`
is (nearly) zero. This example takes the step three ways — a constant learning rate,
Armijo's backtracking line search, and the exact step
:math:`\alpha^k = \operatorname{argmin}_{\alpha > 0} E(w^k + \alpha d^k)` — and draws
their paths on the loss surface.
"""

# %%
# The four points and the neuron
# ------------------------------
# The neuron is an :class:`~mlp_xp.MLP` with two inputs, one sigmoid output and no
# hidden layer. It has no bias in the seed: :class:`~mlp_xp.optimizers.WeightsOnly`
# wraps the optimizer so that β stays at 0. ``fit`` minimises the mean of
# ½(y − ŷ)², which is E/8: the same minimiser and the same directions.
import matplotlib.pyplot as plt
import numpy as np

import mlp_xp
from mlp_xp.datasets import seed004_points
from mlp_xp.optimizers import WeightsOnly

x, y = seed004_points()
print(np.column_stack([x, y]))
start = np.array([1.5, 0.5])  # (w₁₁, w₁₂) before training


def descend(optimizer, lr, epochs=40):
    """Full-batch descent from ``start``; the weights after every step."""
    neuron = mlp_xp.MLP([2, 1], output_activation="sigmoid", dtype="float64")
    neuron.weights[0] = neuron.xp.asarray(start.reshape(2, 1), dtype=neuron.xp.float64)
    path = [start]

    def record(model, history):
        path.append(mlp_xp.to_numpy(model.weights[0]).ravel().copy())

    history = neuron.fit(
        x,
        y,
        loss="mse",
        optimizer=WeightsOnly(optimizer),
        lr=lr,
        batch_size=None,
        epochs=epochs,
        tol=1e-5,
        callbacks=[record],
    )
    return np.array(path), history


# %%
# Three step rules
# ----------------
# One update per epoch (``batch_size=None``: gradient descent). Armijo's search
# tries α = η, η/2, η/4, … until E decreases enough, so it may start from a large η;
# the exact search brackets the minimum along d from η, then locates it by Brent's
# method. Both stop once ‖∇𝓔‖ ≤ ``tol``.
runs = {
    "constant step, η = 2": descend("sgd", lr=2.0),
    "Armijo backtracking from η = 8": descend(mlp_xp.LineSearchGD(), lr=8.0),
    "exact line search": descend(mlp_xp.LineSearchGD(exact=True), lr=1.0),
}
for name, (path, history) in runs.items():
    print(f"{name:32s} {len(path) - 1:3d} steps, converged: {history.converged}")

# %%
# The loss surface and the paths
# ------------------------------
# E on a grid of (w₁₁, w₁₂), computed from the seed's formula. The surface is flat
# far from the origin, where the sigmoid saturates, and has no minimum at a finite
# w: the four points are separable, so E → 0 as w grows along a separating direction.


def error(w):
    """Seed 004's E at weights ``w`` of shape (..., 2)."""
    logits = w @ x.T
    return np.sum((y - 1 / (1 + np.exp(-logits))) ** 2, axis=-1)


w11, w12 = np.meshgrid(np.linspace(-5, 3, 201), np.linspace(-2.5, 3.5, 201))
surface = error(np.stack([w11, w12], axis=-1))

fig, (ax, curves) = plt.subplots(1, 2, figsize=(12, 4.8), width_ratios=(1.3, 1))
filled = ax.contourf(w11, w12, surface, levels=24, cmap="viridis")
fig.colorbar(filled, ax=ax, label="$E(w_{11}, w_{12})$")
for (name, (path, _)), colour in zip(runs.items(), ("white", "tab:orange", "tab:red")):
    ax.plot(
        path[:, 0],
        path[:, 1],
        ".-",
        color=colour,
        label=name,
        linewidth=1.5,
        markersize=5,
    )
    curves.semilogy(
        error(path), ".-", color="0.4" if colour == "white" else colour, label=name
    )
ax.plot(*start, "o", color="black", markersize=7, label="start")
ax.set(xlabel="$w_{11}$", ylabel="$w_{12}$", title="E(w₁₁, w₁₂) and the descent paths")
ax.legend(loc="upper left", fontsize=8)
curves.set(xlabel="step k", ylabel="$E(w^k)$", title="The error after each step")
curves.legend(fontsize=8)
fig.tight_layout()

# %%
# All three start on a plateau: two of the four points are on the wrong side,
# with the sigmoid saturated, and the gradient is tiny. The constant step crawls
# across it for twenty steps; Armijo, allowed a first trial of η = 8, crosses it
# sooner; the exact search leaves it in one step. The exact search then zig-zags:
# each step ends where E is minimal along d, so the next gradient — the next
# direction — is orthogonal to it. Its steps are few but long, and each costs
# several evaluations of E (the search reads one number from the device per trial).
exact_path = runs["exact line search"][0]
steps = np.diff(exact_path, axis=0)
cosines = np.sum(steps[1:] * steps[:-1], axis=1) / np.prod(
    np.linalg.norm([steps[1:], steps[:-1]], axis=2), axis=0
)
print("cosines between successive exact steps:", np.round(cosines, 6))
