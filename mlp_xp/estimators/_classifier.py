"""MLPClassifier: binary, multi-class and multi-label targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from .._backend import namespace_of, quiet_overflow, to_numpy
from ._arrays import as_callers
from ._base import MLPEstimator
from ._docstrings import ATTRIBUTES, PARAMETERS


class MLPClassifier(ClassifierMixin, MLPEstimator):
    __doc__ = f"""A multi-layer perceptron classifier trained on ``mlp_xp.MLP``.

    Binary targets: one sigmoid output and binary cross-entropy; several
    classes: softmax outputs and cross-entropy; multi-label targets (a 2-D
    0/1 indicator matrix): one sigmoid output per label.

    Parameters
    ----------{PARAMETERS}
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes, multiplied into ``sample_weight``: a dict
        ``{{class: weight}}`` (a list of dicts for multi-label targets), or
        "balanced": n_samples / (n_classes · count of the class).  "balanced"
        is refused by ``partial_fit``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multi-label targets, the label indices).{ATTRIBUTES}"""

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
        return labels if labels.dtype.kind not in "biuf" else as_callers(labels, X)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape (n_samples, n_classes), columns in the order of
        ``classes_`` (for multi-label targets, each label's probability), in the array type of X."""
        output = self._forward(X)
        if self.n_outputs_ == 1:
            output = self.model_.xp.concat([1.0 - output, output], axis=1)
        return as_callers(output, X)

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
