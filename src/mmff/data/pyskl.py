"""PYSKL / MMAction2 skeleton annotation pickles (``ntu60_3danno.pkl`` and friends).

Two layouts circulate:

- a plain list of annotation dicts (MMAction2's older ``*_train.pkl`` / ``*_val.pkl``), or
- ``{"split": {"xsub_train": [frame_dir, ...], "xsub_val": [...], ...},
  "annotations": [dict, ...]}`` (PYSKL).

Each annotation has ``frame_dir`` (sample name), ``label`` (0-based), ``total_frames`` and
``keypoint`` (M, T, V, C) float; 2D files add ``keypoint_score`` (M, T, V) and ``img_shape``.

Security: a pickle can run arbitrary code when loaded. These files come from the internet,
so :func:`load_pyskl_annotations` uses a restricted unpickler that only rebuilds numpy
arrays, numpy dtypes/scalars and plain Python containers; any other global (``os.system``,
``builtins.eval``, a class from some package) is refused with :class:`UnsafePickleError`
before it is called. Still: only load files from sources you trust.
"""
from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from mmff.data import SkeletonFormatError

__all__ = ["PysklSample", "UnsafePickleError", "load_pyskl_annotations", "safe_load_pickle",
           "pyskl_split_subsets"]

PathLike = Union[str, os.PathLike]


class UnsafePickleError(SkeletonFormatError):
    """The pickle asks for a global outside the allow-list (it could run code)."""


#: (module, name) pairs a PYSKL annotation pickle legitimately needs. numpy moved its core
#: to ``numpy._core`` in 2.0; pickles written by either version name one or the other.
_ALLOWED = {
    ("builtins", n) for n in ("list", "dict", "tuple", "set", "frozenset", "int", "float",
                              "complex", "bool", "str", "bytes", "bytearray", "slice",
                              "range")
} | {
    (m, n)
    for m in ("numpy.core.multiarray", "numpy._core.multiarray")
    for n in ("_reconstruct", "scalar")
} | {
    (m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")
} | {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
    ("_codecs", "encode"),          # protocol-2 pickles spell bytes as _codecs.encode(str)
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path: str):
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        # numpy scalar/array dtypes are pickled as e.g. numpy.dtype plus a type name string,
        # but some versions reference the scalar classes (numpy.float32, ...) directly.
        if module == "numpy" and isinstance(getattr(np, name, None), type) and issubclass(
                getattr(np, name), np.generic):
            return getattr(np, name)
        raise UnsafePickleError(
            f"{self._path}: refusing to load global {module}.{name}: only numpy arrays, "
            "dtypes and plain containers are allowed (pickles can run code)")

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self._path}: refusing a persistent id in the pickle")


def safe_load_pickle(path: PathLike):
    """Unpickle ``path`` allowing only numpy arrays/dtypes/scalars and plain containers."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        return _RestrictedUnpickler(io.BytesIO(data), path).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated / not a pickle / bad opcode
        raise SkeletonFormatError(f"{path}: not a readable pickle ({type(exc).__name__}: "
                                  f"{exc})") from None


@dataclass
class PysklSample:
    """One annotation converted to mmff's layout (T, M, V, C), like ``NTUSkeleton``."""

    name: str                           # frame_dir
    label: int                          # 0-based
    joints: np.ndarray                  # (T, M, V, C) float32 (C = 3 for 3D, 2 for 2D)
    num_frames: int                     # total_frames
    score: Optional[np.ndarray] = None  # (T, M, V) float32 keypoint_score (2D files)
    color: None = None                  # no RGB projection in these files
    extra: dict = field(default_factory=dict)   # other keys (img_shape, original_shape, ...)

    @property
    def num_bodies(self) -> int:
        return int(self.joints.shape[1])


def _convert(path: str, i: int, ann) -> PysklSample:
    where = f"{path}: annotation {i}"
    if not isinstance(ann, dict):
        raise SkeletonFormatError(f"{where}: expected a dict, got {type(ann).__name__}")
    missing = [k for k in ("frame_dir", "label", "keypoint") if k not in ann]
    if missing:
        raise SkeletonFormatError(f"{where}: missing key(s) {', '.join(missing)}")
    name = str(ann["frame_dir"])
    where = f"{path}: annotation {i} ({name})"
    kp = np.asarray(ann["keypoint"])
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3) or not np.issubdtype(kp.dtype, np.number):
        raise SkeletonFormatError(f"{where}: expected keypoint (M, T, V, 2|3) numbers, got "
                                  f"{kp.dtype} {kp.shape}")
    T = kp.shape[1]
    total = int(ann.get("total_frames", T))
    if total != T:
        raise SkeletonFormatError(f"{where}: total_frames {total} != keypoint frames {T}")
    try:
        label = int(ann["label"])
    except (TypeError, ValueError):
        raise SkeletonFormatError(f"{where}: expected an integer label, got "
                                  f"{ann['label']!r}") from None
    if label < 0:
        raise SkeletonFormatError(f"{where}: expected a 0-based label, got {label}")
    score = ann.get("keypoint_score")
    if score is not None:
        score = np.asarray(score, np.float32)
        if score.shape != kp.shape[:3]:
            raise SkeletonFormatError(f"{where}: keypoint_score {score.shape} does not match "
                                      f"keypoint {kp.shape[:3]}")
        score = np.ascontiguousarray(score.transpose(1, 0, 2))
    extra = {k: v for k, v in ann.items()
             if k not in ("frame_dir", "label", "keypoint", "keypoint_score", "total_frames")}
    return PysklSample(name=name, label=label,
                       joints=np.ascontiguousarray(kp.transpose(1, 0, 2, 3), dtype=np.float32),
                       num_frames=T, score=score, extra=extra)


