"""Small data sets for examples and tests, shipped in code or by scikit-learn."""

from __future__ import annotations

import numpy as np


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points and their labels (0/1): not linearly separable."""
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return x, np.array([0, 1, 1, 0])


def seed004_points() -> tuple[np.ndarray, np.ndarray]:
    """Seed 004's worked example: four points for one sigmoid neuron, labels 0/1."""
    x = np.array([[-3.0, -3.0], [-2.0, -2.0], [4.0, 4.0], [2.0, -5.0]])
    return x, np.array([1.0, 1.0, 0.0, 0.0])


def digits(test_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, ...]:
    """scikit-learn's bundled 8×8 digits, scaled to [0, 1] and split:
    ``x_train, x_test, y_train, y_test`` with integer labels 0..9."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "the digits data set ships with scikit-learn: pip install 'mlp_xp[examples]'"
        ) from exc
    data = load_digits()
    x, y = data.data / 16.0, data.target
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(test_fraction * len(y))
    test, train = order[:n_test], order[n_test:]
    return x[train], x[test], y[train], y[test]
