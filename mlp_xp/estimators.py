"""scikit-learn estimators on ``mlp_xp.MLP``: ``MLPClassifier`` and ``MLPRegressor``.

They follow scikit-learn's estimator conventions and the parameter names and
training semantics of its own MLP estimators (epochs of shuffled mini-batches,
stopping when the training loss or the validation score stalls for
``n_iter_no_change`` epochs, warm starts, ``partial_fit``), and train an
``mlp_xp.MLP`` on any backend.  Inputs may be NumPy, CuPy or torch arrays
(or anything NumPy converts); results come back in the caller's array type.

Host-side bookkeeping (labels, splits, weights) uses scikit-learn's utilities;
the network's arrays live on the model's backend.  Data that already lives in
the model's namespace (a CuPy array for ``backend="cupy"``, a tensor for
``backend="torch"``) is used where it is, without a trip through the host.

Where they differ from scikit-learn's MLP: no "lbfgs" solver, no sparse input,
no Poisson loss; the initial weights are mlp_xp's (Glorot or He), so one
``random_state`` gives other numbers; ``warm_start`` continues the optimizer
state (scikit-learn restarts it); a stall is measured against the last epoch
that improved by ``tol`` (scikit-learn: against the best value so far); the
"adaptive" schedule watches the training loss even with ``early_stopping``;
the validation score ignores the sample weights.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import array_api_compat

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils.class_weight import compute_sample_weight
    from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
    from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # scikit-learn is an optional dependency
    raise ImportError(
        'mlp_xp.MLPClassifier and mlp_xp.MLPRegressor need scikit-learn: pip install "mlp_xp[sklearn]"'
    ) from exc

from . import _validation as check
from ._backend import backend_name, get_namespace, namespace_of, quiet_overflow, to_namespace, to_numpy
from .activations import ACTIVATIONS
from .history import EarlyStopping, History
from .model import MLP
from .optimizers import SGD, Adam, LineSearchGD
from .schedules import Adaptive

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

_PARAMETERS = """
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Widths of the hidden layers; ``()`` for none.
    activation : str, default="relu"
        Φ of the hidden layers: "identity", "logistic" (scikit-learn's name of
        "sigmoid"), "tanh", "relu", or another hidden activation of mlp_xp.
    solver : {"adam", "sgd", "line_search"}, default="adam"
        Adam, SGD with (Nesterov) momentum, or gradient descent with a
        backtracking line search that starts each update from
        ``learning_rate_init`` (give it a larger one, e.g. 1.0, and a full batch).
        scikit-learn's "lbfgs" is not available.
    alpha : float, default=1e-4
        L2 penalty: the batch objective is 𝓔 + (α / (2 Σw)) Σⱼ ‖Ωʲ‖².
    batch_size : int or "auto", default="auto"
        Samples per update; "auto" is min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The schedule of the "sgd" solver, as scikit-learn: η; η / (t + 1)^power_t
        with t the training samples seen before the epoch; or η divided by 5
        whenever the training loss stalls (by less than ``tol``) for two epochs,
        training then stopping once η ≤ 1e-6 rather than on ``n_iter_no_change``.
    learning_rate_init : float, default=1e-3
        The learning rate η (the first trial step of "line_search").
    power_t : float, default=0.5
        Exponent of "invscaling".
    max_iter : int, default=200
        Epochs at most (passes over the training data).
    shuffle : bool, default=True
        Shuffle the samples every epoch; False visits them in order.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initial weights, the batch orders and the validation split.
    tol : float, default=1e-4
        Improvement of the training loss (or validation score) that counts.
    verbose : bool, default=False
        Print one line per epoch.
    warm_start : bool, default=False
        ``fit`` continues the fitted network and its optimizer state.
    momentum : float in [0, 1), default=0.9
        Momentum of "sgd".
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for "sgd" (when momentum > 0).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers with one output), stop when the validation score (accuracy,
        or R²) has not improved by ``tol`` for ``n_iter_no_change`` + 1 epochs,
        and keep the parameters of the best epoch.
    validation_fraction : float in (0, 1), default=0.1
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Adam's decay rates.
    epsilon : float, default=1e-8
        Adam's ε.
    n_iter_no_change : int or math.inf, default=10
        Training stops after ``n_iter_no_change`` + 1 epochs in a row without an
        improvement of ``tol`` (as scikit-learn); ``math.inf`` never stops early.
    backend : {"numpy", "cupy", "torch", "array_api_strict"}, default="numpy"
        Where the network trains; the training data moves there once per fit.
    device : optional
        A device of the backend; default: its default device.
    dtype : {None, "float32", "float64"}, default=None
        The network's floating type; None: float32 for float32 data, float64
        otherwise (as scikit-learn).
