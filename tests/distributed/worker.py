"""One process of a data-parallel test job, started by mpiexec or torchrun (``test_launchers.py``).

    mpiexec -n 3 python tests/distributed/worker.py OUTDIR cases
    torchrun --standalone --nproc-per-node 2 tests/distributed/worker.py OUTDIR cases --torch

``cases`` runs every case of ``cases.py`` on this process's shard, then the
per-step check, bad input on rank 1, a save and an estimator, and writes what
it found to ``OUTDIR/rank<r>.json`` for the test to compare; ``crash`` raises
on rank 1 during training, which must end the whole job.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from cases import CASES, Recording, data, digest, split

import mlp_xp
from mlp_xp._backend import to_numpy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir", type=Path)
    parser.add_argument("scenario", choices=["cases", "crash"])
    parser.add_argument("--torch", action="store_true", help="torch.distributed (gloo), backend torch")
    args = parser.parse_args()
    comm, backend = _communicator(args.torch)
    rank, size = _rank_and_size(comm, args.torch)
    if args.scenario == "crash":
        _crash(comm, rank, backend)
        return
    found = {"size": size, "cases": {}}
    for name, case in CASES.items():
        model = case.model(backend, seed=rank)  # rank 0's parameters must win
        histories = case.fit(model, size, rank, comm)
        found["cases"][name] = {"params": _params(model), "histories": [_history(h) for h in histories]}
    found["steps"] = _steps(comm, rank, backend)
    found["invalid"] = _invalid(comm, rank, backend)
    found["save"] = _save(comm, rank, backend, args.outdir)
    found["estimator"] = _estimator(comm, rank, backend)
    (args.outdir / f"rank{rank}.json").write_text(json.dumps(found), encoding="utf-8")


def _communicator(torch: bool):
    if not torch:
        from mpi4py import MPI

        return MPI.COMM_WORLD, "numpy"
    import torch.distributed as dist

    dist.init_process_group("gloo")
    return dist.group.WORLD, "torch"


def _rank_and_size(comm, torch: bool) -> tuple[int, int]:
    if not torch:
        return comm.Get_rank(), comm.Get_size()
    import torch.distributed as dist

    return dist.get_rank(), dist.get_world_size()


def _params(model) -> list:
    return [to_numpy(p).tolist() for p in (*model.weights, *model.biases)]


def _history(history) -> dict:
    names = ("loss", "val_loss", "grad_norm")
    return {**{name: getattr(history, name) for name in names}, "best_epoch": history.best_epoch}


def _steps(comm, rank: int, backend: str) -> list[str]:
    """Shuffled batches, each process its own order: the parameters' digest after every step."""
    x, y = data()[:2]
    sizes = {1: [22], 2: [12, 10], 3: [8, 8, 6]}[_size(comm)]
    optimizer = mlp_xp.MLP([3, 5, 2], "tanh", backend=backend, seed=0)
    recording = Recording()
    optimizer.fit(
        split(x, sizes)[rank], split(y, sizes)[rank], optimizer=recording, batch_size=3, epochs=2, comm=comm
    )
    return recording.digests


def _size(comm) -> int:
    return comm.Get_size() if hasattr(comm, "Get_size") else comm.size()


def _invalid(comm, rank: int, backend: str) -> str:
    """NaN on rank 1: every process must raise before training, and say which process."""
    x, y = data()[:2]
    x = np.full_like(x, np.nan) if rank == 1 else x
    model = mlp_xp.MLP([3, 4, 2], backend=backend, seed=0)
    try:
        model.fit(x, y, epochs=2, comm=comm)
    except ValueError as error:
        return f"{error} | updates {model.n_updates}"
    return "no error"


def _save(comm, rank: int, backend: str, outdir: Path) -> dict:
    """Rank 0 writes; every process gets the path and loads the same parameters (load is local)."""
    model = mlp_xp.MLP([3, 4, 2], backend=backend, seed=rank)
    model.fit(*data()[:2], epochs=1, comm=comm)
    path = model.save(outdir / "model", comm=comm)
    loaded = mlp_xp.load(path, backend=backend)
    return {
        "path": str(path),
        "same": digest(loaded.weights + loaded.biases) == digest(model.weights + model.biases),
    }


def _estimator(comm, rank: int, backend: str) -> dict:
    """Rank 0 has labels a, b; the others b, c: every process learns a, b, c, to one network;
    scikit-learn's clone keeps the communicator (an mpi4py one as it is; a torch process
    group, which cannot be copied, wrapped by ``mlp_xp.communicator``)."""
    from sklearn.base import clone

    comm = comm if hasattr(comm, "Get_rank") else mlp_xp.communicator(comm)
    rng = np.random.default_rng(rank)
    x = rng.normal(size=(20, 3))
    labels = np.array(["a", "b"] * 10) if rank == 0 else np.array(["b", "c"] * 10)
    classifier = mlp_xp.MLPClassifier((5,), max_iter=3, random_state=rank, backend=backend, comm=comm)
    classifier.fit(x, labels)
    return {
        "classes": classifier.classes_.tolist(),
        "coefs": digest(classifier.coefs_),
        "clone_keeps_comm": clone(classifier).comm is comm,
    }


def _crash(comm, rank: int, backend: str) -> None:
    def callback(model, history):
        if rank == 1 and history.n_epochs == 2:
            raise RuntimeError("rank 1 ran out of disk")

    model = mlp_xp.MLP([3, 4, 2], backend=backend, seed=0)
    model.fit(*data()[:2], epochs=50, comm=comm, callbacks=callback)


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning after max_iter=3
    main()
