"""``mmff bench``: measured cost ratios of MMFF's design choices, one module per measurement.

=========  ==================================================================  =======
key        what is compared                                                    goal
=========  ==================================================================  =======
e2e        raw files -> class, batch 1, CPU: MMFF vs skeleton network + I3D    5x time
           (:mod:`.e2e`, :mod:`.i3d`), on the NTU-format pair and a synthetic  6x MACs
           1080p pair, per skeleton recipe (``e2e_variants``): the paper's     (100
           300-frame ST-GCN, PYSKL's 100-frame ST-GCN and ST-GCN++, each       frames:
           against the baseline with the same recipe                           6x, 9x)
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

The NTU-format files (the e2e pair, the reader's ``.skeleton`` files, the seek video) come
from ``--ntu DIR`` when given (e.g. a folder of the real NTU RGB+D release), else from
synthetic NTU-format pairs made on the fly with :mod:`mmff.data.synth` in ``out/synth_ntu_*``;
:func:`ntu_source` says which, and the results record it under ``ntu_source``. Nothing is read
from a repository checkout.
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

__all__ = ["SECTIONS", "BenchSettings", "run_benchmarks", "ntu_source", "finite_ratios"]

SECTIONS = ("e2e", "reader", "seek", "loader", "prepare", "scaling")

#: the NTU-format pair every benchmark that needs one uses (also the first synthetic name)
NTU_SAMPLE = "S001C001P001R001A001"


@dataclass
class BenchSettings:
    """Everything a run depends on; ``quick()`` and ``full()`` are the two presets."""

    quick: bool = False
    out: Path = Path("runs/bench")
    ntu_dir: Optional[Path] = None         # NTU-format files; None: synthetic (ntu_source)
    ntu_synth_size: tuple = (1920, 1080)   # frame size of the synthetic NTU-format pairs
    ntu_synth_samples: int = 3             # synthetic .skeleton files for the reader section
    threads: Optional[int] = None          # torch intra-op threads (default: usable CPUs)
    workers: Optional[int] = None          # processes for prepare/loader (default: CPUs)
    repeats: int = 5                       # model-sized measurements (e2e, scaling, steps)
    io_repeats: int = 7                    # cheap measurements (reader, seek, prepare runs)
    warmup: int = 1
    decode_threads: int = 1
    i3d_variant: str = "full"
    # skeleton recipes of the e2e section (names of e2e.RECIPES); the first one's figures are
    # the section's top-level keys
    e2e_variants: tuple = ("paper", "stgcn_100", "stgcnpp_100")
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
        s.out = Path(s.out)
        s.ntu_dir = None if s.ntu_dir is None else Path(s.ntu_dir)
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


def ntu_source(s: BenchSettings, say: Callable[[str], None] = lambda m: None) -> dict:
    """The NTU-format files of this run: ``{"kind": "given" | "synthetic", "dir", "pair",
    "skeletons", "note"}``. ``given``: ``s.ntu_dir`` (``--ntu DIR``), which must hold the pair
    ``S001C001P001R001A001.skeleton`` + ``_rgb.avi``; ``synthetic``: ``s.ntu_synth_samples``
    SynthHOI pairs in the NTU format (names, ``.skeleton`` text, h264 ``_rgb.avi``) of
    ``s.ntu_synth_size``, generated into ``out/synth_ntu_WxH`` (reused by later runs)."""
    if s.ntu_dir is not None:
        d = Path(s.ntu_dir)
        pair = (d / f"{NTU_SAMPLE}.skeleton", d / f"{NTU_SAMPLE}_rgb.avi")
        for p in pair:
            if not p.is_file():
                raise FileNotFoundError(f"{p}: --ntu DIR must hold the NTU pair {NTU_SAMPLE}"
                                        f".skeleton + {NTU_SAMPLE}_rgb.avi")
        skeletons = sorted(d.glob("*.skeleton"))
        note = f"NTU-format files from --ntu {d}"
        kind = "given"
    else:
        from .samples import synth_pairs

        w, h = (int(v) for v in s.ntu_synth_size)
        d = s.out / f"synth_ntu_{w}x{h}"
        say(f"[bench] no --ntu DIR: generating {s.ntu_synth_samples} synthetic NTU-format "
            f"pairs ({w}x{h}) in {d}")
        pairs = synth_pairs(d, max(1, int(s.ntu_synth_samples)), (w, h))
        pair, skeletons = pairs[0], [p[0] for p in pairs]
        note = (f"synthetic NTU-format pairs ({w}x{h}, mmff.data.synth) in {d}; "
                "give --ntu DIR to time real NTU RGB+D files")
        kind = "synthetic"
    return {"kind": kind, "dir": str(d), "pair": [str(p) for p in pair],
            "skeletons": [str(p) for p in skeletons], "note": note}


def _source(s: BenchSettings, say, shared: dict) -> dict:
    """:func:`ntu_source`, resolved once per run (the sections share it)."""
    if "ntu_source" not in shared:
        shared["ntu_source"] = ntu_source(s, say)
        say(f"[bench] NTU data: {shared['ntu_source']['note']}")
    return shared["ntu_source"]


def _ntu_pair(s: BenchSettings, say, shared: dict) -> tuple[Path, Path]:
    skel, video = _source(s, say, shared)["pair"]
    return Path(skel), Path(video)


def _section_e2e(s: BenchSettings, say, shared: dict) -> dict:
    from .e2e import bench_e2e
    from .samples import synth_pairs

    samples = {f"ntu_{_source(s, say, shared)['kind']}": _ntu_pair(s, say, shared)}
    pair = synth_pairs(s.out / "synth_e2e", 1, s.synth_size)[0]
    samples[f"synth_{s.synth_size[0]}x{s.synth_size[1]}"] = pair
    res = bench_e2e(samples, s, direct=not s.quick, progress=say)
    fwd = (res["variants"].get("paper") or {}).get("forward_s") or {}
    if fwd:  # the scaling section reuses these (same models, same input shapes)
        shared["forward_s"] = {"mmff_1": fwd["mmff"]["median"],
                               "baseline": fwd["baseline"]["median"]}
    return res


def _section_reader(s: BenchSettings, say, shared: dict) -> dict:
    from .reader import bench_reader

    src = _source(s, say, shared)
    files = [Path(p) for p in src["skeletons"]]
    if not files:
        raise FileNotFoundError(f"{src['dir']}: no .skeleton files")
    return bench_reader(files, s.io_repeats, s.warmup)


def _section_seek(s: BenchSettings, say, shared: dict) -> dict:
    from .seek import bench_seek

    return bench_seek(_ntu_pair(s, say, shared)[1], 0.5, s.io_repeats, s.warmup,
                      s.decode_threads)


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
        if key in ("e2e", "reader", "seek") and "ntu_source" not in shared:
            try:
                results["ntu_source"] = _source(settings, say, shared)
            except Exception:  # noqa: BLE001 - reported by the section that needs it
                if strict:
                    raise
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
