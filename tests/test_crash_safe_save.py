"""Crash-safe saving: writers killed at random moments, writers racing each other, and the
file system details of replacing a file (links, permission bits, fsync, dead writers'
temporary files).  Host-side: these tests run on the numpy backend's files."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import parameters

import mlp_xp

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals, links and permission bits")
KILLS = 20
# Loads models a and b, then forks writers on request: each saves a then b to one target,
# forever, and says "ready" once it has saved.  With "named" it runs as on an OS without
# unnamed temporary files.  Forking a loaded process makes a writer cost milliseconds.  Each
# line goes out in one write(2) on the shared pipe, so the lines of a writer and of the
# forker never interleave.
FORKER = textwrap.dedent(
    """
    import os, sys
    if sys.argv[1] == "named" and hasattr(os, "O_TMPFILE"):
        del os.O_TMPFILE
    import mlp_xp
    target, models = sys.argv[2], [mlp_xp.load(path) for path in sys.argv[3:5]]
    for command in sys.stdin:
        if command.startswith("fork"):
            order = models if command == "fork\\n" else models[::-1]
            pid = os.fork()
            if pid == 0:
                order[0].save(target)
                os.write(1, b"ready\\n")
                while True:
                    for model in order:
                        model.save(target)
            os.write(1, f"{pid}\\n".encode())
        else:
            os.waitpid(int(command), 0)
            os.write(1, b"reaped\\n")
    """
)
MODES = ["unnamed", "named"] if hasattr(os, "O_TMPFILE") else ["named"]


@pytest.fixture
def two_models(tmp_path):
    """Two different models (with Adam state), saved as references: (paths, parameters)."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(64, 20)), rng.integers(0, 4, size=64)
    paths, params = [], []
    for seed in (1, 2):
        model = mlp_xp.MLP([20, 64, 32, 4], "relu", "softmax", seed=seed)
        model.fit(x, y, loss="cross_entropy", optimizer="adam", epochs=1)
        paths.append(model.save(tmp_path / f"reference{seed}"))
        params.append(parameters(model))
    return paths, params


def which(path, params) -> int:
    """0 or 1: which of the two models the file at ``path`` holds (fails on anything else)."""
    found = parameters(mlp_xp.load(path))
    matches = [i for i, p in enumerate(params) if all(np.array_equal(a, b) for a, b in zip(found, p))]
    assert len(matches) == 1, f"{path} holds neither model"
    return matches[0]


def temporaries(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


class Writers:
    """Writer processes, forked by a process that has loaded the two models."""

    def __init__(self, mode: str, target: Path, references: list[Path]) -> None:
        threads = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        self.forker = subprocess.Popen(
            [sys.executable, "-c", FORKER, mode, str(target), *map(str, references)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **threads, "PYTHONPATH": os.pathsep.join(sys.path)},
        )

    def start(self, reverse: bool = False) -> int:
        """The pid of a new writer, once it has saved."""
        self._say("fork reversed" if reverse else "fork")
        lines = {self.forker.stdout.readline(), self.forker.stdout.readline()}
        assert "ready\n" in lines
        return int((lines - {"ready\n"}).pop())

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        self._say(str(pid))
        assert self.forker.stdout.readline() == "reaped\n"

    def close(self) -> None:
        self.forker.stdin.close()
        self.forker.wait()
        self.forker.stdout.close()

    def _say(self, command: str) -> None:
        self.forker.stdin.write(command + "\n")
        self.forker.stdin.flush()


@posix_only
@pytest.mark.parametrize("mode", MODES)
def test_a_writer_killed_at_random_moments_leaves_one_of_the_two_models(tmp_path, two_models, mode):
    references, params = two_models
    target = tmp_path / "target.npz"
    writers = Writers(mode, target, references)
    rng = np.random.default_rng(20261201)
    probe = mlp_xp.load(references[1])
    started = time.perf_counter()
    probe.save(tmp_path / "probe.npz")  # how long a save takes here
    cycle = 2 * (time.perf_counter() - started)
    seen = []
    for k in range(KILLS):
        # Writers start alternately from either model, so that both are reached however
        # slowly a loaded machine lets them write.
        pid = writers.start(reverse=bool(k % 2))
        time.sleep(rng.uniform(0.0, 2 * cycle))  # within the next two cycles of two saves
        writers.kill(pid)
        seen.append(which(target, params))
        # At most the temporary file of the writer just killed: the next save removes it.
        assert len(temporaries(tmp_path)) <= 1
    writers.close()
    assert set(seen) == {0, 1}, seen
    mlp_xp.load(references[0]).save(target)
    assert temporaries(tmp_path) == []
    assert which(target, params) == 0


@posix_only
def test_two_writers_at_once_leave_one_complete_model(tmp_path, two_models):
    references, params = two_models
    target = tmp_path / "target.npz"
    writers = Writers(MODES[0], target, references)
    pids = [writers.start(), writers.start(reverse=True)]
    for _ in range(20):  # readers meanwhile see one model or the other, never a mixture
        which(target, params)
    for pid in pids:
        writers.kill(pid)
    writers.close()
    which(target, params)
    mlp_xp.load(references[1]).save(target)
    assert temporaries(tmp_path) == []


@posix_only
def test_only_dead_writers_temporaries_are_removed(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead = int(finished.stdout)
    names = [
        f".model.npz.{dead}-0123456789abcdef.tmp",  # a dead writer's: removed
        f".model.npz.{os.getpid()}-0123456789abcdef.tmp",  # a running writer's: kept
        f".other.npz.{dead}-0123456789abcdef.tmp",  # another target's: kept
        f".model.npz.{dead}.tmp",  # not a name mlp_xp gives: kept
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"partial")
    mlp_xp.MLP([2, 1], seed=0).save(tmp_path / "model")
    assert temporaries(tmp_path) == sorted(names[1:])


@posix_only
def test_a_symbolic_link_is_followed_and_kept(tmp_path):
    real = mlp_xp.MLP([2, 3, 1], seed=0).save(tmp_path / "real.npz")
    link = tmp_path / "link.npz"
    link.symlink_to(real.name)
    new = mlp_xp.MLP([2, 3, 1], seed=1)
    assert new.save(link) == link
    assert link.is_symlink() and os.readlink(link) == real.name
    for a, b in zip(parameters(mlp_xp.load(real)), parameters(new)):
        np.testing.assert_array_equal(a, b)
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real.npz"]


@posix_only
def test_a_replaced_file_keeps_its_permission_bits(tmp_path):
    path = mlp_xp.MLP([2, 1], seed=0).save(tmp_path / "model")
    path.chmod(0o600)
    mlp_xp.MLP([2, 1], seed=1).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@posix_only
def test_the_file_and_its_folder_are_fsynced(tmp_path, monkeypatch):
    synced = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.fstat(fd).st_mode) or fsync(fd))
    mlp_xp.MLP([2, 1], seed=0).save(tmp_path / "model")
    assert [stat.S_ISREG(mode) for mode in synced] == [True, False]
    assert stat.S_ISDIR(synced[1])
