"""The two streams as config-built modules (SPEC §2.1-2.2).

* :func:`build_skeleton_stream` -> the backbone named by ``model.skeleton.backbone`` in
  :data:`SKELETON_BACKBONES`: a graph network, :class:`~mmff.models.stgcn.STGCN`,
  :class:`~mmff.models.stgcnpp.STGCNpp` or :class:`~mmff.models.ctrgcn.CTRGCN` (F_gcn map), or
  :class:`~mmff.models.rnn.StackedRNN` (C_s vector).
* :class:`RGBStream`: image backbone(s) + self-attention (Eq. 11-12) + skeleton attention
  (Eq. 13-15). Its output holds F_in and the attention branches' feature maps.

K frames (Table 4): each frame goes through an image backbone, one per frame by default (the
paper's separate Xceptions, ``model.rgb.share_backbone: false``) or one shared backbone.
Attention is applied per frame (each frame has its own skeleton-attention square from its own
2D joints). The K frames' feature maps are then treated as K*S positions of one feature set:
F_rgb for the cross-attention has K*S positions, the LSTM-fusion max-pools over all K*S
positions, the RGB-only head and sum/decision fusions average over all of them.

Branches kept when switching attention off (Table 6 ablations):
both on -> [F_1, F_2, F_ske]; w/o skeleton attention -> [F_1, F_2]; w/o self-attention ->
[F_ske]; w/o both -> [F_in] (the plain backbone feature).

F_rgb, the RGB feature of the GCN fusion (and the vector of the RGB-only head, sum and decision
fusion), combines the kept branches as ``model.rgb.merge`` says. §3.5: "For the RGB feature, the
two attention features are average summed to obtain the RGB feature F_RGB". The two attention
features are F_self (self-attention, Eq. 12) and F_ske (skeleton attention, Eq. 15), so the
default ``self_then_skeleton`` averages the self-attention branches into F_self first and then
averages F_self and F_ske: F_rgb = (F_1 + F_2) / 4 + F_ske / 2. ``mean`` is the plain mean of
the kept branches, (F_1 + F_2 + F_ske) / 3 (this package before that reading). Both agree when
one kind of attention is off.

The skeleton backbone contract. A graph backbone (``kind = "map"``, the names in
:data:`mmff.config.GRAPH_BACKBONES`) takes ``x`` (N, C, T, V, M) and returns
F_gcn (N, C_s, T', V), the M bodies folded into the batch and averaged after the backbone. It
has the attributes ``kind``, ``out_channels`` (C_s), ``num_joints`` (V), ``num_person`` (M),
``in_channels`` (C) and a static ``pool(F_gcn) -> (N, C_s)`` (the global average its
skeleton-only classifier reads); its builder honours ``width`` (channels x width, through
:func:`~mmff.models.stgcn.scaled`), ``layout`` (the :class:`~mmff.models.graph.Graph`),
``in_channels``, ``num_person``, ``data_bn`` and ``dropout``. An RNN (``kind = "vector"``)
takes (N, T, M*V*C) and returns (N, C_s). Who reads what: the cross-attention fusion
(:class:`~mmff.models.fusion.CrossAttentionFusion`) consumes F_gcn itself (max over T', V
positions), the LSTM-late, sum and decision fusions and the skeleton-only head
:func:`~mmff.models.fusion.skeleton_vector` (F_gcn) = ``pool``; the skeleton attention
(Eq. 13-14) reads the 2D/3D joints of the batch, not the backbone.
"""
from __future__ import annotations

import copy
import importlib
from typing import Callable

import torch
from torch import nn

from ..config import Config, ConfigError, SkeletonStreamConfig
from .attention import SelfAttention, skeleton_attention_mask
from .ctrgcn import CTRGCN
from .graph import num_joints
from .rnn import RNN_TYPES, StackedRNN
from .stgcn import STGCN
from .stgcnpp import STGCNpp
from .xception import Xception, load_pretrained, resolve_pretrained

__all__ = ["build_skeleton_stream", "SKELETON_BACKBONES", "register_skeleton_backbone",
           "RGBStream", "build_image_backbone", "rgb_positions", "rgb_vector"]

