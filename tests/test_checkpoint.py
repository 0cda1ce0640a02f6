"""Resumable training: ``fit(checkpoint=...)`` on every backend, the file it writes, the
fits it refuses to continue, the estimators' ``checkpoint`` and ``mlp-xp train --checkpoint``.

An interruption is simulated in the process: ``interrupted_after(n)`` raises
KeyboardInterrupt right after the end of epoch n, once its checkpoint, if due,
is written.  ``test_checkpoint_kills.py`` kills real processes.
"""

from __future__ import annotations

import json
import math
import re
from contextlib import contextmanager
from dataclasses import asdict
from unittest import mock

import numpy as np
import pytest

import mlp_xp
from mlp_xp import persistence
from mlp_xp.checkpoint import Checkpoint, CheckpointRun
from mlp_xp.cli import main

DATA = np.random.default_rng(11)
X, RULE = DATA.normal(size=(60, 4)), DATA.normal(size=(4, 3))  # three classes, by a noisy linear rule
Y = np.argmax(X @ RULE + DATA.normal(size=(60, 3)), axis=1)
X_VAL = DATA.normal(size=(20, 4))
Y_VAL = np.argmax(X_VAL @ RULE + DATA.normal(size=(20, 3)), axis=1)
WEIGHTS = DATA.uniform(0.5, 2.0, size=60) * (DATA.uniform(size=60) > 0.2)


class Halving:
    """A schedule of the caller's that hears each epoch's loss: η halves after an epoch
    whose loss did not fall."""

    def __init__(self, lr: float) -> None:
        self.lr, self.last = lr, math.inf

    def __call__(self, k: int) -> float:
        return self.lr

    def end_epoch(self, loss: float) -> None:
        self.lr, self.last = (self.lr / 2 if loss >= self.last else self.lr), loss


def adam_with_early_stopping() -> dict:
    """Adam, the adaptive schedule, early stopping that restores its best epoch, a seed of the fit's own."""
    return dict(
        optimizer="adam",
        lr=0.05,
        lr_schedule="adaptive",
        validation_data=(X_VAL, Y_VAL),
        early_stopping=mlp_xp.EarlyStopping("val_loss", patience=PATIENCE),
        seed=5,
    )


def sgd_with_a_schedule_of_its_own() -> dict:
    """SGD with momentum, uniform sampling, sample weights and a schedule with ``end_epoch``."""
    return dict(
        optimizer=mlp_xp.SGD(momentum=0.9),
        lr_schedule=Halving(0.3),
        sampling="uniform",
        sample_weight=WEIGHTS,
    )


def lbfgs() -> dict:
    """L-BFGS, whose state keeps its memory and its last evaluation."""
    return dict(optimizer=mlp_xp.LBFGS(), batch_size=None)


PATIENCE = 3
SCENARIOS = {
    "adam": (adam_with_early_stopping, 1),
    "sgd": (sgd_with_a_schedule_of_its_own, 3),
    "lbfgs": (lbfgs, 2),
}


def fit(make_mlp, checkpoint, scenario="sgd", callbacks=(), **changes):
    """A fresh model (as a restarted job builds it) and the History of its fit."""
    model = make_mlp([4, 8, 3], "tanh", "softmax", seed=0)
    options = {"loss": "cross_entropy", "batch_size": 8, "epochs": 14, **SCENARIOS[scenario][0](), **changes}
    return model, model.fit(X, Y, checkpoint=checkpoint, callbacks=callbacks, **options)


@contextmanager
def interrupted_after(epoch: int):
    """Fits inside raise KeyboardInterrupt at the end of ``epoch``, after its checkpoint (if due)."""
    original = CheckpointRun.end_epoch

    def end_epoch(run, model, history, best, stop):
        original(run, model, history, best, stop)
        if history.n_epochs == epoch:
            raise KeyboardInterrupt

    with mock.patch.object(CheckpointRun, "end_epoch", end_epoch), pytest.raises(KeyboardInterrupt):
        yield


