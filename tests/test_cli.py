"""The ``mlp-xp`` command line: training on the shipped data sets and on files, the progress
output, saved models read back by ``predict`` and ``evaluate``, the figures, and a one-line
message with exit status 2 for every bad usage."""

import io
import math
import re
import subprocess
import sys

import numpy as np
import pytest

import mlp_xp
from mlp_xp import datasets, plots
from mlp_xp.cli import main
from mlp_xp.progress import Progress


def run(capsys, *argv):
    """``mlp-xp argv...``: (exit status, stdout, stderr)."""
    try:
        status = main(list(argv))
    except SystemExit as stop:
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def final_score(out):
    """The score on the last line: ('test'|'training', 'accuracy'|'R²', value)."""
    found = re.search(r"^final training loss \S+; (test|training) (accuracy|R²) (-?[\d.]+)(%?)$", out, re.M)
    assert found, out
    value = float(found.group(3)) / (100 if found.group(4) else 1)
    return found.group(1), found.group(2), value


def test_train_xor_on_every_backend(backend, capsys):
    status, out, err = run(capsys, "train", "--data", "xor", "--backend", backend)
    assert status == 0 and err == ""
    assert out.startswith("MLP([2, 8, 2], activation='tanh', output_activation='softmax'")
    assert "xor: 4 training and 0 test samples, 2 features, 2 classes; loss cross_entropy" in out
    assert final_score(out) == ("training", "accuracy", 1.0)


def test_train_seed004_is_the_seeds_single_neuron_without_bias(capsys, tmp_path):
    model_path = tmp_path / "neuron.npz"
    status, out, _ = run(capsys, "train", "--data", "seed004", "--save", str(model_path))
    assert status == 0
    assert "2 classes (one sigmoid output); loss mse, sgd lr 2, batch size all (gradient descent)" in out
    assert final_score(out) == ("training", "accuracy", 1.0)
    model = mlp_xp.load(model_path)
    assert model.layer_sizes == [2, 1] and model.phis[-1].name == "sigmoid"
    assert float(mlp_xp.to_numpy(model.biases[0])[0]) == 0.0  # β held at 0 as in the seed
    # The printed final loss is the epoch's mean mse, ½(y − ŷ)² averaged, i.e. E/8 of the seed.
    w = mlp_xp.to_numpy(model.weights[0])[:, 0]
    assert plots.seed004_cost(w) < 8 * float(re.search(r"final training loss ([\d.e-]+)", out).group(1))


def test_seed004_cost_is_the_seeds_E_and_eight_times_the_mse():
    # E(0) = Σ (y − ½)² = 4 · ¼; E(−1, 0) = Σ (y − σ(−x₁))² with −x₁ = 3, 2, −4, −2.
    sigma = [1 / (1 + math.exp(-z)) for z in (3, 2, -4, -2)]
    expected = sum((y - s) ** 2 for y, s in zip((1, 1, 0, 0), sigma))
    np.testing.assert_allclose(plots.seed004_cost(np.array([[0.0, 0.0], [-1.0, 0.0]])), [1.0, expected])
    x, y = datasets.seed004_points()
    model = mlp_xp.MLP([2, 1], output_activation="sigmoid", dtype="float64")
    model.weights[0] = np.array([[0.7], [-0.3]])
    mse = model.gradients(x, y, loss="mse")[0]
    np.testing.assert_allclose(plots.seed004_cost(np.array([0.7, -0.3])), 8 * mse)


def test_train_moons_reports_test_accuracy_and_plain_progress_lines(capsys):
    status, out, _ = run(
        capsys, "train", "--data", "moons", "--epochs", "40", "--backend", "array_api_strict"
    )
    assert status == 0
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    # Not a terminal: one plain line every ⌈40/20⌉ = 2 epochs, with the test loss.
    assert len(lines) == 20 and lines[-1].startswith("epoch 40/40  loss ")
    assert all(re.fullmatch(r"epoch \d+/40  loss \S+  val_loss \S+  [\d.]+ s", line) for line in lines)
    assert "moons: 300 training and 100 test samples" in out
    where, metric, accuracy = final_score(out)
    assert (where, metric) == ("test", "accuracy") and accuracy >= 0.85


def test_quiet_prints_the_result_only(capsys):
    status, out, _ = run(capsys, "train", "--data", "xor", "--epochs", "3", "--quiet")
    assert status == 0 and out.count("\n") == 1 and out.startswith("final training loss ")


def test_options_reach_the_model(capsys):
    argv = ["train", "--data", "moons", "--hidden", "5,3", "--activation", "sigmoid", "--loss", "mse"]
    status, out, _ = run(capsys, *argv, "--optimizer", "adam", "--batch-size", "full", "--epochs", "2")
    assert status == 0
    assert out.startswith("MLP([2, 5, 3, 2], activation='sigmoid', output_activation='identity'")
    assert "loss mse, adam lr 0.01, batch size all (gradient descent), 2 epochs" in out
    status, out, _ = run(capsys, "train", "--data", "xor", "--hidden", "none", "--epochs", "1", "--lr", "0.3")
    assert out.startswith("MLP([2, 2]") and "sgd lr 0.3" in out


