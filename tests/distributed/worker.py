"""One process of a data-parallel test job, started by mpiexec or torchrun (``test_launchers.py``).

    mpiexec -n 3 python tests/distributed/worker.py OUTDIR cases
    torchrun --standalone --nproc-per-node 2 tests/distributed/worker.py OUTDIR cases --engine torch

``cases`` runs every case of ``cases.py`` on this process's shard, then the
per-step check, bad input on rank 1, a save and an estimator, and writes what
it found to ``OUTDIR/rank<r>.json`` for the test to compare; ``crash`` raises
on rank 1 during training, which must end the whole job.  ``--engine``: mpi
(mpi4py), torch (torch.distributed: gloo, or nccl with ``--device cuda``) or
nccl (CuPy's ``cupyx.distributed``, bootstrapped by MPI); ``--backend`` and
``--device``: where the models train (on a GPU, process r uses GPU r).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from cases import CASES, SHARDS, Recording, data, digest, split

import mlp_xp
from mlp_xp._backend import to_numpy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir", type=Path)
    parser.add_argument("scenario", choices=["cases", "crash"])
    parser.add_argument("--engine", choices=["mpi", "torch", "nccl"], default="mpi")
    parser.add_argument("--backend", choices=["numpy", "torch", "cupy"], default=None)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    backend = args.backend or ("torch" if args.engine == "torch" else "numpy")
    comm = _communicator(args.engine, args.device)
    wrapped = mlp_xp.communicator(comm)
    rank, size = wrapped.rank, wrapped.size
    device = _device(backend, args.device, rank)
    if args.scenario == "crash":
        _crash(comm, rank, backend, device)
        return
    found = {"size": size, "cases": {}}
    for name, case in CASES.items():
        model = case.model(backend, device, seed=rank)  # rank 0's parameters must win
        histories = case.fit(model, size, rank, comm)
        found["cases"][name] = {"params": _params(model), "histories": [_history(h) for h in histories]}
    found["steps"] = _steps(comm, rank, size, backend, device)
    found["invalid"] = _invalid(comm, rank, backend, device)
    found["save"] = _save(comm, rank, backend, device, args.outdir)
    found["estimator"] = _estimator(comm, rank, backend, device)
    (args.outdir / f"rank{rank}.json").write_text(json.dumps(found), encoding="utf-8")
    if args.engine == "torch":  # gloo's threads must end before the interpreter does
        import torch.distributed as dist

        dist.destroy_process_group()


def _communicator(engine: str, device: str):
    """The engine's communicator; on a GPU, process r works on GPU r (modulo their number)."""
    if engine == "torch":
        import torch
        import torch.distributed as dist

        if device == "cuda":
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        return dist.group.WORLD
    from mpi4py import MPI

    if engine == "nccl":
        import cupy
        import cupyx.distributed

        rank, size = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
        cupy.cuda.Device(rank % cupy.cuda.runtime.getDeviceCount()).use()
        return cupyx.distributed.init_process_group(size, rank, use_mpi=True)
    return MPI.COMM_WORLD


def _device(backend: str, device: str, rank: int):
    """The models' device: GPU r for torch on CUDA; CuPy works on its current device, set here."""
    if backend == "cupy":
        import cupy

        cupy.cuda.Device(rank % cupy.cuda.runtime.getDeviceCount()).use()
        return None
    if backend == "torch" and device == "cuda":
        import torch

        return torch.device("cuda", rank % torch.cuda.device_count())
    return None


def _params(model) -> list:
    return [to_numpy(p).tolist() for p in (*model.weights, *model.biases)]


def _history(history) -> dict:
    names = ("loss", "val_loss", "grad_norm")
    return {**{name: getattr(history, name) for name in names}, "best_epoch": history.best_epoch}


def _steps(comm, rank: int, size: int, backend: str, device) -> list[str]:
    """Shuffled batches, each process its own order: the parameters' digest after every step."""
    x, y = data()[:2]
    model, recording = mlp_xp.MLP([3, 5, 2], "tanh", backend=backend, device=device, seed=0), Recording()
    shard = [split(a, SHARDS[size])[rank] for a in (x, y)]
    model.fit(*shard, optimizer=recording, batch_size=3, epochs=2, comm=comm)
    return recording.digests


def _invalid(comm, rank: int, backend: str, device) -> str:
    """NaN on rank 1: every process must raise before training, and say which process."""
    x, y = data()[:2]
    x = np.full_like(x, np.nan) if rank == 1 else x
    model = mlp_xp.MLP([3, 4, 2], backend=backend, device=device, seed=0)
    try:
        model.fit(x, y, epochs=2, comm=comm)
    except ValueError as error:
        return f"{error} | updates {model.n_updates}"
    return "no error"


def _save(comm, rank: int, backend: str, device, outdir: Path) -> dict:
    """Rank 0 writes; every process gets the path and loads the same parameters (load is local)."""
    model = mlp_xp.MLP([3, 4, 2], backend=backend, device=device, seed=rank)
    model.fit(*data()[:2], epochs=1, comm=comm)
    path = model.save(outdir / "model", comm=comm)
    loaded = mlp_xp.load(path, backend=backend, device=device)
    return {
        "path": str(path),
        "same": digest(loaded.weights + loaded.biases) == digest(model.weights + model.biases),
    }


def _estimator(comm, rank: int, backend: str, device) -> dict:
    """Rank 0 has labels a, b; the others b, c: every process learns a, b, c, to one network;
    scikit-learn's clone keeps the communicator (an mpi4py one as it is; a torch process
    group, which cannot be copied, wrapped by ``mlp_xp.communicator``)."""
    from sklearn.base import clone

    comm = comm if hasattr(comm, "Get_rank") else mlp_xp.communicator(comm)
    rng = np.random.default_rng(rank)
    x = rng.normal(size=(20, 3))
    labels = np.array(["a", "b"] * 10) if rank == 0 else np.array(["b", "c"] * 10)
    classifier = mlp_xp.MLPClassifier(
        (5,), max_iter=3, random_state=rank, backend=backend, device=device, comm=comm
    )
    classifier.fit(x, labels)
    return {
        "classes": classifier.classes_.tolist(),
        "coefs": digest(classifier.coefs_),
        "clone_keeps_comm": clone(classifier).comm is comm,
    }


def _crash(comm, rank: int, backend: str, device) -> None:
    def callback(model, history):
        if rank == 1 and history.n_epochs == 2:
            raise RuntimeError("rank 1 ran out of disk")

    model = mlp_xp.MLP([3, 4, 2], backend=backend, device=device, seed=0)
    model.fit(*data()[:2], epochs=50, comm=comm, callbacks=callback)


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning after max_iter=3
    main()
