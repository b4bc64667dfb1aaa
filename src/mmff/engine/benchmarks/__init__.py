"""``mmff bench``: measured cost ratios of MMFF's design choices, one module per measurement.

=========  ==================================================================  =======
key        what is compared                                                    goal
=========  ==================================================================  =======
e2e        raw files -> class, batch 1, CPU: MMFF w/ ST-GCN vs ST-GCN + I3D    5x time
           (:mod:`.e2e`, :mod:`.i3d`), on the real NTU pair and a synthetic    6x MACs
           1080p pair
reader     ``read_skeleton`` vs the line-by-line dict reader (:mod:`.reader`)  10x
seek       the frame at p = 0.5 vs decoding every frame (:mod:`.seek`)          1.8x
loader     DataLoader samples/s vs training-step samples/s (:mod:`.loader`)    3x
prepare    ``mmff prepare ntu`` samples/s vs decode-to-p floor (:mod:`.prepare`)  0.9x
scaling    end-to-end seconds vs sequence length and frames (:mod:`.scaling`)   -
=========  ==================================================================  =======

:func:`run_benchmarks` runs the selected sections in one process with a fixed torch thread
count, keeps going when one fails (its entry becomes ``{"error": ...}``) unless ``strict``,
and returns one JSON-ready dict. Ratios are reported, never asserted, except correctness
(same numbers, same pixels), which each section records.
"""
from __future__ import annotations

import datetime as _dt
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from .timing import machine_info, set_threads

__all__ = ["SECTIONS", "BenchSettings", "run_benchmarks", "default_ntu_dir", "finite_ratios",
           "REPO_ROOT"]

SECTIONS = ("e2e", "reader", "seek", "loader", "prepare", "scaling")

#: repository root (the package is installed editable from ``src/``)
REPO_ROOT = Path(__file__).resolve().parents[4]
#: the real NTU pair every benchmark that needs one uses
NTU_SAMPLE = "S001C001P001R001A001"


def default_ntu_dir() -> Path:
    """``shared/data/ntu`` beside the repository (where the tests find it too)."""
    return REPO_ROOT.parent / "shared" / "data" / "ntu"


@dataclass
class BenchSettings:
    """Everything a run depends on; ``quick()`` and ``full()`` are the two presets."""

    quick: bool = False
    out: Path = Path("runs/bench")
    ntu_dir: Path = field(default_factory=default_ntu_dir)
    threads: Optional[int] = None          # torch intra-op threads (default: usable CPUs)
    workers: Optional[int] = None          # processes for prepare/loader (default: CPUs)
    repeats: int = 5                       # model-sized measurements (e2e, scaling, steps)
    io_repeats: int = 7                    # cheap measurements (reader, seek, prepare runs)
    warmup: int = 1
    decode_threads: int = 1
    i3d_variant: str = "full"
    synth_size: tuple = (1920, 1080)
    prepare_samples: int = 16
    loader_batches: int = 20
    step_batches: int = 5
    scaling_lengths: tuple = (50, 100, 150, 200, 250, 300)
    scaling_frames: tuple = (1, 3, 5)
    scaling_size: tuple = (1920, 1080)
    loader_config: str = "demo"
    loader_size: tuple = (320, 240)        # synthetic frame size of the loader's prepared data
    # Test-only shrinking (never used by the CLI): config overrides for the MMFF/ST-GCN models
    # of e2e and scaling (nested dict, as load_config overrides), and the baseline clip.
    model_overrides: dict = field(default_factory=dict)
    clip_frames: int = 32
    clip_size: int = 224

    @classmethod
    def preset(cls, quick: bool, **over) -> "BenchSettings":
        s = cls(quick=quick)
        if quick:
            s.repeats, s.io_repeats, s.warmup = 1, 3, 1
            s.prepare_samples, s.loader_batches, s.step_batches = 4, 6, 2
            s.scaling_lengths = (50, 300)
            s.scaling_size = (640, 360)
        for k, v in over.items():
            if v is not None:
                setattr(s, k, v)
        s.out, s.ntu_dir = Path(s.out), Path(s.ntu_dir)
        return s


