"""Benchmark pages generated at build time from ``benchmarks/results/*.json``.

Each results file becomes a page, ``benchmarks/generated/<file>.md``: the device
and date (from the file name and the environment it records), the tables that
the benchmark script itself writes (``_report.markdown`` and
``targets_markdown`` for ``train_step.py``, ``markdown`` and ``targets`` for
``lbfgs_vs_scipy.py``) and plots of the same rows.  The ``benchmark-results``
directive lists the pages, newest first.  A new results file appears on the
next build without any page being edited; a file of an unknown kind gets a
page with its environment and rows.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
RESULTS = BENCHMARKS / "results"
PAGES = "benchmarks/generated"  # under the docs source folder
STEM = re.compile(r"^(?P<name>.+)-(?P<date>\d{4}-\d{2}-\d{2})$")
FLOORS = ("floor_numpy", "floor_torch", "floor_cupy")
SWEEP_AXES = {  # sweep -> (x label, x of a row)
    "batch": ("batch size B", lambda row: row["batch"]),
    "width": ("hidden width", lambda row: row["sizes"][1]),
    "depth": ("hidden layers", lambda row: len(row["sizes"]) - 2),
    "n": ("samples N", lambda row: row["batch"] * row["steps_per_epoch"]),
}

sys.path.insert(0, str(BENCHMARKS))
import _report  # noqa: E402  (the benchmark scripts import each other by name)
import lbfgs_vs_scipy  # noqa: E402
from rst_text import list_table, parse_rst  # noqa: E402


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", _write_pages)
    app.add_directive("benchmark-results", ResultsList)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def results_files() -> list[Path]:
    """The results files, newest first (then by name)."""
    files = sorted(RESULTS.glob("*.json"), key=lambda p: p.stem)
    return sorted(files, key=lambda p: _date(p), reverse=True)


def _date(path: Path) -> str:
    match = STEM.match(path.stem)
    return match["date"] if match else "undated"


def _kind(record: dict[str, Any]) -> str:
    row = (record.get("rows") or [{}])[0]
    if "contender" in row and "workload" in row:
        return "training step"
    if "scipy" in row:
        return "L-BFGS against SciPy"
    if "step_us" in row:
        return "compiled training step"
    if "strong_efficiency" in row:
        return "data-parallel scaling"
    return "other"


def _device(environment: dict[str, Any]) -> str:
    if environment.get("gpu"):
        return f"{environment['gpu']} (GPU)"
    return f"{environment.get('cpu', 'unknown CPU')}, {environment.get('cores', '?')} cores"


def _write(path: Path, data: bytes) -> None:
    """Write only what changed, so that an unchanged page is not read again."""
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def _write_pages(app: Sphinx) -> None:
    folder = Path(app.srcdir) / PAGES
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for path in results_files():
        record = json.loads(path.read_text(encoding="utf-8"))
        figures = _figures(record, path.stem)
        for name, png in figures.items():
            _write(folder / name, png)
        page = _page(record, path, list(figures))
        _write(folder / f"{path.stem}.md", page.encode())
        wanted |= {f"{path.stem}.md", *figures}
    for stale in set(p.name for p in folder.iterdir()) - wanted:
        (folder / stale).unlink()


def _page(record: dict[str, Any], path: Path, figures: list[str]) -> str:
    environment, kind = record.get("environment", {}), _kind(record)
    versions = ", ".join(f"{k} {v}" for k, v in environment.get("versions", {}).items())
    threads = environment.get("threads", {}).get("requested", "?")
    lines = [
        f"# {kind[0].upper() + kind[1:]}: {_device(environment)}, {_date(path)}",
        "",
        f"From `benchmarks/results/{path.name}`"
        + (f", written by `{record['script']}`." if "script" in record else "."),
        "",
        f"- **device**: {_device(environment)}",
        f"- **date**: {_date(path)}",
        f"- **threads**: {threads}",
        f"- **platform**: {environment.get('platform', '?')}",
        f"- **versions**: {versions}",
    ]
    if "settings" in record:
        lines.append("- **settings**: " + ", ".join(f"{k} = {v}" for k, v in record["settings"].items()))
    lines.append("")
    lines += [f"![{_caption(name)}]({name})\n" for name in figures]
    for heading, table in _tables(record, kind):
        lines += [f"## {heading}", "", ":::{container} benchmark-tables", table.strip(), ":::", ""]
    return "\n".join(lines) + "\n"


def _tables(record: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    """(heading, markdown table) pairs: the script's own tables, or the rows as they are."""
    rows = record.get("rows", [])
    if kind == "training step":
        targets = _report.targets_markdown(rows).removeprefix("## Targets\n\n")
        return [("Every row", _report.markdown(rows)), ("Targets", targets)]
    if kind == "L-BFGS against SciPy":
        return [("Every problem", lbfgs_vs_scipy.markdown(rows)), ("Targets", lbfgs_vs_scipy.targets(rows))]
    scalars = [{k: v for k, v in row.items() if isinstance(v, (int, float, str))} for row in rows]
    keys = list(dict.fromkeys(k for row in scalars for k in row))
    table = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    table += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in scalars]
    return [("Rows", "\n".join(table))] if keys else []