def assert_same_model(model, expected):
    """Bit for bit: parameters, optimizer state, update count, generator, schedule state."""
    got, want = persistence.snapshot(model), persistence.snapshot(expected)
    assert [p.tobytes() for p in got.params] == [p.tobytes() for p in want.params]
    assert _bytes(got.state) == _bytes(want.state)
    assert got.n_updates == want.n_updates and got.schedule_state == want.schedule_state
    assert got.rng.bit_generator.state == want.rng.bit_generator.state


def _bytes(tree):
    if isinstance(tree, dict):
        return {key: _bytes(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_bytes(value) for value in tree]
    return tree.tobytes() if isinstance(tree, np.ndarray) else tree


def recorded(history, with_time=False):
    """A History as a dict (without the times, which differ between runs)."""
    fields = asdict(history)
    return fields if with_time else {key: value for key, value in fields.items() if key != "time"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_interrupted_fit_run_again_ends_as_an_uninterrupted_one(scenario, make_mlp, tmp_path):
    reference, expected = fit(make_mlp, None, scenario)
    checkpoint = Checkpoint(tmp_path / "run", every=SCENARIOS[scenario][1])
    for epoch in (2, 5, 7):  # each run continues from the file the last one left
        with interrupted_after(epoch):
            fit(make_mlp, checkpoint, scenario)
    model, history = fit(make_mlp, checkpoint, scenario)
    assert_same_model(model, reference)
    np.testing.assert_equal(recorded(history), recorded(expected))
    assert model.history is history and history.n_epochs == expected.n_epochs > 7


def test_early_stopping_keeps_its_best_epoch_across_an_interruption(make_mlp, tmp_path):
    """Interrupted after the best epoch, then after the last, before the file of the finished
    fit is written: the best parameters and the decision to stop survive."""
    reference, expected = fit(make_mlp, None, "adam")
    assert expected.stopped_early and expected.best_epoch + PATIENCE == expected.n_epochs - 1
    for epoch in (expected.best_epoch + 2, expected.n_epochs):
        with interrupted_after(epoch):
            fit(make_mlp, tmp_path / "run", "adam")
    model, history = fit(make_mlp, tmp_path / "run", "adam")
    assert_same_model(model, reference)
    assert history.best_epoch == expected.best_epoch and history.stopped_early


def test_a_finished_fit_run_again_trains_nothing_and_gives_its_result(make_mlp, tmp_path):
    path = tmp_path / "run.npz"
    first, history = fit(make_mlp, path)
    written, calls = path.read_bytes(), []
    again, repeated = fit(make_mlp, path, callbacks=[lambda model, h: calls.append(h.n_epochs)])
    assert calls == [] and path.read_bytes() == written
    assert_same_model(again, first)
    np.testing.assert_equal(recorded(repeated, with_time=True), recorded(history, with_time=True))
    assert again.history is repeated


def test_the_file_is_a_model_file_of_the_last_multiple_of_every(make_mlp, tmp_path):
    path = tmp_path / "run.npz"
    with interrupted_after(8):
        fit(make_mlp, Checkpoint(path, every=3))
    content = persistence.read_checkpoint(path)
    assert len(content.entry["history"]["loss"]) == 6 and not content.entry["finished"]
    assert mlp_xp.load(path).n_updates == 6 * 8  # 60 rows in batches of 8: 8 updates an epoch


def test_more_epochs_continue_an_unfinished_fit(make_mlp, tmp_path):
    """The epochs are counted over the whole fit: a run asking for more trains the difference."""
    with interrupted_after(3):
        fit(make_mlp, tmp_path / "run")
    model, history = fit(make_mlp, tmp_path / "run", epochs=5)
    assert history.n_epochs == 5 and model.n_updates == 5 * 8


def test_the_report_counts_the_restored_epochs(make_mlp, tmp_path, capsys):
    with interrupted_after(3):
        fit(make_mlp, tmp_path / "run")
    capsys.readouterr()
    fit(make_mlp, tmp_path / "run", verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == [f"{n}/14" for n in range(4, 15)]


def _trained(make_mlp):
    model = make_mlp([4, 8, 3], "tanh", "softmax", seed=0)
    model.fit(X, Y, "cross_entropy", epochs=1)
    return model


OTHER_FITS = {
    "another architecture": (lambda m: m([4, 6, 3], "tanh", "softmax", seed=0), {}, "holds a network"),
    "another dtype": (lambda m: m([4, 8, 3], "tanh", "softmax", dtype="float64"), {}, "in float32"),
    "a trained model": (_trained, {}, "started from a model that had made 0 updates"),
    "fewer rows": (None, {"x": X[:40], "y": Y[:40], "sample_weight": WEIGHTS[:40]}, r"\(60, 4\)"),
    "no sample weights": (None, {"sample_weight": None}, "with sample weights"),
    "validation data": (None, {"validation_data": (X_VAL, Y_VAL)}, "validation x of shape"),
    "another optimizer": (None, {"optimizer": "adam"}, "holds the optimizer SGD"),
}


@pytest.mark.parametrize("case", OTHER_FITS)
def test_the_checkpoint_of_another_fit_is_refused_naming_the_file(case, make_mlp, tmp_path):
    path = tmp_path / "run.npz"
    with interrupted_after(2):
        fit(make_mlp, path)
    written = path.read_bytes()
    build, changes, why = OTHER_FITS[case]
    model = (build or (lambda m: m([4, 8, 3], "tanh", "softmax", seed=0)))(make_mlp)
    before = persistence.snapshot(model)
    options = {"loss": "cross_entropy", "batch_size": 8, **sgd_with_a_schedule_of_its_own(), **changes}
    x, y = options.pop("x", X), options.pop("y", Y)
    with pytest.raises(ValueError, match=re.escape(f"'{path}'") + ".*" + why):
        model.fit(x, y, checkpoint=path, **options)
    assert path.read_bytes() == written
    assert [p.tobytes() for p in persistence.snapshot(model).params] == [p.tobytes() for p in before.params]


def test_a_plain_model_file_is_not_a_checkpoint(make_mlp, tmp_path):
    path = _trained(make_mlp).save(tmp_path / "model")
    with pytest.raises(ValueError, match=re.escape(f"'{path}'") + ".*without a checkpoint entry"):
        fit(make_mlp, path)


def test_the_checkpoint_argument_is_checked(make_mlp, tmp_path):
    assert Checkpoint("run").path.name == "run.npz" and Checkpoint("run.NPZ", every=2).every == 2
    with pytest.raises(ValueError, match="every must be >= 1, got 0"):
        Checkpoint("run", every=0)
    with pytest.raises(ValueError, match="it is a folder"):
        Checkpoint(tmp_path)
    with pytest.raises(TypeError, match="path must be a str or a path-like object, got 3"):
        Checkpoint(3)
    with pytest.raises(TypeError, match=r"checkpoint must be None, a path or an mlp_xp\.Checkpoint, got 3"):
        fit(make_mlp, 3)
    with pytest.raises(ValueError, match=r"cannot be written: optimizer .* cannot be saved"):
        fit(make_mlp, tmp_path / "run", optimizer=CustomSGD())


class CustomSGD(mlp_xp.SGD):
    """A subclass: no config a model file can hold."""


def _edit(path, change):
    """Rewrite the checkpoint entry of the file at ``path`` with ``change(entry)``."""
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(arrays["metadata"].tobytes())
    change(metadata["checkpoint"])
    arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


FORGED = {
    "no history": (lambda e: e.pop("history"), "its checkpoint must be a JSON object with the keys"),
    "finished as text": (lambda e: e.update(finished="yes"), "its checkpoint 'finished' must be true"),
    "a negative start": (lambda e: e.update(start=-1), "its checkpoint 'start' must be an int"),
    "a shape of three numbers": (lambda e: e["data"]["x"].append(1), "its checkpoint 'data' must be"),
    "lists of unequal length": (lambda e: e["history"]["time"].append(1.0), "its checkpoint 'history'"),
    "a loss spelled Infinity": (lambda e: e["history"]["loss"].__setitem__(0, "Infinity"), "'history'"),
    "a best epoch beyond": (lambda e: e["history"].update(best_epoch=9), "its checkpoint 'history'"),
    "another generator": (lambda e: e["rng_state"].update(bit_generator="Foo"), "rng_state is not a"),
    "best parameters missing": (
        lambda e: e.update(best={"value": 1.0, "bad_epochs": 0, "params": True}),
        "members missing: checkpoint/best/0",
    ),
}


@pytest.mark.parametrize("case", FORGED)
def test_a_forged_checkpoint_is_refused_naming_the_file(case, make_mlp, tmp_path):
    path = tmp_path / "run.npz"
    with interrupted_after(2):
        fit(make_mlp, path)
    change, problem = FORGED[case]
    _edit(path, change)
    for read in (mlp_xp.load, lambda p: fit(make_mlp, p)):
        expected = re.escape(f"cannot load '{path}': ") + ".*" + re.escape(problem)
        with pytest.raises(ValueError, match=expected):
            read(path)


# --- The estimators and the command line ---------------------------------------------------


ESTIMATOR_SOLVERS = {
    "adam, early stopping": dict(solver="adam", early_stopping=True, n_iter_no_change=3),
    "sgd, invscaling": dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1),
    "sgd, adaptive": dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.5, tol=0.1),
}
FITTED = ("n_iter_", "t_", "loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ESTIMATOR_SOLVERS)
def test_an_estimator_fit_interrupted_and_run_again_ends_as_an_uninterrupted_one(
    solver, backend, device, tmp_path
):
    pytest.importorskip("sklearn")

    def estimator(checkpoint):
        return mlp_xp.MLPClassifier(
            (8,), max_iter=12, random_state=0, backend=backend, device=device, checkpoint=checkpoint,
            **ESTIMATOR_SOLVERS[solver],
        )  # fmt: skip

    reference = estimator(None).fit(X, Y)
    for epoch in (2, 4):
        with interrupted_after(epoch):
            estimator(tmp_path / "run").fit(X, Y)
    resumed = estimator(tmp_path / "run").fit(X, Y)
    assert_same_model(resumed.model_, reference.model_)
    for name in FITTED:
        np.testing.assert_equal(getattr(resumed, name), getattr(reference, name))
    assert reference.n_iter_ > 4


def test_an_estimator_checkpoint_is_for_fit_alone_and_not_saved(tmp_path):
    pytest.importorskip("sklearn")
    clf = mlp_xp.MLPClassifier((4,), max_iter=2, checkpoint=tmp_path / "run")
    with pytest.raises(ValueError, match="partial_fit does not take a checkpoint"):
        clf.partial_fit(X, Y, classes=[0, 1, 2])
    with pytest.warns(Warning):  # scikit-learn's ConvergenceWarning after two epochs
        clf.fit(X, Y)
    assert mlp_xp.load(clf.save(tmp_path / "clf")).checkpoint is None
    with pytest.raises(TypeError, match="checkpoint must be None, a path"):
        mlp_xp.MLPClassifier(checkpoint=1.5).fit(X, Y)


def cli(capsys, *argv):
    try:
        status = main(list(argv))
    except SystemExit as stop:
        status = stop.code
    return status, *capsys.readouterr()


def test_the_command_line_resumes_from_its_checkpoint(capsys, tmp_path):
    argv = ["train", "--data", "moons", "--epochs", "8", "--quiet"]
    assert cli(capsys, *argv, "--save", str(tmp_path / "reference"))[0] == 0
    resumable = [*argv, "--checkpoint", str(tmp_path / "run"), "--checkpoint-every", "2"]
    with interrupted_after(5):
        cli(capsys, *resumable)
    status, _, err = cli(capsys, *resumable, "--save", str(tmp_path / "resumed"))
    assert status == 0 and err == ""
    expected = mlp_xp.load(tmp_path / "reference.npz")
    assert_same_model(mlp_xp.load(tmp_path / "resumed.npz"), expected)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--checkpoint-every", "2"], "--checkpoint-every needs --checkpoint PATH"),
        (
            ["--checkpoint", "run", "--checkpoint-every", "0"],
            "argument --checkpoint-every: expected an int >= 1",
        ),
        (["--checkpoint", "no/such/run"], "--checkpoint no/such/run: the folder no/such does not exist"),
    ],
)
def test_the_command_line_checks_its_checkpoint_options(options, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = cli(capsys, "train", "--data", "xor", *options)
    assert status == 2 and out == "" and message in err
