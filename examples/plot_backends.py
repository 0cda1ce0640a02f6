"""
One seed, every backend, the same model
=======================================

mlp_xp's math is written once, against the Array API standard; ``backend=``
chooses the library that runs it. The initial weights and the order of the batches
are drawn on the host from one NumPy generator seeded by ``seed``, then moved to the
device, so every backend starts from the same parameters, bit for bit, and visits
the same batches. This example trains one network on NumPy, array-api-strict,
PyTorch and CuPy, those installed here, and measures how far apart the trained
models end up.
"""

# %%
# The installed backends
# ----------------------
# NumPy always; array-api-strict (on its second CPU device, where any array created
# without ``device=`` would fail), PyTorch and CuPy (on a CUDA GPU) if they are
# installed. JAX is left out: its float64 needs JAX's 64-bit mode, a global setting
# that this page's process would keep.
import importlib.util

import matplotlib.pyplot as plt
import numpy as np

import mlp_xp
from mlp_xp.datasets import digits

backends = {"numpy": {}}
if importlib.util.find_spec("array_api_strict"):
    import array_api_strict

    backends["array_api_strict"] = {"device": array_api_strict.Device("device1")}
if importlib.util.find_spec("torch"):
    backends["torch"] = {"device": "cpu"}
if importlib.util.find_spec("cupy"):
    try:
        mlp_xp.MLP([1, 1], backend="cupy")
        backends["cupy"] = {}
    except RuntimeError as missing_gpu:  # CuPy installed, but no CUDA device
        print(missing_gpu)
print("backends:", ", ".join(backends))

# %%
# One seed, one training
# ----------------------
# The same network, seed and settings on each backend, in float32 and in float64.
x_train, x_test, y_train, y_test = digits()


def train(backend, dtype, **device):
    model = mlp_xp.MLP(
        [64, 32, 10],
        activation="relu",
        output_activation="softmax",
        backend=backend,
        dtype=dtype,
        seed=7,
        **device,
    )
    history = model.fit(
        x_train, y_train, loss="cross_entropy", lr=0.1, batch_size=64, epochs=5
    )
    parameters = np.concatenate(
        [mlp_xp.to_numpy(p).ravel() for p in model.weights + model.biases]
    )
    return history, parameters.astype(np.float64)


runs = {
    (b, dtype): train(b, dtype, **device)
    for dtype in ("float32", "float64")
    for b, device in backends.items()
}
for (backend, dtype), (history, parameters) in runs.items():
    difference = np.max(np.abs(parameters - runs["numpy", dtype][1]))
    print(
        f"{backend:17s} {dtype}: final loss {history.loss[-1]:.6f}, "
        f"max |θ − θ_numpy| = {difference:.1e}"
    )

# %%
# How close?
# ----------
# array-api-strict runs NumPy underneath: its model is NumPy's, bit for bit. PyTorch
# and CuPy multiply matrices with other kernels, which sum in other orders: their
# models differ from NumPy's by the rounding of the arithmetic — about 1e-7 relative
# in float32, 1e-16 in float64, grown a little over the updates — and by nothing else.
fig, (curves, gaps) = plt.subplots(1, 2, figsize=(12, 4.2))
for (backend, dtype), (history, _) in runs.items():
    if dtype == "float32":
        epochs = np.arange(1, history.n_epochs + 1)
        curves.plot(
            epochs, history.loss, "o-" if backend == "numpy" else ".--", label=backend
        )
curves.set(
    xlabel="epoch",
    ylabel="training loss",
    title="Training loss, float32 (the curves coincide)",
)
curves.legend()
names = [b for b in backends if b != "numpy"]
for offset, dtype in ((-0.2, "float32"), (0.2, "float64")):
    gap = [
        max(np.max(np.abs(runs[b, dtype][1] - runs["numpy", dtype][1])), 1e-18)
        for b in names
    ]
    gaps.bar(np.arange(len(names)) + offset, gap, 0.4, label=dtype)
gaps.set_xticks(range(len(names)), names)
gaps.set_yscale("log")
gaps.set(
    ylabel="max |θ − θ_numpy| after training",
    title="Distance to NumPy's model (0 drawn at 1e-18)",
)
gaps.legend()
fig.tight_layout()

# %%
# The test suite checks the same on every run: numpy, array_api_strict and torch
# train to the same model from one seed.
