r"""
Vanishing and exploding gradients
=================================

Seed 004 unrolls the backpropagation recurrence: the gradient of layer ℓ's weights
is the output error carried back through every layer above it,

.. math::

   \nabla_{W^\ell} e = \operatorname{Diag}(\phi^{\ell\prime})\,
   V^{\ell+1} \cdots V^{L}\, \delta^L\, (a^{\ell-1})^\top,

a product of one factor per layer. If the factors are small — a sigmoid's slope is at
most ¼ — the gradients of the first layers vanish; if they are large, they explode.
:class:`~mlp_xp.History`'s ``layer_grad_norms`` records ‖∇Ωʲ‖ for every layer j,
so the effect can be watched: here in deep networks of sigmoid and tanh units with
Glorot initialisation, against ReLU units with He initialisation — and ReLU units
with weights twice too large.
"""

# %%
# Twelve hidden layers
# --------------------
# The digits, a network 64 → 12 × 32 → 10. One epoch of gradient descent
# (``batch_size=None``) records the gradient norms of the whole data set at the
# initial weights. ``init`` chooses the initialisation: Glorot,
# U(±√(6/(n_{j−1} + n_j))), is the default before sigmoid and tanh, He,
# N(0, 2/n_{j−1}), before ReLU; a function gives any other.
import matplotlib.pyplot as plt
import numpy as np

import mlp_xp
from mlp_xp.datasets import digits

x_train, x_test, y_train, y_test = digits()
depth, width = 12, 32
sizes = [64, *[width] * depth, 10]


def too_large(rng, fan_in, fan_out):
    """Twice He's standard deviation: N(0, 8 / fan_in)."""
    return rng.normal(0.0, np.sqrt(8.0 / fan_in), size=(fan_in, fan_out))


configurations = {  # name: (activation, init)
    "sigmoid, Glorot": ("sigmoid", None),
    "tanh, Glorot": ("tanh", None),
    "ReLU, He": ("relu", None),
    "ReLU, weights ×2": ("relu", too_large),
}


def network(activation, init):
    return mlp_xp.MLP(
        sizes, activation=activation, output_activation="softmax", init=init, seed=0
    )


initial_norms = {}
for name, (activation, init) in configurations.items():
    history = network(activation, init).fit(
        x_train, y_train, loss="cross_entropy", lr=1e-6, batch_size=None, epochs=1
    )
    initial_norms[name] = history.layer_grad_norms[
        0
    ]  # ‖∇Ωʲ‖, j = 1 .. L, before the step
    first, last = initial_norms[name][0], initial_norms[name][-1]
    print(f"{name:18s} ‖∇Ω¹‖ / ‖∇Ωᴸ‖ = {first / last:.2e}")

# %%
# Does it learn?
# --------------
# Thirty epochs of mini-batch SGD, the same learning rate for all.
curves = {}
for name, (activation, init) in configurations.items():
    model = network(activation, init)
    try:
        model.fit(
            x_train, y_train, loss="cross_entropy", lr=0.05, batch_size=32, epochs=30
        )
    except FloatingPointError as error:  # the model keeps its last finite epoch, if any
        print(f"{name:18s} {error}")
    curves[name] = model.history.loss if model.history is not None else []
    accuracy = np.mean(mlp_xp.to_numpy(model.forward(x_test)).argmax(axis=1) == y_test)
    print(f"{name:18s} {len(curves[name])} epochs, test accuracy {accuracy:.1%}")

# %%
# The gradient norms, layer by layer
# ----------------------------------
fig, (norms_ax, loss_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
layers = np.arange(1, depth + 2)
for name, norms in initial_norms.items():
    norms_ax.semilogy(layers, norms, "o-", label=name)
    label = name if curves[name] else f"{name}: diverged in epoch 1"
    loss_ax.plot(np.arange(1, len(curves[name]) + 1), curves[name], ".-", label=label)
norms_ax.set(
    xlabel="layer j (1: first hidden, 13: output)",
    ylabel=r"$\|\nabla_{\Omega^j} \mathcal{E}\|$",
    title="Gradient norm per layer, at initialisation",
)
loss_ax.set(
    xlabel="epoch", ylabel="training loss", title="Training, mini-batch SGD, η = 0.05"
)
norms_ax.legend(fontsize=8)
loss_ax.legend(fontsize=8)
fig.tight_layout()

# %%
# With sigmoids the gradient shrinks by a factor of about four per layer — the
# slope σ' ≤ ¼ — and the first layers barely learn: the loss hardly moves. Tanh,
# whose slope is 1 at 0, keeps its gradients within a factor of two with Glorot's
# weights, and ReLU with He's keeps them flat: He's variance 2/n_{j−1} makes each
# layer preserve the size of the signal going forward and of the error coming back.
# With weights twice as large each layer doubles both, so every ‖∇Ωʲ‖ — the product
# of layer j's input and its error — is about 2¹² ≈ 4000 times He's: the gradients
# explode at every layer, and SGD diverges in its first epoch.
