"""The paper's three training stages (SPEC §3), resumable, one output folder each.

    OUT/stage1/skeleton/   skeleton network + its own classifier
    OUT/stage1/rgb/        RGB network + its own classifier
    OUT/stage2/            MMFF: classifiers dropped, both streams frozen, fusion trained
    OUT/stage3/            MMFF: everything fine-tuned from stage 2

Each stage folder holds Lightning's ``last.ckpt`` (written every
``train.checkpoint_every_n_steps`` steps and at the end), the exported ``model.pt``
(:func:`~mmff.engine.checkpoint.save_checkpoint`), ``metrics.json`` (written last: its
presence marks the stage finished; ``val_split`` / ``val_samples`` name the validation split
its ``val_*`` numbers come from: held out of the training samples by ``data.val``, never the
test split), CSV + TensorBoard logs under ``logs/`` and
``loss.png``. ``OUT/summary.json`` lists the stages and the final model.

A ``skeleton_only`` or ``rgb_only`` config has a single stage (stage 1 of its stream).
"""
from __future__ import annotations

import copy
import hashlib
import json
import pickle
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import lightning as L
import torch
from torch import nn

from mmff.atomic import atomic_write_text
from mmff.config import Config, config_to_dict
from mmff.engine.checkpoint import load_stream_weights, read_checkpoint, refused, save_checkpoint
from mmff.engine.lightning import (DatasetFactory, MMFFDataModule, MMFFModule, StepCheckpoint,
                                   configure_threads, has_validation)

__all__ = ["run_stages", "stage_plan", "stage_config", "write_json", "read_json", "final_model_path",
           "build_trainer", "stage1_key", "StageError", "quiet_lightning"]

ModelFactory = Callable[[Config], nn.Module]


class StageError(ValueError):
    """A stage cannot run (e.g. stage 2 without the stage-1 outputs)."""


# --------------------------------------------------------------------------- small helpers
def write_json(path: str | Path, obj: Any) -> Path:
    """Atomic JSON write (temp file in the same folder + os.replace)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Optional[dict]:
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def _default_model_factory(cfg: Config) -> nn.Module:
    from mmff.models import create_model
    return create_model(cfg)


def stage_config(cfg: Config, part: str) -> Config:
    """The config a stage part trains: ``skeleton``/``rgb`` -> the single-stream model."""
    c = copy.deepcopy(cfg)
    if part == "skeleton":
        c.model.kind = "skeleton_only"
    elif part == "rgb":
        c.model.kind = "rgb_only"
    return c


def stage_plan(cfg: Config, stages: Iterable[int] = (1, 2, 3)) -> list[tuple[int, str, str]]:
    """``[(stage, part, relative folder)]`` to run, in order, for this config."""
    stages = sorted(set(int(s) for s in stages))
    bad = [s for s in stages if s not in (1, 2, 3)]
    if bad:
        raise StageError(f"stages are 1, 2, 3; got {bad}")
    kind = cfg.model.kind
    if kind == "skeleton_only":
        return [(1, "skeleton", "stage1/skeleton")] if 1 in stages else []
    if kind == "rgb_only":
        return [(1, "rgb", "stage1/rgb")] if 1 in stages else []
    plan = []
    if 1 in stages:
        plan += [(1, "skeleton", "stage1/skeleton"), (1, "rgb", "stage1/rgb")]
    if 2 in stages:
        plan.append((2, "mmff", "stage2"))
    if 3 in stages and cfg.model.fusion.type != "decision":
        # the paper's decision fusion trains nothing: no stage 3 (mmff.engine.decision)
        plan.append((3, "mmff", "stage3"))
    return plan


def final_model_path(out: str | Path) -> Path:
    """The last finished stage's ``model.pt`` of a training folder (from summary.json)."""
    out = Path(out)
    summary = read_json(out / "summary.json")
    if summary and summary.get("final_model"):
        return out / summary["final_model"]
    for rel in ("stage3", "stage2", "stage1/skeleton", "stage1/rgb"):
        if (out / rel / "metrics.json").is_file() and (out / rel / "model.pt").is_file():
            return out / rel / "model.pt"
    raise StageError(f"{out}: no finished stage (no */model.pt with metrics.json)")


