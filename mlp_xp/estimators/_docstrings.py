"""The parameter and attribute sections that both estimators' docstrings share."""

PARAMETERS = """
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Widths of the hidden layers; ``()`` for none.
    activation : str, default="relu"
        Φ of the hidden layers: "identity", "logistic" (scikit-learn's name of
        "sigmoid"), "tanh", "relu", or another hidden activation of mlp_xp.
    solver : {"adam", "sgd", "lbfgs", "line_search"}, default="adam"
        Adam, SGD with (Nesterov) momentum, L-BFGS on the whole training set
        (``mlp_xp.LBFGS``: strong Wolfe line search, memory 10, on any
        backend), or gradient descent with a backtracking line search that
        starts each update from ``learning_rate_init`` (give it a larger one,
        e.g. 1.0, and a full batch).  As in scikit-learn, "lbfgs" has no
        ``partial_fit`` (``hasattr`` is False) and ignores ``batch_size``,
        ``shuffle``, the learning-rate parameters, ``early_stopping`` and
        ``n_iter_no_change``.
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
        Epochs at most (passes over the training data); for "lbfgs", iterations.
    shuffle : bool, default=True
        Shuffle the samples every epoch; False visits them in order.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initial weights, the batch orders and the validation split.
    tol : float, default=1e-4
        Improvement of the training loss (or validation score) that counts;
        for "lbfgs", the largest gradient entry ‖∇‖∞ of a converged network
        (SciPy's ``gtol``, as scikit-learn passes it).
    verbose : bool, default=False
        Print scikit-learn's lines: "Iteration N, loss = …" per epoch (per
        iteration for "lbfgs"), with early stopping "Validation score: …",
        and why training stopped.
    warm_start : bool, default=False
        ``fit`` continues the fitted network and its optimizer state ("lbfgs":
        a fresh L-BFGS memory, as scikit-learn), moved to ``backend`` and
        ``device`` if they have changed since (``dtype`` cannot change: a warm
        start refuses another explicit ``dtype``).
    momentum : float in [0, 1), default=0.9
        Momentum of "sgd".
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for "sgd" (when momentum > 0).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers with one output), stop when the validation score (accuracy,
        or R²) has not improved by ``tol`` for ``n_iter_no_change`` + 1 epochs,
        and keep the parameters of the best epoch (also when a later epoch
        diverges: training then stops with a ``ConvergenceWarning``).
        Ignored by "lbfgs".
    validation_fraction : float in (0, 1), default=0.1
        The share of the training data held out with ``early_stopping``.
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Adam's decay rates.
    epsilon : float, default=1e-8
        Adam's ε.
    n_iter_no_change : int or math.inf, default=10
        Training stops after ``n_iter_no_change`` + 1 epochs in a row without an
        improvement of ``tol`` (as scikit-learn); ``math.inf`` never stops early.
    max_fun : int, default=15000
        "lbfgs" stops after the iteration in which its evaluations of the loss
        (and gradient) exceed ``max_fun``, with a ``ConvergenceWarning``.
    backend : {"numpy", "cupy", "torch", "array_api_strict", "jax"}, default="numpy"
        Where the network trains; the training data moves there once per fit.
    device : optional
        A device of the backend; default: its default device.
    dtype : {None, "float32", "float64"}, default=None
        The network's floating type; None: float32 for float32 data, float64
        otherwise (as scikit-learn).
    comm : None or a communicator, default=None
        Train data-parallel (``MLP.fit``'s ``comm``: an mpi4py communicator,
        a torch.distributed process group, ...): every process fits the
        estimator on its own rows; the classes are those of every process,
        ``batch_size`` is per process ("auto": min(200, the fewest rows of a
        process)), and every process ends with the same network.  Not saved.
    checkpoint : None, str, path-like or mlp_xp.Checkpoint, default=None
        ``fit`` keeps its progress in this file (see ``MLP.fit``): a ``fit``
        killed and run again with the same estimator and data continues where
        the file stopped, and one that finds the file of a finished ``fit``
        returns at once with its result.  Not for ``partial_fit``; not saved
        with the estimator.
"""

ATTRIBUTES = """
    loss_ : float
        The training loss of the last epoch; for "lbfgs", at the final parameters.
    loss_curve_ : list of float
        The training loss of every epoch, across warm starts and ``partial_fit``
        (as ``best_loss_`` and the validation scores, not set by "lbfgs").
    best_loss_ : float or None
        The smallest training loss; None with ``early_stopping``.
    validation_scores_ : list of float or None
        The validation score of every epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
        Their best value with ``early_stopping``, else None.
    n_iter_ : int
        Epochs run by the last ``fit`` (1 for ``partial_fit``); for "lbfgs",
        the iterations of the last ``fit``.
    t_ : int
        Training samples seen by the optimizer, in all (0 for "lbfgs").
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only for data with column names (a DataFrame).
    n_layers_ : int
        Layers including input and output.
    n_outputs_ : int
    out_activation_ : {"identity", "exp", "logistic", "softmax"}
        The output activation, named as scikit-learn.
    coefs_, intercepts_ : list of ndarray
        NumPy copies of the weights Ωʲ, shape (n_{j−1}, n_j), and biases βʲ.
    model_ : mlp_xp.MLP
        The trained network, on ``backend``.
"""
