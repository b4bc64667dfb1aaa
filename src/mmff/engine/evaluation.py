"""Evaluation: top-1/top-5, per-class accuracy, confusion matrix, figures (paper Fig. 8, 9).

``evaluate(...)`` runs Lightning's predict loop (progress bar, device, precision) over
``build_dataset(cfg, split, train=False)`` - the loader is the :class:`MMFFDataModule`'s
``predict_dataloader``, as for training - and writes ``results.json``, ``scores.npz``
(per-sample logits for ``mmff ensemble``), ``confusion.png`` and ``per_class.png`` when given
an output folder.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Optional, Sequence

import lightning as L
import numpy as np
import torch
from torch import nn

from mmff.config import Config
from mmff.engine.checkpoint import CheckpointError, load_checkpoint, safe_torch_load
from mmff.engine.ensemble import SCORES_FILE, save_scores
from mmff.engine.lightning import (DatasetFactory, MMFFDataModule, MMFFModule, configure_threads, split_info,
                                   strip_module_prefix)
from mmff.engine.stages import final_model_path, quiet_lightning, write_json

__all__ = ["compute_metrics", "predict", "evaluate", "load_for_eval", "mean_std", "summarize_folds",
           "sample_names", "factor_accuracy"]


def compute_metrics(logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]) -> dict:
    """top1, top5, per-class accuracy and the confusion matrix (rows: true, cols: predicted)."""
    k = len(classes)
    logits = torch.as_tensor(logits, dtype=torch.float32)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    n = int(labels.numel())
    if n == 0:
        raise ValueError("evaluation: the split has no samples")
    pred = logits.argmax(1)
    topk = logits.topk(min(5, logits.shape[1]), dim=1).indices
    cm = torch.bincount(labels * k + pred, minlength=k * k).reshape(k, k)
    support = cm.sum(1)
    per_class = torch.where(support > 0, cm.diagonal() / support.clamp(min=1), torch.full((k,), float("nan")))
    return {
        "top1": float((pred == labels).float().mean()),
        "top5": float((topk == labels[:, None]).any(1).float().mean()),
        "per_class": [None if math.isnan(v) else float(v) for v in per_class.tolist()],
        "support": support.tolist(),
        "confusion": cm.tolist(),
        "num_samples": n,
        "classes": list(classes),
    }


def factor_accuracy(confusion: Sequence[Sequence[int]], factors: dict[str, np.ndarray]) -> dict:
    """Per factor (e.g. SynthHOI's object / motion, ``data.synth.class_factors``): the share of
    samples whose predicted class has the true class's factor value, from a confusion matrix
    (rows: true, cols: predicted). Top-1 is the share where every factor is right."""
    cm = np.asarray(confusion, dtype=np.float64)
    n = cm.sum()
    if n == 0:
        raise ValueError("factor_accuracy: the confusion matrix is empty")
    out = {}
    for name, f in factors.items():
        f = np.asarray(f)
        out[name] = float(cm[f[:, None] == f[None, :]].sum() / n)
    return out


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and (population, ddof=0 for one value) sample standard deviation."""
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if a.size == 0:
        return float("nan"), float("nan")
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def load_for_eval(checkpoint: str | Path, cfg: Optional[Config] = None, model_factory=None):
    """``(model, cfg, classes)`` from an mmff ``model.pt``, a training folder, or a Lightning
    ``last.ckpt`` (the latter needs ``cfg``: it does not carry the mmff config)."""
    p = Path(checkpoint)
    if p.is_dir():
        p = final_model_path(p)
    raw = safe_torch_load(p)
    if isinstance(raw, dict) and raw.get("format") == "mmff/1":
        model, ckcfg, classes, _ = load_checkpoint(p, model_factory=model_factory)
        if cfg is not None:  # data settings from the given config, the model from the checkpoint
            ckcfg = copy.deepcopy(ckcfg)
            ckcfg.data = copy.deepcopy(cfg.data)
        return model, ckcfg, classes
    if isinstance(raw, dict) and "state_dict" in raw and "pytorch-lightning_version" in raw:
        if cfg is None:
            raise CheckpointError(f"{p}: a Lightning checkpoint carries no mmff config; pass --config")
        if model_factory is None:
            from mmff.models import create_model

            def model_factory(c):
                return create_model(c, pretrained=False)  # weights: the checkpoint's
        model = model_factory(cfg)
        try:
            model.load_state_dict(strip_module_prefix(raw["state_dict"]))
        except RuntimeError as e:
            raise CheckpointError(f"{p}: weights do not fit the config: {str(e).splitlines()[0]}") from None
        return model.eval(), cfg, None
    raise CheckpointError(f"{p}: neither an mmff model.pt nor a Lightning checkpoint")


def predict(model: nn.Module, cfg: Config, dataset, progress: bool = True,
            accelerator: Optional[str] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels over ``dataset`` in index order (Lightning predict loop).

    ``dataset``: a built split, or an :class:`MMFFDataModule` whose ``predict_subset`` is read."""
    quiet_lightning()
    configure_threads(cfg)
    module = MMFFModule(model, cfg, stage=3, num_classes=cfg.model.num_classes)
    dm = dataset if isinstance(dataset, MMFFDataModule) else MMFFDataModule.for_dataset(cfg, dataset)
    trainer = L.Trainer(accelerator=accelerator or cfg.train.accelerator, devices=1, precision=cfg.train.precision,
                        logger=False, enable_progress_bar=progress, enable_model_summary=False,
                        enable_checkpointing=False, use_distributed_sampler=False)
    outs = trainer.predict(module, datamodule=dm)
    logits = torch.cat([o["logits"] for o in outs])
    labels = torch.cat([o["label"] for o in outs])
    return logits, labels


def sample_names(dataset, n: int) -> list[str]:
    """The names of a split's ``n`` samples in index order: the prepared folder's entry names
    (:class:`~mmff.data.datasets.PreparedDataset`), else ``"0"``, ``"1"``, ..."""
    entries = getattr(dataset, "entries", None)
    if entries is not None and len(entries) == n:
        return [str(e["name"]) for e in entries]
    return [str(i) for i in range(n)]


def evaluate(checkpoint: str | Path, cfg: Optional[Config] = None, split: str = "test",
             out: Optional[str | Path] = None, progress: bool = True,
             dataset_factory: Optional[DatasetFactory] = None, model_factory=None,
             accelerator: Optional[str] = None, title: Optional[str] = None) -> dict:
    """Evaluate a checkpoint on ``split`` ("test", "val": the validation split held out of the
    training samples by ``data.val``, "train": the training samples minus "val", or "all");
    with ``out`` write results.json, the per-sample scores (``scores.npz``: names, labels,
    logits; the input of ``mmff ensemble``) + the two PNGs. ``results.json`` names the split
    it read (``split_description``)."""
    model, cfg, classes = load_for_eval(checkpoint, cfg, model_factory)
    dm = MMFFDataModule(cfg, dataset_factory, predict_subset=split)
    dataset = dm.eval_dataset
    ds_classes = list(getattr(dataset, "classes", None) or [])
    classes = classes or ds_classes or [str(i) for i in range(cfg.model.num_classes)]
    if ds_classes and ds_classes != classes:
        raise ValueError(f"{checkpoint}: the checkpoint's classes differ from the dataset's "
                         f"({len(classes)} vs {len(ds_classes)} classes, first {classes[:2]} vs {ds_classes[:2]})")
    logits, labels = predict(model, cfg, dm, progress, accelerator)
    res = compute_metrics(logits, labels, classes)
    res.update(checkpoint=str(checkpoint), split=split, dataset=cfg.data.dataset, benchmark=cfg.data.split,
               fold=cfg.data.fold, model_kind=cfg.model.kind,
               split_description=split_info(dataset, split)[0])
    if out is not None:
        out = Path(out)
        write_json(out / "results.json", res)
        save_scores(out / SCORES_FILE, sample_names(dataset, len(labels)), labels.numpy(),
                    logits.numpy(), classes)
        from mmff.engine.figures import plot_confusion, plot_per_class
        name = title or f"{cfg.name} ({cfg.data.dataset} {cfg.data.split}, {split})"
        plot_confusion(res["confusion"], classes, out / "confusion.png",
                       title=f"{name}: top-1 {100 * res['top1']:.1f}%")
        plot_per_class([0.0 if v is None else v for v in res["per_class"]], classes, out / "per_class.png",
                       title=f"{name}: per-class accuracy")
    return res


def summarize_folds(results: Sequence[dict]) -> dict:
    """Mean ± std of top1/top5 over folds (SYSU: 30 splits, SPEC §1.2) + summed confusion."""
    out: dict[str, Any] = {"num_folds": len(results), "folds": [
        {"fold": r.get("fold"), "top1": r["top1"], "top5": r["top5"], "num_samples": r["num_samples"]}
        for r in results]}
    for key in ("top1", "top5"):
        m, s = mean_std([r[key] for r in results])
        out[key] = {"mean": m, "std": s}
    if results:
        # paper Fig. 8 sums the confusion matrices over all folds
        out["confusion"] = np.sum([np.asarray(r["confusion"]) for r in results], axis=0).tolist()
        out["classes"] = results[0]["classes"]
    return out
