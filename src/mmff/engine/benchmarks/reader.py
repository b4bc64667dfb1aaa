"""Benchmark 2: ``mmff.data.ntu.read_skeleton`` vs the line-by-line dict reader.

The yardstick is the classic reader of the public NTU preprocessing scripts (ST-GCN's
``ntu_read_skeleton.read_skeleton``, also the start of CTR-GCN/PYSKL's ``get_raw_skes_data``):
``readline`` per line, one dict per body and per joint with named fields, then the dicts are
copied into arrays. It lives in :mod:`mmff.data.ntu` as ``read_skeleton(path,
engine="python")`` (``read_skeleton_dict`` + conversion), where it also serves as the test
oracle, so there is one copy of it. Both readers must return the same numbers in every array;
the benchmark checks that before timing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .timing import measure, ratio

__all__ = ["yardstick_read", "compare_readers", "bench_reader", "COMPARED_FIELDS"]

#: NTUSkeleton arrays compared between the two readers
COMPARED_FIELDS = ("joints", "color", "depth", "orientation", "tracking", "body_ids",
                   "present", "body_counts")


def yardstick_read(path: str | Path):
    """The line-by-line dict reader, file -> dicts -> arrays."""
    from mmff.data.ntu import read_skeleton

    return read_skeleton(path, engine="python")


def compare_readers(path: str | Path) -> dict:
    """Both readers on one file; ``same`` is True when every compared array agrees.

    Floats may differ by one rounding step at most (a decimal parsed straight to float32 vs
    via float64), so they are compared to 1 ulp relative; integers must be equal.
    """
    from mmff.data.ntu import read_skeleton

    fast, ref = read_skeleton(path), yardstick_read(path)
    worst, bad = 0.0, []
    for name in COMPARED_FIELDS:
        a, b = np.asarray(getattr(fast, name)), np.asarray(getattr(ref, name))
        if a.shape != b.shape:
            bad.append(f"{name} shape {a.shape} vs {b.shape}")
            continue
        if np.issubdtype(b.dtype, np.floating):
            if a.size:
                worst = max(worst, float(np.abs(a.astype(np.float64) - b).max()))
            ok = np.allclose(a, b, rtol=2.0 ** -23, atol=0.0)
        else:
            ok = np.array_equal(a, b)
        if not ok:
            bad.append(name)
    return {"same": not bad, "differs": bad, "max_abs_diff": worst,
            "frames": int(ref.num_frames), "bodies": int(ref.num_bodies)}


def bench_reader(files: Sequence[str | Path], repeats: int = 5, warmup: int = 1) -> dict:
    """Files/s of ``read_skeleton`` and of the yardstick over ``files`` (one pass = all files).

    The warm-up also absorbs the one-time numba compilation of the fast reader.
    """
    from mmff.data.ntu import read_skeleton

    files = [Path(f) for f in files]
    checks = {f.name: compare_readers(f) for f in files}
    fast = measure(lambda: [read_skeleton(f) for f in files], repeats, max(1, warmup))
    slow = measure(lambda: [yardstick_read(f) for f in files], repeats, warmup)
    n = len(files)
    return {
        "files": [f.name for f in files],
        "mmff_files_per_s": n / fast.median,
        "yardstick_files_per_s": n / slow.median,
        "ratio": ratio(slow.median, fast.median),
        "same_numbers": all(c["same"] for c in checks.values()),
        "checks": checks,
        "mmff_s": fast.to_dict(),
        "yardstick_s": slow.to_dict(),
        "goal": 10.0,
    }
