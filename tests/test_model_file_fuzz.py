"""Model-file fuzzing: every damaged, forged or hostile file loads as a usable model or
raises a ValueError naming the file, with memory bounded by the file's honest size.

Seeded: file ``i`` is ``fuzzed_file(i, seeds)``, the same on every machine.  A run
fuzzes ``MLP_XP_FUZZ_FILES`` files (2,000 by default; the ``deep`` nox session
raises it).  The mutations: byte flips (anywhere, in the zip directory, in the
.npy headers), truncations, mutated metadata JSON (missing keys, wrong types,
huge or negative numbers, unknown names, deep nesting), swapped, missing,
duplicated, renamed or extra members, members whose .npy header announces a
huge shape, deflated members that inflate to gigabytes (zip bombs, announced
honestly or not), and pickled object arrays whose unpickling would leave a
file behind.  A seed that once failed is kept in ``REGRESSIONS``.  The reading
is host-side: the fuzzer runs in the numpy session only.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import os
import re
import struct
import tracemalloc
import warnings
import zipfile
import zlib
from dataclasses import dataclass, replace

import numpy as np
import pytest
from conftest import BACKENDS

import mlp_xp
from mlp_xp.optimizers import SGD

pytestmark = pytest.mark.skipif("numpy" not in BACKENDS, reason="host-side reading: run with numpy")

FUZZ_FILES = int(os.environ.get("MLP_XP_FUZZ_FILES", "2000"))
# Files that broke an earlier reader: a JSON nested too deep (RecursionError), a zip bomb
# (64 MiB taken), a directory pointing beyond the file (OSError), a header announcing
# 10¹² bytes (MemoryError), softmax in a hidden layer and on one output (errors not naming
# the file), an optimizer number beyond the floats (OverflowError).  Seeds of this
# generator: keep them when it changes.
REGRESSIONS = [2, 19, 124, 319, 2368, 28737, 41918]
# What a load may allocate beyond twice the file's size (the seed models take a few kB).
OVERHEAD = 4 * 2**20
STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED


@dataclass(frozen=True)
class Entry:
    """A zip member as written: its raw (compressed) bytes and what the directory announces."""

    name: str
    raw: bytes
    method: int
    crc: int
    size: int


def entry(name: str, content: bytes, method: int = STORED) -> Entry:
    """An honest member holding ``content``."""
    raw = content if method == STORED else _deflate(content)
    return Entry(name, raw, method, zlib.crc32(content), len(content))


def zip_file(entries: list[Entry]) -> bytes:
    """A zip archive of ``entries``, written as given (sizes and CRCs may lie)."""
    out, directory = bytearray(), bytearray()
    for e in entries:
        offset, name = len(out), e.name.encode()
        fields = (e.method, 0, 0, e.crc & 0xFFFFFFFF, len(e.raw), e.size, len(name))
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, *fields, 0) + name + e.raw
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0, 0, offset)
        directory += name
    count = len(entries)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(out), 0)
    return bytes(out + directory + end)


def members(data: bytes) -> list[Entry]:
    """The members of a valid archive, as honest stored entries."""
    return list(_members(data))


@functools.lru_cache(maxsize=8)
def _members(data: bytes) -> tuple[Entry, ...]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return tuple(entry(name, archive.read(name)) for name in archive.namelist())


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=array.dtype.hasobject)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], dtype: str, fortran_order: bool = False) -> bytes:
    buffer = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    header = {"descr": descr, "fortran_order": fortran_order, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def _deflate(content: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(content) + compressor.flush()


def _zero_blocks() -> tuple[bytes, bytes]:
    """Raw deflate of 16 MiB of zeros, ending on a full flush (so it repeats), and the final block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(2**24)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block, compressor.flush()


ZERO_BLOCK, FINAL_BLOCK = _zero_blocks()


