"""The backend edge: the one module that knows array libraries by name.

Everything else receives a namespace ``xp`` (from ``array_api_compat``) and a
``device``, and calls only functions of the Array API standard on them.  This
module resolves backend names, devices and dtypes, moves data between
libraries, and owns the host random generator (NumPy), so that every backend
starts from bit-identical parameters and visits batches in the same order.
"""

from __future__ import annotations

import functools
import importlib
import operator
from typing import Any

import array_api_compat
import numpy as np

BACKENDS = ("numpy", "cupy", "torch", "array_api_strict", "jax")
DTYPES = ("float32", "float64")
# The module that holds a backend's array functions, where it is not the package itself.
_MODULES = {"jax": "jax.numpy"}

_CUPY_HINT = (
    "install CuPy for your CUDA version: pip install 'mlp_xp[cuda12]' "
    "(CUDA 12) or pip install 'mlp_xp[cuda13]' (CUDA 13)"
)
_INSTALL_HINT = {
    "cupy": _CUPY_HINT,
    "torch": "pip install 'mlp_xp[torch]'",
    "array_api_strict": "pip install array-api-strict",
    "jax": "pip install 'mlp_xp[jax]' (the CPU build; see JAX's install guide for GPUs)",
}


def get_namespace(backend: Any) -> Any:
    """The Array API namespace for a backend name or a namespace/module object."""
    if isinstance(backend, str):
        if backend not in BACKENDS:
            raise ValueError(
                f"backend must be one of {', '.join(map(repr, BACKENDS))} "
                f"or an array namespace, got {backend!r}"
            )
        try:
            module = importlib.import_module(_MODULES.get(backend, backend))
        except ImportError as exc:
            raise ImportError(
                f"backend={backend!r} needs the {backend} package, which is not "
                f"installed: {_INSTALL_HINT.get(backend, '')}"
            ) from exc
        if backend == "cupy":
            _require_cuda_device(module)
        backend = module
    try:
        return array_api_compat.array_namespace(backend.empty((0,)))
    except Exception as exc:
        raise TypeError(
            f"backend must be one of {', '.join(map(repr, BACKENDS))} or an array namespace, got {backend!r}"
        ) from exc


def namespace_of(*arrays: Any) -> Any:
    """The Array API namespace of ``arrays`` (array-api-compat's wrapper for NumPy, CuPy, torch)."""
    return array_api_compat.array_namespace(*arrays)


def _require_cuda_device(cupy: Any) -> None:
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver or runtime missing
        raise RuntimeError(
            f"backend='cupy' needs a CUDA GPU, but CuPy cannot reach one ({exc}); "
            "check the NVIDIA driver, or use backend='numpy'"
        ) from exc
    if count == 0:
        raise RuntimeError("backend='cupy' needs a CUDA GPU, but CuPy finds none; use backend='numpy'")


def get_device(xp: Any, device: Any = None) -> Any:
    """The device object of ``xp`` that ``device`` names (default: xp's default).

    array-api-compat creates CuPy arrays (``zeros``, ``arange``, ...) on the
    current CUDA device whatever their ``device=``, so a CuPy model must live
    on the current device: select another GPU with ``cupy.cuda.Device(n)``.
    """
    try:
        if array_api_compat.is_jax_namespace(xp) and isinstance(device, str):
            device = device_from_name("jax", device)  # "cpu", "gpu:1": JAX's devices by name
        found = array_api_compat.device(xp.asarray(0.0, device=device))
    except Exception as exc:
        raise ValueError(f"device={device!r} is not a device of backend {xp.__name__}: {exc}") from exc
    if array_api_compat.is_cupy_namespace(xp) and found != array_api_compat.device(xp.empty(0)):
        raise ValueError(
            f"device={device!r} is not CuPy's current device; make it current first: "
            f"with cupy.cuda.Device({device!r}): model = MLP(..., backend='cupy')"
        )
    return found


