"""
Learning-rate schedules, Robbins–Monro included
===============================================

SGD's gradient is noisy, so with a constant learning rate it never settles: it
keeps jumping around the minimum at a distance set by η. Seed 004 gives the
remedy of Robbins and Monro: a step γ_k that decreases with the update count k, with
Σ γ_k = ∞ (it can still go anywhere) and Σ γ_k² < ∞ (the noise it adds is
finite), typically γ_k = 1/(k+1). This example runs the schedules of ``fit`` —
constant, Robbins–Monro, inverse scaling, adaptive and a user function — on one
problem, SGD on a noisy least-squares regression, where the best possible loss is
known.
"""

# %%
# A problem with a known optimum
# ------------------------------
# y = xθ + noise, fitted by a linear model (an :class:`~mlp_xp.MLP` with no hidden
# layer and an identity output). The least-squares solution gives the lowest
# training loss any schedule can reach; we follow the excess over it.
import matplotlib.pyplot as plt
import numpy as np

import mlp_xp

rng = np.random.default_rng(0)
n, d = 500, 5
x = rng.normal(size=(n, d))
y = x @ rng.normal(size=(d, 1)) + 0.5 * rng.normal(size=(n, 1))
with_ones = np.column_stack([x, np.ones(n)])
optimum = np.linalg.lstsq(with_ones, y, rcond=None)[0]
best_loss = 0.5 * np.mean((with_ones @ optimum - y) ** 2)


def excess_loss(model):
    """The full training loss, ½ mean (ŷ − y)², above its least-squares minimum."""
    w, b = mlp_xp.to_numpy(model.weights[0]), mlp_xp.to_numpy(model.biases[0])
    return 0.5 * np.mean((x @ w + b - y) ** 2) - best_loss


# %%
# The schedules
# -------------
# ``lr`` is η (γ₀), and ``lr_schedule`` makes the rate of update k: η for
# ``"constant"``, η/(k+1) for ``"robbins_monro"``, η/(k+1)^0.5 for ``"invscaling"``
# (``power_t=0.5``), η divided by 5 whenever the epoch's loss stalls for
# ``"adaptive"``, or any function of k. k counts updates, N = 500 of them per epoch
# with ``batch_size=1``.
def halving(k):
    """A step decay: 0.05, halved every 4 epochs."""
    return 0.05 * 0.5 ** (k // 2000)


schedules = {  # name: (lr_schedule, η)
    "constant, η = 0.02": ("constant", 0.02),
    "Robbins–Monro, η₀ = 1": ("robbins_monro", 1.0),
    "Robbins–Monro, η₀ = 0.2": ("robbins_monro", 0.2),
    "invscaling, η₀ = 0.1": ("invscaling", 0.1),
    "adaptive, η₀ = 0.05": ("adaptive", 0.05),
    "halving (a function of k)": (halving, 0.05),
}
epochs = 20


def train(schedule, lr):
    """SGD for ``epochs`` epochs; the excess loss and the adaptive η after each."""
    model = mlp_xp.MLP([d, 1], dtype="float64", seed=0)
    excess, rates = [], []

    def watch(model, history):
        excess.append(excess_loss(model))
        if model.schedule_state is not None:  # the adaptive schedule's current η
            rates.append(model.schedule_state["lr"])

    model.fit(
        x,
        y,
        loss="mse",
        lr=lr,
        batch_size=1,
        epochs=epochs,
        lr_schedule=schedule,
        callbacks=[watch],
    )
    return excess, rates


results = {name: train(*setting) for name, setting in schedules.items()}
for name, (excess, _) in results.items():
    print(f"{name:28s} excess loss after {epochs} epochs: {excess[-1]:.1e}")

# %%
# The rates and what they buy
# ---------------------------
k = np.arange(epochs * n)
rate_of = {
    "constant, η = 0.02": np.full(k.shape, 0.02),
    "Robbins–Monro, η₀ = 1": 1.0 / (k + 1),
    "Robbins–Monro, η₀ = 0.2": 0.2 / (k + 1),
    "invscaling, η₀ = 0.1": 0.1 / np.sqrt(k + 1),
    "adaptive, η₀ = 0.05": np.repeat(
        [0.05, *results["adaptive, η₀ = 0.05"][1][:-1]], n
    ),
    "halving (a function of k)": np.array([halving(i) for i in k]),
}
fig, (rates_ax, excess_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
for name in schedules:
    line = rates_ax.loglog(k + 1, rate_of[name], label=name)[0]
    excess_ax.semilogy(
        np.arange(1, epochs + 1),
        results[name][0],
        ".-",
        color=line.get_color(),
        label=name,
    )
rates_ax.set(
    xlabel="update k + 1", ylabel="$\\eta_k$", title="Learning rate of update k"
)
excess_ax.set(
    xlabel="epoch",
    ylabel="training loss − least-squares minimum",
    title="Excess loss after each epoch",
)
rates_ax.legend(fontsize=8, loc="lower left")
fig.tight_layout()

# %%
# The constant rate stalls at a noise floor of its own making; a smaller η lowers
# the floor and slows the approach. Robbins–Monro's 1/(k+1) keeps decreasing the
# excess loss, at the rate 1/k of the theory — provided γ₀ is large enough: with
# γ₀ = 0.2 the steps shrink before the iterate has arrived, and it crawls. The
# inverse square root, the adaptive division and the step decay sit between: each
# is a way of choosing when to trade speed for precision.