def _caption(name: str) -> str:
    return {
        "throughput": "samples per second of each contender, by workload and batch size",
        "sweeps": "samples per second across the sweeps",
        "evaluations": "objective evaluations of mlp_xp's L-BFGS against SciPy's",
    }[name.rsplit("-", 1)[1].removesuffix(".png")]


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _figures(record: dict[str, Any], stem: str) -> dict[str, bytes]:
    kind, rows = _kind(record), record.get("rows", [])
    figures = {}
    if kind == "training step":
        fixed = [r for r in rows if r.get("sweep") is None]
        sweeps = [r for r in rows if r.get("sweep") in SWEEP_AXES]
        if fixed:
            figures[f"{stem}-throughput.png"] = _png(_throughput(fixed))
        if sweeps:
            figures[f"{stem}-sweeps.png"] = _png(_sweeps(sweeps))
    elif kind == "L-BFGS against SciPy" and rows:
        figures[f"{stem}-evaluations.png"] = _png(_evaluations(rows))
    return figures


def _groups(rows: list[dict[str, Any]], key: Any) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


def _grid(n: int, width: float = 5.2, height: float = 3.6) -> tuple[Any, list[Any]]:
    columns = min(n, 2)
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _legend_below(fig: Any, axes: list[Any]) -> None:
    """One legend for every panel, under them: the contenders are the same in each."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(entries.values(), entries.keys(), loc="lower center", ncols=min(len(entries), 8), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))


def _throughput(rows: list[dict[str, Any]]) -> Any:
    """Grouped bars: samples/s per contender at each batch size, one panel per
    workload, backend and dtype; the GEMM floors as dashed lines."""
    groups = _groups(
        rows, lambda r: (r["workload"], "-".join(map(str, r["sizes"])), r["backend"], r["dtype"])
    )
    fig, axes = _grid(len(groups))
    for ax, ((workload, layers, backend, dtype), members) in zip(axes, groups.items()):
        batches = sorted({r["batch"] for r in members})
        contenders = list(dict.fromkeys(r["contender"] for r in members if r["contender"] not in FLOORS))
        width = 0.8 / len(contenders)
        for i, contender in enumerate(contenders):
            values = {r["batch"]: r["samples_per_s"] for r in members if r["contender"] == contender}
            xs = [b + (i - (len(contenders) - 1) / 2) * width for b in range(len(batches))]
            ax.bar(xs, [values.get(b, 0.0) for b in batches], width, label=contender)
        for b, batch in enumerate(batches):
            for r in members:
                if r["contender"] in FLOORS and r["batch"] == batch:
                    ax.hlines(
                        r["samples_per_s"], b - 0.45, b + 0.45, colors="0.3", linestyles="dashed",
                        linewidth=1, label="GEMM floor (the matrix products alone)",
                    )  # fmt: skip
        ax.set_xticks(range(len(batches)), [f"B = {b}" for b in batches])
        ax.set_ylabel("samples / s")
        ax.set_title(f"{workload} {layers}, {backend}, {dtype}", fontsize=10)
    fig.suptitle("Training throughput", fontsize=11)
    _legend_below(fig, axes)
    return fig


def _sweeps(rows: list[dict[str, Any]]) -> Any:
    """samples/s against the swept quantity, one line per contender, one panel per sweep."""
    groups = _groups(rows, lambda r: (r["sweep"], r["workload"], r["backend"], r["dtype"]))
    fig, axes = _grid(len(groups))
    for ax, ((sweep, workload, backend, dtype), members) in zip(axes, groups.items()):
        label, x_of = SWEEP_AXES[sweep]
        for contender, points in _groups(members, lambda r: r["contender"]).items():
            points = sorted(points, key=x_of)
            style = {"linestyle": "dashed", "color": "0.4"} if contender in FLOORS else {"marker": "o"}
            ax.plot([x_of(p) for p in points], [p["samples_per_s"] for p in points], label=contender, **style)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("samples / s")
        ax.set_title(f"{sweep} sweep: {workload}, {backend}, {dtype}", fontsize=10)
    _legend_below(fig, axes)
    return fig


def _evaluations(rows: list[dict[str, Any]]) -> Any:
    """Evaluations of the objective to convergence: mlp_xp's L-BFGS and SciPy's."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    labels = [f"{r['problem']}\n{r['backend']}" for r in rows]
    series = (
        ("mlp_xp L-BFGS", [r["mlp_xp"]["evaluations"] for r in rows]),
        ("SciPy L-BFGS-B", [r["scipy"]["evaluations"] for r in rows]),
    )
    for i, (name, values) in enumerate(series):
        ax.bar([x + (i - 0.5) * 0.4 for x in range(len(rows))], values, 0.4, label=name)
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("objective evaluations")
    ax.legend(fontsize=8)
    ax.set_title("Evaluations to convergence, same objective and start", fontsize=11)
    fig.tight_layout()
    return fig


class ResultsList(SphinxDirective):
    """``.. benchmark-results::``: every results page, newest first, as a table and a toctree."""

    def run(self) -> list[nodes.Node]:
        rows, entries = [], []
        for path in results_files():
            record = json.loads(path.read_text(encoding="utf-8"))
            page = f"generated/{path.stem}"
            device = _device(record.get("environment", {}))
            rows.append([_date(path), device, _kind(record), f":doc:`{page}`"])
            entries.append(page)
        table = list_table(["date", "device", "benchmark", "page"], rows)
        toctree = "\n".join([".. toctree::", "   :hidden:", "", *(f"   {entry}" for entry in entries)])
        return parse_rst(self, f"{table}\n\n{toctree}")
