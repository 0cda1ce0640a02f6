"""Data sets on the host: the shipped ones, the moons generator, the split, and CSV/NPZ files
with a clear error for every malformed file."""

import numpy as np
import pytest

from mlp_xp import datasets


def test_shipped_points():
    x, y = datasets.xor()
    assert x.shape == (4, 2) and list(y) == [0, 1, 1, 0]
    x, y = datasets.seed004_points()
    assert x.tolist() == [[-3, -3], [-2, -2], [4, 4], [2, -5]] and y.tolist() == [1, 1, 0, 0]


def test_two_moons_lie_on_their_half_circles_without_noise():
    x, y = datasets.two_moons(n=41, noise=0.0)
    assert x.shape == (41, 2) and y.dtype.kind == "i"
    assert (y == 0).sum() == 21 and (y == 1).sum() == 20
    outer, inner = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.hypot(*outer.T), 1.0)  # (cos t, sin t)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0)  # (1 − cos t, ½ − sin t)
    assert outer[:, 1].min() >= -1e-12 and inner[:, 1].max() <= 0.5 + 1e-12


def test_two_moons_noise_is_seeded():
    a, _ = datasets.two_moons(n=50, noise=0.3, seed=1)
    b, _ = datasets.two_moons(n=50, noise=0.3, seed=1)
    c, _ = datasets.two_moons(n=50, noise=0.3, seed=2)
    clean, _ = datasets.two_moons(n=50, noise=0.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0.2 < np.std(a - clean) < 0.4


@pytest.mark.parametrize(("kwargs", "message"), [({"n": 1}, "n must"), ({"noise": -0.1}, "noise must")])
def test_two_moons_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.two_moons(**kwargs)


def test_split_is_a_seeded_partition():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    _, x_test, y_train, y_test = datasets.split(x, y, 0.3, seed=4)
    assert len(y_test) == 3 and len(y_train) == 7
    assert sorted([*y_train, *y_test]) == list(range(10))
    np.testing.assert_array_equal(x_test[:, 0], 2 * y_test)  # rows stay paired
    np.testing.assert_array_equal(datasets.split(x, y, 0.3, seed=4)[3], y_test)
    assert len(datasets.split(x, y, 0.0)[1]) == 0


@pytest.mark.parametrize("fraction", [-0.1, 1.0, "half"])
def test_split_refuses_a_bad_fraction(fraction):
    with pytest.raises(ValueError, match="test_fraction must be a number in"):
        datasets.split(np.zeros((4, 1)), np.zeros(4), fraction)


def test_split_leaves_at_least_one_training_row():
    with pytest.raises(ValueError, match=r"test_fraction 0\.9 holds out 4 of the 4 samples: none is left"):
        datasets.split(np.zeros((4, 1)), np.zeros(4), 0.9)
    assert len(datasets.split(np.zeros((4, 1)), np.zeros(4), 0.8)[0]) == 1


def test_digits_are_scaled_and_split():
    pytest.importorskip("sklearn")
    x_train, x_test, y_train, y_test = datasets.digits(test_fraction=0.25, seed=0)
    assert x_train.shape[1] == 64 and len(x_train) + len(x_test) == 1797
    assert len(y_test) == round(0.25 * 1797)
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert set(np.unique(y_train)) == set(range(10))


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_header_and_target_by_name_or_index(tmp_path):
    path = write(tmp_path, "a, b ,label\n1,2,0\n\n3.5,-4e-1,1\n")
    for column in ("label", -1, 2):
        x, y = datasets.load_file(path, target_column=column)
        np.testing.assert_array_equal(x, [[1.0, 2.0], [3.5, -0.4]])
        np.testing.assert_array_equal(y, [0.0, 1.0])
    x, y = datasets.load_file(path, target_column="b")
    np.testing.assert_array_equal(x, [[1.0, 0.0], [3.5, 1.0]])
    np.testing.assert_array_equal(y, [2.0, -0.4])


def test_csv_without_header_and_without_targets(tmp_path):
    path = write(tmp_path, "1,2,3\n4,5,6\n")
    x, y = datasets.load_file(path, target_column=0)
    np.testing.assert_array_equal(x, [[2, 3], [5, 6]])
    np.testing.assert_array_equal(y, [1, 4])
    x, y = datasets.load_file(path, target_column=None)
    assert y is None and x.shape == (2, 3)


def test_npz_holds_x_and_y(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.ones((3, 2)), y=np.arange(3))
    x, y = datasets.load_file(path)
    assert x.shape == (3, 2) and y.tolist() == [0, 1, 2]
    np.savez(path, x=np.ones((3, 2)))  # y is not needed for predictions
    x, y = datasets.load_file(path, target_column=None)
    assert x.shape == (3, 2) and y is None


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("", -1, "holds no data rows"),
        ("a,b\n", -1, "holds no data rows"),
        ("1,2\n3,x\n", -1, r"data.csv, line 2, column 2: 'x' is not a number"),
        ("1,2\n3\n", -1, "line 2: 1 columns, expected 2"),
        ("1,2\n3,4\n", 2, r"target_column must be in \[-2, 1\]"),
        ("1,2\n3,4\n", "y", "it has no header row"),
        ("a,b\n3,4\n", "y", r"its columns are \['a', 'b'\]"),
        ("1\n2\n", -1, "a single column"),
    ],
)
def test_csv_errors_name_the_file_and_the_problem(tmp_path, text, target, message):
    with pytest.raises(ValueError, match=message):
        datasets.load_file(write(tmp_path, text), target_column=target)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.csv' does not exist"):
        datasets.load_file(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"must end in \.csv or \.npz, got '\.txt'"):
        datasets.load_file(write(tmp_path, "1,2\n", "data.txt"))
    with pytest.raises(ValueError, match=r"not a readable \.npz file"):
        datasets.load_file(write(tmp_path, "1,2\n", "data.npz"))
    with pytest.raises(ValueError, match="not a readable CSV text file"):
        (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00")
        datasets.load_file(tmp_path / "bad.csv")


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.ones((3, 2))}, "missing y, found"),
        ({"features": np.ones((3, 2)), "y": np.ones(3)}, "missing x"),
        ({"x": np.ones(3), "y": np.ones(3)}, r"x must have shape \(N, n_features\), got \(3,\)"),
        ({"x": np.ones((3, 2)), "y": np.ones(4)}, r"y must have shape \(3,\) or \(3, k\)"),
    ],
)
def test_npz_errors(tmp_path, arrays, message):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message):
        datasets.load_file(path)