def finite_ratios(results: dict) -> dict:
    """``{section: ratio}`` for every section that produced one (test/CI helper)."""
    out = {}
    for key in SECTIONS:
        sec = results.get(key) or {}
        r = sec.get("time_ratio" if key == "e2e" else "ratio")
        if isinstance(r, (int, float)):
            out[key] = r
    if "macs_ratio" in (results.get("e2e") or {}):
        out["e2e_macs"] = results["e2e"]["macs_ratio"]
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _ntu_pair(s: BenchSettings) -> tuple[Path, Path]:
    skel, video = s.ntu_dir / f"{NTU_SAMPLE}.skeleton", s.ntu_dir / f"{NTU_SAMPLE}_rgb.avi"
    for p in (skel, video):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: the real NTU sample pair is needed (--ntu-dir)")
    return skel, video


def _section_e2e(s: BenchSettings, say, shared: dict) -> dict:
    from .e2e import bench_e2e
    from .samples import synth_pairs

    samples = {"ntu_real": _ntu_pair(s)}
    pair = synth_pairs(s.out / "synth_e2e", 1, s.synth_size)[0]
    samples[f"synth_{s.synth_size[0]}x{s.synth_size[1]}"] = pair
    res = bench_e2e(samples, s, direct=not s.quick, progress=say)
    fwd = res.get("forward_s") or {}
    if fwd:  # the scaling section reuses these (same models, same input shapes)
        shared["forward_s"] = {"mmff_1": fwd["mmff"]["median"],
                               "baseline": fwd["baseline"]["median"]}
    return res


def _section_reader(s: BenchSettings, say, shared: dict) -> dict:
    from .reader import bench_reader

    files = sorted(s.ntu_dir.glob("*.skeleton"))
    if not files:
        raise FileNotFoundError(f"{s.ntu_dir}: no .skeleton files")
    return bench_reader(files, s.io_repeats, s.warmup)


def _section_seek(s: BenchSettings, say, shared: dict) -> dict:
    from .seek import bench_seek

    return bench_seek(_ntu_pair(s)[1], 0.5, s.io_repeats, s.warmup, s.decode_threads)


def _section_loader(s: BenchSettings, say, shared: dict) -> dict:
    from .loader import bench_loader

    return bench_loader(s, say)


def _section_prepare(s: BenchSettings, say, shared: dict) -> dict:
    from .prepare import bench_prepare

    return bench_prepare(s, say)


def _section_scaling(s: BenchSettings, say, shared: dict) -> dict:
    from .scaling import bench_scaling

    return bench_scaling(s, say, shared.get("forward_s"))


_RUNNERS: dict[str, Callable] = {
    "e2e": _section_e2e, "reader": _section_reader, "seek": _section_seek,
    "loader": _section_loader, "prepare": _section_prepare, "scaling": _section_scaling,
}


def run_benchmarks(settings: BenchSettings, sections: Sequence[str] = SECTIONS,
                   strict: bool = False, say: Callable[[str], None] = lambda m: None) -> dict:
    """Run ``sections`` in order; returns the results dict (``--json`` prints it)."""
    unknown = [k for k in sections if k not in _RUNNERS]
    if unknown:
        raise ValueError(f"unknown benchmark section(s) {unknown}: choose from {list(SECTIONS)}")
    threads = set_threads(settings.threads)
    settings.out.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": settings.quick, "threads": threads, "repeats": settings.repeats,
        "warmup": settings.warmup, "machine": machine_info(), "seconds": {},
    }
    shared: dict = {}
    for key in sections:
        say(f"[bench] {key} ...")
        t0 = time.perf_counter()
        try:
            results[key] = _RUNNERS[key](settings, say, shared)
        except Exception as e:  # noqa: BLE001 - one failed section must not hide the others
            if strict:
                raise
            results[key] = {"error": f"{type(e).__name__}: {e}".splitlines()[0],
                            "traceback": traceback.format_exc(limit=4)}
        results["seconds"][key] = round(time.perf_counter() - t0, 2)
        say(f"[bench] {key} done in {results['seconds'][key]:.1f} s")
    return results
