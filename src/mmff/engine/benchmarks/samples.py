"""Synthetic NTU-format sample pairs for the benchmarks (made with :mod:`mmff.data.synth`).

Samples are generated once into the benchmark's ``--out`` folder and reused by later runs
(``generate`` skips samples whose files exist).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

__all__ = ["synth_pairs"]


def synth_pairs(folder: str | Path, n: int, size: Sequence[int] = (1920, 1080),
                workers: int = 1, seed: int = 0) -> list[tuple[Path, Path]]:
    """``n`` synthetic (skeleton, video) pairs of ``size`` in ``folder`` (one per class)."""
    from mmff.data.synth import SYNTH_CLASSES, generate

    folder = Path(folder)
    per_class = -(-n // len(SYNTH_CLASSES))  # ceil: the plan is class-major
    classes = range(min(n, len(SYNTH_CLASSES)))
    summary = generate(folder, samples_per_class=per_class, seed=seed,
                       size=(int(size[0]), int(size[1])), workers=workers, progress=False,
                       classes=classes)
    if summary["failed"]:
        f = summary["failed"][0]
        raise RuntimeError(f"synthetic sample {f['name']} failed: {f['error']}")
    skels = sorted(folder.glob("*.skeleton"))[:n]
    pairs = [(p, p.with_name(p.name.replace(".skeleton", "_rgb.avi"))) for p in skels]
    if len(pairs) < n:
        raise RuntimeError(f"{folder}: expected {n} synthetic pairs, found {len(pairs)}")
    return pairs