def test_find_classes_of_text_or_whole_numbers():
    assert datasets.find_classes(np.array([0.0, 2.0, 1.0]), np.array([2.0, 5.0])) == [0, 1, 2, 5]
    assert datasets.find_classes(np.array([1, -1, 1])) == [-1, 1]  # ±1 labels: two classes
    assert datasets.find_classes(np.array(["b", "a"]), np.array([], dtype=str)) == ["a", "b"]
    for y in ([0.5, 1.0], [[0, 1]], [0.0, np.nan], [1.0, np.inf]):
        assert datasets.find_classes(np.array(y)) is None


def test_label_indices_compare_labels_by_value():
    np.testing.assert_array_equal(datasets.label_indices(np.array([5.0, -1.0, 5.0]), [-1, 5]), [1, 0, 1])
    np.testing.assert_array_equal(datasets.label_indices(np.array(["b", "a"]), ["a", "b"]), [1, 0])
    with pytest.raises(ValueError, match=r"labels 2, 7 are not classes of the model, which knows \[0, 1\]"):
        datasets.label_indices(np.array([0, 7, 2, 7]), [0, 1])
    with pytest.raises(ValueError, match="labels 'a' are not classes"):
        datasets.label_indices(np.array(["a"]), [0, 1])


def test_encode_labels():
    labels = np.array([2, 0, 1])
    np.testing.assert_array_equal(datasets.encode_labels(labels, 3), np.eye(3)[labels])
    np.testing.assert_array_equal(datasets.encode_labels(labels, 3, signs=True), 2 * np.eye(3)[labels] - 1)
    np.testing.assert_array_equal(datasets.encode_labels(np.array([1, 0]), 1), [[1.0], [0.0]])
