"""Read PyTorch's legacy (pre-1.6) checkpoint format into numpy arrays, without torch.

The format is five pickles and then raw storages: a magic number, a protocol version, a
system-info dict, the object itself (here an OrderedDict of tensors, each pointing at a storage
by key), and the list of storage keys in the order their bytes follow. Each storage is an 8-byte
little-endian element count, then the elements.

Why a restricted unpickler: a pickle can run any code it names. Ours resolves exactly the globals
a state dict needs (an OrderedDict, the tensor rebuild function, the storage types) to harmless
stand-ins and refuses every other name, so a tampered weights file cannot execute anything.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(pickle.UnpicklingError):
    """The file names a global a weights file has no business naming."""


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass(frozen=True)
class _TensorRef:
    storage_key: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: tuple, storage_offset: int, size: tuple, stride: tuple, *_ignored: object) -> _TensorRef:
    key = storage[0]
    return _TensorRef(key, int(storage_offset), tuple(size), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, handle: BinaryIO) -> None:
        super().__init__(handle)
        self.storages: dict[str, tuple[_StorageType, int]] = {}

    def find_class(self, module: str, name: str) -> object:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise UnsafePickleError(f"refusing to load global {module}.{name} from a weights file")

    def persistent_load(self, pid: object) -> tuple:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise UnsafePickleError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, size = pid[:5]
        self.storages[str(key)] = (storage_type, int(size))
        return (str(key),)


def load_legacy_state_dict(path: str | Path) -> OrderedDict[str, np.ndarray]:
    """name -> numpy array, exactly as the checkpoint stores them."""
    with open(path, "rb") as handle:
        if _plain_load(handle) != MAGIC_NUMBER:
            raise pickle.UnpicklingError(f"{path} is not a legacy PyTorch checkpoint")
        if _plain_load(handle) != PROTOCOL_VERSION:
            raise pickle.UnpicklingError(f"{path}: unsupported checkpoint protocol")
        _plain_load(handle)  # sys info: endianness and type sizes, little-endian on every machine that made these
        unpickler = _RestrictedUnpickler(handle)
        state = unpickler.load()
        keys = _plain_load(handle)
        arrays = {}
        for key in keys:
            storage_type, _size = unpickler.storages[str(key)]
            count = int.from_bytes(handle.read(8), "little")
            itemsize = np.dtype(storage_type.dtype).itemsize
            arrays[str(key)] = np.frombuffer(handle.read(count * itemsize), dtype=storage_type.dtype, count=count)
    return OrderedDict((name, _materialise(ref, arrays)) for name, ref in state.items())


def _plain_load(handle: BinaryIO) -> object:
    """The header pickles hold only ints, lists and dicts: a restricted load that allows no globals at all."""
    class _NoGlobals(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            raise UnsafePickleError(f"refusing to load global {module}.{name} from a weights file header")
    return _NoGlobals(handle).load()


def _materialise(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    storage = storages[ref.storage_key]
    itemsize = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset:], shape=ref.shape, strides=tuple(s * itemsize for s in ref.stride), writeable=False
    )
    return np.array(view)
