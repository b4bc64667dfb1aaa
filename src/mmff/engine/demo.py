"""The end-to-end demo on SynthHOI (``mmff demo``): generate -> prepare -> three stages -> eval.

    OUT/raw/           SynthHOI in the NTU formats (mmff synth; kept, skipped when present)
    OUT/prepared/      mmff prepare ntu output (resumes)
    OUT/train/         the three training stages (mmff train layout; resumes)
    OUT/eval_val/<model>/  results.json etc. on the validation split (held-out training subjects)
    OUT/eval/<model>/  results.json, confusion.png, per_class.png per model (test split)
    OUT/model.pt       the final MMFF checkpoint (stage 3)
    OUT/confusion.png  MMFF's confusion matrix on the cross-subject test split
    OUT/per_class.png  per-class accuracy: MMFF beside skeleton-only (paper Fig. 9)
    OUT/results.json   {"skeleton_only", "rgb_only", "mmff": test top-1 in [0, 1],
                        "val": {model: top-1}, "test": {model: top-1}, "val_split", "seconds", ...}

Protocol: training monitors only the validation split (``data.val``: training subjects held
out of the cross-subject training half); the test split is read once, after the last stage.
``mmff demo --seeds 0 1 2 3 4`` runs one demo per seed into ``OUT/seed<S>/`` and writes
``OUT/demo.json`` (per-seed rows, mean, std, min, max).

SynthHOI is built so that the paper's claim is structurally true (see ``mmff.data.synth``):
the skeleton sees the motion but not the object (skeleton-only <= 1/4 of the classes), one RGB
frame sees the object but not the direction of a time-reversed motion pair (RGB-only <= 1/2),
and only the fusion of both can name every class.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Optional, Sequence

from mmff.config import Config, load_config

__all__ = ["run_demo", "run_demo_seeds", "DEMO_MODELS", "format_table", "summarize_seeds"]

#: results.json key -> (training folder relative to OUT/train, table label)
DEMO_MODELS = {
    "skeleton_only": ("stage1/skeleton", "skeleton-only (stage 1)"),
    "rgb_only": ("stage1/rgb", "RGB-only (stage 1)"),
    "mmff": ("stage3", "MMFF (stage 3)"),
}


def run_demo(out: str | Path = "runs/demo", seed: int = 0, config: str | Path = "demo",
             overrides: Optional[dict] = None, samples_per_class: Optional[int] = None,
             size: Optional[str | Sequence[int]] = None, workers: Optional[int] = None,
             progress: bool = True, log=print, synth_version: int = 1) -> dict:
    """Run the whole demo into ``out``; returns (and writes) ``out/results.json``.

    ``config``: the demo config (``configs/demo.yaml``; ``demo_bilstm`` for the Bi-LSTM
    variant); ``overrides`` a nested mapping applied to it (e.g. fewer epochs).
    ``samples_per_class`` / ``size`` default to the config's ``demo`` values below
    (``synth_version`` 2: SynthHOI v2 at its lite size ``V2_LITE_SIZE``). ``seed``
    seeds both the generated dataset and the training. Every step resumes: a re-run skips
    the finished parts."""
    import os

    from mmff.data.prepare import prepare_ntu
    from mmff.data.synth import V2_LITE_SIZE, VERSIONS, check_settings, generate, parse_size
    from mmff.engine.evaluation import evaluate
    from mmff.engine.figures import plot_per_class
    from mmff.engine.stages import run_stages, write_json

    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg: Config = load_config(config, overrides)
    if synth_version not in VERSIONS:
        raise ValueError(f"SynthHOI version {synth_version!r}: expected one of {VERSIONS}")
    samples_per_class = int(samples_per_class or DEMO_DATA["samples_per_class"])
    size = parse_size(size or (DEMO_DATA["size"] if synth_version == 1 else V2_LITE_SIZE))
    workers = int(workers or os.cpu_count() or 1)
    raw, prepared, train_dir = out / "raw", out / "prepared", out / "train"
    cfg.data.root = str(prepared.resolve())
    cfg.train.seed = int(seed)
    timings: dict = {}

    # 1. SynthHOI (skipped when present: generate() also resumes a partial folder)
    t = time.time()
    # an existing OUT/raw made with other settings is an error: a demo folder holds one dataset
    present = check_settings(raw, synth_version, seed, size, samples_per_class,
                             hint=f"use another --out or remove {raw}")
    what = "SynthHOI" if synth_version == 1 else f"SynthHOI v{synth_version}"
    log(f"[demo] 1/4 {what} {'found (checking for missing samples)' if present else 'generating'}"
        f" ({samples_per_class} samples x {len(_classes())} classes, {size[0]}x{size[1]}) "
        f"-> {raw}")
    summary = generate(raw, samples_per_class, seed=seed, size=size, workers=workers,
                       progress=progress, version=synth_version)
    if summary["failed"]:
        raise ValueError(f"{raw}: {len(summary['failed'])} samples failed, first: "
                         f"{summary['failed'][0]}")
    timings["synth"] = time.time() - t

    # 2. prepare (NTU reader + frame at p + projection-crop store), one body per sample
    t = time.time()
    log(f"[demo] 2/4 mmff prepare ntu -> {prepared}")
    res = prepare_ntu(raw=raw, out=prepared, workers=workers, positions=cfg.data.positions,
                      max_bodies=cfg.model.skeleton.num_person, progress=progress)
    if res.failed:
        raise ValueError(f"{prepared}/report.json: {len(res.failed)} samples failed, first: "
                         f"{res.failed[0]}")
    timings["prepare"] = time.time() - t

    # 3. the three stages of SPEC §3
    t = time.time()
    log(f"[demo] 3/4 training stage 1 (skeleton-only, RGB-only), 2 (fusion, streams frozen), "
        f"3 (fine-tune) -> {train_dir}")
    run_stages(cfg, train_dir, stages=(1, 2, 3), resume=True, progress=progress)
    timings["train"] = time.time() - t

    # 4. evaluation: the validation split (what any tuning may look at), then the test split,
    # read once, at the end
    t = time.time()
    log("[demo] 4/4 evaluating on the validation split, then once on the cross-subject test split")
    results: dict = {}
    per_model: dict = {}
    val: dict = {}
    val_split, num_val = None, 0
    if cfg.data.val != "none":
        for key, (rel, label) in DEMO_MODELS.items():
            r = evaluate(train_dir / rel / "model.pt", split="val", out=out / "eval_val" / key,
                         progress=progress, title=f"SynthHOI demo, {label}")
            val[key] = r["top1"]
            val_split = r.get("split_description")
            num_val = r["num_samples"]
    for key, (rel, label) in DEMO_MODELS.items():
        ckpt = train_dir / rel / "model.pt"
        r = evaluate(ckpt, split="test", out=out / "eval" / key, progress=progress,
                     title=f"SynthHOI demo, {label}")
        results[key] = r["top1"]
        per_model[key] = r
    timings["eval"] = time.time() - t

    final = train_dir / DEMO_MODELS["mmff"][0] / "model.pt"
    _atomic_copy(final, out / "model.pt")
    _atomic_copy(out / "eval" / "mmff" / "confusion.png", out / "confusion.png")
    classes = per_model["mmff"]["classes"]
    plot_per_class([v or 0.0 for v in per_model["mmff"]["per_class"]], classes,
                   out / "per_class.png",
                   baseline=[v or 0.0 for v in per_model["skeleton_only"]["per_class"]],
                   title="SynthHOI demo: per-class accuracy (cross-subject test)",
                   labels=("MMFF", "skeleton-only"))
    results.update(
        seconds=round(time.time() - t0, 1),
        seed=int(seed), config=cfg.name, samples_per_class=samples_per_class,
        size=list(size), synth_version=int(synth_version), num_classes=len(classes), split="xsub test",
        num_test_samples=per_model["mmff"]["num_samples"],
        val={k: val.get(k) for k in DEMO_MODELS}, test={k: results[k] for k in DEMO_MODELS},
        val_split=val_split, num_val_samples=num_val,
        top5={k: per_model[k]["top5"] for k in DEMO_MODELS},
        stage_seconds={k: round(v, 1) for k, v in timings.items()},
        checkpoint=str(out / "model.pt"), confusion=str(out / "confusion.png"),
    )
    write_json(out / "results.json", results)
    log(format_table(results))
    return results


#: dataset size of the demo (the config holds the model and training)
DEMO_DATA = {"samples_per_class": 24, "size": "320x240"}


def _classes() -> tuple:
    from mmff.data.synth import SYNTH_CLASSES
    return SYNTH_CLASSES


def _atomic_copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:5.1f}%"


def format_table(results: dict) -> str:
    """The demo's result table (top-1 on the validation and the cross-subject test split)."""
    val = results.get("val") or {}
    rows = [("model", "val top-1", "test top-1")] + [
        (label, _pct(val.get(k)), _pct(results[k])) for k, (_, label) in DEMO_MODELS.items()]
    w = max(len(r[0]) for r in rows)
    lines = [f"{a:<{w}}  {b:>9}  {c:>10}" for a, b, c in rows]
    lines.insert(1, "-" * (w + 23))
    version = results.get("synth_version", 1)
    lines.append(f"(SynthHOI{'' if version == 1 else f' v{version}'}, "
                 f"{results.get('num_classes', '?')} classes, "
                 f"{results.get('num_test_samples', '?')} test samples, seed "
                 f"{results.get('seed', '?')}, {results.get('seconds', 0):.0f} s)")
    return "\n".join(lines)


