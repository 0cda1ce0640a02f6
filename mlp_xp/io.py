"""Loading: ``load`` returns the MLP, or the scikit-learn-style estimator, that a model file holds.

The front end of the model file: ``_model_file`` reads and validates it,
``persistence`` turns it into a host snapshot, ``model.restore`` builds the
network on a backend, and an ``estimator`` entry makes it an estimator again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import _model_file as model_file
from . import persistence
from .model import restore


def load(path: str | os.PathLike[str], *, backend: Any = "numpy", device: Any = None) -> Any:
    """The model saved in ``path``, on ``backend`` and ``device``.

    Parameters
    ----------
    path : str or path-like
        A file written by ``save`` (taken as given: no suffix is added).
    backend : str or namespace, default "numpy"
        As for ``MLP``: any backend, whichever one saved the file.
    device : optional
        A device of ``backend``; default: its default device.

    Returns
    -------
    MLP, MLPClassifier or MLPRegressor
        The estimator for a file written by an estimator's ``save``, its
        ``backend`` and ``device`` parameters set to these, its network
        ``model_`` as follows; else the MLP: bit-identical parameters, the
        optimizer and its state, ``n_updates``, the "adaptive" schedule's
        state and the host generator's state, so that ``fit(..., resume=True)`` continues exactly where the
        saved model stopped.

    Raises
    ------
    ValueError
        For any damaged or foreign file, naming the file and what is wrong:
        not an ``.npz`` archive, missing or unexpected members, an unknown
        format or a newer format version, shapes that do not match
        ``layer_sizes``, another dtype, an activation name not registered
        (register user activations with ``mlp_xp.register_activation`` before
        loading), non-finite values, sizes beyond what the file holds, an
        estimator entry that does not describe an mlp_xp estimator.
    OSError
        When the file cannot be opened (it does not exist, it is a folder, ...).
    """
    snapshot, metadata = persistence.read(path)
    if "estimator" not in metadata:
        return restore(snapshot, backend, device)
    # Imported on use, not above: the estimators need scikit-learn, an optional dependency.
    from .estimators import estimator_from_entry

    try:
        estimator = estimator_from_entry(metadata["estimator"], metadata["layer_sizes"])
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise model_file.load_error(Path(path), f"its estimator entry is invalid: {exc}") from exc
    estimator.set_params(backend=backend, device=device)
    estimator.model_ = restore(snapshot, backend, device)
    return estimator
