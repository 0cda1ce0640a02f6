"""Reading ``.npz`` archives (zip files of ``.npy`` arrays) from untrusted files, within bounds.

safetensors' rule, refuse early and allocate late.  The zip directory is
checked before any member is decompressed: ``.npy`` names, each once, stored or
deflated, not encrypted, compressed sizes that fit in the file, and uncompressed
sizes that the compressed bytes can hold (deflate packs at most 1032 bytes into
one).  A member's ``.npy`` header (a few kB, decompressed alone) must announce
exactly the bytes the directory announces, and no Python objects (pickles are
never read).  Its data is then decompressed in bounded chunks into an array of
exactly that size, whose CRC-32 is checked: a member cannot inflate beyond what
it announced (a zip bomb), and the caller checks the headers (shapes, dtypes)
against what it expects before it reads any data.  Memory thus stays within
what the caller accepts and about a thousand times the file's size.

Every problem is a ``ValueError`` that says what is wrong; the caller names the file.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

MAX_HEADER_BYTES = 10_000  # numpy's own bound on a .npy header
_MAX_DEFLATE_RATIO = 1032
_CHUNK_BYTES = 1 << 20
# What zipfile, zlib and numpy's header parser raise on damaged bytes.
_DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    OverflowError,
    struct.error,
)
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


@dataclass(frozen=True)
class Header:
    """What a member's ``.npy`` header announces, and where its data start."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class Archive:
    """An open ``.npz`` file whose zip directory has been checked; ``names`` are its arrays."""

    def __init__(self, file: BinaryIO) -> None:
        size = os.fstat(file.fileno()).st_size
        if not zipfile.is_zipfile(file):
            raise ValueError("it is not an .npz archive (a zip file of arrays): truncated, or another kind")
        try:
            self._zip = zipfile.ZipFile(file)
            infos = self._zip.infolist()
        except _DAMAGED as exc:
            raise ValueError(f"it is a damaged .npz archive ({exc!r})") from exc
        self._members = _checked_directory(infos, size)
        self.names = list(self._members)

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._zip.close()

    def header(self, name: str) -> Header:
        """The member's header, checked to announce plain numbers of the directory's size."""
        info = self._members[name]
        try:
            with self._zip.open(info) as fp:
                version = np.lib.format.read_magic(fp)
                if version not in _HEADER_READERS:
                    raise ValueError(f".npy format version {version} is not supported")
                shape, fortran_order, dtype = _HEADER_READERS[version](fp, max_header_size=MAX_HEADER_BYTES)
                header = Header(shape, fortran_order, dtype, fp.tell())
        except _DAMAGED as exc:
            raise ValueError(f"its member {name!r} is damaged or not a .npy array ({exc})") from exc
        if dtype.hasobject:
            raise ValueError(f"{name} holds Python objects (pickled data); model files hold plain numbers")
        if header.offset + header.nbytes != info.file_size:
            raise ValueError(
                f"its member {name!r} holds {info.file_size - header.offset} data bytes, but its "
                f".npy header announces {header.nbytes} (shape {shape}, dtype {dtype})"
            )
        return header

    def read(self, name: str, header: Header) -> np.ndarray:
        """The member's array: ``header``'s shape and dtype, decompressed in bounded chunks."""
        array = np.empty(header.shape, header.dtype, order="F" if header.fortran_order else "C")
        data = (array.T if header.fortran_order else array).reshape(-1).view(np.uint8)  # a view
        try:
            with self._zip.open(self._members[name]) as fp:
                fp.read(header.offset)
                done = 0
                while done < len(data):
                    chunk = fp.read(min(_CHUNK_BYTES, len(data) - done))
                    if not chunk:
                        raise EOFError(f"its data end after {done} of {len(data)} bytes")
                    data[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                    done += len(chunk)
        except _DAMAGED as exc:
            raise ValueError(f"its member {name!r} is damaged ({exc})") from exc
        return array


def _checked_directory(infos: list[zipfile.ZipInfo], size: int) -> dict[str, zipfile.ZipInfo]:
    """Array name -> zip entry, for a directory whose entries the file can honestly hold."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if name == info.filename:
            raise ValueError(f"its member {info.filename!r} is not a .npy array")
        if name in members:
            raise ValueError(f"its member {info.filename!r} appears twice")
        if info.flag_bits & 0x1:
            raise ValueError(f"its member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(
                f"its member {info.filename!r} is compressed with zip method {info.compress_type}: "
                "model files are stored or deflated"
            )
        stored = info.compress_type == zipfile.ZIP_STORED
        if info.file_size > (info.compress_size if stored else _MAX_DEFLATE_RATIO * info.compress_size + 64):
            raise ValueError(
                f"its member {info.filename!r} announces {info.file_size} bytes, more than its "
                f"{info.compress_size} compressed bytes can hold"
            )
        members[name] = info
    compressed = sum(info.compress_size for info in infos)
    if compressed > size:
        raise ValueError(f"its members announce {compressed} compressed bytes, more than its {size} bytes")
    return members
