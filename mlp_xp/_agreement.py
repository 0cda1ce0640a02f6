"""What the processes of a data-parallel ``fit`` agree on: their input checks and
arguments before training (``agreed``), and rank 0's writing (``saved_by_rank0``).

Each process checks its own input; the outcomes are then shared, so that either
every process goes on or every process raises, and none waits forever in an
exchange that another will never make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Agreement:
    """What ``agreed`` shares: ``share``, set by the block, and after it ``gathered``,
    every process's ``share`` in rank order."""

    share: Any = None
    gathered: list[Any] = field(default_factory=list)


@contextmanager
def agreed(comm: Any, settings: dict[str, str]) -> Iterator[Agreement]:
    """Run the block (the checks of one process's input), then share its outcome:
    every process raises if the block raised on any, or if its ``settings``
    differ from rank 0's, so that all train or none does, and none waits forever.

    The process whose block raised raises its own error; the others a
    ``ValueError`` naming that process and its error.
    """
    agreement = Agreement()
    if not comm.distributed:
        yield agreement
        agreement.gathered = [agreement.share]
        return
    failure = None
    try:
        yield agreement
    except Exception as exc:
        failure = exc
    described = None if failure is None else f"{type(failure).__name__}: {failure}"
    outcomes = comm.allgather_object((described, settings, agreement.share))
    if failure is not None:
        raise failure
    for rank, (error, other, _) in enumerate(outcomes):
        different = [name for name in settings if other.get(name) != outcomes[0][1].get(name)]
        if error is not None or different:
            reason = error or f"its {', '.join(different)} (not those of process 0)"
            raise ValueError(
                f"process {rank} of {comm.size} refused its input, so no process trains: {reason}"
            )
    agreement.gathered = [share for _, _, share in outcomes]


def saved_by_rank0(comm: Any, save: Callable[[], Any]) -> Any:
    """``save()`` on rank 0 alone; every process returns its result once rank 0 has
    written, or raises if rank 0 failed (rank 0 its own error, the others a RuntimeError)."""
    if not comm.distributed:
        return save()
    result, failure = None, None
    if comm.rank == 0:
        try:
            result = save()
        except Exception as error:
            failure = error
    described = None if failure is None else f"{type(failure).__name__}: {failure}"
    result, reason = comm.broadcast_object((result, described))
    if failure is not None:
        raise failure
    if reason is not None:
        raise RuntimeError(f"process 0 could not write for all {comm.size} processes: {reason}")
    return result


def described_settings(model: Any, arguments: dict[str, Any]) -> dict[str, str]:
    """What every process must give a data-parallel ``fit`` alike, as text: the
    network's shape and ``arguments`` (an object without a repr of its own by its type)."""
    network = {"layer_sizes": model.layer_sizes, "activations": [phi.name for phi in model.phis]}
    return {**as_text({**network, **arguments}), "dtype": str(model.dtype)}


def as_text(values: dict[str, Any]) -> dict[str, str]:
    """Each value's repr, or its type's name for an object without a repr of its own."""
    return {name: _text(value) for name, value in values.items()}


def _text(value: Any) -> str:
    text = repr(value)
    return type(value).__qualname__ if " at 0x" in text else text
