"""ST-GCN skeleton stream (SPEC §2.1; paper §3.2), as released by Yan et al. (2018).

Ten ST-GCN blocks with output channels 64,64,64,64,128,128,128,256,256,256 (the first without
residual), temporal kernel 9, stride 2 at the first 128 and the first 256 block, learnable
edge-importance masks and a batch-norm on the input ("data BN"). The bodies M are folded into
the batch and averaged after the backbone, so the output F_gcn is (N, 256, T/4, V): 256x75x25 for
300 NTU frames. Attribute names follow the released code (``data_bn``, ``st_gcn_networks``,
``edge_importance``) so its weights map one to one.
"""
from __future__ import annotations

import torch
from torch import nn

from .graph import Graph

__all__ = ["STGCN", "STGCNBlock", "STGCN_CHANNELS", "GraphBackbone", "ConvTemporalGraphical",
           "scaled"]

#: (output channels, temporal stride) of the ten released blocks.
STGCN_CHANNELS = [(64, 1), (64, 1), (64, 1), (64, 1), (128, 2), (128, 1), (128, 1), (256, 2),
                  (256, 1), (256, 1)]


class ConvTemporalGraphical(nn.Module):
    """Graph convolution: a 1x1 conv to K*C' channels, then sum_k X_k A_k (ST-GCN Eq. 10)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv2d(in_channels, out_channels * kernel_size, kernel_size=1)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        n, kc, t, v = x.shape
        x = x.view(n, self.kernel_size, kc // self.kernel_size, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, A).contiguous()


class STGCNBlock(nn.Module):
    """One ST-GCN block: GCN -> BN-ReLU-TCN(9x1, stride)-BN-Dropout, + residual, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, num_subsets: int,
                 temporal_kernel: int = 9, stride: int = 1, dropout: float = 0.0,
                 residual: bool = True):
        super().__init__()
        pad = (temporal_kernel - 1) // 2
        self.gcn = ConvTemporalGraphical(in_channels, out_channels, num_subsets)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), (pad, 0)),
            nn.BatchNorm2d(out_channels), nn.Dropout(dropout, inplace=True))
        self.residual_mode = ("none" if not residual else
                              "identity" if in_channels == out_channels and stride == 1 else "conv")
        if self.residual_mode == "conv":
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        if self.residual_mode == "none":
            return self.relu(self.tcn(self.gcn(x, A)))
        res = x if self.residual_mode == "identity" else self.residual(x)
        return self.relu(self.tcn(self.gcn(x, A)) + res)


def scaled(c: int, width: float) -> int:
    """Channel count under a width multiplier (at least 4)."""
    return max(4, int(round(c * width)))


class GraphBackbone(nn.Module):
    """What the graph-convolution backbones (ST-GCN, ST-GCN++, CTR-GCN) share: the backbone
    contract of :mod:`mmff.models.streams` (``kind = "map"``, ``num_joints``, ``num_person``,
    ``in_channels``, ``pool``), the graph of a layout, and the input/output handling.

    ``fold_bodies``: data BN, then the M bodies folded into the batch, (N, C, T, V, M) ->
    (N*M, C, T, V). The data BN normalises each (joint, channel) pair over frames, with the
    bodies sharing statistics (``per_body_bn=False``, ST-GCN's "VC") or each body its own
    (``per_body_bn=True``, CTR-GCN's "MVC"). ``average_bodies``: (N*M, C, T', V) -> (N, C, T', V).
    """

    kind = "map"

    def __init__(self, layout: str, in_channels: int, num_person: int, data_bn: bool = True,
                 per_body_bn: bool = False, strategy: str = "spatial"):
        super().__init__()
        self.graph = Graph(layout, strategy=strategy)
        v = self.graph.num_node
        self.num_joints = v
        self.num_person = num_person
        self.in_channels = in_channels
        self.per_body_bn = per_body_bn
        bn_size = (num_person if per_body_bn else 1) * in_channels * v
        self.data_bn = nn.BatchNorm1d(bn_size) if data_bn else nn.Identity()

    def adjacency(self) -> torch.Tensor:
        """The layout's partitioned adjacency (K, V, V) as a float tensor."""
        return torch.tensor(self.graph.A, dtype=torch.float32)

    def stack_blocks(self, make_block, width: float, dropout: float) -> nn.ModuleList:
        """The ten blocks of :data:`STGCN_CHANNELS` under ``width``, built by
        ``make_block(c_in, c_out, stride, dropout, residual)``; the first block has neither
        residual nor dropout (released ST-GCN, PYSKL). Sets ``out_channels``."""
        blocks, c_in = [], self.in_channels
        for i, (c, s) in enumerate(STGCN_CHANNELS):
            c_out = scaled(c, width)
            blocks.append(make_block(c_in, c_out, s, 0.0 if i == 0 else dropout, i > 0))
            c_in = c_out
        self.out_channels = c_in
        return nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> F_gcn (N, C_s, T', V): the blocks in ``self.blocks`` on the folded
        bodies, then the bodies averaged."""
        m = x.shape[-1]
        x = self.fold_bodies(x)
        for block in self.blocks:
            x = block(x)
        return self.average_bodies(x, m)

    def fold_bodies(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2)   # (N, M, V, C, T): the released data-BN layout
        x = x.reshape(n, m * v * c, t) if self.per_body_bn else x.reshape(n * m, v * c, t)
        x = self.data_bn(x)
        return x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)

    @staticmethod
    def average_bodies(x: torch.Tensor, num_person: int) -> torch.Tensor:
        _, c, t, v = x.shape
        return x.view(-1, num_person, c, t, v).mean(dim=1)

    @staticmethod
    def pool(feat: torch.Tensor) -> torch.Tensor:
        """Global average over time and joints: (N, C, T, V) -> (N, C)."""
        return feat.mean(dim=(2, 3))


class STGCN(GraphBackbone):
    """ST-GCN backbone without its classifier.

    Input ``x`` (N, C, T, V, M); output F_gcn (N, C_s, T', V) averaged over the M bodies
    (C_s = 256 x width, T' = ceil(T/4)). ``out_channels`` = C_s. ``pool(F_gcn)`` gives the
    released network's global average (N, C_s) used by the skeleton-only classifier.
    """

    def __init__(self, layout: str = "ntu", in_channels: int = 3, num_person: int = 2,
                 edge_importance: bool = True, data_bn: bool = True, width: float = 1.0,
                 dropout: float = 0.0, temporal_kernel: int = 9):
        super().__init__(layout, in_channels, num_person, data_bn)
        A = self.adjacency()
        self.register_buffer("A", A, persistent=False)
        k = A.shape[0]
        self.st_gcn_networks = self.stack_blocks(
            lambda c_in, c_out, s, p, res: STGCNBlock(c_in, c_out, k, temporal_kernel, s, p, res),
            width, dropout)
        self.use_edge_importance = edge_importance
        if edge_importance:
            self.edge_importance = nn.ParameterList(
                [nn.Parameter(torch.ones(A.shape)) for _ in self.st_gcn_networks])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.shape[-1]
        x = self.fold_bodies(x)
        for i, block in enumerate(self.st_gcn_networks):
            A = self.A * self.edge_importance[i] if self.use_edge_importance else self.A
            x = block(x, A)
        return self.average_bodies(x, m)  # bodies averaged (released: after GAP; same mean)
