"""The three trainable models (SPEC §2, §3 stages): skeleton-only, RGB-only and MMFF.

All three share one timm-like interface (:class:`StreamModel`):

* ``forward_features(batch) -> dict``: ``{"skeleton": ...}`` (F_gcn map or C_s vector) and/or
  ``{"rgb": ...}`` (the RGB stream's dict: F_in, the branch maps, F_rgb and the attention maps
  M_1, M_2 (Eq. 11) and M_ske (Eq. 13-14));
* ``forward_head(feats) -> logits``; ``forward(batch) = forward_head(forward_features(batch))``;
* ``forward_with_maps(batch) -> (logits, maps)``: the logits and the attention maps of that same
  forward (Fig. 10-11); nothing of a forward is kept on the modules;
* ``get_classifier()`` / ``reset_classifier(num_classes)``: the last linear layer(s);
* ``streams()`` (``{"skeleton_stream": ..., "rgb_stream": ...}``, the ones the model has),
  ``stream_modules()`` and ``load_streams(state_dicts)``. The stream sub-modules are built by the
  same functions from the same config keys in all three, so stage 2 loads the stage-1 streams
  into the MMFF model's streams (the stage-1 classifiers are dropped).
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import GRAPH_BACKBONES, Config, ConfigError
from .fusion import (CrossAttentionFusion, DecisionFusion, LSTMLateFusion, SumFusion,
                     skeleton_vector)
from .streams import RGBStream, build_skeleton_stream, rgb_vector

__all__ = ["StreamModel", "SkeletonOnly", "RGBOnly", "MMFF", "build_fusion", "attention_maps"]


def attention_maps(feats: dict) -> dict:
    """The attention maps in a ``forward_features`` dict: ``{"M_1", "M_2"}`` (self-attention,
    Eq. 11) and ``"M_ske"`` (skeleton attention, Eq. 13-14), each (N, K, 1, H, W), detached;
    empty without an RGB stream or with both attentions off."""
    rgb = feats.get("rgb") or {}
    return {k: v.detach() for k, v in rgb.items() if k.startswith("M_")}


class StreamModel(nn.Module):
    """The interface shared by :class:`SkeletonOnly`, :class:`RGBOnly` and :class:`MMFF`.

    Subclasses set ``classifier_names`` (attribute paths of the last linear layers) and
    implement ``forward_features`` / ``forward_head``."""

    #: attribute paths (dotted) of the classifier layers, replaced by :meth:`reset_classifier`
    classifier_names: tuple[str, ...] = ("head",)
    #: the stream sub-modules a model of this class may have (state-dict prefixes too)
    stream_names: tuple[str, ...] = ("skeleton_stream", "rgb_stream")

    def forward_features(self, batch: dict) -> dict:
        raise NotImplementedError

    def forward_head(self, feats: dict) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, batch: dict) -> torch.Tensor:
        return self.forward_head(self.forward_features(batch))

    def forward_with_maps(self, batch: dict) -> tuple[torch.Tensor, dict]:
        """``(logits, maps)``: the logits and the attention maps (:func:`attention_maps`) of
        one forward."""
        feats = self.forward_features(batch)
        return self.forward_head(feats), attention_maps(feats)

    def streams(self) -> dict[str, nn.Module]:
        """``{name: stream module}`` for the streams this model has."""
        return {n: getattr(self, n) for n in self.stream_names if hasattr(self, n)}

    def stream_modules(self) -> list[nn.Module]:
        return list(self.streams().values())

    def load_streams(self, state_dicts: dict[str, dict], strict: bool = True) -> list[str]:
        """Load ``{"skeleton_stream": state_dict, ...}`` into the named streams (SPEC §3 stage 2:
        the stage-1 streams, their classifiers dropped); returns the names loaded."""
        own = self.streams()
        unknown = sorted(set(state_dicts) - set(own))
        if unknown:
            raise KeyError(f"{type(self).__name__} has no stream(s) {unknown} (has {sorted(own)})")
        for name, sd in state_dicts.items():
            own[name].load_state_dict(sd, strict=strict)
        return list(state_dicts)

    def get_classifier(self) -> nn.Module:
        """The classifier: one linear layer, or an ``nn.ModuleDict`` of them (decision fusion)."""
        mods = {n: self.get_submodule(n) for n in self.classifier_names}
        return next(iter(mods.values())) if len(mods) == 1 else nn.ModuleDict(
            {n.replace(".", "_"): m for n, m in mods.items()})

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier layer(s) by fresh ``nn.Linear(in_features, num_classes)``."""
        for name in self.classifier_names:
            parent, _, attr = name.rpartition(".")
            owner = self.get_submodule(parent) if parent else self
            old = getattr(owner, attr)
            setattr(owner, attr, nn.Linear(old.in_features, int(num_classes), bias=old.bias is not None))


