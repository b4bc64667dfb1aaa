"""CTR-GCN skeleton backbone (Chen et al., ICCV 2021, "Channel-wise Topology Refinement Graph
Convolution for Skeleton-Based Action Recognition").

Ten blocks as ST-GCN's (64,64,64,64,128,128,128,256,256,256; stride 2 at the first 128 and the
first 256 block; no block residual in the first), each ``ReLU(MS-TCN(CTR-GCU(x)) + res(x))``
(:class:`~mmff.models.stgcnpp.GraphBlock`):

* CTR-GC, channel-wise topology refinement graph convolution (paper §3.2, Eq. 3-6), one per
  partition subset k (:class:`CTRGC` holds its per-sample parts): a shared topology A_k (a
  parameter initialised from the graph) is refined per channel by the correlations
  M(X) = tanh(phi(X) - psi(X)) of temporally pooled, reduced features (phi, psi: 1x1 convs to
  C/8 channels; M is (R, V, V) per sample), raised to the output channels by xi (1x1 conv):
  R(X) = A_k + alpha * xi(M(X)) (Eq. 5; alpha a learnable scalar starting at 0, so training
  starts from the shared topology). The output aggregates the transformed features T(X) (1x1
  conv) channel by channel: Z_c = T(X)_c R_c (Eq. 6);
* :class:`CTRGCUnit`: the K subsets summed, BN (weight initialised to 1e-6, the released code's
  choice: the unit starts as its residual), + residual, ReLU;
* temporal: :class:`~mmff.models.stgcnpp.MultiScaleTCN` with kernel 5, dilations 1 and 2, a
  max-pool and a 1x1 branch, each ending in BN (``fuse=False``).

Data BN per body (``MVC``) and the 2s-AGCN graph partition (identity / inward / outward), as
released. The paper: 1.46M parameters, 1.97 GFLOPs (MACs; NTU-60, 64 frames, 2 bodies).
"""
from __future__ import annotations

import torch
from torch import nn

from .stgcn import GraphBackbone
from .stgcnpp import GraphBlock, MultiScaleTCN, residual_branch

__all__ = ["CTRGCN", "CTRGC", "CTRGCUnit"]


class CTRGC(nn.Module):
    """The per-sample parts of one CTR-GC (Eq. 3-4): ``forward(X) -> (xi(M(X)), T(X))``, the
    channel-specific correlations raised to C' channels (N, C', V, V) and the transformed
    features (N, C', T, V). The refinement with the shared topology and the aggregation (Eq. 5-6)
    are :class:`CTRGCUnit`'s, which holds A and alpha (module calls take only activations: torch's
    module tracker, used by ``mmff profile``, rejects parameters as module arguments)."""

    def __init__(self, in_channels: int, out_channels: int, rel_reduction: int = 8):
        super().__init__()
        # as PYSKL: 8 correlation channels for inputs of <= 16 channels (the raw 3/9-channel input;
        # at reduced width also the first blocks), C/8 otherwise
        rel = 8 if in_channels <= 16 else in_channels // rel_reduction
        self.phi = nn.Conv2d(in_channels, rel, 1)
        self.psi = nn.Conv2d(in_channels, rel, 1)
        self.transform = nn.Conv2d(in_channels, out_channels, 1)   # T(X), Eq. 2
        self.xi = nn.Conv2d(rel, out_channels, 1)                  # raise M to C' channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = self.phi(x).mean(-2), self.psi(x).mean(-2)           # temporal pooling: (N, R, V)
        m = torch.tanh(a.unsqueeze(-1) - b.unsqueeze(-2))           # M(X) (N, R, V, V), Eq. 4
        return self.xi(m), self.transform(x)


class CTRGCUnit(nn.Module):
    """``ReLU(BN(sum_k Z_k) + res(X))``, Z_k the CTR-GC of subset k: R_k = A_k + alpha xi(M_k(X))
    (Eq. 5) and Z_k = T_k(X) aggregated channel by channel with R_k (Eq. 6). A (K, V, V) and alpha
    are shared by the K subsets of this unit (released ``unit_gcn``)."""

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor):
        super().__init__()
        self.A = nn.Parameter(A.clone())
        self.alpha = nn.Parameter(torch.zeros(1))
        self.convs = nn.ModuleList([CTRGC(in_channels, out_channels) for _ in range(A.shape[0])])
        self.bn = nn.BatchNorm2d(out_channels)
        self.down = residual_branch(in_channels, out_channels)
        self.relu = nn.ReLU(inplace=True)
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):   # released init: He (fan out), zero bias
                nn.init.kaiming_normal_(mod.weight, mode="fan_out")
                nn.init.zeros_(mod.bias)
        nn.init.constant_(self.bn.weight, 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = 0
        for k, conv in enumerate(self.convs):
            correlation, feat = conv(x)
            refined = self.A[k] + self.alpha * correlation                  # Eq. 5: (N, C', V, V)
            # Eq. 6; A[v, w] carries joint v to joint w (ST-GCN's convention)
            y = y + torch.einsum("ncvw,nctv->nctw", refined, feat)
        return self.relu(self.bn(y) + self.down(x))


class CTRGCN(GraphBackbone):
    """CTR-GCN backbone without its classifier (the contract of :mod:`mmff.models.streams`).

    Input (N, C, T, V, M); output F_gcn (N, C_s, ceil(T/4), V) averaged over the M bodies,
    C_s = 256 x width. ``dropout``: the MS-TCN dropout of every block but the first.
    """

    def __init__(self, layout: str = "ntu_kinect", in_channels: int = 3, num_person: int = 2,
                 data_bn: bool = True, width: float = 1.0, dropout: float = 0.0):
        super().__init__(layout, in_channels, num_person, data_bn, per_body_bn=True,
                         strategy="agcn")
        A = self.adjacency()
        # released TCN_GCN_unit: MS-TCN with kernel 5, dilations 1 and 2, BN at every branch end
        self.blocks = self.stack_blocks(lambda c_in, c_out, s, p, res: GraphBlock(
            CTRGCUnit(c_in, c_out, A),
            MultiScaleTCN(c_out, c_out, 5, (1, 2), stride=s, fuse=False, dropout=p),
            residual_branch(c_in, c_out, s, res)), width, dropout)
