"""The communicator interface of data-parallel training, and one process's identity.

Data-parallel training asks five things of a process group: its ``rank`` and
``size``, the sum over processes of one flat array (``allreduce_sum``, in place
where the library can), rank 0's array on every process (``broadcast``), and
the end of the whole job (``abort``).  ``Communicator`` builds the rest on
them: sums of a few host numbers, small Python objects gathered from every
process, a barrier.  ``LOCAL`` is one process, where nothing is ever
exchanged; ``_engines`` wraps mpi4py, torch.distributed and CuPy's NCCL.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

import numpy as np

from ._backend import to_numpy


class Communicator:
    """A process group as data-parallel training sees it.

    A subclass sets ``rank`` and ``size`` and defines ``allreduce_sum(buffer)``
    and ``broadcast(buffer)`` (a 1-D array of any supported library, returned
    summed over the processes or as rank 0's, in the same library and on the
    same device: the same array where the library works in place) and
    ``abort(reason)``.
    """

    rank: int = 0
    size: int = 1
    distributed = True

    def allreduce_sum(self, buffer: Any) -> Any:
        raise NotImplementedError

    def broadcast(self, buffer: Any) -> Any:
        raise NotImplementedError

    def abort(self, reason: str) -> None:
        raise NotImplementedError

    def __deepcopy__(self, memo: dict) -> Communicator:
        return self  # a handle on a process group: scikit-learn's clone keeps it, as mpi4py's own

    def allreduce_host(self, values: list[float]) -> list[float]:
        """Σ over processes of a few host numbers, in float64."""
        return [float(v) for v in self.allreduce_sum(np.array(values, dtype=np.float64))]

    def gather_numbers(self, value: float) -> list[float]:
        """Every process's number, in rank order: one sum of vectors that are 0 but at their rank."""
        return self.allreduce_host([float(value) if r == self.rank else 0.0 for r in range(self.size)])

    def allgather_object(self, value: Any) -> list[Any]:
        """Every process's ``value`` (a small object), in rank order.

        Each process writes its pickle into its own stretch of a zero byte
        buffer, and one sum assembles them: only ``allreduce_sum`` is needed.
        Between the processes of one job, as mpi4py's lower-case methods.
        A value that cannot be pickled makes every process raise ``TypeError``.
        """
        try:
            payload = pickle.dumps(value)
        except Exception as error:
            payload = pickle.dumps(_Unpicklable(f"{type(error).__name__}: {error}"))
        starts = np.cumsum([0, *(int(n) for n in self.gather_numbers(len(payload)))])
        data = np.zeros(int(starts[-1]), dtype=np.uint8)
        data[starts[self.rank] : starts[self.rank + 1]] = np.frombuffer(payload, dtype=np.uint8)
        data = to_numpy(self.allreduce_sum(data))
        values = [pickle.loads(data[a:b].tobytes()) for a, b in pairwise(starts)]
        for rank, value in enumerate(values):
            if isinstance(value, _Unpicklable):
                raise TypeError(f"process {rank} could not send its value to the others: {value.reason}")
        return values

    def broadcast_object(self, value: Any) -> Any:
        """Rank 0's ``value`` (a small object) on every process."""
        return self.allgather_object(value if self.rank == 0 else None)[0]

    def barrier(self) -> None:
        """Return once every process has called it."""
        self.allreduce_host([0.0])


class Local(Communicator):
    """One process: every exchange is the identity (``fit`` then makes none)."""

    distributed = False

    def allreduce_sum(self, buffer: Any) -> Any:
        return buffer

    def broadcast(self, buffer: Any) -> Any:
        return buffer

    def abort(self, reason: str) -> None:
        raise RuntimeError(reason)


LOCAL = Local()


@contextmanager
def abort_on_error(comm: Communicator) -> Iterator[None]:
    """Run the block; if it raises on this process, print why and end every process of the job.

    The other processes would otherwise wait forever in their next exchange.
    """
    if not comm.distributed:
        yield
        return
    try:
        yield
    except BaseException:
        comm.abort(
            f"mlp_xp: process {comm.rank} of {comm.size} failed during training; "
            f"aborting all {comm.size} processes:\n{traceback.format_exc()}"
        )
        raise


def rank_generator(rng: np.random.Generator, rank: int) -> np.random.Generator:
    """The batch-order generator of process ``rank``: seeded by a draw of ``rng`` and the rank,
    so that processes given one seed still visit their rows in different orders."""
    return np.random.default_rng([int(rng.integers(2**63)), rank])


class _Unpicklable:
    """Sent in place of a value that pickle refused, so that every process learns of it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