def portable_device(xp: Any, device: Any) -> Any:
    """``device`` in a form that pickles and that ``get_device`` reads back: a JAX
    device by its name (``"cpu:0"``), any other as it is."""
    return str(device) if array_api_compat.is_jax_namespace(xp) else device


def device_from_name(backend: str, name: str) -> Any:
    """The device of ``backend`` that ``name`` (text, as typed on a command line) means.

    array_api_strict: ``Device(name)`` (``"device1"``); torch:
    ``torch.device(name)`` (``"cpu"``, ``"cuda:0"``), but not ``"meta"``,
    whose tensors hold no data; cupy: the GPU number (``"1"`` or ``"cuda:1"``);
    jax: ``"platform"`` or ``"platform:index"`` of ``jax.devices`` (``"cpu"``,
    ``"gpu:1"``); numpy: ``name`` itself (``"cpu"``).  ``ValueError`` for a
    name the backend does not know; ``get_device`` then checks that the device
    is usable.
    """
    get_namespace(backend)  # a missing library: ImportError with its install hint
    try:
        if backend == "jax":
            platform, _, index = name.partition(":")
            return importlib.import_module(backend).devices(platform)[int(index or 0)]
        if backend == "array_api_strict":
            return importlib.import_module(backend).Device(name)
        if backend == "torch":
            device = importlib.import_module(backend).device(name)
            if device.type == "meta":
                raise ValueError("torch's meta device holds shapes without data; use cpu or cuda:N")
            return device
        if backend == "cupy":
            return int(name.removeprefix("cuda:"))
    except (ValueError, RuntimeError, IndexError) as exc:
        raise ValueError(f"device {name!r} is not a device of backend {backend!r}: {exc}") from exc
    return name


def get_dtype(xp: Any, dtype: Any) -> Any:
    """The floating dtype of ``xp`` that ``dtype`` names: 'float32' or 'float64'.

    ``ValueError`` for float64 on JAX without its 64-bit mode, where JAX would
    silently compute in float32: a library does not flip that global setting
    for its user.
    """
    for name in DTYPES:
        if dtype == name or dtype is getattr(xp, name) or str(dtype) == name:
            if array_api_compat.is_jax_namespace(xp) and name not in xp.__array_namespace_info__().dtypes():
                raise ValueError(
                    f"dtype={name!r} on backend 'jax' needs JAX's 64-bit mode, which is off: call "
                    "jax.config.update('jax_enable_x64', True) first (or set JAX_ENABLE_X64=1)"
                )
            return getattr(xp, name)
    raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")


@functools.lru_cache(maxsize=64)
def widest_float(xp: Any, device: Any) -> Any:
    """``xp.float64`` where ``device`` has it, else ``xp.float32``: the dtype of
    sums and scores that must not lose the digits a float32 model would."""
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return xp.float64
    floats = info().dtypes(device=device, kind="real floating")
    return floats.get("float64", floats.get("float32"))


def maximum_scalar(xp: Any, x: Any, scalar: float) -> Any:
    """``xp.maximum(x, scalar)`` for a Python float, by the standard call that maps directly
    onto the library: on torch ``xp.clip(x, min=scalar)``, which is ``torch.clamp`` (the
    ``maximum`` of array-api-compat turns the scalar into a tensor at every call: three
    times the cost), elsewhere ``xp.maximum`` (array-api-compat's ``clip`` for NumPy and
    CuPy assigns through boolean masks).  Both give NaN where ``x`` is NaN."""
    if array_api_compat.is_torch_namespace(xp):
        return xp.clip(x, min=scalar)
    return xp.maximum(x, scalar)


def dtype_name(xp: Any, dtype: Any) -> str:
    """'float32' or 'float64' for a dtype of ``xp``."""
    return next(name for name in DTYPES if dtype == getattr(xp, name))


