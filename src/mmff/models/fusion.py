"""Late fusion modules (SPEC §2.3; paper §3.5, Eq. 16-17; Table 6 baselines).

Every fusion is called as ``fusion(skeleton_feature, rgb_out) -> logits`` where
``skeleton_feature`` is F_gcn (N, C_s, T, V) from ST-GCN or the C_s vector from an RNN, and
``rgb_out`` is the RGB stream's output dict (see :mod:`mmff.models.streams`).

Which fusion goes with which skeleton backbone:

* ``cross_attention`` needs the spatial F_gcn: ST-GCN only (a :class:`ConfigError` otherwise).
* ``lstm_late`` is the paper's fusion for the RNN (600-d). With ST-GCN it uses the globally
  averaged F_gcn (256-d) as the skeleton vector (documented adaptation).
* ``decision``/``decision_learned`` and ``sum`` work with both, on the skeleton vector (RNN
  feature, or F_gcn averaged over time and joints) and the RGB vector (F_rgb averaged over its
  positions): exactly the features the stage-1 classifiers (``SkeletonOnly.head``,
  ``RGBOnly.head``) see.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .streams import rgb_positions, rgb_vector

__all__ = ["CrossAttentionFusion", "LSTMLateFusion", "DecisionFusion", "SumFusion",
           "skeleton_vector"]


def skeleton_vector(feat: torch.Tensor) -> torch.Tensor:
    """(N, C, T, V) F_gcn -> global average (N, C); an RNN vector (N, C) is returned as is."""
    return feat.mean(dim=(2, 3)) if feat.dim() == 4 else feat


class CrossAttentionFusion(nn.Module):
    """GCN-based cross-attention fusion (Fig. 6, Eq. 16-17), the non-local reading of SPEC §2.3.

    F_gcn is max-pooled over time (C_s x V); GAP gives f_rgb (C_r) and f_gcn (C_s).
    RGB side [F_rgb; f_gcn broadcast] ((C_r+C_s) x S), skeleton side [f_rgb broadcast; F_gcn]
    ((C_r+C_s) x V); F_com concatenates them along positions ((C_r+C_s) x (S+V)).
    Eq. 16: M_rel = softmax(theta(F_com)^T phi(F_com)) over the last axis ((S+V) x (S+V)).
    Eq. 17: F_rel = F_com M_rel^T (the element-wise product of the paper does not fit the shapes).
    Then 1x1 conv + ReLU, GAP, FC + ReLU, FC -> classes. :meth:`forward_with_relation` also
    returns M_rel (nothing of a forward is kept on the module).
    """

    #: the last linear layer(s) (``MMFF.get_classifier`` / ``reset_classifier``)
    classifier_names = ("fc2",)

    def __init__(self, skeleton_channels: int, rgb_channels: int, num_classes: int,
                 reduced_channels: int = 256, conv_channels: int = 1024, hidden: int = 512,
                 dropout: float = 0.0):
        super().__init__()
        c = skeleton_channels + rgb_channels
        self.theta = nn.Conv1d(c, reduced_channels, 1)
        self.phi = nn.Conv1d(c, reduced_channels, 1)
        self.conv = nn.Conv1d(c, conv_channels, 1)
        self.fc1 = nn.Linear(conv_channels, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.drop = nn.Dropout(dropout)

    def combine(self, f_gcn_map: torch.Tensor, f_rgb_map: torch.Tensor) -> torch.Tensor:
        """F_com (N, C_r + C_s, S + V) from F_gcn (N, C_s, T, V) and F_rgb (N, C_r, S)."""
        g = f_gcn_map.amax(dim=2)                     # max over time -> (N, C_s, V)
        f_rgb = f_rgb_map.mean(-1, keepdim=True)      # GAP -> (N, C_r, 1)
        f_gcn = g.mean(-1, keepdim=True)              # GAP -> (N, C_s, 1)
        rgb_side = torch.cat([f_rgb_map, f_gcn.expand(-1, -1, f_rgb_map.shape[-1])], dim=1)
        skel_side = torch.cat([f_rgb.expand(-1, -1, g.shape[-1]), g], dim=1)
        return torch.cat([rgb_side, skel_side], dim=2)

    def relation(self, f_com: torch.Tensor) -> torch.Tensor:
        """Eq. 16: M_rel (N, L, L), rows sum to 1."""
        return torch.softmax(torch.bmm(self.theta(f_com).transpose(1, 2), self.phi(f_com)), dim=-1)

    def forward_with_relation(self, skeleton_feature: torch.Tensor, rgb_out: dict) -> tuple:
        """``(logits, M_rel)``: the class scores and the relation matrix of Eq. 16 (N, L, L)."""
        f_com = self.combine(skeleton_feature, rgb_positions(rgb_out))
        m_rel = self.relation(f_com)
        f_rel = torch.bmm(f_com, m_rel.transpose(1, 2))  # Eq. 17
        x = F.relu(self.conv(f_rel)).mean(-1)
        return self.fc2(self.drop(F.relu(self.fc1(x)))), m_rel

    def forward(self, skeleton_feature: torch.Tensor, rgb_out: dict) -> torch.Tensor:
        return self.forward_with_relation(skeleton_feature, rgb_out)[0]


class LSTMLateFusion(nn.Module):
    """LSTM-based late fusion (SPEC §2.3): each RGB branch map (F_1, F_2, F_ske) is globally
    pooled and projected to ``proj_dim`` (256; 3 x 256 = 768), concatenated with the skeleton
    vector (600), L2-normalised, FC + LeakyReLU, FC -> classes.

    ``pool`` (``model.fusion.lstm_rgb_pool``): ``"max"`` (default) follows §3.5, "The two features
    first pass through the MaxPooling layer"; ``"avg"`` follows Fig. 4, whose 'Pool' before the
    256-d 'Linear' is "global average pooling"."""

    #: the last linear layer(s) (``MMFF.get_classifier`` / ``reset_classifier``)
    classifier_names = ("fc2",)

    def __init__(self, skeleton_channels: int, rgb_channels: int, num_branches: int,
                 num_classes: int, proj_dim: int = 256, hidden: int = 512, dropout: float = 0.0,
                 pool: str = "max"):
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(f"model.fusion.lstm_rgb_pool: {pool!r} is not 'max' or 'avg'")
        self.pool = pool
        self.rgb_proj = nn.ModuleList([nn.Linear(rgb_channels, proj_dim)
                                       for _ in range(num_branches)])
        self.fc1 = nn.Linear(skeleton_channels + num_branches * proj_dim, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.drop = nn.Dropout(dropout)

    def rgb_feature(self, rgb_out: dict) -> torch.Tensor:
        """F_RGB (N, num_branches * proj_dim): each branch globally max- (or average-) pooled over
        all K*H*W positions, then Linear."""
        if self.pool == "max":
            pooled = [b.amax(dim=(1, 3, 4)) for b in rgb_out["branches"]]
        else:
            pooled = [b.mean(dim=(1, 3, 4)) for b in rgb_out["branches"]]
        return torch.cat([proj(v) for proj, v in zip(self.rgb_proj, pooled)], dim=1)

    def forward(self, skeleton_feature: torch.Tensor, rgb_out: dict) -> torch.Tensor:
        x = torch.cat([skeleton_vector(skeleton_feature), self.rgb_feature(rgb_out)], dim=1)
        x = F.normalize(x, p=2, dim=1)
        return self.fc2(self.drop(F.leaky_relu(self.fc1(x))))


class DecisionFusion(nn.Module):
    """Decision fusion (Table 6 "MMFF-Decision Fusion", "the naive weighted sum decision fusion
    method"): p = w * softmax(skeleton_head(s)) + (1 - w) * softmax(rgb_head(r)).

    The summed scores are the two classifiers' softmax outputs: each stage-1 sub-network ends in
    "a fully connected (FC) layer and a softmax layer" (§3.5, training procedure), so its score
    is a probability; a sum of probabilities also needs no calibration between two logit scales.
    ``fusion.type: decision`` (the paper's): the heads ARE the stage-1 classifiers
    (``SkeletonOnly.head`` -> ``skeleton_head``, ``RGBOnly.head`` -> ``rgb_head``, copied by
    stage 2) and nothing is trained; w is fixed or chosen on the validation split.
    ``decision_learned``: the same module with new heads trained through log p.

    ``forward`` returns log p, which works as logits (softmax(log p) = p, so cross-entropy,
    argmax and top-k behave); :meth:`scores` returns p itself.
    """

    #: the last linear layer(s) (``MMFF.get_classifier`` / ``reset_classifier``)
    classifier_names = ("skeleton_head", "rgb_head")

    def __init__(self, skeleton_channels: int, rgb_channels: int, num_classes: int,
                 weight: float = 0.5):
        super().__init__()
        self.skeleton_head = nn.Linear(skeleton_channels, num_classes)
        self.rgb_head = nn.Linear(rgb_channels, num_classes)
        self.weight = float(weight)

    def stream_scores(self, skeleton_feature: torch.Tensor, rgb_out: dict) -> tuple:
        """(softmax of the skeleton classifier, softmax of the RGB classifier), each (N, classes)."""
        p_s = torch.softmax(self.skeleton_head(skeleton_vector(skeleton_feature)), dim=1)
        p_r = torch.softmax(self.rgb_head(rgb_vector(rgb_out)), dim=1)
        return p_s, p_r

    def scores(self, skeleton_feature: torch.Tensor, rgb_out: dict) -> torch.Tensor:
        """p = w * p_s + (1 - w) * p_r (N, classes)."""
        p_s, p_r = self.stream_scores(skeleton_feature, rgb_out)
        return self.weight * p_s + (1.0 - self.weight) * p_r

    def forward(self, skeleton_feature: torch.Tensor, rgb_out: dict) -> torch.Tensor:
        return torch.log(self.scores(skeleton_feature, rgb_out).clamp_min(1e-12))


class SumFusion(nn.Module):
    """Sum fusion (Table 6 baseline): both stream vectors projected by FC layers to a common size
    ``dim``, summed, then FC -> classes."""

    #: the last linear layer(s) (``MMFF.get_classifier`` / ``reset_classifier``)
    classifier_names = ("fc",)

    def __init__(self, skeleton_channels: int, rgb_channels: int, num_classes: int,
                 dim: int = 512, dropout: float = 0.0):
        super().__init__()
        self.skeleton_proj = nn.Linear(skeleton_channels, dim)
        self.rgb_proj = nn.Linear(rgb_channels, dim)
        self.fc = nn.Linear(dim, num_classes)
        self.drop = nn.Dropout(dropout)

    def forward(self, skeleton_feature: torch.Tensor, rgb_out: dict) -> torch.Tensor:
        x = self.skeleton_proj(skeleton_vector(skeleton_feature)) + self.rgb_proj(rgb_vector(rgb_out))
        return self.fc(self.drop(x))
