"""Data files as the user wrote them: a byte-order mark, the header rule, what a number is,
missing values, class names in the target column, and damaged or non-finite NPZ files."""

import io
import zipfile

import numpy as np
import pytest

from mlp_xp import datasets


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_a_byte_order_mark_is_not_part_of_the_first_row(tmp_path):
    x, y = datasets.load_file(write(tmp_path, "1,2,0\n3,4,1\n", encoding="utf-8-sig"))
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])  # no row taken for a header
    np.testing.assert_array_equal(y, [0, 1])
    found = datasets.read_file(write(tmp_path, "a,b,label\n1,2,0\n", encoding="utf-8-sig"), "a")
    assert found.columns == ["a", "b", "label"]
    np.testing.assert_array_equal(found.y, [1.0])


@pytest.mark.parametrize(
    ("text", "header", "columns", "n_rows"),
    [
        ("a,b,y\n1,2,3\n", "auto", ["a", "b", "y"], 1),  # names above numbers
        ("x1,2,3\n4,5,6\n", "auto", ["x1", "2", "3"], 1),  # one name above numbers is enough
        ("1,2,3\n4,5,6\n", "auto", None, 2),
        ("2019,2020,2021\n4,5,6\n", "yes", ["2019", "2020", "2021"], 1),  # a header of numbers, said so
        ("1.5,2,cat\n4,5,dog\n", "auto", None, 2),  # a class name is not a column name
        ("f1,f2,species\n1.5,2,cat\n4,5,dog\n", "auto", ["f1", "f2", "species"], 2),
    ],
)
def test_the_header_rule(tmp_path, text, header, columns, n_rows):
    found = datasets.read_file(write(tmp_path, text), header=header)
    assert found.columns == columns and len(found.x) == n_rows


def test_a_first_row_said_to_be_data_is_data(tmp_path):
    with pytest.raises(ValueError, match=r"data.csv, line 1, column 1: 'a' is not a number"):
        datasets.read_file(write(tmp_path, "a,b,y\n1,2,3\n"), header="no")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,,3\n4,5,6\n", r"line 1, column 2: missing value ''"),  # not a header: data with a hole
        ("1,NA,3\n4,5,6\n", r"line 1, column 2: missing value 'NA'"),
        ("a,b,y\n1,nan,0\n", r"line 2, column 2 \('b'\): missing value 'nan'"),
        ("a,b,y\n1,2,\n", r"line 2, column 3 \('y'\): missing value ''"),
        ("a,b,y\n1,1_000,0\n", r"'1_000' is not a finite number in decimal notation"),
        ("a,b,y\n1,inf,0\n", r"line 2, column 2 \('b'\): 'inf' is not a finite number"),
        ("a,b,y\n1,x,0\n2,3,1\n", r"line 2, column 2 \('b'\): 'x' is not a number"),
        ("a,b,y\n1,2,3\n1,2,cat\n", r"line 3, column 3 \('y'\): 'cat' is not a number"),  # numbers and text
        ("a,b\n", "holds no data rows"),
    ],
)
def test_a_bad_cell_is_named_by_file_line_and_column(tmp_path, text, message):
    with pytest.raises(ValueError, match=f"^data.csv.*{message}"):
        datasets.read_file(write(tmp_path, text))


def test_decimal_notation_is_read(tmp_path):
    x, y = datasets.load_file(write(tmp_path, "+1,-.5,1e3\n2.,-3E-2,7\n"))
    np.testing.assert_array_equal(x, [[1.0, -0.5], [2.0, -0.03]])
    np.testing.assert_array_equal(y, [1000.0, 7.0])


def test_a_target_column_of_text_holds_class_names(tmp_path):
    path = write(tmp_path, "length,width,species\n1.5,0.2, setosa\n4.7,1.4,versicolor\n")
    found = datasets.read_file(path)
    assert found.y.tolist() == ["setosa", "versicolor"] and found.x.shape == (2, 2)
    with pytest.raises(ValueError, match="'setosa' is not a number"):
        datasets.load_file(path, target_column=0)


def test_unknown_header_choice_is_named(tmp_path):
    with pytest.raises(ValueError, match="header must be one of 'auto', 'yes', 'no', got 'maybe'"):
        datasets.read_file(write(tmp_path, "1,2\n"), header="maybe")


def damaged_npz_files():
    """Seeded damages of an .npz data file: truncations, byte changes, a bad .npy header."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=np.linspace(0.0, 1.0, 60).reshape(20, 3), y=np.arange(20))
    good, rng = buffer.getvalue(), np.random.default_rng(7)
    for _ in range(150):
        raw = bytearray(good)
        if rng.random() < 0.5:
            raw = raw[: rng.integers(1, len(raw))]
        else:
            for at in rng.integers(0, len(raw), size=3):
                raw[at] = rng.integers(0, 256)
        yield bytes(raw)
    header = io.BytesIO()
    np.save(header, np.ones(3))
    npy = header.getvalue().replace(b"{", b"{(", 1)  # an unclosed bracket: a tokenizer error
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x.npy", npy)
    yield archive.getvalue()


def test_a_damaged_npz_file_is_a_value_error_naming_it(tmp_path):
    path = tmp_path / "data.npz"
    for raw in damaged_npz_files():
        path.write_bytes(raw)
        try:
            datasets.load_file(path)
        except ValueError as exc:
            assert str(exc).startswith("data.npz"), exc


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"x": np.array([[1.0, np.nan], [0.0, 1.0]]), "y": np.zeros(2)},
            "x holds NaN or infinity, first in row 0",
        ),
        ({"x": np.zeros((2, 2)), "y": np.array([0.0, np.inf])}, "y holds NaN or infinity, first in row 1"),
        ({"x": np.array([["a", "b"]]), "y": np.zeros(1)}, "x must hold numbers, got dtype <U1"),
    ],
)
def test_npz_values_must_be_finite_numbers(tmp_path, arrays, message):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message):
        datasets.load_file(path)


def test_npz_targets_may_be_class_names(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((2, 1)), y=np.array(["cat", "dog"]))
    assert datasets.load_file(path)[1].tolist() == ["cat", "dog"]
