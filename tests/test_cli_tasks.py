"""The command line's tasks and labels: the rule of ``--task auto``, class names and ±1 labels
kept in the model file and printed by ``predict``, scores that fit the task and the shapes,
and the files of ``MLPClassifier`` and ``MLPRegressor``."""

import re

import numpy as np
import pytest
from test_cli import final_score, run

import mlp_xp
from mlp_xp import datasets


def write_csv(path, names, columns):
    rows = zip(*columns)
    path.write_text(",".join(names) + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


def test_auto_keeps_whole_number_targets_with_many_values_real(capsys, tmp_path, rng):
    x = rng.uniform(size=(200, 2))
    prices = np.round(150_000 + 90_000 * x[:, 0] - 40_000 * x[:, 1]).astype(int)
    path = write_csv(tmp_path / "houses.csv", ["rooms", "age", "price"], [*x.T, prices])
    status, out, _ = run(capsys, "train", "--data", str(path), "--epochs", "1")
    assert status == 0 and "2 features, 1 real target; loss mse" in out
    distinct = len(np.unique(prices))
    assert f"task regression (auto: {distinct} distinct whole numbers in 200 rows, not classes" in out
    assert "; test R² " in out


def test_auto_takes_few_whole_numbers_for_classes(capsys, tmp_path, rng):
    x = rng.uniform(size=(60, 2))
    grades = 1 + (x[:, 0] > 0.5) + (x[:, 1] > 0.5)  # 1, 2, 3: three classes, not four
    path = write_csv(tmp_path / "grades.csv", ["a", "b", "grade"], [*x.T, grades])
    status, out, _ = run(capsys, "train", "--data", str(path), "--epochs", "1", "--save", str(tmp_path / "m"))
    assert status == 0 and "3 classes; loss cross_entropy" in out
    assert (
        "task classification (auto: 3 distinct whole numbers in 60 rows; " in out and "classes 1, 2, 3" in out
    )
    model = mlp_xp.load(tmp_path / "m.npz")
    assert model.layer_sizes[-1] == 3 and (model.task, model.classes) == ("classification", [1, 2, 3])
    status, out, _ = run(
        capsys, "predict", str(tmp_path / "m.npz"), "--data", str(path), "--target-column", "2"
    )
    assert status == 0 and set(out.split()) <= {"1", "2", "3"} and len(out.split()) == 60


def iris_like(tmp_path, rng, n=90):
    species = np.array(["setosa", "versicolor", "virginica"])[np.arange(n) % 3]
    x = rng.normal(size=(n, 2)) * 0.3 + np.arange(n)[:, None] % 3
    return write_csv(
        tmp_path / "flowers.csv", ["length", "species", "width"], [x[:, 0], species, x[:, 1]]
    ), species


def test_class_names_are_trained_saved_and_predicted(capsys, tmp_path, rng):
    path, species = iris_like(tmp_path, rng)
    model_path = tmp_path / "flowers.npz"
    argv = [
        "train",
        "--data",
        str(path),
        "--target-column",
        "species",
        "--epochs",
        "60",
        "--save",
        str(model_path),
    ]
    status, out, _ = run(capsys, *argv)
    assert status == 0 and "3 classes" in out and "task classification (auto: the targets are text)" in out
    assert "header row: length, species, width" in out
    assert mlp_xp.load(model_path).classes == ["setosa", "versicolor", "virginica"]
    status, out, _ = run(
        capsys, "predict", str(model_path), "--data", str(path), "--target-column", "species"
    )
    predicted = out.split()
    assert status == 0 and len(predicted) == 90 and np.mean(np.array(predicted) == species) > 0.9
    status, out, _ = run(capsys, "evaluate", str(model_path), "--data", str(path), "--target-column", "1")
    assert status == 0 and float(re.match(r"accuracy ([\d.]+)%", out).group(1)) > 90
    status, _, err = run(capsys, "train", "--data", str(path), "--target-column", "1", "--task", "regression")
    assert status == 2 and "--task regression needs numbers, but the targets are text such as 'setosa'" in err


def signed_points(tmp_path, rng, n=80):
    x = rng.normal(size=(n, 2))
    labels = np.where(x[:, 0] + x[:, 1] > 0, 1, -1)
    return write_csv(tmp_path / "signs.csv", ["x1", "x2", "label"], [*x.T, labels]), labels


def test_plus_minus_one_labels_are_two_classes(capsys, tmp_path, rng):
    path, labels = signed_points(tmp_path, rng)
    status, out, _ = run(capsys, "train", "--data", str(path), "--epochs", "20")
    assert status == 0 and "2 classes; loss cross_entropy" in out and "classes -1, 1" in out
    model_path = tmp_path / "hinge.npz"
    argv = ["--task", "classification", "--loss", "hinge", "--save", str(model_path), "--test-fraction", "0"]
    status, out, _ = run(capsys, "train", "--data", str(path), "--epochs", "40", *argv)
    assert status == 0 and "2 classes; loss hinge" in out
    assert final_score(out)[:2] == ("training", "accuracy")
    accuracy = final_score(out)[2]
    assert accuracy > 0.9
    status, out, _ = run(capsys, "evaluate", str(model_path), "--data", str(path))
    assert status == 0 and out.startswith(f"accuracy {accuracy:.1%} on 80 samples")
    status, out, _ = run(capsys, "predict", str(model_path), "--data", str(path), "--target-column", "label")
    assert np.mean(np.array(out.split(), dtype=int) == labels) == accuracy


@pytest.mark.parametrize("loss", ["mse", "hinge", "logistic"])
def test_evaluate_scores_a_classifier_by_accuracy_whatever_its_loss(capsys, tmp_path, loss):
    model_path = tmp_path / "moons.npz"
    status, out, _ = run(
        capsys, "train", "--data", "moons", "--loss", loss, "--epochs", "20", "--save", str(model_path)
    )
    assert status == 0 and "output_activation='identity'" in out
    _, metric, accuracy = final_score(out)
    assert metric == "accuracy"
    _, x_test, _, y_test = datasets.split(*datasets.two_moons(seed=0), 0.25, seed=0)
    np.savez(tmp_path / "test.npz", x=x_test, y=y_test)
    status, out, _ = run(capsys, "evaluate", str(model_path), "--data", str(tmp_path / "test.npz"))
    assert status == 0 and out.startswith(f"accuracy {accuracy:.1%} on 100 samples")


def test_evaluate_refuses_targets_of_another_shape(capsys, tmp_path, rng):
    x = rng.normal(size=(40, 3))
    np.savez(tmp_path / "two.npz", x=x, y=np.stack([x[:, 0], x[:, 1] - x[:, 2]], axis=1))
    np.savez(tmp_path / "one.npz", x=x, y=x[:, 0])
    run(capsys, "train", "--data", str(tmp_path / "two.npz"), "--epochs", "2", "--save", str(tmp_path / "m"))
    status, _, err = run(capsys, "evaluate", str(tmp_path / "m.npz"), "--data", str(tmp_path / "one.npz"))
    assert status == 2 and "the model has 2 outputs, but the data has 1 target column(s)" in err


def test_a_model_file_without_classes_predicts_class_indices(capsys, tmp_path):
    model = mlp_xp.MLP([2, 3], "relu", "softmax", seed=0)
    model.save(tmp_path / "plain")
    np.savez(tmp_path / "x.npz", x=np.eye(2))
    status, out, _ = run(capsys, "predict", str(tmp_path / "plain.npz"), "--data", str(tmp_path / "x.npz"))
    expected = np.argmax(mlp_xp.to_numpy(model.forward(np.eye(2))), axis=1)
    assert status == 0 and out.split() == [str(i) for i in expected]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predict_and_evaluate_read_estimator_files(capsys, tmp_path):
    pytest.importorskip("sklearn")
    x, y = datasets.two_moons(n=120, seed=1)
    names = np.array(["left", "right"])[y]
    np.savez(tmp_path / "names.npz", x=x, y=names)
    classifier = mlp_xp.MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(x, names)
    classifier.save(tmp_path / "classifier")
    status, out, err = run(
        capsys, "predict", str(tmp_path / "classifier.npz"), "--data", str(tmp_path / "names.npz")
    )
    assert status == 0 and out.split() == classifier.predict(x).tolist(), err
    status, out, _ = run(
        capsys, "evaluate", str(tmp_path / "classifier.npz"), "--data", str(tmp_path / "names.npz")
    )
    assert status == 0 and out.startswith(f"accuracy {classifier.score(x, names):.1%} on 120 samples")
    status, _, err = run(
        capsys,
        "evaluate",
        str(tmp_path / "classifier.npz"),
        "--data",
        str(tmp_path / "names.npz"),
        "--task",
        "regression",
    )
    assert status == 2 and "the model is an MLPClassifier: --task regression does not apply" in err

    np.savez(tmp_path / "sums.npz", x=x, y=x.sum(axis=1))
    regressor = mlp_xp.MLPRegressor(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(
        x, x.sum(axis=1)
    )
    regressor.save(tmp_path / "regressor")
    status, out, _ = run(
        capsys, "predict", str(tmp_path / "regressor.npz"), "--data", str(tmp_path / "sums.npz")
    )
    np.testing.assert_allclose(np.array(out.split(), dtype=float), regressor.predict(x), rtol=1e-6)
    status, out, _ = run(
        capsys, "evaluate", str(tmp_path / "regressor.npz"), "--data", str(tmp_path / "sums.npz")
    )
    assert status == 0 and out.startswith(f"R² {regressor.score(x, x.sum(axis=1)):.4g} on 120 samples")
