"""What a run ran on: the GPU, its driver and CUDA runtime, and every library the project uses.

    python3 benchmarks/device_info.py          # a CUDA GPU machine: nvidia-smi, CuPy's and torch's view
    python3 benchmarks/device_info.py --cpu    # no GPU expected: versions only

Prints a report, then one line that names the device.  Exits 1 when a package
that the project or its tests need cannot be imported, or (without ``--cpu``)
when neither CuPy nor torch reaches a CUDA device.  Nothing here imports jax:
its version is read from the installed metadata.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import sys
from typing import Any

from _report import cpu_model

# import name -> distribution names to try for its version (CuPy's wheels are named per CUDA version)
PACKAGES = {
    "numpy": ("numpy",),
    "array_api_compat": ("array-api-compat",),
    "array_api_strict": ("array-api-strict",),
    "cupy": ("cupy-cuda13x", "cupy-cuda12x", "cupy"),
    "torch": ("torch",),
    "jax": ("jax",),
    "jaxlib": ("jaxlib",),
    "sklearn": ("scikit-learn",),
    "scipy": ("scipy",),
    "threadpoolctl": ("threadpoolctl",),
    "pytest": ("pytest",),
    "hypothesis": ("hypothesis",),
    "matplotlib": ("matplotlib",),
    "tqdm": ("tqdm",),
}
NEEDED = ("numpy", "array_api_compat", "array_api_strict", "pytest", "hypothesis", "sklearn", "threadpoolctl")
NVIDIA_SMI = (
    ("nvidia-smi", "-L"),
    (
        "nvidia-smi",
        "--query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,"
        "temperature.gpu,power.draw,power.limit",
        "--format=csv",
    ),
)


def version(name: str) -> str | None:
    for distribution in PACKAGES[name]:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def attempt(what: str, fn: Any) -> Any:
    """``fn()``, or None after printing why it failed."""
    try:
        return fn()
    except Exception as exc:  # any failure is a finding to report, not a reason to stop
        print(f"{what}: unavailable ({type(exc).__name__}: {exc})")
        return None


def run(command: tuple[str, ...]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
        print(f"$ {' '.join(command)}\n{(done.stdout + done.stderr).strip()}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"$ {' '.join(command)}: {exc}")


def packages() -> list[str]:
    """Print every package's version and origin; return those of NEEDED that cannot be imported."""
    print(
        f"python {platform.python_version()} at {sys.executable}; PYTHONPATH={os.environ.get('PYTHONPATH')}"
    )
    mlp_xp = importlib.import_module("mlp_xp")
    print(f"mlp_xp {mlp_xp.__version__} from {os.path.dirname(mlp_xp.__file__)}")
    missing = []
    for name in PACKAGES:
        found = importlib.util.find_spec(name)
        where = os.path.dirname(found.origin or "") if found else "not importable"
        print(f"{name} {version(name) or '-'} ({where})")
        if found is None and name in NEEDED:
            missing.append(name)
    return missing


def cupy_device() -> str:
    cupy = importlib.import_module("cupy")
    runtime = cupy.cuda.runtime
    props = runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    cuda = runtime.runtimeGetVersion()
    print(
        f"cupy: {runtime.getDeviceCount()} device(s); {name}, compute {props['major']}.{props['minor']}, "
        f"{props['totalGlobalMem'] / 2**20:.0f} MiB; CUDA runtime {cuda // 1000}.{cuda % 1000 // 10}, "
        f"driver API {runtime.driverGetVersion()}; CUPY_TF32={os.environ.get('CUPY_TF32')}"
    )
    return f"{name} (CUDA runtime {cuda // 1000}.{cuda % 1000 // 10})"


def torch_device() -> str:
    torch = importlib.import_module("torch")
    if not torch.cuda.is_available():
        raise RuntimeError(f"torch {torch.__version__} sees no CUDA device")
    free, total = torch.cuda.mem_get_info()
    print(
        f"torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}): "
        f"{torch.cuda.device_count()} device(s); {torch.cuda.get_device_name()}, compute "
        f"{'.'.join(map(str, torch.cuda.get_device_capability()))}, {free / 2**20:.0f} of "
        f"{total / 2**20:.0f} MiB free; TF32 matmul {torch.backends.cuda.matmul.allow_tf32}, "
        f"float32 matmul precision {torch.get_float32_matmul_precision()}"
    )
    return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpu", action="store_true", help="no GPU expected: skip nvidia-smi and CUDA")
    args = parser.parse_args(argv)
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC on {platform.node()}")
    print(f"{platform.platform()}; {os.cpu_count()} CPUs")
    missing = packages()
    if missing:
        print(f"missing: {', '.join(missing)} (carry their wheels in .whl/: see README, GPU status)")
    devices = []
    if not args.cpu:
        for command in NVIDIA_SMI:
            run(command)
        devices = [d for d in (attempt("cupy", cupy_device), attempt("torch", torch_device)) if d]
    if args.cpu:
        print(f"device: CPU ({cpu_model()}), no GPU expected")
    else:
        print(f"device: {'; '.join(devices) or 'no CUDA device reached by CuPy or torch'}")
    return 1 if missing or not (args.cpu or devices) else 0


if __name__ == "__main__":
    sys.exit(main())