"""

_ATTRIBUTES = """
    loss_ : float
        The training loss of the last epoch.
    loss_curve_ : list of float
        The training loss of every epoch, across warm starts and ``partial_fit``.
    best_loss_ : float or None
        The smallest training loss; None with ``early_stopping``.
    validation_scores_ : list of float or None
        The validation score of every epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
        Their best value with ``early_stopping``, else None.
    n_iter_ : int
        Epochs run by the last ``fit`` (1 for ``partial_fit``).
    t_ : int
        Training samples seen by the optimizer, in all.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only for data with column names (a DataFrame).
    n_layers_ : int
        Layers including input and output.
    n_outputs_ : int
    out_activation_ : {"identity", "logistic", "softmax"}
        The output activation, named as scikit-learn.
    coefs_, intercepts_ : list of ndarray
        NumPy copies of the weights Ωʲ, shape (n_{j−1}, n_j), and biases βʲ.
    model_ : mlp_xp.MLP
        The trained network, on ``backend``.
"""


class _MLPEstimator(BaseEstimator):
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
        y = to_numpy(y) if _is_array(y) else y
        numeric = not isinstance(self, ClassifierMixin)
        if self._keeps_in_place(X):
            X = self._check_array_in_place(X, reset)
            y = validate_data(self, X="no_validation", y=y, multi_output=True, y_numeric=numeric)
            if y.shape[0] != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} samples, but y has {y.shape[0]}")
        else:
            X = to_numpy(X) if _is_array(X) else X
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
        X = to_numpy(X) if _is_array(X) else X
        return validate_data(self, X, dtype=("float64", "float32"), reset=False)

    def _keeps_in_place(self, X: Any) -> bool:
        """True for an array of a library other than NumPy that is the model's backend."""
        if not _is_array(X) or array_api_compat.is_numpy_array(X):
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
            sample_weight = to_numpy(sample_weight) if _is_array(sample_weight) else sample_weight
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
            seed=_seed(self.random_state),
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
        train = tuple(None if a is None else _take(a, rows) for a in (X, targets, weights))
        return train, (_take(X, held_out), _take(targets, held_out))

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
        from .persistence import save  # lazily: the model module imports it the same way

        check_is_fitted(self)
        if type(self) not in _SAVABLE.values():
            raise TypeError(
                f"save writes {' and '.join(_SAVABLE)} only, not a {type(self).__name__}: "
                "save its network, estimator.model_.save(path)"
            )
        params = {k: v for k, v in self.get_params().items() if k not in ("backend", "device")}
        fitted = {name: getattr(self, name) for name in _FITTED}
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = self.feature_names_in_.tolist()
        if isinstance(getattr(self, "_adaptive", None), Adaptive):
            fitted["_adaptive"] = dict(vars(self._adaptive))
        if hasattr(self, "classes_"):
            fitted["classes_"] = self.classes_.tolist()
            fitted["label_type"] = self._label_binarizer.y_type_
        entry = {
            "class": type(self).__name__,
            "params": {name: _to_json(value, name) for name, value in params.items()},
            "fitted": {name: _to_json(value, name) for name, value in fitted.items()},
        }
        return save(self.model_, path, estimator=entry)

    # --------------------------------------------------------------- prediction

    def _forward(self, X: Any) -> Any:
        """αᴸ for the rows of X: an array of the model's namespace, shape (N, n_outputs_)."""
        check_is_fitted(self)
        return self.model_.forward(self._check_X(X))


