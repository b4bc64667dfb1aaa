"""Benchmark 6: end-to-end cost vs sequence length T and number of frames K.

Sequences of T = 50 ... 300 frames (skeleton frames = video frames, as in NTU) are made from one
synthetic SynthHOI performance by resampling it in time: frame t of the new sequence blends the
two source frames around ``t * (T0 - 1) / (T - 1)`` (and the joints likewise), so every frame is
distinct, i.e. the encoder gets real motion to code and decoding costs what it costs on
real footage, and the action is the same at every length (slow motion).

Per T, the ``load`` stage (read the skeleton, decode, crop) is timed for MMFF with K = 1, 3, 5
frames (p in {0.5}, {0.3, 0.5, 0.7}, {0.3, ..., 0.7}, Table 4) and for the ST-GCN + I3D
baseline (32 frames over the whole video). The ``forward`` stage does not depend on T (the
skeleton is padded/sampled to 300 frames, the clip is always 32 frames), so it is timed once per
pipeline and added.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .timing import measure

__all__ = ["resample_pair", "bench_scaling", "POSITIONS"]

#: Table 4's frame positions for K = 1, 3, 5
POSITIONS = {1: (0.5,), 3: (0.3, 0.5, 0.7), 5: (0.3, 0.4, 0.5, 0.6, 0.7)}


def _blend_index(t_out: int, t_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.linspace(0.0, t_in - 1.0, t_out)
    i0 = np.minimum(np.floor(s).astype(np.int64), t_in - 1)
    i1 = np.minimum(i0 + 1, t_in - 1)
    return i0, i1, (s - i0).astype(np.float32)


def resample_pair(skeleton: str | Path, video: str | Path, length: int,
                  out_dir: str | Path) -> tuple[Path, Path]:
    """Write a ``length``-frame version of a (skeleton, video) pair into ``out_dir`` (cached)."""
    from mmff.data.ntu import read_skeleton, write_skeleton
    from mmff.data.synth import encode_video
    from mmff.data.video import read_all_frames

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = Path(skeleton).stem
    out_skel = out_dir / f"{name}.skeleton"
    out_video = out_dir / f"{name}_rgb.avi"
    if out_skel.is_file() and out_video.is_file():
        return out_skel, out_video
    sk = read_skeleton(skeleton)
    i0, i1, w = _blend_index(length, sk.num_frames)

    def lerp(a: np.ndarray) -> np.ndarray:
        ww = w.reshape((-1,) + (1,) * (a.ndim - 1))
        return ((1 - ww) * a[i0] + ww * a[i1]).astype(np.float32)

    write_skeleton(out_skel, lerp(sk.joints), lerp(sk.color), sk.body_ids, depth=lerp(sk.depth),
                   orientation=lerp(sk.orientation))
    src = read_all_frames(video)
    v0, v1, vw = _blend_index(length, len(src))
    frames = np.empty((length,) + src[0].shape, np.uint8)
    for t in range(length):  # one frame at a time keeps the float copy small
        frames[t] = np.rint((1 - vw[t]) * src[v0[t]] + vw[t] * src[v1[t]]).astype(np.uint8)
    del src
    encode_video(out_video, frames)
    return out_skel, out_video


def bench_scaling(s, say: Callable[[str], None] = lambda m: None, forward_cache: dict | None = None
                  ) -> dict:
    """Seconds per sample vs T for MMFF (K = 1/3/5) and the baseline (see module docstring).

    ``forward_cache`` may hold ``{"mmff_1": sec, "baseline": sec}`` already measured (by the
    e2e section of the same run) to avoid timing the same forward twice.
    """
    import torch

    from mmff.engine.profiling import profile_model

    from .e2e import BaselinePipeline, MMFFPipeline
    from .samples import synth_pairs

    forward_cache = dict(forward_cache or {})
    size = tuple(int(v) for v in s.scaling_size)
    base_skel, base_video = synth_pairs(s.out / f"synth_scaling_{size[0]}x{size[1]}", 1, size)[0]
    pairs = {}
    for T in s.scaling_lengths:
        say(f"scaling: making the T={T} sequence")
        pairs[T] = resample_pair(base_skel, base_video, T,
                                 s.out / f"scaling_{size[0]}x{size[1]}" / f"T{T:03d}")
    pipes: dict = {f"mmff_{k}": MMFFPipeline.build(POSITIONS[k], s.decode_threads,
                                                   s.model_overrides)
                   for k in s.scaling_frames}
    pipes["baseline"] = BaselinePipeline.build(s.i3d_variant, s.decode_threads, s.model_overrides,
                                               s.clip_frames, s.clip_size)
    rows = [{"T": T} for T in s.scaling_lengths]
    load_s: dict = {name: [] for name in pipes}
    forward_s: dict = {}
    macs: dict = {}
    for name, pipe in pipes.items():
        for row in rows:
            skel, video = pairs[row["T"]]
            say(f"scaling: {name} load T={row['T']}")
            t = measure(lambda: pipe.load(skel, video), s.repeats, s.warmup).median
            load_s[name].append(t)
        batch = pipe.load(*pairs[rows[0]["T"]])
        macs[name] = profile_model(pipe.model, batch)["macs"]   # under no_grad (see e2e)
        if name in forward_cache:
            forward_s[name] = forward_cache[name]
        else:
            say(f"scaling: {name} forward")
            forward_s[name] = measure(lambda: pipe.forward(batch), s.repeats, s.warmup).median
        for row, t in zip(rows, load_s[name]):
            row[name] = t + forward_s[name]
    labels = {f"mmff_{k}": f"MMFF w/ ST-GCN, {k} frame{'s' if k > 1 else ''} "
              f"(p = {', '.join(str(p) for p in POSITIONS[k])})" for k in s.scaling_frames}
    labels["baseline"] = f"ST-GCN + I3D-R50 ({s.i3d_variant}), {s.clip_frames} frames"
    # growth of the per-sample cost from the shortest to the longest sequence
    growth = {name: (rows[-1][name] - rows[0][name]) for name in pipes}
    return {
        "size": f"{size[0]}x{size[1]}",
        "lengths": list(s.scaling_lengths),
        "pipelines": list(pipes),
        "labels": labels,
        "rows": rows,
        "load_s": load_s,
        "forward_s": forward_s,
        "gmacs": {k: v / 1e9 for k, v in macs.items()},
        "growth_s": growth,
        "description": (
            f"Synthetic {size[0]}x{size[1]} sequences resampled to T frames; seconds per sample "
            f"= median load(T) + forward (forward input shapes do not depend on T). growth_s = "
            f"cost(T={rows[-1]['T']}) - cost(T={rows[0]['T']})."),
    }