def stage1_key(cfg: Config, part: str) -> str:
    """Hash of everything a stage-1 stream run depends on (to share it between table rows)."""
    d = config_to_dict(stage_config(cfg, part))
    d["model"].pop("fusion", None)
    d.pop("name", None)
    d.pop("description", None)
    if part == "skeleton":
        from mmff.data.pipeline import RGB_DATA_KEYS
        d["model"].pop("rgb", None)
        for k in RGB_DATA_KEYS:  # the skeleton-only pipeline does not read them
            d["data"].pop(k, None)
    elif part == "rgb":
        d["model"].pop("skeleton", None)
    d["train"]["epochs"] = {1: d["train"]["epochs"].get(1)}
    d["train"]["stage_lr"] = {1: d["train"]["stage_lr"].get(1)}
    blob = json.dumps(d, sort_keys=True, default=str).encode()
    return f"{part}-{hashlib.sha1(blob).hexdigest()[:12]}"


# --------------------------------------------------------------------------- trainer
def quiet_lightning() -> None:
    """Drop Lightning's chatter that says nothing about this run (tips, expected states)."""
    import logging
    import warnings
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for msg in (r".*exists and is not empty.*", r".*module\(s\) in eval mode.*",  # stage 2 freezes streams
                r".*isinstance\(treespec, LeafSpec\).*", r".*does not have many workers.*",
                r".*Previous log files in this directory will be deleted.*",
                r".*smaller than the logging interval.*"):
        warnings.filterwarnings("ignore", message=msg)


def build_trainer(cfg: Config, out: Path, max_epochs: int, devices: int | str = 1, num_nodes: int = 1,
                  callbacks: Sequence[L.Callback] = (), progress: bool = True,
                  accelerator: Optional[str] = None) -> L.Trainer:
    """A Lightning Trainer writing ``last.ckpt`` + CSV/TensorBoard logs into ``out``."""
    from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from mmff.engine.syncbn import CPUSyncBatchNormPlugin, uses_cpu

    quiet_lightning()
    t = cfg.train
    n_dev = devices if isinstance(devices, int) else 1
    on_cpu = uses_cpu(accelerator or t.accelerator)
    strategy = t.strategy
    if strategy == "auto" and (n_dev > 1 or num_nodes > 1):
        strategy = "ddp"
    cbs: list[L.Callback] = [
        # every N steps, so an interrupted epoch can be resumed mid-way
        # (a step that ends an epoch is written after the epoch's validation: StepCheckpoint)
        StepCheckpoint(out / "last.ckpt", t.checkpoint_every_n_steps),
        LearningRateMonitor(logging_interval="epoch"),
    ]
    validate = has_validation(cfg)
    if t.early_stop_patience and validate:
        # the validation split only (held out of the training samples; never the test split)
        cbs.append(EarlyStopping(monitor="val/top1", mode="max", patience=t.early_stop_patience))
    cbs += list(callbacks)
    # one log version per (re)start: a resumed run must not overwrite the logs of the first try
    n = sum(1 for _ in (out / "logs").glob("csv*")) if (out / "logs").is_dir() else 0
    suffix = f"-{n}" if n else ""
    loggers = [CSVLogger(out, name="logs", version=f"csv{suffix}"),
               TensorBoardLogger(out, name="logs", version=f"tb{suffix}")]
    return L.Trainer(
        accelerator=accelerator or t.accelerator, devices=devices, num_nodes=num_nodes, strategy=strategy,
        precision=t.precision, max_epochs=max_epochs, gradient_clip_val=t.gradient_clip,
        # train.sync_batchnorm: global-batch BN statistics under DDP (GPU and CPU/gloo)
        sync_batchnorm=t.sync_batchnorm and not on_cpu,
        plugins=[CPUSyncBatchNormPlugin()] if t.sync_batchnorm and on_cpu else None,
        deterministic=t.deterministic, limit_train_batches=t.limit_train_batches,
        log_every_n_steps=t.log_every_n_steps, num_sanity_val_steps=0, use_distributed_sampler=False,
        check_val_every_n_epoch=max(1, t.val_every_n_epochs), limit_val_batches=1.0 if validate else 0,
        default_root_dir=out, callbacks=cbs, logger=loggers, enable_progress_bar=progress,
        enable_model_summary=False,
    )