class Terminal(io.StringIO):
    def isatty(self):
        return True


def fit_with_progress(stream, epochs=5, every=None):
    x, y = datasets.xor()
    model = mlp_xp.MLP([2, 3, 2], "tanh", "softmax", seed=0)
    with Progress(epochs, stream=stream, every=every) as progress:
        return model.fit(x, y, loss="cross_entropy", epochs=epochs, callbacks=[progress])


def test_progress_uses_tqdm_on_a_terminal():
    pytest.importorskip("tqdm")
    fit_with_progress(stream := Terminal())
    text = stream.getvalue()
    assert "100%" in text and "5/5" in text and "loss=" in text and "epoch 5/5" not in text


def test_progress_without_tqdm_prints_plain_lines_on_a_terminal(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    fit_with_progress(stream := Terminal(), every=1)
    assert [line.split()[1] for line in stream.getvalue().splitlines()] == ["1/5", "2/5", "3/5", "4/5", "5/5"]


def test_progress_lines_every_k_epochs():
    history = fit_with_progress(stream := io.StringIO(), epochs=7, every=3)
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["3/7", "6/7", "7/7"]
    assert lines[-1].startswith(f"epoch 7/7  loss {history.loss[-1]:.6g}  ")


def test_regression_on_a_csv_file(capsys, tmp_path, rng):
    x = rng.uniform(-1, 1, size=(200, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3
    path = tmp_path / "linear.csv"
    path.write_text(
        "a,target,b,c\n" + "".join(f"{r[0]},{t},{r[1]},{r[2]}\n" for r, t in zip(x, y)), encoding="utf-8"
    )
    argv = ["train", "--data", str(path), "--target-column", "target", "--hidden", "16", "--epochs", "60"]
    status, out, _ = run(capsys, *argv, "--save", str(tmp_path / "model"))
    assert status == 0
    assert "linear.csv: 150 training and 50 test samples, 3 features, 1 real target; loss mse" in out
    assert "output_activation='identity'" in out
    where, metric, r2 = final_score(out)
    assert (where, metric) == ("test", "R²") and r2 > 0.95
    status, out, _ = run(
        capsys, "evaluate", str(tmp_path / "model.npz"), "--data", str(path), "--target-column", "1"
    )
    assert status == 0 and re.fullmatch(r"R² 0\.9\d+ on 200 samples of .*linear.csv\n", out)


def test_save_then_predict_and_evaluate(capsys, tmp_path):
    model_path = tmp_path / "moons.npz"
    status, out, _ = run(capsys, "train", "--data", "moons", "--epochs", "30", "--save", str(model_path))
    assert status == 0 and f"saved the model to {model_path}" in out
    accuracy = re.search(r"test accuracy ([\d.]+%)", out).group(1)
    # The same held-out points as the training run: moons and split seeded by --seed (0).
    _, x_test, _, y_test = datasets.split(*datasets.two_moons(seed=0), 0.25, seed=0)
    test_file = tmp_path / "test.npz"
    np.savez(test_file, x=x_test, y=y_test)
    status, out, _ = run(capsys, "evaluate", str(model_path), "--data", str(test_file))
    assert status == 0 and out == f"accuracy {accuracy} on 100 samples of {test_file}\n"

    expected = np.argmax(mlp_xp.to_numpy(mlp_xp.load(model_path).forward(x_test)), axis=1)
    status, out, _ = run(capsys, "predict", str(model_path), "--data", str(test_file))
    assert status == 0 and out.split() == [str(label) for label in expected]
    csv_file, labels_file = tmp_path / "test.csv", tmp_path / "labels.csv"
    np.savetxt(csv_file, np.column_stack([y_test, x_test]), delimiter=",", header="y,x1,x2", comments="")
    argv = ["predict", str(model_path), "--data", str(csv_file), "--target-column", "y"]
    status, out, _ = run(capsys, *argv, "--output", str(labels_file), "--backend", "array_api_strict")
    assert status == 0 and out == ""
    assert labels_file.read_text().split() == [str(label) for label in expected]
    status, out, _ = run(capsys, "predict", str(model_path), "--data", str(test_file), "--task", "regression")
    outputs = np.array([[float(v) for v in line.split(",")] for line in out.splitlines()])
    assert outputs.shape == (100, 2)
    np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)  # softmax rows


def test_plots_are_written(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    status, out, _ = run(
        capsys, "train", "--data", "seed004", "--epochs", "5", "--plot", str(tmp_path / "figs")
    )
    assert status == 0
    names = ("loss.png", "decision_boundary.png", "loss_surface.png")
    for name in names:
        assert f"wrote {tmp_path / 'figs' / name}" in out
        data = (tmp_path / "figs" / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    status, out, _ = run(
        capsys, "train", "--data", "moons", "--epochs", "3", "--plot", str(tmp_path / "moons")
    )
    assert sorted(p.name for p in (tmp_path / "moons").iterdir()) == ["decision_boundary.png", "loss.png"]


def test_usage_errors_exit_with_status_2_and_one_line(capsys, monkeypatch, tmp_path):
    (tmp_path / "real.csv").write_text("1,0.5\n2,1.5\n3,0.25\n", encoding="utf-8")
    cases = {
        (
            "train",
            "--data",
            "iris",
        ): "--data must be one of xor, seed004, moons, digits or a .csv or .npz file",
        ("train", "--data", str(tmp_path / "none.csv")): "none.csv' does not exist",
        ("train", "--data", "xor", "--hidden", "8,x"): "argument --hidden: expected widths like 64,32",
        (
            "train",
            "--data",
            "xor",
            "--batch-size",
            "-3",
        ): "argument --batch-size: expected a positive int, or 0 or 'full'",
        ("train", "--data", "xor", "--epochs", "0"): "argument --epochs: expected an int >= 1, got '0'",
        ("train", "--data", "xor", "--seed", "-1"): "argument --seed: expected an int >= 0, got '-1'",
        ("train", "--data", "xor", "--lr", "nan"): "argument --lr: expected a finite number > 0",
        (
            "train",
            "--data",
            "xor",
            "--test-fraction",
            "1",
        ): "argument --test-fraction: expected a number in [0, 1)",
        (
            "train",
            "--data",
            "moons",
            "--test-fraction",
            "0.999",
        ): "test_fraction 0.999 holds out 400 of the 400",
        (
            "train",
            "--data",
            "xor",
            "--target-column",
            "0",
        ): "--target-column applies to .csv files, not to the xor",
        ("train", "--data", "xor", "--epochs"): "argument --epochs: expected one argument",
        ("train", "--data", "xor", "--device", "cuda:0"): "device='cuda:0' is not a device of backend",
        ("train", "--data", "xor", "--activation", "swish"): "activation",
        ("train", "--data", "xor", "--output-activation", "tanh", "--loss", "cross_entropy"): "needs output_",
        (
            "train",
            "--data",
            "xor",
            "--task",
            "regression",
            "--loss",
            "hinge",
        ): "--loss hinge needs class labels",
        ("train", "--data", "xor", "--save", str(tmp_path / "no" / "m.npz")): "does not exist",
        (
            "train",
            "--data",
            str(tmp_path / "real.csv"),
            "--task",
            "classification",
        ): "needs one column of class",
        ("evaluate", str(tmp_path / "none.npz"), "--data", str(tmp_path / "real.csv")): "none.npz",
        ("predict", str(tmp_path / "real.csv"), "--data", "moons"): "real.csv': it is not an .npz archive",
        ("train",): "the following arguments are required: --data",
        (): "the following arguments are required: COMMAND",
    }
    for argv, message in cases.items():
        status, out, err = run(capsys, *argv)
        assert status == 2, argv
        assert message in err and "Traceback" not in err, (argv, err)
        assert err.count("\n") == 1 and err.startswith("mlp-xp"), err
        assert out == "", (argv, out)  # refused before the model summary


def test_missing_optional_packages_are_usage_errors(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    status, _, err = run(capsys, "train", "--data", "xor", "--backend", "cupy")
    assert status == 2 and "pip install 'mlp_xp[cuda12]'" in err
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    status, _, err = run(capsys, "train", "--data", "digits")
    assert status == 2 and "pip install 'mlp_xp[examples]'" in err
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    status, out, err = run(capsys, "train", "--data", "xor", "--plot", "figures")
    assert status == 2 and 'pip install "mlp_xp[plot]"' in err and out == ""  # refused before training


def test_evaluate_refuses_labels_the_model_does_not_know(capsys, tmp_path):
    run(capsys, "train", "--data", "xor", "--epochs", "1", "--save", str(tmp_path / "xor.npz"))
    np.savez(tmp_path / "data.npz", x=np.zeros((2, 2)), y=np.array([0, 5]))
    status, _, err = run(capsys, "evaluate", str(tmp_path / "xor.npz"), "--data", str(tmp_path / "data.npz"))
    assert status == 2 and "labels 5 are not classes of the model, which knows [0, 1]" in err


def test_diverging_training_exits_with_status_1(capsys):
    status, _, err = run(capsys, "train", "--data", "moons", "--lr", "1e30", "--epochs", "3", "--quiet")
    assert status == 1 and "training diverged" in err and "Traceback" not in err


def test_python_dash_m_runs_the_command_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mlp_xp", "train", "--data", "xor", "--epochs", "2", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("final training loss")
    done = subprocess.run(
        [sys.executable, "-m", "mlp_xp", "train", "--data", "iris"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.startswith("python -m mlp_xp train: error: --data must be")
