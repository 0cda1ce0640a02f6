"""mlp_xp's L-BFGS against SciPy's L-BFGS-B on the same objective, from the same start.

    python benchmarks/lbfgs_vs_scipy.py                     # numpy, float64, every problem
    python benchmarks/lbfgs_vs_scipy.py --backend torch     # mlp_xp on PyTorch, SciPy as always on NumPy

Problems (each the penalised full-batch objective that ``fit`` minimises,
𝓔 + (α/2N) Σ‖Ω‖² with α = 1e-4, scikit-learn's default):

- ``digits-linear``: softmax regression 64 → 10 on scikit-learn's digits (convex),
  also to a tight ``gtol`` (``digits-linear-tight``), where both must reach the
  one minimum;
- ``digits-mlp``: 64 → 32 → 10, tanh, softmax + cross-entropy (not convex);
- ``seed004``: seed 004's four points, one sigmoid neuron (with bias), squared error.

mlp_xp trains with ``MLP.fit(optimizer=LBFGS(memory=10), batch_size=None)``.
SciPy's ``minimize(method="L-BFGS-B", jac=True)`` gets the very closure
``fit`` builds for its line search (``value_and_grad``, captured from a
one-epoch fit of a copy), on flattened parameters, with the same memory
(``maxcor``), ``gtol``, ``ftol``, ``maxiter`` and ``maxls`` (SciPy's defaults but
``gtol`` and ``maxiter``).

Function evaluations are those ``fit`` makes, ``optimizer_state["n_evaluations"]``:
one at the start, then the line search's (each step starts from the point the
step before last evaluated, which the optimizer state keeps), the number
comparable to SciPy's ``nfev``.  Times are wall-clock seconds of one run each
(fit's validation and transfers included).
Results: a markdown table on stdout, and ``benchmarks/results/lbfgs-vs-scipy-<device>-<date>.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from _harness import set_threads
from _report import RESULTS, device_slug, environment
from scipy.optimize import minimize

import mlp_xp
from mlp_xp.datasets import digits, seed004_points

ALPHA, MEMORY, FTOL, MAXLS, MAX_ITER = 1e-4, 10, 2.220446049250313e-09, 20, 1000
PROBLEMS = {  # name: (layer sizes, hidden activation, output activation, loss, gtol)
    "digits-linear": ([64, 10], "tanh", "softmax", "cross_entropy", 1e-5),
    "digits-linear-tight": ([64, 10], "tanh", "softmax", "cross_entropy", 1e-9),
    "digits-mlp": ([64, 32, 10], "tanh", "softmax", "cross_entropy", 1e-5),
    "seed004": ([2, 1], "tanh", "sigmoid", "mse", 1e-5),
}
NOTE = """\
Evaluations: every evaluation of the objective and its gradient, mlp_xp's `fit` (one at
the start, then its line search's: each step starts from the point the step before
last evaluated) and SciPy's `nfev`. Times are single runs on a shared machine: compare
the evaluation counts.
"""
# The targets: the same final loss (relative to max(|𝓔|, 1)) and at most 1.5× SciPy's evaluations.
LOSS_TOLERANCE, EVALUATIONS_TARGET = 1e-6, 1.5


class _Capture:
    """An optimizer that keeps the ``value_and_grad`` closure fit builds, and moves nothing."""

    needs_value_and_grad = True

    def init(self, params: list[Any]) -> None:
        return None

    def step(self, params: list[Any], grads: list[Any], state: Any, lr: float, **objective: Any) -> Any:
        self.value_and_grad = objective["value_and_grad"]
        return list(params), state


def data(name: str) -> tuple[np.ndarray, np.ndarray]:
    return seed004_points() if name == "seed004" else digits(seed=0)[0::2]


def model(name: str, backend: str) -> mlp_xp.MLP:
    sizes, hidden, output, _, _ = PROBLEMS[name]
    return mlp_xp.MLP(sizes, hidden, output, backend=backend, dtype="float64", seed=0)


def run_mlp_xp(name: str, backend: str) -> dict[str, Any]:
    x, y = data(name)
    net, (_, _, _, loss, gtol) = model(name, backend), PROBLEMS[name]
    optimizer = mlp_xp.LBFGS(memory=MEMORY, gtol=gtol, ftol=FTOL, max_line_search=MAXLS)
    started = time.perf_counter()
    history = net.fit(x, y, loss=loss, optimizer=optimizer, batch_size=None, epochs=MAX_ITER, alpha=ALPHA)
    seconds = time.perf_counter() - started
    state = net.optimizer_state
    return {
        "loss": state["value"],
        "iterations": state["n_iterations"],
        "evaluations": state["n_evaluations"],
        "seconds": seconds,
        "stop": ("running", "converged", "stalled")[state["status"]] if history.converged else "max_iter",
        "parameters": np.concatenate([np.ravel(mlp_xp.to_numpy(p)) for p in (*net.weights, *net.biases)]),
    }


def run_scipy(name: str) -> dict[str, Any]:
    """SciPy's L-BFGS-B on fit's own objective closure, in float64 on NumPy."""
    x, y = data(name)
    net, (_, _, _, loss, gtol) = model(name, "numpy"), PROBLEMS[name]
    capture = _Capture()
    net.fit(x, y, loss=loss, optimizer=capture, batch_size=None, epochs=1, alpha=ALPHA)
    shapes = [p.shape for p in (*net.weights, *net.biases)]
    start = np.concatenate([np.ravel(p) for p in (*net.weights, *net.biases)])
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = [np.reshape(part, shape) for part, shape in zip(np.split(theta, splits), shapes)]
        value, grads = capture.value_and_grad(params)
        return float(value), np.concatenate([np.ravel(g) for g in grads])

    options = {"maxcor": MEMORY, "gtol": gtol, "ftol": FTOL, "maxiter": MAX_ITER, "maxls": MAXLS}
    started = time.perf_counter()
    result = minimize(fun, start, jac=True, method="L-BFGS-B", options=options)
    seconds = time.perf_counter() - started
    return {
        "loss": float(result.fun),
        "iterations": int(result.nit),
        "evaluations": int(result.nfev),
        "seconds": seconds,
        "stop": str(result.message),
        "parameters": result.x,
    }


def compare(name: str, backend: str) -> dict[str, Any]:
    ours, theirs = run_mlp_xp(name, backend), run_scipy(name)
    distance = np.linalg.norm(ours.pop("parameters") - theirs["parameters"])
    distance /= np.linalg.norm(theirs.pop("parameters"))
    scale = max(abs(theirs["loss"]), 1.0)
    return {
        "problem": name,
        "layers": "-".join(map(str, PROBLEMS[name][0])),
        "gtol": PROBLEMS[name][4],
        "backend": backend,
        "mlp_xp": ours,
        "scipy": theirs,
        "loss_difference": (ours["loss"] - theirs["loss"]) / scale,
        "parameter_distance": float(distance),
        "evaluations_ratio": ours["evaluations"] / theirs["evaluations"],
    }


COLUMNS = (  # title, then the cell of a row
    ("problem", lambda r: r["problem"]),
    ("layers", lambda r: r["layers"]),
    ("gtol", lambda r: f"{r['gtol']:g}"),
    ("backend", lambda r: r["backend"]),
    ("loss mlp_xp", lambda r: f"{r['mlp_xp']['loss']:.10g}"),
    ("loss SciPy", lambda r: f"{r['scipy']['loss']:.10g}"),
    ("Δloss", lambda r: f"{r['loss_difference']:.1e}"),
    ("‖Δθ‖/‖θ‖", lambda r: f"{r['parameter_distance']:.1e}"),
    ("iterations mlp_xp / SciPy", lambda r: f"{r['mlp_xp']['iterations']} / {r['scipy']['iterations']}"),
    ("evaluations mlp_xp / SciPy", lambda r: f"{r['mlp_xp']['evaluations']} / {r['scipy']['evaluations']}"),
    ("÷ SciPy", lambda r: f"{r['evaluations_ratio']:.2f}×"),
    ("seconds mlp_xp / SciPy", lambda r: f"{r['mlp_xp']['seconds']:.3f} / {r['scipy']['seconds']:.3f}"),
    ("stop mlp_xp / SciPy", lambda r: f"{r['mlp_xp']['stop']} / {r['scipy']['stop']}"),
)


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r) for _, cell in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> str:
    """Each problem against the targets: |Δloss| ≤ LOSS_TOLERANCE, evaluations ≤ 1.5× SciPy's."""
    lines = [
        "| problem | backend | same loss (\\|Δloss\\| ≤ 1e-6) | evaluations ≤ 1.5× SciPy's |",
        "|---|---|---|---|",
    ]
    for r in rows:
        met = [abs(r["loss_difference"]) <= LOSS_TOLERANCE, r["evaluations_ratio"] <= EVALUATIONS_TARGET]
        cells = [r["problem"], r["backend"], *("yes" if m else "**no**" for m in met)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", choices=["numpy", "torch", "array_api_strict"])
    parser.add_argument("--problem", nargs="*", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    threads = set_threads(args.threads)
    rows = [compare(name, args.backend) for name in args.problem]
    print(markdown(rows) + "\n\n" + targets(rows))
    env = environment(None, threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"lbfgs-vs-scipy-{device_slug(env)}-{datetime.date.today().isoformat()}"
    # Rows of an earlier run of the day for another problem or backend are kept.
    path = Path(f"{stem}.json")
    new = {(r["problem"], r["backend"]) for r in rows}
    kept = json.loads(path.read_text())["rows"] if path.exists() else []
    rows = [r for r in kept if (r["problem"], r["backend"]) not in new] + rows
    settings = {"alpha": ALPHA, "memory": MEMORY, "ftol": FTOL, "maxls": MAXLS, "max_iter": MAX_ITER}
    path.write_text(json.dumps({"environment": env, "settings": settings, "rows": rows}, indent=1) + "\n")
    table = markdown(rows) + "\n\n" + targets(rows)
    env["versions"]["scipy"] = scipy.__version__
    header = (
        f"# L-BFGS: mlp_xp against SciPy's L-BFGS-B — {env['cpu']}, {datetime.date.today().isoformat()}\n\n"
        f"Same objective (fit's own closure), same start, float64; m = {MEMORY}, ftol = {FTOL:.3g}, "
        f"maxls = {MAXLS}, max_iter = {MAX_ITER}, α = {ALPHA}. Threads: {args.threads}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + f". Load average at start: {', '.join(f'{v:.2f}' for v in env['load_average_at_start'])}.\n\n"
    )
    Path(f"{stem}.md").write_text(header + table + "\n\n" + NOTE)


if __name__ == "__main__":
    main()
