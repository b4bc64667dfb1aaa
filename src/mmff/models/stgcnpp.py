"""ST-GCN++ skeleton backbone (Duan et al. 2022, "PYSKL: Towards Good Practices for Skeleton
Action Recognition", §3; PYSKL's ``STGCN(gcn_adaptive='init', gcn_with_res=True,
tcn_type='mstcn')``).

ST-GCN's ten blocks (64,64,64,64,128,128,128,256,256,256; stride 2 at the first 128 and the first
256 block; no block residual in the first) with two modules changed:

* spatial: :class:`AdaptiveGCN`, the ST-GCN graph convolution (1x1 conv to K*C' channels, then
  sum_k X_k A_k) whose adjacency A is a parameter initialised from the skeleton graph
  ("init" adaptive, one per block; replaces ST-GCN's edge-importance masks), followed by BN, a
  residual connection inside the unit and ReLU;
* temporal: :class:`MultiScaleTCN`, six branches on split channels (four 3x1 convolutions with
  dilations 1-4, a 3x1 max-pool, a 1x1 conv), concatenated and fused by BN-ReLU-1x1 conv, then BN
  (replaces ST-GCN's single 9x1 convolution; several times cheaper).

The graph is the 2s-AGCN partition (identity / inward / outward, PYSKL's ``mode='spatial'``);
PYSKL's NTU graph links the hands as Kinect does (layout ``ntu_kinect``). PYSKL's model zoo
(MMAction2 port, NTU-60 3D joints, 100 frames, 2 bodies): 1.4M parameters, 2.96G FLOPs (MACs).
"""
from __future__ import annotations

import torch
from torch import nn

from .stgcn import ConvTemporalGraphical, GraphBackbone

__all__ = ["STGCNpp", "GraphBlock", "AdaptiveGCN", "MultiScaleTCN", "residual_branch"]


class AdaptiveGCN(nn.Module):
    """Spatial unit of ST-GCN++: ``ReLU(BN(sum_k W_k X A_k) + res(X))`` with A a parameter
    initialised from the graph (PYSKL ``unit_gcn(adaptive='init', with_res=True)``)."""

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor):
        super().__init__()
        self.A = nn.Parameter(A.clone())
        self.gcn = ConvTemporalGraphical(in_channels, out_channels, A.shape[0])
        self.bn = nn.BatchNorm2d(out_channels)
        self.down = residual_branch(in_channels, out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.gcn(x, self.A)) + self.down(x))


def residual_branch(in_channels: int, out_channels: int, stride: int = 1, enabled: bool = True):
    """The residual of the ST-GCN++ / CTR-GCN units and blocks: None (``enabled=False``), the
    identity where channels and stride stay, else a strided 1x1 conv + BN."""
    if not enabled:
        return None
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)),
                         nn.BatchNorm2d(out_channels))


class MultiScaleTCN(nn.Module):
    """Multi-scale temporal convolution (MS-TCN of MS-G3D, Liu et al. 2020, as used by ST-GCN++
    and CTR-GCN).

    The output channels are split over ``len(dilations) + 2`` branches (the first takes the
    remainder): per dilation d a 1x1 conv -> BN -> ReLU -> (k x 1, dilation d, stride) conv; a
    1x1 conv -> BN -> ReLU -> 3x1 max-pool (stride) branch; a strided 1x1 conv branch. The branch
    outputs are concatenated.

    ``fuse=True`` (ST-GCN++, PYSKL ``mstcn``): no BN at the branch ends; the concatenation goes
    through BN -> ReLU -> 1x1 conv and a final BN. ``fuse=False`` (CTR-GCN): every branch ends
    with its own BN and the concatenation is the output. Dropout last in both.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 dilations: tuple = (1, 2, 3, 4), stride: int = 1, fuse: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        nb = len(dilations) + 2
        if out_channels < nb:
            raise ValueError(f"MultiScaleTCN: {out_channels} output channels for {nb} branches "
                             "(use a larger width)")
        mid = out_channels // nb
        sizes = [out_channels - mid * (nb - 1)] + [mid] * (nb - 1)

        def end(c):  # the branch-end BN of CTR-GCN; ST-GCN++ normalises after the fusion instead
            return nn.Identity() if fuse else nn.BatchNorm2d(c)

        def squeeze(c):
            return [nn.Conv2d(in_channels, c, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]

        branches = []
        for c, d in zip(sizes, dilations):
            pad = (kernel_size - 1) * d // 2
            branches.append(nn.Sequential(*squeeze(c), nn.Conv2d(
                c, c, (kernel_size, 1), (stride, 1), (pad, 0), (d, 1)), end(c)))
        c = sizes[len(dilations)]
        branches.append(nn.Sequential(*squeeze(c), nn.MaxPool2d((3, 1), (stride, 1), (1, 0)),
                                      end(c)))
        c = sizes[-1]
        branches.append(nn.Sequential(nn.Conv2d(in_channels, c, 1, stride=(stride, 1)), end(c)))
        self.branches = nn.ModuleList(branches)
        self.transform = (nn.Sequential(nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
                                        nn.Conv2d(out_channels, out_channels, 1),
                                        nn.BatchNorm2d(out_channels)) if fuse else nn.Identity())
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.drop(self.transform(out))


class GraphBlock(nn.Module):
    """One block of ST-GCN++ / CTR-GCN: ``ReLU(tcn(gcn(x)) + res(x))``, res from
    :func:`residual_branch` (None in the first block: no residual)."""

    def __init__(self, gcn: nn.Module, tcn: nn.Module, residual: nn.Module | None):
        super().__init__()
        self.gcn, self.tcn, self.residual = gcn, tcn, residual
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.residual(x) if self.residual is not None else 0
        return self.relu(self.tcn(self.gcn(x)) + res)


class STGCNpp(GraphBackbone):
    """ST-GCN++ backbone without its classifier (the contract of :mod:`mmff.models.streams`).

    Input (N, C, T, V, M); output F_gcn (N, C_s, ceil(T/4), V) averaged over the M bodies,
    C_s = 256 x width. ``width`` scales every block (demo sizes); ``dropout`` is the MS-TCN
    dropout of every block but the first (PYSKL's ``tcn_dropout``).
    """

    def __init__(self, layout: str = "ntu_kinect", in_channels: int = 3, num_person: int = 2,
                 data_bn: bool = True, width: float = 1.0, dropout: float = 0.0):
        super().__init__(layout, in_channels, num_person, data_bn, strategy="agcn")
        A = self.adjacency()
        self.blocks = self.stack_blocks(lambda c_in, c_out, s, p, res: GraphBlock(
            AdaptiveGCN(c_in, c_out, A), MultiScaleTCN(c_out, c_out, stride=s, dropout=p),
            residual_branch(c_in, c_out, s, res)), width, dropout)
