"""Resumable training under real kills: a job that trains with a checkpoint is killed
(``SIGKILL``) at random moments, during epochs and during the checkpoint's writes, and
started again with the same command until it completes; its final parameters and History
must be those of an uninterrupted run, bit for bit.  Host-side: numpy, in subprocesses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
KILLS = 6
TIMEOUT = 120  # seconds for one run of the job, far above what it needs
# The job: argv = checkpoint path ("-": none), output file, epochs between writes.  It prints
# "epoch n" after each epoch (n counted over the whole fit, restored epochs included) and
# "done" once it has written its result.
JOB = textwrap.dedent(
    """
    import sys
    import numpy as np
    import mlp_xp
    path, out, every = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(3)
    x, rule = rng.normal(size=(2400, 20)), rng.normal(size=(20, 4))
    y = np.argmax(x @ rule + 0.5 * rng.normal(size=(2400, 4)), axis=1)
    weights = rng.uniform(0.0, 2.0, size=2000) * (rng.uniform(size=2000) > 0.1)
    model = mlp_xp.MLP([20, 64, 64, 4], "relu", "softmax", seed=0)
    history = model.fit(
        x[:2000], y[:2000], "cross_entropy", optimizer="adam", lr=0.001, batch_size=32, epochs=24,
        seed=1, lr_schedule="adaptive", sample_weight=weights, validation_data=(x[2000:], y[2000:]),
        early_stopping=mlp_xp.EarlyStopping("val_loss", patience=6),
        callbacks=[lambda model, history: print("epoch", history.n_epochs, flush=True)],
        checkpoint=None if path == "-" else mlp_xp.Checkpoint(path, every=every),
    )
    params = [mlp_xp.to_numpy(p) for p in (*model.weights, *model.biases)]
    np.savez(out, *params, loss=np.array(history.loss), best_epoch=history.best_epoch)
    print("done", flush=True)
    """
)


class Job:
    """One run of the job, stopped by a watchdog after ``TIMEOUT`` seconds."""

    def __init__(self, path: str, out: str, every: int) -> None:
        threads = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        self.process = subprocess.Popen(
            [sys.executable, "-c", JOB, path, out, str(every)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **threads, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        self.watchdog = threading.Timer(TIMEOUT, self.process.kill)
        self.watchdog.start()

    def run(self, kill_after: int | None = None, delay: float = 0.0) -> str:
        """Read its lines; with ``kill_after``, SIGKILL it ``delay`` seconds after its
        ``kill_after``-th epoch.  Returns "killed", "done", or "failed"."""
        outcome, epochs = "failed", 0
        for line in self.process.stdout:
            epochs += line.startswith("epoch ")
            if epochs == kill_after:
                time.sleep(delay)
                os.kill(self.process.pid, signal.SIGKILL)
                outcome = "killed"
                break
            if line == "done\n":
                outcome = "done"
        self.process.stdout.close()
        returncode = self.process.wait()
        self.watchdog.cancel()
        assert returncode == (-signal.SIGKILL if outcome == "killed" else 0), (outcome, returncode)
        return outcome


@posix_only
@pytest.mark.parametrize("every", [1, 3])
def test_a_job_killed_at_random_moments_and_run_again_ends_as_an_uninterrupted_one(every, tmp_path):
    started = time.perf_counter()
    assert Job("-", str(tmp_path / "reference.npz"), every).run() == "done"
    with np.load(tmp_path / "reference.npz") as expected:  # 20 epochs, the best the 14th
        assert expected["best_epoch"] < len(expected["loss"]) - 1 < 23
        epoch_time = (time.perf_counter() - started) / len(expected["loss"])  # the start included
    rng = np.random.default_rng(20261202 + every)
    path, out, outcomes = str(tmp_path / "run.npz"), str(tmp_path / "out.npz"), []
    for _ in range(KILLS):  # after 1 to 3 epochs of the run, within about the next one
        kill_after, delay = int(rng.integers(1, 4)), rng.uniform(0.0, epoch_time)
        outcomes.append(Job(path, out, every).run(kill_after, delay))
        if outcomes[-1] == "done":  # the job completed before the kill
            break
    if outcomes[-1] != "done":
        outcomes.append(Job(path, out, every).run())
    assert outcomes[-1] == "done" and outcomes.count("killed") >= KILLS - 1, outcomes
    with np.load(tmp_path / "reference.npz") as expected, np.load(out) as found:
        assert expected.files == found.files
        for name in expected.files:
            assert expected[name].tobytes() == found[name].tobytes(), name
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []
