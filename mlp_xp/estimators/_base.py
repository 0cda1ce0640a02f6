"""What MLPClassifier and MLPRegressor share: one fit, from data to fitted attributes.

Its parts live by job: the parameters and their checks (``_params``), the data
(``_data``), the network (``_network``) and its training (``_training``), the
fitted attributes (``_fitted``).
"""

from __future__ import annotations

from typing import Any

from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted

from .._agreement import agreed, as_text, saved_by_rank0
from .._backend import get_namespace, to_numpy
from .._data_parallel import shard_sizes
from .._engines import communicator
from ..persistence import save
from ._arrays import is_float32
from ._data import check_fit_data, check_predict_X, sample_weights, split
from ._entry import estimator_entry
from ._fitted import record
from ._lbfgs import train_lbfgs
from ._network import continued_model, new_model, unchanged_on_failure
from ._params import ALIASES, MLPParams
from ._training import NON_FINITE, train_network


class MLPEstimator(MLPParams):
    """The fit, prediction and saving that MLPClassifier and MLPRegressor share.

    Subclasses define ``_encode_targets(y, first, incremental, classes, seen) ->
    (targets, loss, output activation)``, ``_loss_scale(n_outputs)``, the
    divisor that turns the network's training cost into scikit-learn's loss, and
    ``_onnx_outputs(xp, output)``, their predictions computed with ``xp`` from the
    network's output αᴸ (for ONNX export); a classifier also ``_labels(y)``, its
    checked labels, which data-parallel fits share (``seen``: the labels of every
    process).
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    @property
    def coefs_(self) -> list[Any]:
        """NumPy copies of the weights Ωʲ, shape (n_{j−1}, n_j)."""
        return [to_numpy(W).copy() for W in self.model_.weights]

    @property
    def intercepts_(self) -> list[Any]:
        """NumPy copies of the biases βʲ, shape (n_j,)."""
        return [to_numpy(b).copy() for b in self.model_.biases]

    def _fit(self, X: Any, y: Any, sample_weight: Any, *, incremental: bool, classes: Any = None) -> Any:
        """Train, or leave the estimator and its network as they were when anything fails."""
        saved = dict(self.__dict__)
        try:
            with unchanged_on_failure(getattr(self, "model_", None)):
                return self._train(X, y, sample_weight, incremental, classes)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _train(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any) -> Any:
        comm = communicator(self.comm)
        settings = as_text(_shared(self.get_params())) if comm.distributed else {}
        with agreed(comm, settings) as checked:  # with a communicator: all processes go on, or all raise
            self._check_params(incremental)
            if y is None:
                raise ValueError(
                    f"This {type(self).__name__} estimator requires y to be passed, but the target y is None."
                )
            first = not hasattr(self, "model_") or not (incremental or self.warm_start)
            X, y = check_fit_data(self, X, y, get_namespace(self.backend), reset=first)
            checked.share = self._labels(y)
            weights = sample_weights(sample_weight, getattr(self, "class_weight", None), y, incremental)
        with agreed(comm, {}):
            seen = _every_label(checked.gathered) if comm.distributed else None
            targets, loss, output_activation = self._encode_targets(y, first, incremental, classes, seen)
            sizes = [X.shape[1], *self._hidden_sizes(), 1 if targets.ndim == 1 else targets.shape[1]]
            activation = ALIASES.get(self.activation, self.activation)
            if first:
                model = new_model(self, sizes, activation, output_activation, is_float32(X))
            else:
                model = continued_model(self, sizes, activation, output_activation)
            train, validation = split(self, model.rng, X, targets, weights, y)
        rows = shard_sizes(comm, train[0].shape[0])
        if self.solver == "lbfgs":
            history, diverged = train_lbfgs(self, model, loss, train, comm=comm)
        else:
            history, diverged = train_network(
                self,
                model,
                loss,
                train,
                validation,
                first=first,
                incremental=incremental,
                rows=rows,
                comm=comm,
            )
        if diverged and not self._early_stops():
            raise ValueError(NON_FINITE)
        self.model_ = model
        record(self, history, first=first, n_samples=sum(rows), incremental=incremental, diverged=diverged)
        return self

    def _labels(self, y: Any) -> Any:
        """What a data-parallel fit shares of y: nothing but for a classifier."""
        return None

    def _forward(self, X: Any) -> Any:
        """αᴸ for the rows of X: an array of the model's namespace, shape (N, n_outputs_)."""
        check_is_fitted(self)
        return self.model_.forward(check_predict_X(self, X))

    def to_onnx(self, path: Any) -> Any:
        """Write the fitted estimator's predictions to ``path`` as an ONNX model; return the path.

        ``model_.to_onnx`` (see ``MLP.to_onnx``): input ``x`` of shape
        (N, ``n_features_in_``), of ``model_``'s dtype; outputs as ``_onnx_outputs``
        says (the classifier: ``label`` and ``probabilities``; the regressor:
        ``y``), equal to what ``predict`` and ``predict_proba`` give.
        """
        check_is_fitted(self)
        return self.model_.to_onnx(path, outputs=self._onnx_outputs)

    def save(self, path: Any) -> Any:
        """Write the fitted estimator to ``path`` (.npz, as ``MLP.save``); ``mlp_xp.load`` reads it back.

        The file holds ``model_`` with its optimizer state and generator, the
        parameters of ``get_params()`` but ``backend`` and ``device`` (given to
        ``load``), ``classes_`` and the fitted attributes, so that ``predict``
        answers the same and ``partial_fit`` or a warm ``fit`` continue as they
        would have.  Returns the path written (a ``pathlib.Path``).

        Raises
        ------
        TypeError
            When a parameter (e.g. a ``numpy.random.RandomState`` as
            ``random_state``) or a class label is not a None, bool, int, float
            or str (or lists, tuples, dicts of these): nothing is written.
        """
        if MLPEstimator not in type(self).__bases__:  # load rebuilds mlp_xp's own classes only
            raise TypeError(
                f"save writes MLPClassifier and MLPRegressor only, not a {type(self).__name__}: "
                "save its network, estimator.model_.save(path)"
            )
        check_is_fitted(self)
        return saved_by_rank0(
            communicator(self.comm), lambda: save(self.model_, path, estimator=estimator_entry(self))
        )


def _shared(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters every process of a data-parallel fit must share: all but
    its own ``comm``, ``device``, ``random_state`` (rank 0's network is taken) and ``verbose``."""
    return {k: v for k, v in params.items() if k not in ("comm", "device", "random_state", "verbose")}


def _every_label(labels: list[Any]) -> Any:
    """The labels of every process (each process's ``_labels``), or None where one has none."""
    return None if any(seen is None for seen in labels) else unique_labels(*labels)
