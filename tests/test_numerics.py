"""Numerics at the edges of float32: extreme sample weights, scores, sums over many rows."""

import numpy as np
import pytest
from conftest import parameters


@pytest.mark.parametrize("scale", [1e38, 1e-44, 2.0**70, 2.0**-70])
def test_sample_weights_of_any_scale_train_as_weights_near_one(make_mlp, rng, scale):
    """Σ wᵢCᵢ / Σ wᵢ does not depend on the scale of w: weights ×1e38 (whose sums
    overflow float32) and ×1e-44 (subnormal in float32) train a float32 model as
    the same weights near 1 do."""
    x, y = rng.normal(size=(24, 3)), rng.normal(size=(24, 2))
    weights = rng.uniform(0.5, 1.0, size=24)
    options = dict(batch_size=8, epochs=3, seed=0, lr=0.05)
    reference, model = make_mlp([3, 4, 2], seed=1), make_mlp([3, 4, 2], seed=1)
    reference.fit(x, y, sample_weight=weights, **options)
    history = model.fit(x, y, sample_weight=weights * scale, **options)
    assert history.loss == pytest.approx(reference.history.loss, rel=1e-5)
    for p, q in zip(parameters(model), parameters(reference)):
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-6)
