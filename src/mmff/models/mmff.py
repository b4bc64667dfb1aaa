"""The three trainable models (SPEC §2, §3 stages): skeleton-only, RGB-only and MMFF.

Each has ``forward(batch) -> logits``, ``forward_features(batch)``, ``forward_head(feats)`` and
``stream_modules()``. The stream sub-modules are built by the same functions from the same config
keys in all three, so their state dicts match and stage 2 copies ``skeleton_stream.*`` /
``rgb_stream.*`` from the stage-1 checkpoints.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import Config, ConfigError
from .fusion import (CrossAttentionFusion, DecisionFusion, LSTMLateFusion, SumFusion,
                     skeleton_vector)
from .streams import RGBStream, build_skeleton_stream, rgb_vector

__all__ = ["SkeletonOnly", "RGBOnly", "MMFF", "build_fusion"]


class SkeletonOnly(nn.Module):
    """Stage 1 skeleton network: skeleton stream + FC classifier (Table 6/7 "Baseline")."""

    def __init__(self, skeleton_stream: nn.Module, num_classes: int):
        super().__init__()
        self.skeleton_stream = skeleton_stream
        self.head = nn.Linear(skeleton_stream.out_channels, num_classes)

    @classmethod
    def from_config(cls, cfg: Config) -> "SkeletonOnly":
        return cls(build_skeleton_stream(cfg), cfg.model.num_classes)

    def forward_features(self, batch: dict) -> torch.Tensor:
        """Skeleton vector (N, C_s): F_gcn averaged over time and joints, or the RNN feature."""
        return skeleton_vector(self.skeleton_stream(batch["skeleton"]))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(feats)

    def forward(self, batch: dict) -> torch.Tensor:
        return self.forward_head(self.forward_features(batch))

    def stream_modules(self) -> list[nn.Module]:
        return [self.skeleton_stream]


class RGBOnly(nn.Module):
    """Stage 1 RGB network: RGB stream (Xception + attention) + FC classifier on the average of
    F_rgb over its positions (Table 5 "Xception" rows with both attentions off)."""

    def __init__(self, rgb_stream: RGBStream, num_classes: int):
        super().__init__()
        self.rgb_stream = rgb_stream
        self.head = nn.Linear(rgb_stream.out_channels, num_classes)

    @classmethod
    def from_config(cls, cfg: Config) -> "RGBOnly":
        return cls(RGBStream.from_config(cfg), cfg.model.num_classes)

    def forward_features(self, batch: dict) -> torch.Tensor:
        return rgb_vector(self.rgb_stream(batch))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(feats)

    def forward(self, batch: dict) -> torch.Tensor:
        return self.forward_head(self.forward_features(batch))

    def stream_modules(self) -> list[nn.Module]:
        return [self.rgb_stream]


def build_fusion(cfg: Config, skeleton_stream: nn.Module, rgb_stream: RGBStream) -> nn.Module:
    """The late-fusion module named by ``cfg.model.fusion.type`` (see :mod:`.fusion` for which
    backbone each one fits); an impossible pairing raises :class:`ConfigError`."""
    f = cfg.model.fusion
    cs, cr, nc = skeleton_stream.out_channels, rgb_stream.out_channels, cfg.model.num_classes
    if f.type == "cross_attention":
        if getattr(skeleton_stream, "kind", "") != "map":
            raise ConfigError(
                f"model.fusion.type: cross_attention needs the spatial ST-GCN feature map F_gcn, "
                f"but model.skeleton.backbone {cfg.model.skeleton.backbone!r} gives a vector; "
                "use lstm_late, sum or decision")
        return CrossAttentionFusion(cs, cr, nc, f.reduced_channels, f.conv_channels, f.hidden,
                                    f.dropout)
    if f.type == "lstm_late":
        return LSTMLateFusion(cs, cr, rgb_stream.num_branches, nc, cfg.model.rgb.lstm_feature_dim,
                              f.hidden, f.dropout, f.lstm_rgb_pool)
    if f.type in ("decision", "decision_learned"):
        # "val": w is chosen on the validation split by stage 2 (mmff.engine.decision), which
        # writes it into the saved config; 0.5 until then
        w = 0.5 if f.decision_weight == "val" else float(f.decision_weight)
        return DecisionFusion(cs, cr, nc, w)
    if f.type == "sum":
        return SumFusion(cs, cr, nc, f.sum_dim, f.dropout)
    raise ConfigError(f"model.fusion.type: unknown fusion {f.type!r}")


class MMFF(nn.Module):
    """The full network (Fig. 2): skeleton stream, RGB stream with early fusion (skeleton
    attention), late fusion. ``forward_features`` -> {"skeleton": F_gcn or vector, "rgb": dict}."""

    def __init__(self, skeleton_stream: nn.Module, rgb_stream: RGBStream, fusion: nn.Module):
        super().__init__()
        self.skeleton_stream = skeleton_stream
        self.rgb_stream = rgb_stream
        self.fusion = fusion

    @classmethod
    def from_config(cls, cfg: Config) -> "MMFF":
        skel = build_skeleton_stream(cfg)
        rgb = RGBStream.from_config(cfg)
        return cls(skel, rgb, build_fusion(cfg, skel, rgb))

    def forward_features(self, batch: dict) -> dict:
        return {"skeleton": self.skeleton_stream(batch["skeleton"]), "rgb": self.rgb_stream(batch)}

    def forward_head(self, feats: dict) -> torch.Tensor:
        return self.fusion(feats["skeleton"], feats["rgb"])

    def forward(self, batch: dict) -> torch.Tensor:
        return self.forward_head(self.forward_features(batch))

    def stream_modules(self) -> list[nn.Module]:
        return [self.skeleton_stream, self.rgb_stream]