#: ``model.skeleton.backbone`` -> builder taking ``cfg.model.skeleton``
SKELETON_BACKBONES: dict[str, Callable[[SkeletonStreamConfig], nn.Module]] = {}


def register_skeleton_backbone(*names: str):
    """Decorator registering a builder ``fn(skeleton_cfg) -> nn.Module`` under ``names``."""
    def deco(fn):
        for name in names:
            SKELETON_BACKBONES[name] = fn
        return fn
    return deco


@register_skeleton_backbone("stgcn")
def build_stgcn(s: SkeletonStreamConfig) -> nn.Module:
    return STGCN(layout=s.layout, in_channels=s.in_channels, num_person=s.num_person,
                 edge_importance=s.edge_importance, data_bn=s.data_bn, width=s.width,
                 dropout=s.dropout)


@register_skeleton_backbone("stgcnpp")
def build_stgcnpp(s: SkeletonStreamConfig) -> nn.Module:
    return STGCNpp(layout=s.layout, in_channels=s.in_channels, num_person=s.num_person,
                   data_bn=s.data_bn, width=s.width, dropout=s.dropout)


@register_skeleton_backbone("ctrgcn")
def build_ctrgcn(s: SkeletonStreamConfig) -> nn.Module:
    return CTRGCN(layout=s.layout, in_channels=s.in_channels, num_person=s.num_person,
                  data_bn=s.data_bn, width=s.width, dropout=s.dropout)


@register_skeleton_backbone(*RNN_TYPES)
def build_rnn(s: SkeletonStreamConfig) -> nn.Module:
    return StackedRNN(s.backbone, input_size=s.num_person * num_joints(s.layout) * s.in_channels,
                      hidden=s.rnn_hidden, layers=s.rnn_layers, dropout=s.dropout)


def build_skeleton_stream(cfg: Config) -> nn.Module:
    """The skeleton backbone ``cfg.model.skeleton.backbone`` (:data:`SKELETON_BACKBONES`) built
    from ``cfg.model.skeleton`` (V from the graph layout)."""
    s = cfg.model.skeleton
    if s.backbone not in SKELETON_BACKBONES:
        raise ConfigError(f"model.skeleton.backbone: {s.backbone!r} is not one of "
                          f"{sorted(SKELETON_BACKBONES)}")
    return SKELETON_BACKBONES[s.backbone](s)