class MLPRegressor(RegressorMixin, _MLPEstimator):
    __doc__ = f"""A multi-layer perceptron regressor trained on ``mlp_xp.MLP``.

    Minimises the mean squared error (½ Σ over outputs, mean over samples)
    plus an L2 penalty, with an identity output layer; one or several outputs.

    Parameters
    ----------{_PARAMETERS}
    Attributes
    ----------{_ATTRIBUTES}
    Notes
    -----
    ``loss_curve_`` is scikit-learn's "squared_error": the training cost
    divided by the number of outputs (½ · mean over samples and outputs; the
    L2 term is divided too).  The gradients are those of scikit-learn's
    regressor, whose updates use the sum over outputs.
    """

    _loss_divisor_is_n_outputs = True

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on X, shape (n_samples, n_features), and y, shape (n_samples,) or
        (n_samples, n_outputs); ``sample_weight`` shape (n_samples,)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), continuing the network and its optimizer."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> Any:
        """Predictions, shape (n_samples,) for one output, else (n_samples, n_outputs),
        in the array type of X (NumPy for lists and DataFrames)."""
        output = self._forward(X)
        if output.shape[1] == 1:
            output = self.model_.xp.reshape(output, (-1,))
        return _as_callers(output, X)

    def _encode_targets(self, y: Any, first: bool, incremental: bool, classes: Any) -> tuple[Any, str, str]:
        return y, "mse", "identity"


class MLPClassifier(ClassifierMixin, _MLPEstimator):
    __doc__ = f"""A multi-layer perceptron classifier trained on ``mlp_xp.MLP``.

    Binary targets: one sigmoid output and binary cross-entropy; several
    classes: softmax outputs and cross-entropy; multi-label targets (a 2-D
    0/1 indicator matrix): one sigmoid output per label.

    Parameters
    ----------{_PARAMETERS}
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes, multiplied into ``sample_weight``: a dict
        ``{{class: weight}}`` (a list of dicts for multi-label targets), or
        "balanced": n_samples / (n_classes · count of the class).  "balanced"
        is refused by ``partial_fit``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multi-label targets, the label indices).{_ATTRIBUTES}"""

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
        class_weight: Any = None,
    ) -> None:
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            backend=backend,
            device=device,
            dtype=dtype,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on X, shape (n_samples, n_features), and labels y, shape (n_samples,)
        (or a 0/1 indicator matrix (n_samples, n_labels)); ``sample_weight`` (n_samples,)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y), continuing the network and its optimizer.

        ``classes`` (every label of the whole data set) is required on the first call.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X: Any) -> Any:
        """Class labels, shape (n_samples,) (or the 0/1 indicator matrix for
        multi-label targets), in the array type of X when the labels are numbers."""
        probabilities = to_numpy(self._forward(X))
        if self.n_outputs_ == 1:
            probabilities = probabilities.reshape(-1)
        labels = self._label_binarizer.inverse_transform(probabilities)
        return labels if labels.dtype.kind not in "biuf" else _as_callers(labels, X)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape (n_samples, n_classes), columns in the order of
        ``classes_`` (for multi-label targets, each label's probability), in the array type of X."""
        output = self._forward(X)
        if self.n_outputs_ == 1:
            output = self.model_.xp.concat([1.0 - output, output], axis=1)
        return _as_callers(output, X)

    def predict_log_proba(self, X: Any) -> Any:
        """log(predict_proba(X)), in the array type of X (−inf where a probability is 0)."""
        probabilities = self.predict_proba(X)
        with quiet_overflow():
            return namespace_of(probabilities).log(probabilities)

    def _encode_targets(self, y: Any, first: bool, incremental: bool, classes: Any) -> tuple[Any, str, str]:
        """The network's targets (0/1 columns, or one-hot rows), its loss and output activation."""
        check_classification_targets(y)
        multilabel = type_of_target(y).startswith("multilabel")
        if first:
            if incremental and classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            binarizer = LabelBinarizer().fit(y if classes is None or multilabel else classes)
            if binarizer.classes_.shape[0] < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, "
                    f"got 1 class: {binarizer.classes_[0]!r}"
                )
            self._label_binarizer, self.classes_ = binarizer, binarizer.classes_
        else:
            self._check_known_classes(y, incremental, classes)
        targets = self._label_binarizer.transform(y)
        if self._label_binarizer.y_type_ == "multiclass":
            return targets, "cross_entropy", "softmax"
        return targets, "binary_cross_entropy", "sigmoid"

    def _check_known_classes(self, y: Any, incremental: bool, classes: Any) -> None:
        if classes is not None and list(unique_labels(classes)) != list(self.classes_):
            raise ValueError(f"classes={classes!r} is not the same as on the first call: {self.classes_!r}")
        labels = set(unique_labels(y))
        if not incremental and labels != set(self.classes_):
            raise ValueError(
                "warm_start can only be used where y has the same classes as in the previous "
                f"call to fit: previously {self.classes_!r}, y has {sorted(labels)!r}"
            )
        if not labels <= set(self.classes_):
            raise ValueError(f"y has classes not in classes_ {self.classes_!r}: {sorted(labels)!r}")


