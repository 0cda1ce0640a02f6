"""A process group made of threads: a test double of a communicator, so that the
data-parallel loop runs on every backend inside pytest (the real engines run in
``test_launchers.py``).  Sums are taken in rank order, so every rank gets the same bits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import array_api_compat
import numpy as np

from mlp_xp._backend import to_numpy
from mlp_xp._comm import Communicator

TIMEOUT = 60.0  # seconds a thread waits for the others before the test fails


class ThreadGroup:
    """What the threads of one group share: a slot each and a barrier."""

    def __init__(self, size: int) -> None:
        self.size, self.slots = size, [None] * size
        self.barrier = threading.Barrier(size, timeout=TIMEOUT)
        self.calls = 0

    def exchange(self, rank: int, value: np.ndarray) -> list[np.ndarray]:
        self.barrier.wait()
        self.slots[rank] = value
        if rank == 0:
            self.calls += 1
        self.barrier.wait()
        return list(self.slots)


class ThreadComm(Communicator):
    def __init__(self, group: ThreadGroup, rank: int) -> None:
        self.group, self.rank, self.size = group, rank, group.size
        self.aborted: str | None = None

    def allreduce_sum(self, buffer: Any) -> Any:
        parts = self.group.exchange(self.rank, np.array(to_numpy(buffer)))
        total = parts[0].copy()
        for part in parts[1:]:
            total += part
        return _like(buffer, total)

    def broadcast(self, buffer: Any) -> Any:
        return _like(buffer, self.group.exchange(self.rank, np.array(to_numpy(buffer)))[0])

    def abort(self, reason: str) -> None:
        self.aborted = reason
        self.group.barrier.abort()  # the other threads stop waiting


def _like(buffer: Any, host: np.ndarray) -> Any:
    xp = array_api_compat.array_namespace(buffer)
    return xp.asarray(host, device=array_api_compat.device(buffer))


def run_group(size: int, work: Callable[[ThreadComm], Any]) -> tuple[list[Any], list[BaseException | None]]:
    """``work(comm)`` on ``size`` threads: their results and exceptions, in rank order."""
    group = ThreadGroup(size)
    comms = [ThreadComm(group, rank) for rank in range(size)]
    results: list[Any] = [None] * size
    errors: list[BaseException | None] = [None] * size

    def run(rank: int) -> None:
        try:
            results[rank] = work(comms[rank])
        except BaseException as error:
            errors[rank] = error

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 4)
    assert not any(thread.is_alive() for thread in threads), "a thread of the group hangs"
    return results, errors


def run_ok(size: int, work: Callable[[ThreadComm], Any]) -> list[Any]:
    """``run_group``, raising the first exception of any thread."""
    results, errors = run_group(size, work)
    for error in errors:
        if error is not None:
            raise error
    return results