@functools.lru_cache(maxsize=16)
def bomb(header: bytes, blocks: int) -> bytes:
    """Raw deflate of ``header`` and ``blocks`` times 16 MiB of zeros: a thousand times smaller."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    return start + ZERO_BLOCK * blocks + FINAL_BLOCK


# --- Mutations: (rng, seed file) -> file ---------------------------------------------------


def flip_bytes(rng, data):
    if not data:
        return data
    raw = bytearray(data)
    directory = data.rfind(b"PK\x01\x02")
    headers = [match.start() for match in re.finditer(b"\x93NUMPY", data)] or [0]
    for _ in range(rng.integers(1, 9)):
        region = rng.integers(3)
        if region == 0:
            position = rng.integers(len(raw))
        elif region == 1:
            position = rng.integers(max(directory, 0) - 30, len(raw))  # directory and local headers
        else:
            position = rng.choice(headers) + rng.integers(-40, 120)  # around a .npy header
        raw[int(position) % len(raw)] ^= int(rng.integers(1, 256))
    return bytes(raw)


def truncate(rng, data):
    cut = data[: rng.integers(len(data) + 1)]
    return cut + (rng.bytes(rng.integers(1, 64)) if rng.random() < 0.3 else b"")


NASTY = [
    None, True, False, 0, -1, 1, 3, 2**31, 2**63, 2**64, -(2**63), 10**30, 10**4000, 1.5,
    -0.0, 1e308, -1e308, "", "relu", "softmax", "swish", "float16", "float64", "PCG64", "MT19937", "sgd",
    "adam", "rmsprop", "MLPRanker", "x" * 300, [], [0], [1, 1], [-1, 2], [2**40, 2**40], [3, 10**9, 2],
    [[]], {}, {"name": "adam"}, {"bit_generator": "PCG64"}, {"arrays": [], "scalars": {}},
]  # fmt: skip


def nasty(rng):
    """One of ``NASTY``, a fresh copy (a file must not share, or change, another's values)."""
    return copy.deepcopy(NASTY[rng.integers(len(NASTY))])


def _paths(tree, path=()):
    """Every (container, key) path of a JSON tree, deepest last."""
    found = []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else []
    for key, value in items:
        found.append((*path, key))
        found.extend(_paths(value, (*path, key)))
    return found


def _mutated_value(rng, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or rng.random() < 0.5:
        return nasty(rng)
    choice = rng.integers(5)
    if choice == 4 and abs(value) < 1e300:
        return value + 0.5
    return [value + 1, value - 1, -value, value * 2**40, -value][choice]


def mutate_metadata(rng, data):
    entries = members(data)
    index = next(i for i, e in enumerate(entries) if e.name == "metadata.npy")
    metadata = json.loads(np.load(io.BytesIO(entries[index].raw)).tobytes())
    for _ in range(rng.integers(1, 4)):
        paths = _paths(metadata)
        *parent_path, key = paths[rng.integers(len(paths))]
        parent = metadata
        for step in parent_path:
            parent = parent[step]
        action = rng.integers(6)
        if action == 0:
            del parent[key]
        elif action == 1 and isinstance(parent, dict):
            parent[f"unknown_{rng.integers(3)}"] = nasty(rng)
        elif action == 2 and isinstance(parent[key], list) and parent[key]:
            parent[key].append(parent[key][rng.integers(len(parent[key]))])
        elif action == 3:
            parent[key] = "DEEP"
        else:
            parent[key] = _mutated_value(rng, parent[key])
    deep = "[" * 100_000 + "]" * 100_000  # deeper than any parser's recursion
    text = json.dumps(metadata).replace('"DEEP"', deep).encode()
    entries[index] = entry("metadata.npy", npy(np.frombuffer(text, dtype=np.uint8)))
    return zip_file(entries)


def shuffle_members(rng, data):
    entries = members(data)
    i, j = rng.integers(len(entries), size=2)
    action = rng.integers(6)
    if action == 0:  # swap contents
        names = entries[i].name, entries[j].name
        entries[i], entries[j] = replace(entries[i], name=names[1]), replace(entries[j], name=names[0])
    elif action == 1:
        del entries[i]
    elif action == 2:  # the same name twice
        entries.append(replace(entries[j], name=entries[i].name))
    elif action == 3:
        names = ["weights/9.npy", "optimizer/m/0.npy", "metadata.npy", "notes.txt", "../x.npy", "weights/0"]
        entries[i] = replace(entries[i], name=names[rng.integers(len(names))])
    elif action == 4:  # Fortran order, other dtypes and shapes, deflated: some are valid
        array = np.load(io.BytesIO(entries[i].raw))
        variants = [np.asfortranarray(array), array.astype(np.float16), array.T, array[..., :1], array[None]]
        entries[i] = entry(entries[i].name, npy(variants[rng.integers(len(variants))]), DEFLATED)
    else:
        entries = [entry(e.name, e.raw, DEFLATED) for e in entries]  # recompressed: valid
    return zip_file(entries)


def huge_shape(rng, data):
    """A member whose header announces a huge shape; sometimes the metadata agrees."""
    entries = members(data)
    i = rng.integers(len(entries))
    array = np.load(io.BytesIO(entries[i].raw))
    shape = [(2**31, 2**31), (10**12,), (2**62, 4), (2**20, 2**20), (-1, 5)][rng.integers(5)]
    header = npy_header(shape, array.dtype.str)
    content = header + array.tobytes()
    honest = entry(entries[i].name, content)
    announced = len(header) + max(np.prod(shape, dtype=object), 0) * array.itemsize
    size = [len(content), announced][rng.integers(2)]
    entries[i] = replace(honest, size=int(size) % 2**32)
    if rng.random() < 0.5 and entries[i].name != "metadata.npy":
        entries = _agreeing_metadata(entries, list(shape if len(shape) == 2 else (shape[0], shape[0])))
    return zip_file(entries)


def _agreeing_metadata(entries, layer_sizes):
    """The entries with metadata announcing a one-layer network of ``layer_sizes``, no optimizer."""
    index = next(i for i, e in enumerate(entries) if e.name == "metadata.npy")
    metadata = json.loads(np.load(io.BytesIO(entries[index].raw)).tobytes())
    metadata.update(layer_sizes=layer_sizes, activations=["identity"], optimizer=None)
    metadata.pop("estimator", None)
    entries[index] = entry("metadata.npy", npy(np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)))
    return entries


def zip_bomb(rng, data):
    """A member deflated from a header and 64 MiB or 4 GiB of zeros, announced honestly or not."""
    entries = members(data)
    i = rng.integers(len(entries))
    array = np.load(io.BytesIO(entries[i].raw))
    shape = array.shape if rng.random() < 0.5 else (2**26 // array.itemsize,)
    header = npy_header(shape, array.dtype.str)
    blocks = 255 if rng.random() < 0.05 else 4  # a few real giants; the bound catches 64 MiB
    raw = bomb(header, blocks)
    inflated = len(header) + blocks * 2**24
    declared = [inflated, len(header) + array.nbytes, 2**32 - 1][rng.integers(3)]
    crc = zlib.crc32(header + bytes(declared - len(header))) if declared < 2**20 else rng.integers(2**32)
    entries[i] = Entry(entries[i].name, raw, DEFLATED, int(crc), declared)
    if rng.random() < 0.3 and len(shape) == 1 and entries[i].name != "metadata.npy":
        entries = _agreeing_metadata(entries, [1, shape[0]])
    return zip_file(entries)


class Trap:
    """Unpickling it creates a file: proof that a loader unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def pickled_objects(rng, data, trap_path):
    entries = members(data)
    i = rng.integers(len(entries))
    array = np.load(io.BytesIO(entries[i].raw))
    objects = np.empty(array.shape, dtype=object)
    objects[...] = Trap(trap_path)
    entries[i] = entry(entries[i].name, npy(objects), [STORED, DEFLATED][rng.integers(2)])
    return zip_file(entries)


MUTATIONS = [flip_bytes, truncate, mutate_metadata, shuffle_members, huge_shape, zip_bomb, pickled_objects]


def fuzzed_file(seed: int, seeds: list[bytes], trap_path: str) -> tuple[str, bytes]:
    """File ``seed`` of the fuzzer, and how it was made."""
    rng = np.random.default_rng([20261201, seed])
    base = int(rng.integers(len(seeds)))
    mutations = [MUTATIONS[seed % len(MUTATIONS)]]
    if rng.random() < 0.2:  # then damage the bytes of what it made
        mutations.append([flip_bytes, truncate][rng.integers(2)])
    data = seeds[base]
    for mutation in mutations:
        if mutation is pickled_objects:
            data = mutation(rng, data, trap_path)
        else:
            data = mutation(rng, data)
    return f"seed {seed}: seed file {base}, {' then '.join(m.__name__ for m in mutations)}", data


# --- The oracle -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[bytes]:
    """Valid files: Adam state (float32), no optimizer (float64), SGD momentum, a classifier."""
    folder = tmp_path_factory.mktemp("seeds")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)), rng.integers(0, 2, size=12)
    adam = mlp_xp.MLP([3, 4, 2], "tanh", "softmax", seed=0)
    adam.fit(x, y, loss="cross_entropy", optimizer="adam", batch_size=4, epochs=1)
    momentum = mlp_xp.MLP([3, 2, 2, 1], "relu", seed=1, dtype="float64")
    momentum.fit(x, y, optimizer=SGD(momentum=0.5), batch_size=6, epochs=1)
    plain = mlp_xp.MLP([2, 1], seed=2, dtype="float64", init="he")
    classifier = mlp_xp.MLPClassifier((3,), max_iter=2, batch_size=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the estimator's ConvergenceWarning after 2 epochs
        classifier.fit(x, np.array(["a", "b", "c"])[rng.integers(0, 3, size=12)])
    savers = [adam.save, plain.save, momentum.save, classifier.save]
    return [save(folder / f"seed{i}").read_bytes() for i, save in enumerate(savers)]


def outcome(path, data: bytes) -> str | None:
    """None if loading ``data`` from ``path`` keeps the promise, else what went wrong."""
    path.write_bytes(data)  # a new file each time: faster than rewriting one on some disks
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    try:
        loaded = mlp_xp.load(path)
    except ValueError as exc:
        if not str(exc).startswith(f"cannot load {str(path)!r}: "):
            return f"ValueError not naming the file: {exc}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    else:
        problem = unusable(loaded)
        if problem:
            return problem
    peak = tracemalloc.get_traced_memory()[1] - before
    if peak > OVERHEAD + 2 * len(data):
        return f"took {peak} bytes for a file of {len(data)}"
    return None


def unusable(loaded) -> str | None:
    """None if a loaded model (or estimator) predicts with the shapes it announces."""
    model = getattr(loaded, "model_", loaded)
    x = np.ones((2, model.layer_sizes[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a forged model is its business
        output = np.asarray(model.forward(x))
        prediction = loaded.predict(x) if model is not loaded else output
    if output.shape != (2, model.layer_sizes[-1]) or len(prediction) != 2:
        return f"loaded a model that predicts shape {output.shape}"
    return None


def run(seeds_list, tmp_path, seed_numbers) -> list[str]:
    trap = tmp_path / "unpickled"
    failures = []
    tracemalloc.start()
    try:
        for seed in seed_numbers:
            description, data = fuzzed_file(seed, seeds_list, str(trap))
            path = tmp_path / f"fuzzed{seed}.npz"
            problem = outcome(path, data)
            path.unlink()
            if problem or trap.exists():
                failures.append(f"{description}: {problem or 'a pickle was loaded'}")
                trap.unlink(missing_ok=True)
    finally:
        tracemalloc.stop()
    return failures


def test_fuzzed_files_load_or_raise_a_value_error_naming_the_file(seeds, tmp_path):
    failures = run(seeds, tmp_path, range(FUZZ_FILES))
    assert not failures, f"{len(failures)} of {FUZZ_FILES} files:\n" + "\n".join(failures[:20])


@pytest.mark.parametrize("seed", REGRESSIONS)
def test_seeds_that_once_failed(seeds, tmp_path, seed):
    assert run(seeds, tmp_path, [seed]) == []


def test_the_fuzzer_makes_valid_and_refused_files(seeds, tmp_path):
    """The fuzzer is not vacuous: the seeds load, and its mutations give both outcomes."""
    for i, data in enumerate(seeds):
        path = tmp_path / f"seed{i}.npz"
        path.write_bytes(data)
        assert unusable(mlp_xp.load(path)) is None
    loaded = refused = 0
    for seed in range(200):
        path = tmp_path / "fuzzed.npz"
        path.write_bytes(fuzzed_file(seed, seeds, str(tmp_path / "trap"))[1])
        try:
            mlp_xp.load(path)
            loaded += 1
        except ValueError:
            refused += 1
    assert loaded >= 5 and refused >= 150
