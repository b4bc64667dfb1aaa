"""Timing harness shared by every benchmark: warm-ups, median of repeats, fixed threads.

Ratios are what the benchmarks report: both sides of a ratio are timed in the same process,
one after the other, with the same thread count, so machine load hits both alike.
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

__all__ = ["Timing", "measure", "measure_alternating", "set_threads", "machine_info", "ratio", "cpu_count"]


@dataclass
class Timing:
    """Seconds per call: ``median`` of ``repeats`` timed calls after ``warmup`` untimed ones."""

    median: float
    min: float
    max: float
    repeats: int
    warmup: int
    samples: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def measure(fn: Callable[[], object], repeats: int = 5, warmup: int = 1,
            min_time: float = 0.0) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then at least ``repeats`` timed ones.

    ``min_time`` (seconds) keeps repeating a very fast ``fn`` until that much time has been
    spent, so a median over sub-millisecond calls is not timer noise.
    """
    if repeats < 1:
        raise ValueError(f"repeats: expected >= 1, got {repeats}")
    for _ in range(max(0, warmup)):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < repeats or (time.perf_counter() - start) < min_time:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if len(samples) >= 10_000:
            break
    return Timing(statistics.median(samples), min(samples), max(samples), len(samples),
                  max(0, warmup), samples)


def measure_alternating(fns: dict, repeats: int = 5, warmup: int = 1) -> dict:
    """Time the functions of ``fns`` (``{name: fn}``) round-robin: ``warmup`` untimed rounds,
    then ``repeats`` rounds that call each function once, in turn. A change of the machine's
    load during the measurement then hits every function alike, so the ratio of two medians
    holds on a shared machine better than with :func:`measure` run one after the other.
    Returns ``{name: Timing}``."""
    if repeats < 1:
        raise ValueError(f"repeats: expected >= 1, got {repeats}")
    for _ in range(max(0, warmup)):
        for fn in fns.values():
            fn()
    samples: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: Timing(statistics.median(x), min(x), max(x), len(x), max(0, warmup), x)
            for name, x in samples.items()}


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; ``inf`` when the denominator is 0 (never NaN)."""
    return float(numerator) / float(denominator) if denominator > 0 else float("inf")


def cpu_count() -> int:
    """CPUs this process may use (affinity-aware, unlike ``os.cpu_count``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def set_threads(n: int | None) -> int:
    """Fix torch's intra-op threads (default: all usable CPUs); returns the number set."""
    n = cpu_count() if not n else int(n)
    torch.set_num_threads(n)
    return n


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """The machine and library versions a benchmark ran on (for docs/benchmarks.md)."""
    import numpy
    info = {
        "cpu": _cpu_model(),
        "cpus_usable": cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }
    for mod in ("av", "cv2", "numba"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - an optional library missing is not an error here
            info[mod] = None
    try:
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        info["load_avg_1m"] = None
    return info