# --------------------------------------------------------------------------- one stage
def _run_one(cfg: Config, stage: int, part: str, sdir: Path, *, init: Callable[[nn.Module], None],
             resume: bool, devices, num_nodes: int, model_factory: ModelFactory,
             dataset_factory: Optional[DatasetFactory], progress: bool,
             callbacks: Sequence[L.Callback], accelerator: Optional[str]) -> dict:
    scfg = stage_config(cfg, part)
    epochs = int(cfg.train.epochs.get(stage, 0))
    if epochs <= 0:
        raise StageError(f"train.epochs[{stage}] is {epochs}: nothing to train")
    ckpt = sdir / "last.ckpt"
    if not resume:
        # a fresh run: old outputs of this stage must not be mistaken for ours
        for name in ("last.ckpt", "model.pt", "metrics.json"):
            (sdir / name).unlink(missing_ok=True)
        shutil.rmtree(sdir / "logs", ignore_errors=True)
    sdir.mkdir(parents=True, exist_ok=True)
    configure_threads(cfg)
    L.seed_everything(int(cfg.train.seed) + 100 * stage, workers=True, verbose=False)
    # stages 2-3 take every stream weight from the stage before: no pretrained weights to read
    model = model_factory(scfg if stage == 1 else _without_pretrained(scfg))
    init(model)
    dm = MMFFDataModule(scfg, dataset_factory)
    classes = dm.classes
    val_split, val_samples = dm.val_info
    module = MMFFModule(model, scfg, stage=stage, num_classes=scfg.model.num_classes)
    trainer = build_trainer(scfg, sdir, epochs, devices, num_nodes, callbacks, progress, accelerator)
    t0 = time.time()
    resumed = resume and ckpt.is_file()
    try:  # a resume unpickles last.ckpt: plain tensors / containers only (weights_only)
        trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt) if resumed else None, weights_only=True)
    except pickle.UnpicklingError as e:
        if not resumed:
            raise
        raise refused(ckpt, e) from None
    trainer.save_checkpoint(ckpt, weights_only=False)  # the end state (resume -> nothing left)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if torch.is_tensor(v) and v.numel() == 1}
    result = {
        "stage": stage, "part": part, "kind": scfg.model.kind, "epochs": int(trainer.current_epoch),
        "global_step": int(trainer.global_step), "seconds": round(time.time() - t0, 2),
        "resumed": bool(resumed), "world_size": int(trainer.world_size),
        "val_top1": metrics.get("val/top1"), "val_top5": metrics.get("val/top5"),
        "val_loss": metrics.get("val/loss"), "train_loss": metrics.get("train/loss_epoch"),
        "metrics": metrics,
        # what the val_* numbers were measured on: held out of the training samples (data.val),
        # never the test split, which only `mmff eval` / the demo / `mmff table` read at the end
        "val_split": val_split, "val_samples": val_samples,
    }
    if trainer.is_global_zero:
        save_checkpoint(sdir / "model.pt", model, scfg, classes, stage=stage, part=part,
                        metrics={k: v for k, v in result.items() if isinstance(v, (int, float))})
        try:
            from mmff.engine.figures import plot_loss_curves
            plot_loss_curves([sdir / "logs"], sdir / "loss.png", title=f"stage {stage} ({part})")
        except (ValueError, FileNotFoundError):
            pass  # no logged steps (e.g. limit_train_batches=0): nothing to draw
        write_json(sdir / "metrics.json", {**result, "finished": True})
    if trainer.world_size > 1:
        trainer.strategy.barrier("mmff-stage-end")
    return result