class SkeletonOnly(StreamModel):
    """Stage 1 skeleton network: skeleton stream + FC classifier (Table 6/7 "Baseline")."""

    def __init__(self, skeleton_stream: nn.Module, num_classes: int):
        super().__init__()
        self.skeleton_stream = skeleton_stream
        self.head = nn.Linear(skeleton_stream.out_channels, num_classes)

    @classmethod
    def from_config(cls, cfg: Config) -> "SkeletonOnly":
        return cls(build_skeleton_stream(cfg), cfg.model.num_classes)

    def forward_features(self, batch: dict) -> dict:
        """``{"skeleton": (N, C_s)}``: F_gcn averaged over time and joints, or the RNN feature."""
        return {"skeleton": skeleton_vector(self.skeleton_stream(batch["skeleton"]))}

    def forward_head(self, feats: dict) -> torch.Tensor:
        return self.head(feats["skeleton"])


class RGBOnly(StreamModel):
    """Stage 1 RGB network: RGB stream (Xception + attention) + FC classifier on the average of
    F_rgb over its positions (Table 5 "Xception" rows with both attentions off)."""

    def __init__(self, rgb_stream: RGBStream, num_classes: int):
        super().__init__()
        self.rgb_stream = rgb_stream
        self.head = nn.Linear(rgb_stream.out_channels, num_classes)

    @classmethod
    def from_config(cls, cfg: Config) -> "RGBOnly":
        return cls(RGBStream.from_config(cfg), cfg.model.num_classes)

    def forward_features(self, batch: dict) -> dict:
        """``{"rgb": the RGB stream's dict}`` (F_rgb and the attention maps, :class:`RGBStream`)."""
        return {"rgb": self.rgb_stream(batch)}

    def forward_head(self, feats: dict) -> torch.Tensor:
        return self.head(rgb_vector(feats["rgb"]))


def build_fusion(cfg: Config, skeleton_stream: nn.Module, rgb_stream: RGBStream) -> nn.Module:
    """The late-fusion module named by ``cfg.model.fusion.type`` (see :mod:`.fusion` for which
    backbone each one fits); an impossible pairing raises :class:`ConfigError`."""
    f = cfg.model.fusion
    cs, cr, nc = skeleton_stream.out_channels, rgb_stream.out_channels, cfg.model.num_classes
    if f.type == "cross_attention":
        if getattr(skeleton_stream, "kind", "") != "map":
            raise ConfigError(
                f"model.fusion.type: cross_attention needs a graph backbone's feature map F_gcn "
                f"({', '.join(GRAPH_BACKBONES)}), "
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


class MMFF(StreamModel):
    """The full network (Fig. 2): skeleton stream, RGB stream with early fusion (skeleton
    attention), late fusion. ``forward_features`` -> {"skeleton": F_gcn or vector, "rgb": dict}.
    The classifier is the late fusion's last layer(s) (``fusion.classifier_names``)."""

    def __init__(self, skeleton_stream: nn.Module, rgb_stream: RGBStream, fusion: nn.Module):
        super().__init__()
        self.skeleton_stream = skeleton_stream
        self.rgb_stream = rgb_stream
        self.fusion = fusion
        self.classifier_names = tuple(f"fusion.{n}" for n in fusion.classifier_names)

    @classmethod
    def from_config(cls, cfg: Config) -> "MMFF":
        skel = build_skeleton_stream(cfg)
        rgb = RGBStream.from_config(cfg)
        return cls(skel, rgb, build_fusion(cfg, skel, rgb))

    def forward_features(self, batch: dict) -> dict:
        return {"skeleton": self.skeleton_stream(batch["skeleton"]), "rgb": self.rgb_stream(batch)}

    def forward_head(self, feats: dict) -> torch.Tensor:
        return self.fusion(feats["skeleton"], feats["rgb"])