def summarize_seeds(rows: Sequence[dict]) -> dict:
    """Mean, sample std (ddof 1; 0 for one seed), min and max of each model's val and test
    top-1 over the per-seed ``results.json`` rows."""
    import numpy as np

    summary: dict = {}
    for split in ("val", "test"):
        summary[split] = {}
        for key in DEMO_MODELS:
            v = np.asarray([r[split][key] for r in rows if (r.get(split) or {}).get(key) is not None],
                           dtype=np.float64)
            summary[split][key] = None if v.size == 0 else {
                "mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
                "min": float(v.min()), "max": float(v.max())}
    return summary


def run_demo_seeds(out: str | Path, seeds: Sequence[int], log=print, **kwargs) -> dict:
    """:func:`run_demo` for each seed into ``out/seed<S>/`` (each resumes), then ``out/demo.json``:
    ``{"seeds", "rows": [{"seed", "val", "test", "seconds"}], "val"/"test": {model: {"mean",
    "std", "min", "max"}}, "synth_version"}``."""
    from mmff.engine.stages import write_json

    out = Path(out)
    rows = []
    for seed in seeds:
        log(f"[demo] seed {seed} -> {out / f'seed{seed}'}")
        r = run_demo(out / f"seed{seed}", seed=int(seed), log=log, **kwargs)
        rows.append({"seed": int(seed), "val": r["val"], "test": r["test"], "seconds": r["seconds"],
                     "val_split": r.get("val_split")})
    res = {"seeds": [int(s) for s in seeds], "rows": rows, **summarize_seeds(rows),
           "synth_version": int(kwargs.get("synth_version", 1))}
    write_json(out / "demo.json", res)
    log(format_seeds(res))
    return res


def format_seeds(res: dict) -> str:
    """Per-seed test top-1 rows, then mean ± std and the minimum (val in brackets)."""
    keys = list(DEMO_MODELS)
    lines = ["seed  " + "  ".join(f"{k:>18}" for k in keys)]
    for r in res["rows"]:
        lines.append(f"{r['seed']:>4}  " + "  ".join(
            f"{_pct(r['test'][k]):>8} (val {_pct(r['val'].get(k)).strip():>6})" for k in keys))
    for stat in ("mean", "std", "min"):
        cells = []
        for k in keys:
            t, v = res["test"][k], res["val"][k]
            cells.append(f"{_pct(t[stat]):>8} (val {(_pct(v[stat]).strip() if v else '-'):>6})")
        lines.append(f"{stat:>4}  " + "  ".join(cells))
    lines.append("(test top-1 on the cross-subject test split; val: held-out training subjects)")
    return "\n".join(lines)