def load_pyskl_annotations(path: PathLike) -> tuple[list[PysklSample], dict[str, list[str]]]:
    """Load a PYSKL/MMAction2 annotation pickle safely (see module docstring).

    Returns ``(samples, split)``: samples in file order, keypoints transposed from PYSKL's
    (M, T, V, C) to mmff's (T, M, V, C) float32; ``split`` maps split names (``xsub_train``,
    ``xsub_val``, ...) to lists of sample names (empty dict for the plain-list layout).
    Every split name must refer to an annotation.
    """
    path = os.fspath(path)
    obj = safe_load_pickle(path)
    if isinstance(obj, dict):
        if "annotations" not in obj:
            raise SkeletonFormatError(f"{path}: expected a list of annotations or a dict with "
                                      f"'annotations' (and 'split'), got keys {sorted(obj)[:5]}")
        anns, split = obj["annotations"], obj.get("split", {})
    elif isinstance(obj, (list, tuple)):
        anns, split = obj, {}
    else:
        raise SkeletonFormatError(f"{path}: expected a list or dict, got {type(obj).__name__}")
    if not isinstance(anns, (list, tuple)) or not isinstance(split, dict):
        raise SkeletonFormatError(f"{path}: 'annotations' must be a list and 'split' a dict")
    samples = [_convert(path, i, a) for i, a in enumerate(anns)]
    names = {s.name for s in samples}
    out_split = {}
    for key, members in split.items():
        members = [str(m) for m in members]
        unknown = [m for m in members if m not in names]
        if unknown:
            raise SkeletonFormatError(f"{path}: split {key!r} names {len(unknown)} sample(s) "
                                      f"without annotation, e.g. {unknown[0]!r}")
        out_split[str(key)] = members
    return samples, out_split


#: the part of a PYSKL split name after the benchmark: ``xsub_train`` trains, ``xsub_val`` tests
_PARTS = {"train": "train", "val": "test", "test": "test"}


def pyskl_split_subsets(split: dict, prefix: str, key=str) -> tuple[dict, list, list]:
    """The pickle's own split as mmff benchmark subsets.

    ``split``: PYSKL's ``{"xsub_train": [names], "xsub_val": [names], ...}``; each
    ``<bench>_train`` / ``<bench>_val`` (or ``_test``) pair becomes the benchmark key
    ``<prefix>_<bench>`` (``prefix`` = ``ntu60`` or ``ntu120``: ``xsub`` -> ``ntu60_xsub``,
    ``xview``, ``xset`` likewise; a custom ``mysplit_train`` -> ``ntu60_mysplit``), plain
    ``train`` / ``val`` / ``test`` -> ``<prefix>_pyskl``. ``key`` maps a listed name to the
    sample name used for it. Returns ``({name: {benchmark: "train"|"test"}}, [benchmarks],
    [warnings])``; a split name of no known form is ignored with a warning. A name listed in
    both the training and the test part of one benchmark is an error (ValueError)."""
    subsets: dict = {}
    benches: list = []
    warnings: list = []
    for split_name, members in split.items():
        bench, _, part = str(split_name).rpartition("_")
        if part not in _PARTS:
            warnings.append(f"split {split_name!r} ignored: expected NAME_train, NAME_val or "
                            "NAME_test")
            continue
        bench = f"{prefix}_{bench or 'pyskl'}"
        if bench not in benches:
            benches.append(bench)
        for m in members:
            mine = subsets.setdefault(key(m), {})
            if mine.get(bench, _PARTS[part]) != _PARTS[part]:
                raise ValueError(f"split {split_name!r}: {m!r} is also in the "
                                 f"{mine[bench]} part of {bench} (expected each sample in one "
                                 "part)")
            mine[bench] = _PARTS[part]
    return subsets, benches, warnings
