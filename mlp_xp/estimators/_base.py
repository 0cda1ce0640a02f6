"""What MLPClassifier and MLPRegressor share: parameters, data checks, training, fitted attributes."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import array_api_compat
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from .. import _validation as check
from .._backend import backend_name, get_namespace, namespace_of, to_numpy
from ..activations import ACTIVATIONS
from ..history import EarlyStopping, History
from ..model import MLP
from ..optimizers import SGD, Adam, LineSearchGD
from ..persistence import save
from ..schedules import Adaptive
from ._arrays import is_array, seed_of, take_rows
from ._entry import estimator_entry

SOLVERS = ("sgd", "adam", "line_search")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
# scikit-learn's name of the logistic sigmoid, accepted beside ours.
_ALIASES = {"logistic": "sigmoid"}
# Intervals [low, high) of the real-valued hyper-parameters, (low, high) where open.
_INTERVALS = {
    "alpha": (0.0, math.inf, "closed"),
    "learning_rate_init": (0.0, math.inf, "open"),
    "power_t": (0.0, math.inf, "closed"),
    "tol": (0.0, math.inf, "closed"),
    "momentum": (0.0, 1.0, "closed"),
    "validation_fraction": (0.0, 1.0, "open"),
    "beta_1": (0.0, 1.0, "closed"),
    "beta_2": (0.0, 1.0, "closed"),
    "epsilon": (0.0, math.inf, "open"),
}
# scikit-learn's "adaptive" schedule stops once η has fallen to this value.
_MIN_ADAPTIVE_LR = 1e-6


class MLPEstimator(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, data handling and training."""

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 1e-4,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        backend: Any = "numpy",
        device: Any = None,
        dtype: str | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.device = device
        self.dtype = dtype

    # Subclasses define _encode_targets(y, first, incremental, classes) -> (targets,
    # loss, output activation); the regressor reports its loss per output.
    _loss_divisor_is_n_outputs = False

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @property
    def coefs_(self) -> list[Any]:
        """NumPy copies of the weights Ωʲ, shape (n_{j−1}, n_j)."""
        return [to_numpy(W).copy() for W in self.model_.weights]

    @property
    def intercepts_(self) -> list[Any]:
        """NumPy copies of the biases βʲ, shape (n_j,)."""
        return [to_numpy(b).copy() for b in self.model_.biases]

    # ----------------------------------------------------------------- training

    def _fit(self, X: Any, y: Any, sample_weight: Any, *, incremental: bool, classes: Any = None) -> Any:
        """Train, or leave the estimator as it was when anything fails."""
        saved = dict(self.__dict__)
        try:
            return self._train(X, y, sample_weight, incremental, classes)
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _train(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any) -> Any:
        self._check_params(incremental)
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, but the target y is None."
            )
        first = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = self._check_data(X, y, reset=first)
        targets, loss, output_activation = self._encode_targets(y, first, incremental, classes)
        weights = self._sample_weight(sample_weight, y, X.shape[0], incremental)
        sizes = [X.shape[1], *self._hidden_sizes(), 1 if targets.ndim == 1 else targets.shape[1]]
        activation = _ALIASES.get(self.activation, self.activation)
        if first:
            model = self._new_model(sizes, activation, output_activation, X.dtype == namespace_of(X).float32)
        else:
            model = self._continued_model(sizes, activation)
        train, validation = self._split(model, X, targets, weights, y)
        optimizer = self._optimizer()
        resume = not first and optimizer == model.optimizer
        schedule, callbacks = self._schedule(train[0].shape[0], resume)
        history = model.fit(
            *train[:2],
            loss=loss,
            optimizer=optimizer,
            lr=self.learning_rate_init,
            batch_size=self._batch_size(train[0].shape[0]),
            epochs=1 if incremental else self.max_iter,
            sampling="shuffle" if self.shuffle else "sequential",
            lr_schedule=schedule,
            verbose=self.verbose,
            alpha=self.alpha,
            sample_weight=train[2],
            validation_data=validation,
            callbacks=callbacks,
            early_stopping=self._stopping_rule(),
            resume=resume,
        )
        self.model_ = model
        self._record(history, first, train[0].shape[0], incremental)
        return self

    def _check_params(self, incremental: bool) -> None:
        """Every hyper-parameter checked, each error naming its parameter."""
        if self.solver == "lbfgs":
            raise ValueError(
                "solver='lbfgs' is not available in mlp_xp; use 'adam', 'sgd' or 'line_search' "
                "(gradient descent with a backtracking line search)"
            )
        check.check_choice(self.solver, "solver", SOLVERS)
        hidden = [name for name, phi in ACTIVATIONS.items() if phi.elementwise]
        check.check_choice(self.activation, "activation", [*_ALIASES, *hidden])
        check.check_choice(self.learning_rate, "learning_rate", LEARNING_RATES)
        self._hidden_sizes()
        for name, (low, high, kind) in _INTERVALS.items():
            check.check_real(getattr(self, name), name, low, high, low_open=kind == "open")
        check.check_int(self.max_iter, "max_iter")
        if self.batch_size != "auto":
            check.check_int(self.batch_size, "batch_size")
        if self.n_iter_no_change != math.inf:
            check.check_int(self.n_iter_no_change, "n_iter_no_change")
        for name in ("shuffle", "verbose", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, numbers.Integral)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.dtype not in (None, "float32", "float64"):
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}")
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True; use fit")

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = [sizes]
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}")
        return [check.check_int(n, f"hidden_layer_sizes[{i}]") for i, n in enumerate(sizes)]

    def _check_data(self, X: Any, y: Any, reset: bool) -> tuple[Any, Any]:
        """X checked (NumPy, or the caller's array when it lives in the model's
        namespace) and y as a NumPy array, 1-D for a single output."""
        y = to_numpy(y) if is_array(y) else y
        numeric = not isinstance(self, ClassifierMixin)
        if self._keeps_in_place(X):
            X = self._check_array_in_place(X, reset)
            y = validate_data(self, X="no_validation", y=y, multi_output=True, y_numeric=numeric)
            if y.shape[0] != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} samples, but y has {y.shape[0]}")
        else:
            X = to_numpy(X) if is_array(X) else X
            X, y = validate_data(
                self, X, y, multi_output=True, y_numeric=numeric, dtype=("float64", "float32"), reset=reset
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _check_X(self, X: Any) -> Any:
        """X for prediction: checked against the fitted number of features."""
        if self._keeps_in_place(X):
            return self._check_array_in_place(X, reset=False)
        X = to_numpy(X) if is_array(X) else X
        return validate_data(self, X, dtype=("float64", "float32"), reset=False)

    def _keeps_in_place(self, X: Any) -> bool:
        """True for an array of a library other than NumPy that is the model's backend."""
        if not is_array(X) or array_api_compat.is_numpy_array(X):
            return False
        xp = self.model_.xp if hasattr(self, "model_") else get_namespace(self.backend)
        return backend_name(namespace_of(X)) == backend_name(xp)

    def _check_array_in_place(self, X: Any, reset: bool) -> Any:
        """The shape checks of ``validate_data`` for an array kept where it is; the
        network checks its values (real, finite) when it reads them."""
        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D array X, got shape {tuple(X.shape)}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(
                f"X is empty: shape {tuple(X.shape)}; at least 1 sample and 1 feature are needed"
            )
        if reset:
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def _sample_weight(self, sample_weight: Any, y: Any, n_samples: int, incremental: bool) -> Any:
        """The per-sample weights (times the class weights), or None."""
        if sample_weight is not None:
            sample_weight = to_numpy(sample_weight) if is_array(sample_weight) else sample_weight
            sample_weight = check_array(
                sample_weight, ensure_2d=False, dtype="float64", input_name="sample_weight"
            )
            if sample_weight.shape != (n_samples,):
                raise ValueError(
                    f"sample_weight must have shape ({n_samples},), got {tuple(sample_weight.shape)}"
                )
            if (sample_weight < 0).any():
                raise ValueError("sample_weight must be non-negative; it holds negative values")
        class_weight = getattr(self, "class_weight", None)
        if class_weight is not None:
            if incremental and class_weight == "balanced":
                raise ValueError(
                    "class_weight='balanced' is not supported by partial_fit, which sees one batch "
                    "at a time; pass a dict of class weights, or use fit"
                )
            by_class = compute_sample_weight(class_weight, y)
            sample_weight = by_class if sample_weight is None else sample_weight * by_class
        if sample_weight is not None and not sample_weight.sum() > 0:
            raise ValueError("sample_weight sums to zero: at least one sample must have a positive weight")
        return sample_weight

    def _new_model(self, sizes: list[int], activation: str, output_activation: str, float32: bool) -> MLP:
        """A fresh network, seeded by random_state, of dtype float32 for float32 data when dtype=None."""
        return MLP(
            sizes,
            activation,
            output_activation,
            backend=self.backend,
            device=self.device,
            dtype=self.dtype or ("float32" if float32 else "float64"),
            seed=seed_of(self.random_state),
        )

    def _continued_model(self, sizes: list[int], activation: str) -> MLP:
        """The fitted network, which warm_start and partial_fit continue."""
        model = self.model_
        hidden = [phi.name for phi in model.phis[:-1]]
        if model.layer_sizes != sizes or any(name != activation for name in hidden):
            raise ValueError(
                f"warm_start and partial_fit continue the fitted network {model.layer_sizes} "
                f"with activation {hidden[0] if hidden else None!r}, but the data and parameters "
                f"now ask for {sizes} with {activation!r}; set warm_start=False to start anew"
            )
        return model

    def _split(self, model: MLP, X: Any, targets: Any, weights: Any, y: Any) -> tuple[tuple, Any]:
        """((X, targets, weights) to train on, validation data or None).

        With ``early_stopping`` a fraction of the rows is held out, stratified
        by class for classifiers with one output, drawn from the model's generator.
        """
        if not self.early_stopping:
            return (X, targets, weights), None
        seed = int(model.rng.integers(2**31 - 1))
        if isinstance(self, ClassifierMixin) and y.ndim == 1:
            splitter = StratifiedShuffleSplit(test_size=self.validation_fraction, random_state=seed)
        else:
            splitter = ShuffleSplit(test_size=self.validation_fraction, random_state=seed)
        try:
            rows, held_out = next(splitter.split(targets, y))
        except ValueError as exc:  # e.g. fewer held-out samples than classes
            raise ValueError(
                f"early_stopping cannot hold out validation_fraction={self.validation_fraction} "
                f"of {y.shape[0]} samples: {exc}"
            ) from exc
        if held_out.shape[0] < 2:
            raise ValueError(
                f"The validation set is too small: {held_out.shape[0]} sample(s). "
                "Increase validation_fraction or the size of your dataset."
            )
        train = tuple(None if a is None else take_rows(a, rows) for a in (X, targets, weights))
        return train, (take_rows(X, held_out), take_rows(targets, held_out))

    def _optimizer(self) -> Any:
        if self.solver == "sgd":
            return SGD(momentum=self.momentum, nesterov=bool(self.nesterovs_momentum) and self.momentum > 0)
        if self.solver == "adam":
            return Adam(beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon)
        return LineSearchGD()

    def _schedule(self, n_samples: int, resume: bool) -> tuple[Any, tuple]:
        """The learning-rate schedule and the callbacks that go with it.

        As scikit-learn, ``learning_rate`` applies to the "sgd" solver only.
        An "adaptive" schedule carries over to ``partial_fit`` and warm starts
        that continue the optimizer.
        """
        if self.solver != "sgd" or self.learning_rate == "constant":
            return "constant", ()
        if self.learning_rate == "invscaling":
            return _InvScaling(self.learning_rate_init, self.power_t, self.t_ if resume else 0, n_samples), ()
        if not (resume and isinstance(getattr(self, "_adaptive", None), Adaptive)):
            self._adaptive = Adaptive(self.learning_rate_init, min_delta=self.tol)
        adaptive = self._adaptive
        return adaptive, (lambda model, history: adaptive.lr <= _MIN_ADAPTIVE_LR,)

    def _stopping_rule(self) -> EarlyStopping | None:
        """scikit-learn's rule: stop after n_iter_no_change + 1 epochs without an
        improvement of tol, of the validation score (keeping the best epoch) or
        of the training loss."""
        patience = self.max_iter if self.n_iter_no_change == math.inf else self.n_iter_no_change + 1
        if self.early_stopping:
            return EarlyStopping("val_score", patience=patience, min_delta=self.tol, restore_best=True)
        if self.n_iter_no_change == math.inf or (self.solver == "sgd" and self.learning_rate == "adaptive"):
            return None
        return EarlyStopping("loss", patience=patience, min_delta=self.tol, restore_best=False)

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"batch_size={self.batch_size} is larger than the {n_samples} training samples; "
                f"using batches of {n_samples}",
                UserWarning,
                stacklevel=5,
            )
        return min(self.batch_size, n_samples)

    def _record(self, history: History, first: bool, n_samples: int, incremental: bool) -> None:
        """The fitted attributes of scikit-learn's MLP, from the fit's History."""
        scale = self.model_.layer_sizes[-1] if self._loss_divisor_is_n_outputs else 1
        if first:
            self.loss_curve_, self.t_ = [], 0
        self.n_iter_ = history.n_epochs
        self.t_ += n_samples * history.n_epochs
        self.loss_curve_ = self.loss_curve_ + [loss / scale for loss in history.loss]
        self.loss_ = self.loss_curve_[-1]
        self.n_layers_ = len(self.model_.layer_sizes)
        self.n_outputs_ = self.model_.layer_sizes[-1]
        self.out_activation_ = {"sigmoid": "logistic"}.get(
            self.model_.phis[-1].name, self.model_.phis[-1].name
        )
        if self.early_stopping:
            previous = getattr(self, "validation_scores_", None) if not first else None
            self.validation_scores_ = (previous or []) + list(history.val_score)
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_)
        if not incremental and self.n_iter_ == self.max_iter and not history.stopped_early:
            warnings.warn(
                f"{type(self).__name__}: maximum iterations (max_iter={self.max_iter} epochs) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=5,
            )

    # ------------------------------------------------------------ save and load

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
        return save(self.model_, path, estimator=estimator_entry(self))

    # --------------------------------------------------------------- prediction

    def _forward(self, X: Any) -> Any:
        """αᴸ for the rows of X: an array of the model's namespace, shape (N, n_outputs_)."""
        check_is_fitted(self)
        return self.model_.forward(self._check_X(X))


class _InvScaling:
    """scikit-learn's "invscaling": η / (t + 1)^power_t through an epoch, t the
    training samples seen before it (a schedule with ``end_epoch``)."""

    def __init__(self, lr: float, power_t: float, t: int, n_samples: int) -> None:
        self.lr, self.power_t, self.t, self.n_samples = lr, power_t, t, n_samples

    def __call__(self, k: int) -> float:
        return self.lr / (self.t + 1) ** self.power_t

    def end_epoch(self, loss: float) -> None:
        self.t += self.n_samples
