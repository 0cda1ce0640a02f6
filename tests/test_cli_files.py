"""The command line's files and devices: outputs checked before training, data files and the
options that describe them, named devices, and seed 004's neuron saved with its optimizer."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from test_cli import run

import mlp_xp
from mlp_xp import datasets
from mlp_xp.optimizers import SGD, WeightsOnly


@pytest.fixture
def unwritable(tmp_path):
    """A folder that cannot be written in: a read-only folder, or for root (who may write
    in any of those) /sys, where nobody creates files."""
    if os.name == "posix" and os.geteuid() == 0:
        try:
            with tempfile.TemporaryFile(dir="/sys"):
                pytest.skip("root can write everywhere here")
        except OSError:
            yield Path("/sys")
            return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    yield folder
    folder.chmod(0o700)


@pytest.mark.parametrize("option", ["--save", "--plot"])
def test_outputs_that_cannot_be_written_are_refused_before_training(capsys, unwritable, option):
    if option == "--plot":
        pytest.importorskip("matplotlib")
    target = str(unwritable / "model.npz") if option == "--save" else str(unwritable)
    status, out, err = run(capsys, "train", "--data", "xor", "--epochs", "2", option, target)
    assert status == 2 and out == "" and f"{option} {target}: cannot write in the folder" in err


def test_save_to_a_folder_is_refused(capsys, tmp_path):
    status, out, err = run(capsys, "train", "--data", "xor", "--save", str(tmp_path))
    assert status == 2 and out == "" and f"--save {tmp_path} is a folder: name the model file" in err
    assert list(tmp_path.parent.glob(tmp_path.name + ".npz")) == []


def test_a_damaged_data_file_is_a_one_line_error(capsys, tmp_path):
    np.savez_compressed(tmp_path / "data.npz", x=np.ones((50, 2)), y=np.zeros(50))
    raw = (tmp_path / "data.npz").read_bytes()
    (tmp_path / "data.npz").write_bytes(raw[:-60])  # the archive's directory cut off
    status, out, err = run(capsys, "train", "--data", str(tmp_path / "data.npz"))
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "data.npz is not a readable .npz file" in err


def test_csv_options_are_refused_for_other_data(capsys, tmp_path):
    np.savez(tmp_path / "data.npz", x=np.ones((4, 2)), y=np.zeros(4))
    for argv, message in {
        ("--target-column", "0"): "--target-column applies to .csv files, not to data.npz (its targets are",
        ("--header", "yes"): "--header applies to .csv files, not to data.npz",
    }.items():
        status, _, err = run(capsys, "train", "--data", str(tmp_path / "data.npz"), *argv)
        assert status == 2 and message in err
    status, _, err = run(capsys, "train", "--data", "moons", "--header", "no")
    assert status == 2 and "--header applies to .csv files, not to the moons data set" in err


def test_the_header_decision_is_reported_and_can_be_forced(capsys, tmp_path, rng):
    x = rng.normal(size=(20, 2))
    body = "".join(f"{a},{b},{int(a > 0)}\n" for a, b in x)
    (tmp_path / "years.csv").write_text("2019,2020,2021\n" + body)
    status, out, _ = run(capsys, "train", "--data", str(tmp_path / "years.csv"), "--epochs", "1")
    assert status == 0 and "no header row, the first row is data: --header yes if it names the columns" in out
    assert "3 distinct whole numbers in 21 rows" in out  # 2021 taken for a label, as the data says
    argv = ["train", "--data", str(tmp_path / "years.csv"), "--epochs", "1", "--header", "yes"]
    status, out, _ = run(capsys, *argv, "--target-column", "2021")
    assert status == 0 and "header row (--header yes): 2019, 2020, 2021" in out
    assert "2 distinct whole numbers in 20 rows" in out


def test_devices_are_named_per_backend(capsys, tmp_path):
    pytest.importorskip("array_api_strict")
    argv = ["--data", "xor", "--epochs", "3", "--backend", "array_api_strict", "--device", "device1"]
    status, out, err = run(capsys, "train", *argv, "--save", str(tmp_path / "xor"))
    assert status == 0 and "device=array_api_strict.Device('device1')" in out, err
    x = tmp_path / "x.npz"
    np.savez(x, x=np.eye(2))
    status, out, _ = run(capsys, "predict", str(tmp_path / "xor.npz"), "--data", str(x), *argv[4:])
    assert status == 0 and len(out.split()) == 2
    status, _, err = run(capsys, "train", *argv[:6], "--device", "device9")
    assert status == 2 and "device 'device9' is not a device of backend 'array_api_strict'" in err


def test_torch_meta_device_is_refused(capsys):
    pytest.importorskip("torch")
    status, out, err = run(capsys, "train", "--data", "xor", "--backend", "torch", "--device", "meta")
    assert status == 2 and out == "" and "torch's meta device holds shapes without data" in err


def test_seed004_neuron_is_saved_with_its_optimizer_and_resumes_without_bias(capsys, tmp_path):
    for epochs, name in ((60, "whole"), (30, "half")):
        run(capsys, "train", "--data", "seed004", "--epochs", str(epochs), "--save", str(tmp_path / name))
    whole, half = mlp_xp.load(tmp_path / "whole.npz"), mlp_xp.load(tmp_path / "half.npz")
    assert half.optimizer == WeightsOnly(SGD()) and half.n_updates == 30
    x, _, y, _ = datasets.split(*datasets.seed004_points(), 0.0, seed=0)  # the rows as train read them
    half.fit(x, y[:, None], "mse", half.optimizer, lr=2.0, batch_size=None, epochs=30, resume=True)
    assert mlp_xp.to_numpy(half.biases[0]).tolist() == [0.0]
    np.testing.assert_array_equal(mlp_xp.to_numpy(half.weights[0]), mlp_xp.to_numpy(whole.weights[0]))