_SAVABLE = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}
# The fitted attributes an estimator file holds as they are (besides the
# network, the labels, the feature names and the "adaptive" schedule).
_FITTED = (
    "n_features_in_",
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "loss_",
    "loss_curve_",
    "n_iter_",
    "t_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
)


def estimator_from_entry(entry: Any, layer_sizes: list[int]) -> MLPClassifier | MLPRegressor:
    """The estimator of a file's ``estimator`` entry, all but its network ``model_``.

    ``layer_sizes`` are the network's, which the fitted attributes must match.
    Raises ValueError (or TypeError, KeyError) saying what is wrong.
    """
    if not isinstance(entry, dict) or set(entry) != {"class", "params", "fitted"}:
        raise ValueError(f"expected {{'class', 'params', 'fitted'}}, got {entry!r}")
    if entry["class"] not in _SAVABLE:
        raise ValueError(f"unknown estimator class {entry['class']!r}; mlp_xp has {', '.join(_SAVABLE)}")
    if not isinstance(entry["params"], dict) or not isinstance(entry["fitted"], dict):
        raise ValueError("its 'params' and 'fitted' must be JSON objects")
    params = {name: _from_json(value) for name, value in entry["params"].items()}
    fitted = {name: _from_json(value) for name, value in entry["fitted"].items()}
    estimator = _SAVABLE[entry["class"]]()
    unknown = sorted(set(params) - set(estimator.get_params()))
    if unknown:
        raise ValueError(f"{entry['class']} has no parameters {unknown}")
    estimator.set_params(**params)
    estimator._check_params(incremental=False)
    required = [*_FITTED, *(("classes_", "label_type") if isinstance(estimator, MLPClassifier) else ())]
    missing = [name for name in required if name not in fitted]
    if missing:
        raise ValueError(f"fitted attributes missing: {', '.join(missing)}")
    for name in _FITTED:
        setattr(estimator, name, fitted[name])
    shape = {"n_features_in_": layer_sizes[0], "n_layers_": len(layer_sizes), "n_outputs_": layer_sizes[-1]}
    for name, value in shape.items():
        if getattr(estimator, name) != value:
            raise ValueError(f"{name} {getattr(estimator, name)!r} is not the network's {value}")
    check.check_choice(estimator.out_activation_, "out_activation_", ("identity", "logistic", "softmax"))
    for name in ("n_iter_", "t_"):
        check.check_int(getattr(estimator, name), name, minimum=0)
    if not (isinstance(estimator.loss_curve_, list) and estimator.loss_curve_) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in estimator.loss_curve_
    ):
        raise ValueError(f"loss_curve_ must be a non-empty list of numbers, got {estimator.loss_curve_!r}")
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = column_or_1d(fitted["feature_names_in_"], dtype=object)
    if "_adaptive" in fitted:
        state = fitted["_adaptive"]
        estimator._adaptive = Adaptive(estimator.learning_rate_init)
        if not isinstance(state, dict) or set(state) != set(vars(estimator._adaptive)):
            raise ValueError(f"_adaptive must be {sorted(vars(estimator._adaptive))}, got {state!r}")
        vars(estimator._adaptive).update(state)
    if isinstance(estimator, MLPClassifier):
        estimator._label_binarizer, estimator.classes_ = _binarizer(
            fitted["classes_"], fitted["label_type"], layer_sizes[-1]
        )
    return estimator


