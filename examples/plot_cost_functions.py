"""
The cost functions and their derivatives
========================================

Seed 003 lists the individual costs C(y, ŷ) that an MLP can minimise — the squared
error, the L1 error, Huber's loss, the logistic loss, a margin loss — and
classification and counts add the cross-entropies and the Poisson deviance.
Backpropagation starts from ∂C/∂ŷ (𝓑ᴸ = Φ'(ζᴸ) ⊙ ∇C), so the derivative is as
much a part of a cost as its value: it decides how hard each error pushes. This
example plots both, computed by the functions of :data:`mlp_xp.COSTS` themselves.
"""

# %%
# Every cost is a pair of functions of the namespace ``xp``: ``value(xp, y, yhat)``,
# one cost per sample (summed over the outputs), and ``grad(xp, y, yhat)``, ∂C/∂ŷ.
# They work on any Array API library; here on NumPy through array-api-compat.
import array_api_compat.numpy as xp
import matplotlib.pyplot as plt
import numpy as np

import mlp_xp

print(list(mlp_xp.COSTS))


def cost_and_derivative(name, y, yhat):
    """C(y, ŷ) and ∂C/∂ŷ₁ of one-output samples (or, for cross-entropy, two classes)."""
    cost = mlp_xp.COSTS[name]
    targets, outputs = np.broadcast_arrays(
        np.atleast_2d(y), yhat.reshape(len(yhat), -1)
    )
    return cost.value(xp, targets, outputs), cost.grad(xp, targets, outputs)[:, 0]


# %%
# Four kinds of targets
# ---------------------
# Real targets (regression), ±1 labels (the margin losses read yŷ), probabilities
# (after a sigmoid or a softmax) and counts (after exp).
margin = np.linspace(-3, 3, 601)
probability = np.linspace(0.005, 0.995, 397)
rate = np.linspace(0.05, 6, 400)
panels = {
    "real targets, y = 0": ("ŷ", margin, 0.0, ["mse", "l1", "huber"]),
    "±1 targets, y = +1": ("ŷ (the margin yŷ)", margin, 1.0, ["logistic", "hinge"]),
    "probabilities, y = 1": ("ŷ", probability, 1.0, ["binary_cross_entropy"]),
    "counts, y = 2": ("ŷ", rate, 2.0, ["poisson"]),
}
fig, axes = plt.subplots(2, 4, figsize=(15, 6.5), sharex="col")
for column, (title, (xlabel, yhat, y, names)) in enumerate(panels.items()):
    for name in names:
        value, slope = cost_and_derivative(name, y, yhat)
        line = axes[0, column].plot(yhat, value, label=name)[0]
        axes[1, column].plot(yhat, slope, color=line.get_color(), label=name)
    axes[0, column].set_title(title)
    axes[1, column].set_xlabel(xlabel)
    axes[0, column].legend(fontsize=8)

# %%
# The cross-entropy of two classes, y = (1, 0) and ŷ = (p, 1 − p) as a softmax
# gives, joins the probabilities: C = −log p, the same curve as the binary one.
p = probability
two_classes = np.column_stack([p, 1 - p])
value, slope = cost_and_derivative("cross_entropy", [[1.0, 0.0]], two_classes)
axes[0, 2].plot(p, value, "--", linewidth=2.5, label="cross_entropy, 2 classes")
axes[1, 2].plot(p, slope, "--", linewidth=2.5, label="cross_entropy, ∂C/∂ŷ₁")
axes[0, 2].legend(fontsize=8)
axes[0, 0].set_ylabel("C(y, ŷ)")
axes[1, 0].set_ylabel("∂C/∂ŷ")
for ax in axes[1]:
    ax.axhline(0, color="0.7", linewidth=0.8)
axes[1, 2].set_ylim(-20, 1)
axes[1, 3].set_ylim(-10, 1.5)
fig.tight_layout()

# %%
# What the derivatives say
# ------------------------
# - The squared error's gradient grows with the error: one outlier pulls hard. The
#   L1 error's gradient is ±1 whatever the error (robust regression), and Huber's
#   is the first near 0 and the second beyond δ = 1.
# - The logistic loss is a smooth hinge: both stop pushing once the margin yŷ is
#   large, the hinge exactly at yŷ = 1.
# - The cross-entropies' −1/ŷ explodes as a wrong prediction becomes confident —
#   and after a sigmoid or softmax it is multiplied by Φ' and cancels: the fused
#   output error is just ŷ − y (see :doc:`/math`).
# - The Poisson deviance is zero at ŷ = y and, with exp outputs, its output error is
#   again e^ζ − y.
