"""Benchmark 5: ``mmff prepare ntu`` samples/s vs the floor of decoding each video up to p.

A folder of synthetic 1080p pairs is prepared (p = 0.5) with all worker processes; the floor
is the least any preparation must do: decode each video up to its frame at p, nothing else
(no skeleton parsing, cropping, JPEG encoding or writing), in a process pool of the same
size. Each side starts from a fresh output folder and includes its pool start-up. The same
comparison in a single process (``workers=1``: no pool on either side) is reported too, as
``single_process_ratio``: the per-sample overhead of prepare over the floor.
"""
from __future__ import annotations

import multiprocessing as mp
import shutil
import time
from typing import Callable

from .timing import cpu_count, ratio

__all__ = ["decode_floor", "bench_prepare"]


def _decode_one(video: str) -> int:
    from mmff.data.video import decode_frames_at

    return len(decode_frames_at(video, [0.5]).frames)


def decode_floor(videos: list, workers: int) -> float:
    """Seconds to decode every video up to its frame at p = 0.5 in ``workers`` processes."""
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    t0 = time.perf_counter()
    with ctx.Pool(workers) as pool:
        done = sum(pool.imap_unordered(_decode_one, [str(v) for v in videos]))
    if done != len(videos):
        raise RuntimeError(f"decode floor: {done} of {len(videos)} frames decoded")
    return time.perf_counter() - t0


def bench_prepare(s, say: Callable[[str], None] = lambda m: None) -> dict:
    from mmff.data.prepare import prepare_ntu

    from .samples import synth_pairs

    workers = int(s.workers or cpu_count())
    size = tuple(int(v) for v in s.synth_size)
    n = int(s.prepare_samples)
    raw = s.out / f"synth_{size[0]}x{size[1]}_n{n}"
    say(f"prepare: making {n} synthetic {size[0]}x{size[1]} pairs")
    pairs = synth_pairs(raw, n, size, workers=workers)
    videos = [v for _, v in pairs]
    times_prep, times_floor = [], []
    for r in range(max(1, s.repeats) + max(0, s.warmup)):
        out = s.out / "prepare_bench_out"
        shutil.rmtree(out, ignore_errors=True)
        say(f"prepare: run {r + 1}")
        t0 = time.perf_counter()
        res = prepare_ntu(raw=raw, out=out, workers=workers, positions=[0.5], progress=False)
        tp = time.perf_counter() - t0
        tf = decode_floor(videos, workers)
        if r >= s.warmup:  # the first runs warm the page cache and imports
            times_prep.append(tp)
            times_floor.append(tf)
    ok, failed = res.report.get("ok"), res.failed
    # Steady state: one process (prepare's in-process path), so no pool start-up on either side
    say("prepare: single process")
    single, single_floor = [], []
    for r in range(max(1, s.repeats)):
        out = s.out / "prepare_bench_out"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        prepare_ntu(raw=raw, out=out, workers=1, positions=[0.5], progress=False)
        single.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for v in videos:
            _decode_one(str(v))
        single_floor.append(time.perf_counter() - t0)
    shutil.rmtree(s.out / "prepare_bench_out", ignore_errors=True)
    ts, tsf = sorted(single)[len(single) // 2], sorted(single_floor)[len(single_floor) // 2]
    tp, tf = sorted(times_prep)[len(times_prep) // 2], sorted(times_floor)[len(times_floor) // 2]
    return {
        "samples": n,
        "size": f"{size[0]}x{size[1]}",
        "workers": workers,
        "prepared_ok": ok,
        "failed": failed,
        "prepare_s": tp,
        "floor_s": tf,
        "prepare_samples_per_s": n / tp,
        "floor_samples_per_s": n / tf,
        "ratio": ratio(tf, tp),
        "single_process_s": ts,
        "single_process_floor_s": tsf,
        "single_process_ratio": ratio(tsf, ts),
        "goal": 0.9,
    }