def to_namespace(data: Any, xp: Any, device: Any, name: str) -> Any:
    """``data`` (array of any library, nested list, scalar) as an array of ``xp``
    on ``device``, copied at most once. Non-numeric data raises ``TypeError``.

    Data is data: a torch tensor that requires grad is detached (the model's
    arrays never join an autograd graph), and a NumPy array that torch cannot
    share (negative strides, read-only) is copied once on its way to torch.
    """
    if array_api_compat.is_array_api_obj(data):
        if array_api_compat.is_torch_array(data) and data.requires_grad:
            data = data.detach()  # a view: no copy
        source = array_api_compat.array_namespace(data)
        if not source.isdtype(data.dtype, ("bool", "integral", "real floating")):
            raise TypeError(f"{name} must hold real numbers, got dtype {data.dtype}")
        if source is xp:
            return xp.asarray(data, device=device)
        data = to_numpy(data)
    else:
        data = _host_array(data, name)
    return xp.asarray(_shareable(data, xp), device=device)


def _host_array(data: Any, name: str) -> np.ndarray:
    """Python data (nested lists, scalars, a list of arrays) as a NumPy array of numbers."""
    if isinstance(data, (list, tuple)) and any(array_api_compat.is_array_api_obj(item) for item in data):
        data = [to_numpy(item) if array_api_compat.is_array_api_obj(item) else item for item in data]
    try:
        host = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a rectangular array of numbers: {exc}") from exc
    if host.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got {type(data).__name__} with dtype {host.dtype}")
    return host


def _shareable(host: np.ndarray, xp: Any) -> np.ndarray:
    """``host``, or a copy of it where torch cannot share its memory (negative
    strides, which torch refuses; read-only memory, on which it warns)."""
    if array_api_compat.is_torch_namespace(xp) and (
        not host.flags.writeable or any(stride < 0 for stride in host.strides)
    ):
        return np.array(host)
    return host


def to_numpy(a: Any) -> np.ndarray:
    """A host NumPy copy (or view) of an array of any supported library.

    A torch tensor is detached first; torch's half-precision floats (bfloat16,
    which NumPy cannot hold, and float16) come back as float32, exactly.
    """
    if array_api_compat.is_numpy_array(a):
        return a
    if array_api_compat.is_cupy_array(a):
        return a.get()
    if array_api_compat.is_jax_array(a):
        return np.array(a)  # writable, as the others; from any of JAX's devices (DLPack: its CPU only)
    if array_api_compat.is_torch_array(a):
        a = a.detach().cpu()
        return (a.float() if a.is_floating_point() and a.dtype.itemsize < 4 else a).numpy()
    if not hasattr(a, "__dlpack__"):
        raise TypeError(
            "to_numpy needs an array (NumPy, CuPy, torch, array_api_strict or another DLPack "
            f"array), got {type(a).__name__}; use numpy.asarray for Python data"
        )
    return np.from_dlpack(a)


def host_rng(seed: Any) -> np.random.Generator:
    """The host random generator that draws initial weights and batch orders."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        raise TypeError(f"seed must be None or a non-negative int, got {seed!r}")
    if operator.index(seed) < 0:
        raise ValueError(f"seed must be None or a non-negative int, got {seed!r}")
    return np.random.default_rng(operator.index(seed))


def quiet_overflow() -> Any:
    """A context in which NumPy-based backends do not warn on overflow or NaN:
    training detects non-finite values itself, once per epoch, and says so."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def backend_name(xp: Any) -> str | Any:
    """The name in ``BACKENDS`` of a namespace, or the namespace itself if it has none."""
    for name, is_namespace in (
        ("numpy", array_api_compat.is_numpy_namespace),
        ("cupy", array_api_compat.is_cupy_namespace),
        ("torch", array_api_compat.is_torch_namespace),
        ("array_api_strict", array_api_compat.is_array_api_strict_namespace),
        ("jax", array_api_compat.is_jax_namespace),
    ):
        if is_namespace(xp):
            return name
    return xp


def host_floats(xp: Any, values: list[Any]) -> list[float]:
    """0-d device arrays as Python floats, in one device→host transfer."""
    return [float(v) for v in to_numpy(xp.stack(values))]
