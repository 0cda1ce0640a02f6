r"""
Gradient checking an activation of your own
===========================================

An activation is two functions: its value Φ(ζ) and its derivative Φ'(ζ), which
backpropagation multiplies into every error, 𝓑ʲ = Φ'(ζʲ) ⊙ (Ωʲ⁺¹ 𝓑ʲ⁺¹). Get the
derivative wrong and training still runs — on wrong gradients. This example
registers the softsign activation, :math:`\Phi(\zeta) = \zeta / (1 + |\zeta|)`,
once with its derivative and once with a plausible mistake, and lets
:func:`mlp_xp.gradient_check` tell them apart.
"""

# %%
# Two registrations
# -----------------
# Written with the namespace ``xp``, an activation runs on every backend. The
# derivative receives ζ and α = Φ(ζ); softsign's is :math:`1 / (1 + |\zeta|)^2`.
# The mistake forgets the square.
import matplotlib.pyplot as plt
import numpy as np

import mlp_xp


def softsign(xp, z):
    return z / (1.0 + xp.abs(z))


def softsign_derivative(xp, z, a):
    return 1.0 / (1.0 + xp.abs(z)) ** 2


def forgot_the_square(xp, z, a):
    return 1.0 / (1.0 + xp.abs(z))


mlp_xp.register_activation("softsign", softsign, softsign_derivative)
mlp_xp.register_activation("softsign_wrong", softsign, forgot_the_square)

# %%
# The check
# ---------
# :func:`~mlp_xp.gradient_check` computes backpropagation's gradient and central
# finite differences of the batch cost, every parameter stepped in turn, both in
# float64, and returns the largest relative difference beyond rounding noise:
# ≈ 0 for a correct gradient, ≈ 1 for a wrong one. A small network and a few
# samples are enough — the check costs two forward passes per parameter.
rng = np.random.default_rng(0)
x = rng.normal(size=(16, 3))
y = rng.integers(0, 2, size=16)

errors = {}
for activation in ["softsign", "softsign_wrong", "tanh", "sigmoid", "softplus"]:
    model = mlp_xp.MLP(
        [3, 5, 5, 2], activation=activation, output_activation="softmax", seed=0
    )
    errors[activation] = mlp_xp.gradient_check(model, x, y, "cross_entropy")
    print(f"{activation:15s} {errors[activation]:.1e}")
assert errors["softsign"] < 1e-6 < errors["softsign_wrong"]

# %%
# What the check compares, in one dimension
# -----------------------------------------
# The derivative against the central difference (Φ(ζ + h) − Φ(ζ − h)) / 2h of the
# activation itself, with numpy as ``xp``; and the two checks' results.
import array_api_compat.numpy as xp  # noqa: E402  (the namespace, for calling the functions directly)

z = np.linspace(-4, 4, 401)
h = 1e-5
numeric = (softsign(xp, z + h) - softsign(xp, z - h)) / (2 * h)

fig, (curves, bars) = plt.subplots(1, 2, figsize=(12, 4.2), width_ratios=(1.4, 1))
curves.plot(z, softsign(xp, z), label="Φ(ζ) = ζ / (1 + |ζ|)")
curves.plot(z, softsign_derivative(xp, z, None), label="Φ'(ζ) = 1 / (1 + |ζ|)²")
curves.plot(z[::20], numeric[::20], "o", markersize=4, label="central difference")
curves.plot(z, forgot_the_square(xp, z, None), "--", label="the mistake: 1 / (1 + |ζ|)")
curves.set(xlabel="ζ", title="Softsign and its derivative")
curves.legend(fontsize=8)
bars.bar(
    list(errors),
    [max(e, 1e-17) for e in errors.values()],
    color=["tab:green", "tab:red", *["0.6"] * 3],
)
bars.set_yscale("log")
bars.axhline(1e-6, color="0.3", linestyle="--", linewidth=1)
bars.set(
    ylabel="gradient_check (≈ 0: right, ≈ 1: wrong)",
    title="Backpropagation against finite differences",
)
bars.tick_params(axis="x", labelrotation=20)
fig.tight_layout()

# %%
# The wrong derivative is off by a factor :math:`1 + |\zeta|` only, close to 1
# near 0, yet the check's error is of order one: it measures the whole gradient, through
# every layer. Checks of the built-in activations stay at rounding level (a result
# of exactly 0 is drawn at 1e-17). The test suite runs the same check for every
# built-in activation and every valid (output activation, cost) pair.
