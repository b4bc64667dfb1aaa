"""Stage 2 of the paper's decision fusion (Table 6 "MMFF-Decision Fusion"): nothing is trained.

"Decision Fusion is the naive weighted sum decision fusion method" (Table 6): the two stage-1
networks, each "a fully connected (FC) layer and a softmax layer on the top" of its stream
(§3.5), are kept whole, and the fused score is

    p = w * softmax(skeleton network) + (1 - w) * softmax(RGB network).

Stage 2 builds the MMFF model with ``fusion.type: decision``, copies both streams *and* both
stage-1 classifiers into it (:func:`~mmff.engine.checkpoint.load_decision_heads`) and fixes w:
the config's number, or with ``model.fusion.decision_weight: val`` the best top-1 of the grid
w = i / ``decision_weight_steps`` on the validation split (held out of the training samples;
never the test split), ties broken towards w = 0.5. The chosen w is written into the saved
config, so ``model.pt`` is self-contained. There is nothing to fine-tune, so decision fusion has
no stage 3 (:func:`~mmff.engine.stages.stage_plan`); its final model is ``stage2/model.pt``.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from mmff.config import Config
from mmff.engine.checkpoint import (load_decision_heads, load_stream_weights, read_checkpoint,
                                    save_checkpoint)
from mmff.engine.lightning import MMFFDataModule, configure_threads, split_info

__all__ = ["stream_scores", "choose_decision_weight", "run_decision_stage"]


@torch.no_grad()
def stream_scores(model: nn.Module, loader, device: str | torch.device = "cpu") -> tuple:
    """``(p_s, p_r, labels)`` over ``loader``: the softmax scores of the skeleton and RGB
    classifiers of an MMFF decision-fusion ``model`` (each (N, classes)) and the labels (N,)."""
    model.eval().to(device)
    ps, pr, ys = [], [], []
    for batch in loader:
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
        feats = model.forward_features(batch)
        p_s, p_r = model.fusion.stream_scores(feats["skeleton"], feats["rgb"])
        ps.append(p_s.double().cpu())
        pr.append(p_r.double().cpu())
        ys.append(batch["label"].cpu())
    if not ys:
        raise ValueError("decision fusion: the validation split is empty, w cannot be chosen on it")
    return torch.cat(ps), torch.cat(pr), torch.cat(ys)


def choose_decision_weight(p_s: torch.Tensor, p_r: torch.Tensor, labels: torch.Tensor,
                           steps: int = 20) -> tuple[float, list]:
    """The w of {0, 1/steps, ..., 1} with the best top-1 of ``w * p_s + (1 - w) * p_r``; among
    equal accuracies the one nearest 0.5 (then the smaller). Returns ``(w, [[w, top1], ...])``."""
    grid = []
    for i in range(int(steps) + 1):
        w = i / steps
        top1 = ((w * p_s + (1 - w) * p_r).argmax(1) == labels).double().mean().item()
        grid.append([w, top1])
    best = max(grid, key=lambda g: (g[1], -abs(g[0] - 0.5), -g[0]))
    return best[0], grid


def _topk(p: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    k = min(k, p.shape[1])
    return (p.topk(k, dim=1).indices == labels[:, None]).any(1).double().mean().item()


def run_decision_stage(cfg: Config, sdir: Path, skeleton_src: Path, rgb_src: Path, *,
                       model_factory: Callable[[Config], nn.Module],
                       dataset_factory: Optional[Callable] = None,
                       accelerator: Optional[str] = None) -> dict:
    """Stage 2 for ``fusion.type: decision`` (module doc): load, choose or fix w, save
    ``model.pt`` and ``metrics.json`` (``"trained": false``, ``"decision_weight"``,
    ``"decision_weight_source"`` = ``"val"`` or ``"config"``, the grid when searched)."""
    from lightning.pytorch.utilities import rank_zero_only

    from mmff.engine.stages import write_json

    t0 = time.time()
    sdir = Path(sdir)
    for name in ("model.pt", "metrics.json"):
        (sdir / name).unlink(missing_ok=True)
    sdir.mkdir(parents=True, exist_ok=True)
    configure_threads(cfg)
    scfg = copy.deepcopy(cfg)
    build_cfg = copy.deepcopy(scfg)
    build_cfg.model.rgb.pretrained = None  # every stream weight comes from stage 1
    model = model_factory(build_cfg)
    for src in (skeleton_src, rgb_src):
        load_stream_weights(model, src)
    load_decision_heads(model, skeleton_src, rgb_src)
    classes = read_checkpoint(skeleton_src)["classes"]

    f = scfg.model.fusion
    result: dict = {"stage": 2, "part": "mmff", "kind": scfg.model.kind, "epochs": 0, "global_step": 0,
                    "trained": False, "resumed": False, "world_size": 1}
    val_top1 = val_top5 = None
    val_split, val_samples, grid = None, [], None
    if f.decision_weight == "val":
        if getattr(scfg.data, "val", "none") == "none":
            raise ValueError("model.fusion.decision_weight: 'val' chooses w on the validation split, "
                             "but data.val is none; set data.val or give a number in [0, 1]")
        dm = MMFFDataModule(scfg, dataset_factory, predict_subset="val")
        val_split, val_samples = split_info(dm.eval_dataset, "val")
        loader = dm.predict_dataloader()
        use_cuda = torch.cuda.is_available() and (accelerator or scfg.train.accelerator) in ("auto", "gpu", "cuda")
        p_s, p_r, y = stream_scores(model, loader, "cuda" if use_cuda else "cpu")
        model.cpu()
        w, grid = choose_decision_weight(p_s, p_r, y, f.decision_weight_steps)
        fused = w * p_s + (1 - w) * p_r
        val_top1, val_top5 = _topk(fused, y, 1), _topk(fused, y, 5)
        source = "val"
    else:
        w, source = float(f.decision_weight), "config"
    model.fusion.weight = float(w)
    scfg.model.fusion.decision_weight = float(w)  # model.pt carries the w it uses
    result.update({"seconds": round(time.time() - t0, 2), "decision_weight": float(w),
                   "decision_weight_source": source, "decision_weight_grid": grid,
                   "val_top1": val_top1, "val_top5": val_top5, "val_loss": None, "train_loss": None,
                   "metrics": {}, "val_split": val_split, "val_samples": val_samples})
    if getattr(rank_zero_only, "rank", 0) == 0:
        save_checkpoint(sdir / "model.pt", model, scfg, classes, stage=2, part="mmff",
                        metrics={k: v for k, v in result.items()
                                 if isinstance(v, (int, float)) and not isinstance(v, bool)})
        write_json(sdir / "metrics.json", {**result, "finished": True})
    return result
