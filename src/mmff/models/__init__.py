"""Models (SPEC §2): graph layouts, ST-GCN (and ST-GCN++, CTR-GCN), stacked RNNs, Xception,
attention, fusion, and the skeleton-only / RGB-only / MMFF networks, assembled from a
:class:`~mmff.config.Config`.

``create_model(cfg)`` picks the class registered under ``cfg.model.kind``.
"""
from __future__ import annotations

import copy
from typing import Callable

from torch import nn

from ..config import Config, ConfigError
from .attention import SelfAttention, select_attention_joint, skeleton_attention_mask
from .fusion import CrossAttentionFusion, DecisionFusion, LSTMLateFusion, SumFusion, skeleton_vector
from .graph import LAYOUTS, Graph, num_joints
from .mmff import MMFF, RGBOnly, SkeletonOnly, StreamModel, attention_maps, build_fusion
from .rnn import StackedRNN
from .ctrgcn import CTRGCN
from .stgcn import STGCN, GraphBackbone
from .stgcnpp import STGCNpp
from .streams import (SKELETON_BACKBONES, RGBStream, build_image_backbone, build_skeleton_stream,
                      register_skeleton_backbone, rgb_positions, rgb_vector)
from .xception import (PretrainedLoadError, Xception, imagenet_state_dict, load_pretrained,
                       read_state_dict, resolve_pretrained)

__all__ = [
    "create_model", "register_model", "MODELS", "MMFF", "RGBOnly", "SkeletonOnly", "StreamModel",
    "attention_maps", "STGCN", "STGCNpp", "CTRGCN", "GraphBackbone", "SKELETON_BACKBONES",
    "register_skeleton_backbone",
    "StackedRNN", "Xception", "RGBStream", "SelfAttention", "skeleton_attention_mask",
    "select_attention_joint", "CrossAttentionFusion", "LSTMLateFusion", "DecisionFusion",
    "SumFusion", "skeleton_vector", "Graph", "LAYOUTS", "num_joints", "build_fusion", "build_skeleton_stream",
    "build_image_backbone", "rgb_positions", "rgb_vector", "PretrainedLoadError",
    "load_pretrained", "read_state_dict", "imagenet_state_dict", "resolve_pretrained",
    "count_parameters",
]

#: ``cfg.model.kind`` -> builder taking the Config
MODELS: dict[str, Callable[[Config], nn.Module]] = {}


def register_model(kind: str):
    """Decorator/function registering a builder ``fn(cfg) -> nn.Module`` under ``kind``."""
    def deco(fn):
        MODELS[kind] = fn
        return fn
    return deco


register_model("mmff")(MMFF.from_config)
register_model("skeleton_only")(SkeletonOnly.from_config)
register_model("rgb_only")(RGBOnly.from_config)


def create_model(cfg: Config, pretrained: bool = True) -> nn.Module:
    """Build the model named by ``cfg.model.kind`` (raises :class:`ConfigError` for bad combos).

    ``pretrained=False`` ignores ``model.rgb.pretrained`` (nothing is read or downloaded): for
    models whose weights come from a checkpoint next (evaluation, export, predict, stages 2-3)
    or are not needed (profiling)."""
    if cfg.model.kind not in MODELS:
        raise ConfigError(f"model.kind: {cfg.model.kind!r} is not one of {sorted(MODELS)}")
    if not pretrained and cfg.model.rgb.pretrained:
        cfg = copy.deepcopy(cfg)
        cfg.model.rgb.pretrained = None
    return MODELS[cfg.model.kind](cfg)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in module.parameters())
