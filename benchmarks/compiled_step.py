"""The compiled step: ``fit`` on JAX and torch, eager and compiled, against ``fit`` on NumPy.

    python benchmarks/compiled_step.py                     # digits, 64-32-10, B = 32, float32
    python benchmarks/compiled_step.py --sizes 64,64,10 --batch-size 32 --repeats 9
    python benchmarks/compiled_step.py --contenders numpy,jax,jax:step

Every contender trains the same network (ReLU hidden layers, softmax +
cross-entropy, plain SGD, shuffled mini-batches) from the same weights on the
training digits (N = 1,347), already on its device.  A timed unit is one call
``fit(..., epochs=E, resume=True)``; its wall time ÷ E is the time per epoch,
all of fit's costs included (checks, one read per epoch).  The contenders take
turns, the first call (where the compilers compile) is timed apart, medians of
``--repeats`` calls are kept.  Contenders:

- ``numpy``: the eager loop on NumPy, the reference of every ratio;
- ``jax:eager``: ``backend="jax", compile=False``: one dispatch per array call;
- ``jax``: ``compile=None``, the default: ``jax.jit``, each epoch one compiled loop;
- ``jax:step``: ``jax.jit`` of the step alone, one call per batch (the epoch
  loop switched off), to show what the compiled loop adds;
- ``torch``: the eager loop on torch (CPU); ``torch:compile``: ``compile=True``,
  ``torch.compile`` of the step, one call per batch.

Results: a markdown table on stdout, and ``benchmarks/results/compiled-step-<device>-<date>.json``
and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import _harness as h
import _report as report
import numpy as np

import mlp_xp
from mlp_xp import _compile
from mlp_xp._backend import get_namespace
from mlp_xp.datasets import digits

CONTENDERS = {
    # name: (backend, fit's compile=, the epoch as one compiled loop)
    "numpy": ("numpy", None, True),
    "jax:eager": ("jax", False, True),
    "jax": ("jax", None, True),
    "jax:step": ("jax", True, False),
    "torch": ("torch", None, True),
    "torch:compile": ("torch", True, True),
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="64,32,10", help="layer sizes n_0,...,n_L (n_0 = 64, n_L = 10)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10, help="epochs per timed fit call")
    parser.add_argument("--repeats", type=int, default=7, help="timed fit calls per contender")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="a comma-separated subset")
    parser.add_argument("--threads", type=int, default=h.cores(), help="BLAS and torch threads")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    return parser.parse_args(argv)


def contender(name: str, sizes: list[int], x: np.ndarray, y: np.ndarray, options: dict[str, Any]) -> Any:
    """``run(r)``: one timed fit call of contender ``name``, returning its last epoch's loss."""
    backend, compile, loop = CONTENDERS[name]
    model = mlp_xp.MLP(sizes, "relu", "softmax", backend=backend, seed=0)
    xp = get_namespace(backend)
    data = xp.asarray(x, dtype=model.dtype, device=model.device), xp.asarray(y, device=model.device)

    def run(r: int) -> float:
        with _epoch_loop(loop):
            history = model.fit(*data, compile=compile, resume=r > 0, **options)
        return history.loss[-1]

    return run


class _epoch_loop:
    """A context in which the compiled programs have no epoch loop (``loop=False``): a call per batch."""

    def __init__(self, loop: bool) -> None:
        self.loop, self.original = loop, _compile._programs

    def __enter__(self) -> None:
        if not self.loop:
            _compile._programs = functools.cache(lambda *key: (self.original(*key)[0], None))

    def __exit__(self, *exc: Any) -> None:
        _compile._programs = self.original


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    names = args.contenders.split(",")
    unknown = set(names) - set(CONTENDERS)
    if unknown:
        raise SystemExit(f"unknown contenders {sorted(unknown)}; choose among {', '.join(CONTENDERS)}")
    libraries = [importlib.import_module(n) for n in ("jax", "torch") if any(c.startswith(n) for c in names)]
    threads = h.set_threads(args.threads)
    sizes = [int(n) for n in args.sizes.split(",")]
    x, _, y, _ = digits()
    options = dict(loss="cross_entropy", lr=0.05, batch_size=args.batch_size, epochs=args.epochs, seed=1)
    runs = {name: contender(name, sizes, x, y, options) for name in names}
    first = {}
    for name, run in runs.items():  # the first call: the compilers compile (timed apart)
        start = time.perf_counter()
        run(0)
        first[name] = time.perf_counter() - start
    timed = h.interleaved(
        {name: (lambda r, run=run: run(r + 1)) for name, run in runs.items()}, args.repeats, h.clock(None)
    )
    steps = -(-x.shape[0] // args.batch_size)
    reference = h.median(timed["numpy"]["seconds"]) / args.epochs if "numpy" in timed else None
    rows = []
    for name in names:
        epoch = h.median(timed[name]["seconds"]) / args.epochs
        rows.append(
            {
                "contender": name,
                "epoch_ms": 1e3 * epoch,
                "step_us": 1e6 * epoch / steps,
                "vs_numpy": None if reference is None else epoch / reference,
                "first_call_s": first[name],
                "loss": timed[name]["loss"][-1],
            }
        )
    env = report.environment(None, threads)
    env["versions"].update({library.__name__: library.__version__ for library in libraries})
    record = {
        "sizes": sizes,
        "batch_size": args.batch_size,
        "n": int(x.shape[0]),
        "steps_per_epoch": steps,
        "epochs_per_call": args.epochs,
        "repeats": args.repeats,
        "environment": env,
        "rows": rows,
    }
    text = _markdown(record)
    print(text)
    stem = f"compiled-step-{report.device_slug(env)}-{datetime.date.today().isoformat()}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(text, encoding="utf-8")
    print(f"wrote {args.out / stem}.json and .md", file=sys.stderr)
    return 0


def _markdown(record: dict[str, Any]) -> str:
    env = record["environment"]
    lines = [
        f"# Compiled step: {'-'.join(map(str, record['sizes']))}, B = {record['batch_size']}, "
        f"N = {record['n']} ({record['steps_per_epoch']} steps an epoch), float32",
        "",
        f"{env['cpu']}, {env['cores']} cores, load average at start {env['load_average_at_start'][0]:.2f}; "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        "",
        "| contender | ms / epoch | µs / step | ÷ numpy | first call (s) | loss |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in record["rows"]:
        ratio = "" if row["vs_numpy"] is None else f"{row['vs_numpy']:.2f}×"
        lines.append(
            f"| {row['contender']} | {row['epoch_ms']:.2f} | {row['step_us']:.1f} | {ratio} "
            f"| {row['first_call_s']:.2f} | {row['loss']:.4f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
