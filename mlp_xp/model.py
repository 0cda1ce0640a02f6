"""The public model: ``MLP``, a multi-layer perceptron on any Array API backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from . import _onnx, persistence
from . import _validation as check
from ._agreement import agreed, described_settings, saved_by_rank0
from ._backend import (
    backend_name,
    dtype_name,
    get_device,
    get_dtype,
    get_namespace,
    host_rng,
    portable_device,
)
from ._compile import choose_compiler
from ._data import DeviceData, HostData, TrainingData, feature_blocks, streamed
from ._engines import communicator
from ._host_data import whole
from .activations import get_activation
from .checkpoint import CheckpointRun, as_checkpoint, find_saved
from .costs import get_cost
from .history import EarlyStopping, History
from .network import backward, forward, init_parameters
from .objective import accumulation_dtype
from .optimizers import check_batching, get_optimizer
from .schedules import get_schedule
from .training import FitConfig, train

SAMPLINGS = ("shuffle", "uniform", "sequential")
ON_DIVERGENCE = ("raise", "warn")


class MLP:
    """A multi-layer perceptron trained by backpropagation (seed 003).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_0, n_1, ..., n_L]``: inputs, hidden layer widths, outputs.
    activation : str or sequence of str
        Φ of the hidden layers: one name for all, or one per hidden layer.
    output_activation : str
        Φ of the output layer (``"softmax"`` only there).
    backend : {"numpy", "cupy", "torch", "array_api_strict", "jax"} or namespace
    device : optional
        A device of the backend; default: the backend's default device.
    dtype : {"float32", "float64"}
    seed : int, optional
        Seeds the host generator that draws the initial weights (and, unless
        ``fit`` gets its own seed, the batch orders).
    init : {None, "glorot", "he", "lecun"} or callable
        None: Glorot for sigmoid-like and identity layers, He for the ReLU
        family; a name: that rule for every layer; a callable
        ``init(rng, fan_in, fan_out)`` returning a host array (fan_in, fan_out).

    Attributes
    ----------
    weights : list of arrays
        ``weights[j-1]`` is Ωʲ, shape (n_{j−1}, n_j); a plain list, assignable.
    biases : list of arrays
        ``biases[j-1]`` is βʲ, shape (n_j,).
    xp, device, dtype
        The Array API namespace, device and dtype of the parameters.
    rng : numpy.random.Generator
        The host generator of the initial weights and of the batch orders.
    optimizer, optimizer_state, n_updates, schedule_state
        What ``fit(..., resume=True)`` continues: the optimizer of the last
        epoch completed, its state, the number of updates made with it, and
        the state of the ``"adaptive"`` schedule (None for the others).
    history
        The last ``fit``'s History, filled epoch by epoch (None before the
        first ``fit``).
    task : {None, "classification", "regression"}
        What the outputs mean, for the readers of a saved model (``mlp-xp
        predict``); None: not said.  Saved with the model.
    classes : list of int, float or str, or None
        For classification, the label of each output unit in order (for one
        sigmoid output: the labels below and above ½); saved with the model.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str | Sequence[str] = "relu",
        output_activation: str = "identity",
        *,
        backend: Any = "numpy",
        device: Any = None,
        dtype: Any = "float32",
        seed: int | None = None,
        init: Any = None,
    ) -> None:
        self.layer_sizes = check.check_layer_sizes(layer_sizes)
        self.phis = check.check_activations(activation, output_activation, self.layer_sizes)
        self.xp = get_namespace(backend)
        self.device = get_device(self.xp, device)
        self.dtype = get_dtype(self.xp, dtype)
        self.init = check.check_init(init)
        self.rng = host_rng(seed)
        self.weights, self.biases = init_parameters(
            self.xp, self.layer_sizes, self.phis, self.rng, self.dtype, self.device, self.init
        )
        self.optimizer: Any = None
        self.optimizer_state: Any = None
        self.n_updates = 0
        self.schedule_state: dict[str, Any] | None = None
        self.history: History | None = None
        self.task: str | None = None
        self.classes: list[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle support: the namespace and activations travel by name (a JAX device too)."""
        return {
            **self.__dict__,
            "xp": backend_name(self.xp),
            "device": portable_device(self.xp, self.device),
            "phis": [phi.name for phi in self.phis],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        phis = [get_activation(name) for name in state["phis"]]
        xp = get_namespace(state["xp"])
        device = get_device(xp, state["device"])
        self.__dict__.update({"schedule_state": None, **state}, xp=xp, device=device, phis=phis)

    def __repr__(self) -> str:
        hidden = [phi.name for phi in self.phis[:-1]]
        activation = f"activation={hidden[0] if len(set(hidden)) == 1 else hidden!r}, " if hidden else ""
        return (
            f"MLP({self.layer_sizes}, {activation}output_activation={self.phis[-1].name!r}, "
            f"backend={backend_name(self.xp)!r}, device={self.device!r}, "
            f"dtype={dtype_name(self.xp, self.dtype)!r})"
        )

    def forward(self, x: Any) -> Any:
        """αᴸ for the rows of ``x``, shape (N, n_0): shape (N, n_L).

        ``x`` is array-like, or host data read a block of rows at a time, never
        whole: a memory-map, the path of a ``.npy`` file, a SciPy sparse matrix
        (each block densified).
        """
        self._check_parameters()
        blocks = feature_blocks(x, self.layer_sizes[0])
        outputs = [self._output(block) for block in ([x] if blocks is None else blocks)]
        return outputs[0] if len(outputs) == 1 else self.xp.concat(outputs, axis=0)

    def _output(self, x: Any) -> Any:
        x = check.as_features(self.xp, x, self.layer_sizes[0], self.dtype, self.device)
        return forward(self.xp, self.weights, self.biases, self.phis, x)[1][-1]

    def gradients(self, x: Any, y: Any, loss: str = "mse") -> tuple[float, list[Any], list[Any]]:
        """The batch cost 𝓔 = (1/N) Σ C on (x, y) and its gradients ``dW``, ``db``.

        ``dW[j]`` and ``db[j]`` are shaped like ``weights[j]`` and ``biases[j]``;
        𝓔 is summed in float64 (where the device has it).
        """
        cost = get_cost(loss)
        self._check_parameters()
        x, y = self._prepare(x, y, cost)
        zs, activations = forward(self.xp, self.weights, self.biases, self.phis, x)
        losses, dW, db = backward(self.xp, self.weights, self.phis, zs, activations, y, cost)
        total = self.xp.sum(losses, dtype=accumulation_dtype(self.xp, self.device))
        return float(total) / losses.shape[0], dW, db

    def fit(
        self,
        x: Any,
        y: Any,
        loss: str = "mse",
        optimizer: Any = "sgd",
        lr: float = 0.1,
        batch_size: int | None = 32,
        epochs: int = 10,
        seed: int | None = None,
        *,
        sampling: str = "shuffle",
        lr_schedule: Any = "constant",
        power_t: float = 0.5,
        tol: float | None = None,
        verbose: bool = False,
        on_divergence: str = "raise",
        alpha: float = 0.0,
        clip_norm: float | None = None,
        sample_weight: Any = None,
        validation_data: tuple[Any, Any] | None = None,
        callbacks: Any = (),
        early_stopping: EarlyStopping | None = None,
        resume: bool = False,
        comm: Any = None,
        checkpoint: Any = None,
        compile: bool | None = None,
    ) -> History:
        """Train by gradient descent (``batch_size=None``), SGD (1) or mini-batch SGD.

        Parameters
        ----------
        x : array-like, shape (N, n_0)
            The training inputs, one sample per row; or host data that
            mini-batches read a batch of rows at a time, never whole: a NumPy
            memory-map (``np.load(path, mmap_mode="r")``), the path of a ``.npy``
            file (opened so), a SciPy sparse matrix (densified a batch at a
            time); its values are checked a block at a time, and the next batch
            is read and moved to the device while the current one trains.
            Gradient descent (``batch_size=None``) reads it whole.
        y : array-like, shape (N, n_L) or (N,)
            The targets, as ``loss`` reads them (shape (N,) for one output, or
            for class labels 0..n_L-1 with ``"cross_entropy"``); or a memory-map, or
            the path of a ``.npy`` file.
        loss : str
            A cost of ``mlp_xp.COSTS``.
        optimizer : str or optimizer object
            ``"sgd"`` or an object with ``init`` and ``step`` (see ``optimizers``).
        lr : float
            The learning rate η (γ₀ of a schedule).
        batch_size : int or None
            Samples per update; None: the whole data set (gradient descent).
        epochs : int
            Passes over the data (or ⌈N/M⌉ updates each, for ``sampling="uniform"``).
        seed : int, optional
            Seeds the batch order; default: the model's own generator.
        sampling : {"shuffle", "uniform", "sequential"}
            A permutation per epoch, indices drawn uniformly with replacement,
            or the rows in order (no randomness).
        lr_schedule : {"constant", "robbins_monro", "invscaling", "adaptive"} or callable
            η_k = η, η/(k+1) (seed 004), η/(k+1)^power_t, η divided by 5 when
            the training loss stalls for two epochs, or ``k -> η_k``.
        tol : float, optional
            Stop once the full-batch gradient norm ‖∇𝓔‖ ≤ tol (seed 004); not
            for host data in mini-batches, which is never on the device whole.
        verbose : bool
            Print one line per epoch.
        on_divergence : {"raise", "warn"}
            On a NaN/infinite loss or parameter: raise ``FloatingPointError``
            or warn; either way the model keeps its last finite epoch.
        alpha : float
            L2 penalty, as scikit-learn: the batch objective is
            𝓔 + (α / (2 Σw)) Σⱼ ‖Ωʲ‖² (Σw: the batch size, or its total weight).
        clip_norm : float, optional
            Rescale each batch gradient to a global norm of at most ``clip_norm``.
        sample_weight : array-like, shape (N,), optional
            Non-negative weights: the batch cost becomes Σ wᵢCᵢ / Σ wᵢ.
        validation_data : (x_val, y_val), optional
            Measured after every epoch: ``History.val_loss`` and ``val_score``
            (accuracy, or R² for real-valued costs).
        callbacks : callable or sequence of callables
            ``callback(model, history)`` after every epoch; a true result stops.
        early_stopping : EarlyStopping, optional
            Stop when the monitored value stalls; optionally restore the best epoch.
        resume : bool
            Continue the last fit's optimizer, its state and update count (the
            schedule goes on from there, the "adaptive" one from its current η)
            instead of starting a fresh optimizer.
        comm : optional
            Train data-parallel with the other processes of ``comm`` (an mpi4py
            communicator, a torch.distributed process group, a
            ``cupyx.distributed.NCCLBackend``), each on its own rows (x, y);
            every process calls ``fit`` with the same other arguments.  The
            model first takes rank 0's parameters and optimizer state;
            ``batch_size`` is per process, a step's gradient the weighted mean
            over the global batch (one all-reduce), the parameters stay
            identical on every process, and so does the History, which holds
            the global values (validation: over every process's validation
            rows).  Invalid input on one process makes every process raise
            before training; an exception on one process during training
            ends the job (MPI ``Abort``).  See the README's "Distributed training".
        checkpoint : str, path-like or Checkpoint, optional
            Keep the fit's progress in this file, written crash-safely after every
            epoch (``Checkpoint(path, every=k)``: every k epochs) and when the fit
            returns.  A fit that finds the file continues from it: the model takes
            its parameters, optimizer, state, update count, schedule state and
            generators, and trains the epochs left of ``epochs`` (none if the
            file's fit returned: it gives the recorded History).  The file must
            come from a fit of this architecture, started with this model's
            update count, on data of these shapes and with the same optimizer:
            otherwise ``ValueError``, naming the file.  See ``mlp_xp.checkpoint``.
        compile : bool or None
            Run the updates as compiled programs: the step traced once per fit
            (``jax.jit``, each epoch one compiled loop; ``torch.compile``).  None:
            where that is faster (JAX); True: on JAX and torch; False: never.
            SGD and Adam compile; the line search and L-BFGS, which read host
            values during their steps, run eagerly, and so does a fit with ``comm``
            or on host data read a batch at a time (``compile=True`` refuses them).

        Returns
        -------
        History
            Also ``model.history`` from the end of the first epoch on: a fit
            that raises leaves there the epochs it completed.
        """
        comm = communicator(comm)
        arguments = dict(
            loss=loss, optimizer=optimizer, lr=lr, batch_size=batch_size, epochs=epochs,
            sampling=sampling, lr_schedule=lr_schedule, power_t=power_t, tol=tol, alpha=alpha,
            clip_norm=clip_norm, on_divergence=on_divergence, early_stopping=early_stopping,
            resume=resume, validation=validation_data is not None,
        )  # fmt: skip
        settings = described_settings(self, arguments) if comm.distributed else {}
        with agreed(comm, settings):  # all processes train, or all raise
            cost = get_cost(loss)
            self._check_parameters()
            checkpoint = as_checkpoint(checkpoint)
            if checkpoint is not None and comm.distributed:
                raise ValueError(
                    "checkpoint= and comm= together are not supported: every process would write "
                    "the same file; save from rank 0 with save(path, comm=comm) in a callback instead"
                )
            saved = find_saved(checkpoint, self)
            resuming = (
                check.check_bool(resume, "resume") and self.optimizer is not None
            ) or saved is not None
            previous = self if saved is None else saved.content.snapshot  # what a resumed fit continues
            config = FitConfig(
                optimizer=self._resumed_optimizer(optimizer, saved) if resuming else get_optimizer(optimizer),
                batch_size=None if batch_size is None else check.check_int(batch_size, "batch_size"),
                epochs=check.check_int(epochs, "epochs"),
                sampling=check.check_choice(sampling, "sampling", SAMPLINGS),
                schedule=get_schedule(
                    lr_schedule,
                    check.check_positive_float(lr, "lr"),
                    check.check_positive_float(power_t, "power_t"),
                    previous.schedule_state if resuming else None,
                ),
                tol=None if tol is None else check.check_positive_float(tol, "tol"),
                verbose=check.check_bool(verbose, "verbose"),
                on_divergence=check.check_choice(on_divergence, "on_divergence", ON_DIVERGENCE),
                alpha=check.check_positive_float(alpha, "alpha", allow_zero=True),
                clip_norm=None if clip_norm is None else check.check_positive_float(clip_norm, "clip_norm"),
                callbacks=check.check_callbacks(callbacks),
                early_stopping=self._check_early_stopping(early_stopping, validation_data),
                resume=resuming,
                comm=comm,
            )
            check_batching(config.optimizer, config.batch_size, config.clip_norm)
            rng = self.rng if seed is None else host_rng(seed)
            data = self._training_data(x, y, cost, sample_weight, validation_data, config)
            eager = "a communicator" if comm.distributed else None
            if not isinstance(data.batches, DeviceData):
                eager = "host data read a batch at a time"
            config = replace(config, compiler=choose_compiler(compile, self.xp, config.optimizer, eager))
        if checkpoint is None:
            return train(self, data, cost, config, rng)
        run = CheckpointRun(checkpoint, saved, self, data, config, rng)
        return self._train_from(
            run, data, cost, config, own_rng=seed is not None, replay=callable(lr_schedule)
        )

    def save(self, path: Any, *, include_optimizer: bool = True, comm: Any = None) -> Path:
        """Write the model (and its optimizer and state) to ``path`` (.npz), crash-safely;
        return the path written.  See ``persistence.save`` and ``mlp_xp.load``.

        With ``comm`` (as ``fit``'s), rank 0 writes and every process returns once
        it has, with its path; if rank 0 fails, every process raises."""
        save = partial(persistence.save, self, path, include_optimizer=include_optimizer)
        return saved_by_rank0(communicator(comm), save)

    def to_onnx(self, path: Any, outputs: Any = None) -> Path:
        """Write the forward pass to ``path`` as an ONNX model, crash-safely; return the path.

        The model's own ``forward``, traced with ndonnx as ``xp`` (``pip install
        "mlp_xp[onnx]"``): input ``x`` of shape (N, n_0), N symbolic, of the
        model's dtype; output ``y`` = αᴸ, shape (N, n_L), what ``forward`` gives.
        The parameters are constants of the graph.  ONNX's default domain, at
        ndonnx's opset (21 with ndonnx 0.23).

        Parameters
        ----------
        path : str or path-like
            The file written, as given (``.onnx`` by convention).
        outputs : callable ``(xp, y) -> {name: array}``, optional
            The model's outputs computed from αᴸ with ``xp`` (ndonnx); default
            ``{"y": y}``.

        Raises
        ------
        ValueError
            Where ndonnx cannot express an operation of the forward pass (a
            user activation calling a function ndonnx lacks): named, with the
            function that called it; nothing is written.
        """
        self._check_parameters()
        n_layers = len(self.phis)

        def graph(xp: Any, x: Any, params: list[Any]) -> dict[str, Any]:
            y = forward(xp, params[:n_layers], params[n_layers:], self.phis, x)[1][-1]
            return {"y": y} if outputs is None else outputs(xp, y)

        params = [*self.weights, *self.biases]
        return _onnx.export(path, params, self.layer_sizes[0], dtype_name(self.xp, self.dtype), graph)

    def to(self, backend: Any, device: Any = None) -> MLP:
        """A copy of this model on another backend or device; this model is unchanged.

        Parameters are copied bit for bit, through the host; the optimizer, its
        state (any tree of dicts, lists and tuples: its arrays are copied to the
        new backend), ``n_updates``, the "adaptive" schedule's state and the host
        generator (an independent copy) are carried.
        """
        return restore(persistence.snapshot(self), backend, device)

    def _check_parameters(self) -> None:
        check.check_parameters(self.xp, self.weights, self.biases, self.layer_sizes, self.dtype, self.device)

    def _train_from(
        self,
        run: CheckpointRun,
        data: TrainingData,
        cost: Any,
        config: FitConfig,
        *,
        own_rng: bool,
        replay: bool,
    ) -> History:
        """Train from ``run``'s file, if it has one, for the epochs left, writing it as epochs end.

        The model takes the file's state; the batches come from the file's
        generator, which is also the model's unless the fit has its own ``seed``.
        A schedule of the caller's that hears the epochs' losses (``replay``) hears
        the restored ones first.
        """
        if run.saved is not None:
            _take_snapshot(self, run.saved.content.snapshot)
            if not own_rng:
                self.rng = run.rng
        if replay:
            run.replay(config.schedule)
        if not run.finished:
            epochs_left = max(0, config.epochs - run.history.n_epochs)
            train(self, data, cost, replace(config, epochs=epochs_left), run.rng, run)
            run.finish(self)
        self.history = run.history
        return run.history

    def _resumed_optimizer(self, optimizer: Any, saved: Any = None) -> Any:
        """The optimizer that a resumed fit continues: the last fit's (``resume=True``),
        or that of the checkpoint file ``saved``."""
        previous = self.optimizer if saved is None else saved.content.snapshot.optimizer
        same = optimizer is previous or optimizer == previous
        if isinstance(optimizer, str):
            same = optimizer == getattr(previous, "name", None)
        if not same:
            held, way_out = "resume=True continues the last fit's", "resume=False"
            if saved is not None:
                held, way_out = f"checkpoint {str(saved.path)!r} holds the", "another checkpoint path"
            raise ValueError(
                f"{held} optimizer {previous!r}, but optimizer={optimizer!r} was given; "
                f"pass the same one, or {way_out}"
            )
        return previous

    @staticmethod
    def _check_early_stopping(early_stopping: Any, validation_data: Any) -> EarlyStopping | None:
        if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
            raise TypeError(f"early_stopping must be None or an EarlyStopping, got {early_stopping!r}")
        if early_stopping is not None and early_stopping.monitor != "loss" and validation_data is None:
            raise ValueError(
                f"early_stopping monitors {early_stopping.monitor!r}, which needs validation_data=(x, y)"
            )
        return early_stopping

    def _training_data(
        self, x: Any, y: Any, cost: Any, sample_weight: Any, validation_data: Any, config: FitConfig
    ) -> TrainingData:
        """The fit's batches, validated (and, unless read from the host a batch at a
        time, moved to the model's device once per fit), and its validation arrays."""
        check.check_loss_pair(cost, self.phis[-1])
        batches: HostData | DeviceData | None = streamed(self, cost, x, y, sample_weight, config)
        if batches is None:
            x, y = self._prepare(x, y, cost)
            if sample_weight is not None:
                sample_weight = check.as_sample_weight(
                    self.xp, whole(sample_weight, "sample_weight"), x.shape[0], self.dtype, self.device
                )
            batches = DeviceData(x, y, sample_weight)
        if validation_data is None:
            return TrainingData(batches)
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError(
                f"validation_data must be a pair (x_val, y_val), got {type(validation_data).__name__}"
            )
        x_val = check.as_features(
            self.xp,
            whole(validation_data[0], "validation_data[0]"),
            self.layer_sizes[0],
            self.dtype,
            self.device,
            "validation_data[0]",
        )
        y_val = check.as_targets(
            self.xp,
            whole(validation_data[1], "validation_data[1]"),
            self.layer_sizes[-1],
            x_val.shape[0],
            cost,
            self.dtype,
            self.device,
            "validation_data[1]",
            "validation_data[0]",
        )
        return TrainingData(batches, x_val, y_val)

    def _prepare(self, x: Any, y: Any, cost: Any) -> tuple[Any, Any]:
        """(x, y) validated and moved to the model's device whole (host data too): once per call."""
        check.check_loss_pair(cost, self.phis[-1])
        x = check.as_features(self.xp, whole(x, "x"), self.layer_sizes[0], self.dtype, self.device)
        y = check.as_targets(
            self.xp, whole(y, "y"), self.layer_sizes[-1], x.shape[0], cost, self.dtype, self.device
        )
        return x, y


def restore(snapshot: persistence.Snapshot, backend: Any = "numpy", device: Any = None) -> MLP:
    """The MLP of a host snapshot, on ``backend`` and ``device``: each array moved there once."""
    model = MLP(
        snapshot.layer_sizes,
        snapshot.activations[:-1],
        snapshot.activations[-1],
        backend=backend,
        device=device,
        dtype=snapshot.dtype,
        init=snapshot.init,
    )
    _take_snapshot(model, snapshot)
    model.task, model.classes = snapshot.task, None if snapshot.classes is None else list(snapshot.classes)
    return model


def _take_snapshot(model: MLP, snapshot: persistence.Snapshot) -> None:
    """``model`` takes what training changes from ``snapshot`` (of its architecture and dtype):
    parameters, optimizer, state, update count, generator and schedule state."""
    params, model.optimizer_state = persistence.on_device(snapshot, model.xp, model.device)
    n_layers = len(snapshot.layer_sizes) - 1
    model.weights, model.biases = params[:n_layers], params[n_layers:]
    model.optimizer, model.n_updates, model.rng = snapshot.optimizer, snapshot.n_updates, snapshot.rng
    model.schedule_state = None if snapshot.schedule_state is None else dict(snapshot.schedule_state)
