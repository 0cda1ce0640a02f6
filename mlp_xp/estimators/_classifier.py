"""MLPClassifier: binary, multi-class and multi-label targets."""

from __future__ import annotations

from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_array

from .._backend import namespace_of, quiet_overflow, to_numpy
from ._arrays import as_callers, host
from ._base import MLPEstimator
from ._docstrings import ATTRIBUTES, PARAMETERS
from ._params import parameters


@parameters
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
        "balanced": n_samples / (n_classes · count of the class); every weight
        a finite number ≥ 0.  "balanced" is refused by ``partial_fit``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multi-label targets, the label indices).{ATTRIBUTES}"""

    class_weight: Any = None

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on X, shape (n_samples, n_features), and labels y, shape (n_samples,)
        (or a 0/1 indicator matrix (n_samples, n_labels)); ``sample_weight`` (n_samples,)."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda estimator: estimator._check_solver())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y), continuing the network and its optimizer.

        ``classes`` (every label of the whole data set) is required on the first
        call, and y's labels must be among them.
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

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The accuracy of ``predict(X)`` against y (for multi-label targets, of whole
        rows), counted on the host in float64 whatever the arrays' library."""
        return float(accuracy_score(host(y), host(self.predict(X)), sample_weight=host(sample_weight)))

    def _loss_scale(self, n_outputs: int) -> float:
        return 1.0

    def _onnx_outputs(self, xp: Any, output: Any) -> dict[str, Any]:
        """``label`` as ``predict`` and ``probabilities`` as ``predict_proba`` give them,
        computed with ``xp`` from αᴸ, shape (N, n_outputs_): the class of the largest
        output, or of the output above ½ (the 0/1 matrix for multi-label targets)."""
        kind, classes = self._label_binarizer.y_type_, xp.asarray(self.classes_)
        if kind == "multilabel-indicator":
            return {"label": xp.astype(output > 0.5, xp.int64), "probabilities": output}
        if kind == "multiclass":
            return {"label": xp.take(classes, xp.argmax(output, axis=1)), "probabilities": output}
        above = xp.astype(output[:, 0] > 0.5, xp.int64)  # one class: always the first
        label = xp.take(classes, above if classes.shape[0] > 1 else xp.zeros_like(above))
        return {"label": label, "probabilities": xp.concat([1.0 - output, output], axis=1)}

    def _labels(self, y: Any) -> Any:
        """y's labels, checked to be classes; None for multi-label targets."""
        check_classification_targets(y)
        return None if type_of_target(y).startswith("multilabel") else unique_labels(y)

    def _encode_targets(
        self, y: Any, first: bool, incremental: bool, classes: Any, seen: Any = None
    ) -> tuple[Any, str, str]:
        """The network's targets (0/1 columns, or one-hot rows), its loss and output activation.

        ``seen``: the labels of every process of a data-parallel fit, whose union are the classes.
        """
        check_classification_targets(y)
        labels = y if seen is None else seen
        if first:
            self._label_binarizer = self._binarizer(labels, incremental, classes)
            self.classes_ = self._label_binarizer.classes_
        else:
            self._check_known_classes(labels, incremental, classes)
        targets = self._label_binarizer.transform(y)
        if self._label_binarizer.y_type_ == "multiclass":
            return targets, "cross_entropy", "softmax"
        return targets, "binary_cross_entropy", "sigmoid"

    @staticmethod
    def _binarizer(y: Any, incremental: bool, classes: Any) -> LabelBinarizer:
        """The encoder of the labels: those of y for fit and for multi-label targets,
        else those of ``classes``, which must hold every label of y."""
        if incremental and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if not incremental or type_of_target(y).startswith("multilabel"):
            return LabelBinarizer().fit(y)
        if isinstance(classes, (str, bytes)) or not hasattr(classes, "__len__"):
            raise TypeError(f"classes must be a sequence of the class labels, got {classes!r}")
        classes = check_array(host(classes), ensure_2d=False, dtype=None, input_name="classes")
        if classes.ndim != 1:
            raise ValueError(f"classes must be a 1-D sequence of labels, got shape {classes.shape}")
        classes = unique_labels(classes)
        unknown = _missing(unique_labels(y), classes)
        if unknown.shape[0]:
            raise ValueError(
                f"y has classes {unknown} that are not in classes={classes}: on the first call to "
                "partial_fit, classes must hold every class of the whole data set"
            )
        return LabelBinarizer().fit(classes)

    def _check_known_classes(self, y: Any, incremental: bool, classes: Any) -> None:
        if classes is not None and list(unique_labels(host(classes))) != list(self.classes_):
            raise ValueError(f"classes={classes!r} is not the same as on the first call: {self.classes_}")
        labels = unique_labels(y)
        if not incremental and set(labels.tolist()) != set(self.classes_.tolist()):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the previous "
                f"call to fit. Previously got {self.classes_}, `y` has {labels}"
            )
        unknown = _missing(labels, self.classes_)
        if unknown.shape[0]:
            raise ValueError(
                f"y has classes {unknown} that are not in classes_ {self.classes_}, the classes "
                "of the first call to partial_fit"
            )


def _missing(labels: Any, known: Any) -> Any:
    """The entries of the label array ``labels`` that the label array ``known`` lacks."""
    known = set(known.tolist())
    return labels[[label not in known for label in labels.tolist()]]