def _binarizer(classes: Any, label_type: Any, n_outputs: int) -> tuple[LabelBinarizer, Any]:
    """The fitted LabelBinarizer of a classifier with these labels and outputs, and its classes_."""
    if label_type == "multilabel-indicator" and isinstance(classes, list):
        binarizer = LabelBinarizer().fit([[int(i == j) for j in range(len(classes))] for i in classes])
    else:
        binarizer = LabelBinarizer().fit(classes)
    expected = 1 if binarizer.y_type_ == "binary" else len(classes)
    if binarizer.y_type_ != label_type or binarizer.classes_.tolist() != classes or n_outputs != expected:
        raise ValueError(
            f"classes_ {classes!r} of type {label_type!r} do not fit a network with {n_outputs} outputs"
        )
    return binarizer, binarizer.classes_


def _to_json(value: Any, name: str) -> Any:
    """``value`` as JSON: None, bool, str, int and finite floats as they are, lists as
    lists; tuples, dicts and non-finite floats tagged: ``{"tuple": [...]}``,
    ``{"dict": [[key, value], ...]}``, ``{"float": "inf"}``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, list):
        return [_to_json(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [_to_json(v, f"{name}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return {
            "dict": [
                [_to_json(k, f"a key of {name}"), _to_json(v, f"{name}[{k!r}]")] for k, v in value.items()
            ]
        }
    raise TypeError(
        f"{name} is a {type(value).__name__}, which an estimator file cannot hold: it holds None, "
        "bool, int, float, str and lists, tuples and dicts of them (e.g. an int as random_state)"
    )


def _from_json(value: Any) -> Any:
    """The value that ``_to_json`` wrote."""
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"tuple"} and isinstance(value["tuple"], list):
        return tuple(_from_json(v) for v in value["tuple"])
    if set(value) == {"dict"} and isinstance(value["dict"], list):
        return {_from_json(k): _from_json(v) for k, v in value["dict"]}
    if set(value) == {"float"} and value["float"] in ("inf", "-inf", "nan"):
        return float(value["float"])
    raise ValueError(f"{value!r} is not a value that save writes")


class _InvScaling:
    """scikit-learn's "invscaling": η / (t + 1)^power_t through an epoch, t the
    training samples seen before it (a schedule with ``end_epoch``)."""

    def __init__(self, lr: float, power_t: float, t: int, n_samples: int) -> None:
        self.lr, self.power_t, self.t, self.n_samples = lr, power_t, t, n_samples

    def __call__(self, k: int) -> float:
        return self.lr / (self.t + 1) ** self.power_t

    def end_epoch(self, loss: float) -> None:
        self.t += self.n_samples


def _is_array(a: Any) -> bool:
    return array_api_compat.is_array_api_obj(a)


def _take(a: Any, rows: Any) -> Any:
    """The rows (host integer indices) of an array of any namespace."""
    xp = namespace_of(a)
    return xp.take(a, xp.asarray(rows, device=array_api_compat.device(a)), axis=0)


def _as_callers(result: Any, X: Any) -> Any:
    """``result`` in the array type and on the device of X; NumPy for NumPy and
    for anything that is not an array (lists, DataFrames)."""
    if _is_array(X) and not array_api_compat.is_numpy_array(X):
        return to_namespace(result, namespace_of(X), array_api_compat.device(X), "result")
    return to_numpy(result)


def _seed(random_state: Any) -> Any:
    """The MLP's seed for scikit-learn's ``random_state``: None, an int, or an int
    drawn from a ``numpy.random.RandomState``."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return random_state
    return int(check_random_state(random_state).randint(2**31 - 1))