class _TimmFeatures(nn.Module):
    """Wraps a timm model so that ``forward`` returns its final feature map."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.out_channels = model.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)


def build_image_backbone(backbone: str, width: float = 1.0, middle_blocks: int = 8,
                         pretrained: str | None = None) -> nn.Module:
    """``"xception"`` (this package) or ``"timm:<name>"`` (needs timm + torchvision).

    ``pretrained``: None (from scratch), ``"imagenet"`` (timm's legacy_xception ImageNet
    weights, :func:`~mmff.models.xception.imagenet_state_dict`; Xception only) or a local file."""
    if backbone == "xception":
        net = Xception(num_classes=0, width=width, middle_blocks=middle_blocks)
        source, name = resolve_pretrained(pretrained)
        if source is not None:
            load_pretrained(net, source, name=name)
        return net
    if backbone.startswith("timm:"):
        try:
            timm = importlib.import_module("timm")
        except ImportError:
            raise ConfigError(f"model.rgb.backbone: {backbone!r} needs the timm package "
                              "(pip install 'mmff[timm]' next to a matching torchvision)") from None
        imagenet = bool(pretrained) and str(pretrained).lower() == "imagenet"
        model = timm.create_model(backbone[5:], pretrained=imagenet, num_classes=0, global_pool="")
        if pretrained and not imagenet:
            load_pretrained(model, pretrained)
        return _TimmFeatures(model)
    raise ConfigError(f"model.rgb.backbone: {backbone!r} is not 'xception' or 'timm:<name>'")


class RGBStream(nn.Module):
    """Backbone(s) + attention. ``forward(batch) -> dict``:

    ``F_in`` (N, K, C, H, W); ``branches``: list of the kept branch maps (see module doc), each
    (N, K, C, H, W); ``M_1``/``M_2`` (N, K, 1, H, W) when self-attention is on, ``M_ske`` when
    skeleton attention is on (the Fig. 10-11 heat maps; nothing of a forward is kept on the module).
    """

    def __init__(self, backbone: str = "xception", width: float = 1.0, middle_blocks: int = 8,
                 pretrained: str | None = None, self_attention: bool = True,
                 skeleton_attention: bool = True, attention_square: float = 1 / 3,
                 num_frames: int = 1, share_backbone: bool = False, num_branches: int = 2,
                 merge: str = "self_then_skeleton"):
        super().__init__()
        n = 1 if share_backbone else num_frames
        first = build_image_backbone(backbone, width, middle_blocks, pretrained)
        # pretrained: every frame's backbone starts from the same weights (read the file once)
        rest = [copy.deepcopy(first) if pretrained else
                build_image_backbone(backbone, width, middle_blocks) for _ in range(n - 1)]
        self.backbones = nn.ModuleList([first] + rest)
        self.out_channels = self.backbones[0].out_channels
        self.num_frames = num_frames
        self.share_backbone = share_backbone
        self.self_attention = SelfAttention(self.out_channels, num_branches) if self_attention else None
        self.use_skeleton_attention = skeleton_attention
        self.attention_square = attention_square
        self.num_branches = ((num_branches if self_attention else 0) + int(skeleton_attention)) or 1
        if merge not in ("self_then_skeleton", "mean"):
            raise ConfigError(f"model.rgb.merge: {merge!r} is not 'self_then_skeleton' or 'mean'")
        self.merge = merge

    @classmethod
    def from_config(cls, cfg: Config) -> "RGBStream":
        r = cfg.model.rgb
        return cls(r.backbone, r.width, r.middle_blocks, r.pretrained, r.self_attention,
                   r.skeleton_attention, r.attention_square, cfg.num_frames, r.share_backbone,
                   merge=r.merge)

    def forward(self, batch: dict) -> dict:
        image = batch["image"]
        if image.dim() != 5 or image.shape[1] != self.num_frames:
            raise ValueError(f"batch['image']: expected (N, {self.num_frames}, 3, H, W), "
                             f"got {tuple(image.shape)}")
        n, k = image.shape[:2]
        if self.share_backbone:
            f = self.backbones[0](image.flatten(0, 1))
            f = f.view(n, k, *f.shape[1:])
        else:
            f = torch.stack([bb(image[:, i]) for i, bb in enumerate(self.backbones)], dim=1)
        out: dict = {"F_in": f}
        branches, self_maps = [], []
        flat = f.flatten(0, 1)  # (N*K, C, H, W)
        if self.self_attention is not None:
            m = self.self_attention(flat).view(n, k, -1, *f.shape[3:])  # (N, K, B, H, W)
            for b in range(m.shape[2]):
                out[f"M_{b + 1}"] = m[:, :, b:b + 1]
                self_maps.append(m[:, :, b:b + 1] * f)  # Eq. 12
        branches += self_maps
        if self.use_skeleton_attention:
            m_ske = skeleton_attention_mask(batch["joints2d"], batch["displacement"],
                                            f.shape[3:], self.attention_square)
            out["M_ske"] = m_ske.to(f.dtype)
            branches.append(out["M_ske"] * f)  # Eq. 15
        out["branches"] = branches or [f]
        if self.merge == "self_then_skeleton" and self_maps and self.use_skeleton_attention:
            # §3.5: F_self (the self-attention branches averaged) and F_ske, average summed
            out["F_rgb"] = 0.5 * (torch.stack(self_maps, 0).mean(0) + branches[-1])
        else:
            out["F_rgb"] = torch.stack(out["branches"], 0).mean(0)
        return out


def rgb_positions(out: dict) -> torch.Tensor:
    """F_rgb (``out["F_rgb"]``, see the module doc; the mean of the kept branch maps when a
    hand-made dict has none) as (N, C, K*H*W) positions (SPEC §2.2)."""
    f = out["F_rgb"] if "F_rgb" in out else torch.stack(out["branches"], 0).mean(0)  # (N,K,C,H,W)
    n, k, c, h, w = f.shape
    return f.permute(0, 2, 1, 3, 4).reshape(n, c, k * h * w)


def rgb_vector(out: dict) -> torch.Tensor:
    """Global average of F_rgb over all K*S positions: (N, C)."""
    return rgb_positions(out).mean(-1)
