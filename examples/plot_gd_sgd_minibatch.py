"""
Gradient descent, SGD and mini-batch SGD, measured
==================================================

Seed 003 compares the three ways of feeding a data set of N samples to gradient
descent:

============  =================  ========================
method        updates per epoch  computations per update
============  =================  ========================
Gradient      1                  N
SGD           N                  1
Mini-batch    N/M                M
============  =================  ========================

In mlp_xp they are one ``fit`` with ``batch_size=None``, ``1`` or ``M``. This example
trains the same network the three ways on the digits and measures what the table
predicts: progress per epoch, per second, and the noise of each gradient.
"""

# %%
# One network, three batch sizes
# ------------------------------
import matplotlib.pyplot as plt
import numpy as np

import mlp_xp
from mlp_xp.datasets import digits

x_train, x_test, y_train, y_test = digits()
n = x_train.shape[0]


def network():
    return mlp_xp.MLP(
        [64, 32, 10], activation="tanh", output_activation="softmax", seed=0
    )


methods = {  # name: (batch_size, learning rate)
    "gradient descent": (None, 0.5),
    "SGD (M = 1)": (1, 0.01),
    "mini-batch (M = 32)": (32, 0.1),
}
runs = {}
for name, (batch_size, lr) in methods.items():
    model = network()
    history = model.fit(
        x_train, y_train, loss="cross_entropy", lr=lr, batch_size=batch_size, epochs=15
    )
    accuracy = np.mean(mlp_xp.to_numpy(model.forward(x_test)).argmax(axis=1) == y_test)
    runs[name] = history
    print(
        f"{name:20s} {model.n_updates // history.n_epochs:5d} updates/epoch, "
        f"{np.median(history.time) * 1e3:6.1f} ms/epoch, loss {history.loss[-1]:.3f}, "
        f"test accuracy {accuracy:.1%}"
    )

# %%
# The same epochs buy very different progress: gradient descent makes one update
# per pass over the data, SGD makes N of them. The cost per epoch is not the
# same either: an update on one sample wastes the vectorised matrix product, so SGD
# pays N small steps' overhead, and mini-batches sit between.
#
# The noise of the gradient
# -------------------------
# A mini-batch gradient is an unbiased estimate of the full gradient ∇𝓔(S, θ): its
# mean over uniformly drawn batches is the full gradient (seed 003). Its error
# shrinks like 1/√M, and faster as M nears N: batches drawn without replacement
# are a sample of a finite population, whose error has the factor √((N − M)/(N − 1)).
# Measured at the initial parameters, over 40 batches per size:
probe = network()
full = np.concatenate(
    [
        mlp_xp.to_numpy(g).ravel()
        for g in probe.gradients(x_train, y_train, "cross_entropy")[1]
    ]
)
rng = np.random.default_rng(0)
sizes = [1, 4, 16, 64, 256, 1024]
errors = []
for m in sizes:
    deviations = []
    for _ in range(40):
        rows = rng.choice(n, size=m, replace=False)
        _, dW, _ = probe.gradients(x_train[rows], y_train[rows], "cross_entropy")
        estimate = np.concatenate([mlp_xp.to_numpy(g).ravel() for g in dW])
        deviations.append(np.linalg.norm(estimate - full) / np.linalg.norm(full))
    errors.append(np.mean(deviations))
print(dict(zip(sizes, np.round(errors, 3))))

# %%
# Loss against epochs, against seconds, and the noise
# ---------------------------------------------------
fig, (by_epoch, by_time, noise) = plt.subplots(1, 3, figsize=(14, 4.2))
for name, history in runs.items():
    epochs = np.arange(1, history.n_epochs + 1)
    by_epoch.semilogy(epochs, history.loss, ".-", label=name)
    by_time.semilogy(np.cumsum(history.time), history.loss, ".-", label=name)
by_epoch.set(xlabel="epoch", ylabel="training loss", title="Per epoch")
by_time.set(
    xlabel="seconds of training",
    ylabel="training loss",
    title="Per second (this machine)",
)
noise.loglog(sizes, errors, "o-", label="measured")
expected = errors[0] * np.sqrt((n - np.array(sizes)) / (n - 1) / np.array(sizes))
noise.loglog(sizes, expected, "--", color="0.5", label="∝ √((N − M) / (N − 1) / M)")
noise.set(
    xlabel="batch size M",
    ylabel=r"$\|\nabla\mathcal{E}(\mathrm{batch}) - \nabla\mathcal{E}(S)\|"
    r" \,/\, \|\nabla\mathcal{E}(S)\|$",
    title="Noise of a batch gradient",
)
for ax in (by_epoch, by_time, noise):
    ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Per epoch, SGD wins: it updates N times. Per second, mini-batches win on a CPU:
# they keep most of SGD's updates and all of the matrix products' efficiency, and
# their gradient is √M times less noisy. Full-batch gradient descent is the slowest
# here but the only one whose gradient is exact, which line searches and L-BFGS need
# (see :ref:`sphx_glr_auto_examples_plot_seed004_line_search.py`).
