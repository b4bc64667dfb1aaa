"""Shared pieces of the predict / export / visualize tests: tiny untrained checkpoints (the
shapes and plumbing are under test, not accuracy) with the NTU-60 class names."""
from __future__ import annotations

from pathlib import Path

import torch

from mmff.config import config_from_dict
from mmff.data.ntu import NTU60_CLASSES
from mmff.engine.checkpoint import save_checkpoint
from mmff.models import create_model


def tiny_predict_cfg(kind: str = "mmff", backbone: str = "stgcn", fusion: str = "cross_attention",
                     positions=(0.5,), image_size: int = 48, **rgb):
    """NTU layout (25 joints, 2 bodies), 60 classes, small enough for a fast CPU forward."""
    return config_from_dict({
        "name": f"tiny_{kind}_{backbone}",
        "model": {"kind": kind, "num_classes": 60,
                  "skeleton": {"backbone": backbone, "width": 0.125, "rnn_layers": 1, "rnn_hidden": 8},
                  "rgb": {"width": 0.05, "middle_blocks": 0, "lstm_feature_dim": 8, **rgb},
                  "fusion": {"type": fusion, "hidden": 16, "reduced_channels": 8, "sum_dim": 16,
                             "conv_channels": 16}},
        "data": {"dataset": "ntu60", "image_size": image_size, "clip_len": 32, "rnn_steps": 8,
                 "positions": list(positions), "num_workers": 0},
        "train": {"accelerator": "cpu"},
    })


def make_checkpoint(path: Path, seed: int = 0, **kw) -> Path:
    torch.manual_seed(seed)
    cfg = tiny_predict_cfg(**kw)
    model = create_model(cfg).eval()
    return save_checkpoint(path, model, cfg, NTU60_CLASSES, stage=3)


NAME = "S001C001P001R001A001"


def prepare_real_pair(ntu_dir: Path, root: Path) -> Path:
    """The real NTU pair prepared by `mmff prepare ntu` (1 sample) -> the prepared folder."""
    from mmff.cli import main

    raw = root / "raw"
    raw.mkdir(parents=True)
    for suffix in (".skeleton", "_rgb.avi"):
        (raw / f"{NAME}{suffix}").symlink_to(ntu_dir / f"{NAME}{suffix}")
    out = root / "prepared"
    assert main(["prepare", "ntu", "--raw", str(raw), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    return out