def run_stages(cfg: Config, out: str | Path, stages: Iterable[int] = (1, 2, 3), resume: bool = False,
               devices: int | str = 1, num_nodes: Optional[int] = None, seed: Optional[int] = None,
               model_factory: Optional[ModelFactory] = None, dataset_factory: Optional[DatasetFactory] = None,
               progress: bool = True, stage1_dir: Optional[str | Path] = None,
               callbacks: Sequence[L.Callback] = (), accelerator: Optional[str] = None) -> dict:
    """Train the stages of SPEC §3 into ``out``; returns the summary (also ``out/summary.json``).

    ``resume`` skips finished stages and continues an interrupted one from its
    ``last.ckpt``. ``stage1_dir`` puts the stage-1 runs in a shared folder keyed by
    :func:`stage1_key` (table rows with the same streams train them once).
    ``devices``/``num_nodes`` > 1 train with DDP (gloo on CPU, NCCL on GPU).
    """
    out = Path(out)
    cfg = copy.deepcopy(cfg)
    if seed is not None:
        cfg.train.seed = int(seed)
    nodes = int(num_nodes if num_nodes is not None else cfg.train.num_nodes)
    model_factory = model_factory or _default_model_factory
    plan = stage_plan(cfg, stages)
    if not plan:
        if cfg.model.kind == "mmff":  # asked for stage 3 of the decision fusion
            raise StageError("model.fusion.type=decision has no stage 3 (nothing to fine-tune: "
                             "stage 2 keeps the stage-1 classifiers and fixes w); run stages 1-2")
        raise StageError(f"model.kind={cfg.model.kind} has only stage 1; asked for stages {sorted(stages)}")
    summary = read_json(out / "summary.json") if resume else None
    summary = summary or {"config": config_to_dict(cfg), "stages": {}}
    common = dict(resume=resume, devices=devices, num_nodes=nodes, model_factory=model_factory,
                  dataset_factory=dataset_factory, progress=progress, callbacks=callbacks,
                  accelerator=accelerator)

    def sdir_of(stage: int, part: str, rel: str) -> Path:
        if stage == 1 and stage1_dir is not None:
            return Path(stage1_dir) / stage1_key(cfg, part)
        return out / rel

    def need(rel_stage: int, part: str, rel: str) -> Path:
        p = sdir_of(rel_stage, part, rel) / "model.pt"
        if not (p.parent / "metrics.json").is_file() or not p.is_file():
            raise StageError(f"{p}: missing; run stage {rel_stage} first (mmff train --stage {rel_stage})")
        return p

    for stage, part, rel in plan:
        sdir = sdir_of(stage, part, rel)
        done = read_json(sdir / "metrics.json")
        if (resume or (stage == 1 and stage1_dir is not None)) and done and done.get("finished") \
                and (sdir / "model.pt").is_file():
            summary["stages"][rel] = {**done, "dir": str(sdir), "skipped": True}
            continue
        if stage == 1:
            if part == "rgb":
                warn_rgb_from_scratch(cfg)

            def init(model):
                return None
        elif stage == 2 and cfg.model.fusion.type == "decision":
            from mmff.engine.decision import run_decision_stage
            res = run_decision_stage(cfg, sdir, need(1, "skeleton", "stage1/skeleton"),
                                     need(1, "rgb", "stage1/rgb"), model_factory=model_factory,
                                     dataset_factory=dataset_factory, accelerator=accelerator)
            summary["stages"][rel] = {**res, "dir": str(sdir)}
            if _is_rank_zero():
                write_json(out / "summary.json", summary)
            continue
        elif stage == 2:
            srcs = [need(1, "skeleton", "stage1/skeleton"), need(1, "rgb", "stage1/rgb")]

            def init(model, srcs=srcs):
                # classifiers dropped: only the stream weights are copied (SPEC §3)
                for src in srcs:
                    load_stream_weights(model, src)
        else:
            src = need(2, "mmff", "stage2")

            def init(model, src=src):
                model.load_state_dict(read_checkpoint(src)["state_dict"])
        res = _run_one(cfg, stage, part, sdir, init=init, **common)
        summary["stages"][rel] = {**res, "dir": str(sdir)}
        if _is_rank_zero():
            write_json(out / "summary.json", summary)  # progress survives a later crash
    final = sdir_of(*plan[-1]) / "model.pt"
    try:
        summary["final_model"] = str(final.relative_to(out))
    except ValueError:
        summary["final_model"] = str(final.resolve())
    if _is_rank_zero():
        write_json(out / "summary.json", summary)
    return summary


def _without_pretrained(cfg: Config) -> Config:
    if not cfg.model.rgb.pretrained:
        return cfg
    c = copy.deepcopy(cfg)
    c.model.rgb.pretrained = None
    return c


#: datasets of real recordings: an RGB stream trained on them from scratch is a long way from the paper
REAL_DATASETS = ("ntu60", "ntu120", "sysu")


def warn_rgb_from_scratch(cfg: Config) -> bool:
    """One warning when an RGB stream is about to be trained from scratch on a real-data config
    (``data.dataset`` ntu60/ntu120/sysu and ``model.rgb.pretrained: null``): the paper starts
    Xception from ImageNet (``model.rgb.pretrained: imagenet``). Returns whether it warned."""
    import warnings
    if cfg.data.dataset not in REAL_DATASETS or cfg.model.rgb.pretrained:
        return False
    warnings.warn(f"training the RGB stream from scratch on {cfg.data.dataset} "
                  "(model.rgb.pretrained is null): the paper starts Xception from ImageNet weights; "
                  "set model.rgb.pretrained to 'imagenet' (needs timm or huggingface_hub, online) "
                  "or to a local legacy_xception checkpoint file", UserWarning, stacklevel=3)
    return True


def _is_rank_zero() -> bool:
    from lightning.pytorch.utilities import rank_zero_only
    return getattr(rank_zero_only, "rank", 0) == 0
