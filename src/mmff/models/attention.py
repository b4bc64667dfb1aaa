"""RGB-stream attention (SPEC §2.2; paper §3.4).

* Self-attention module (Eq. 11-12): two branches b = 1, 2, each
  ``M_b = sigmoid(Conv1x1_b(F_in))`` (1 x H x W) and ``F_b = M_b * F_in``.
* Skeleton attention module (Eq. 13-15, early fusion, not learned):
  ``j_max = argmax_j ||J_first,j - J_p,j||_2`` (over both bodies on two-person clips; the data
  layer supplies the displacements), a square of side ``square`` x crop side centred on j_max's
  2D position in the crop is 1, elsewhere 0, resized to H x W: ``F_ske = M_ske * F_in``.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["SelfAttention", "skeleton_attention_mask", "select_attention_joint"]


class SelfAttention(nn.Module):
    """Eq. 11-12 with ``num_branches`` branches (2 in the paper).

    The branches' 1x1 convs ``Conv1x1_b`` (C -> 1, with bias) are stored as one conv C -> B
    (row b = branch b), which is the same set of parameters computed in one pass.
    ``forward(F_in (N,C,H,W)) -> M (N,B,H,W)``; ``F_b = M[:, b:b+1] * F_in``.
    """

    def __init__(self, channels: int, num_branches: int = 2):
        super().__init__()
        self.conv = nn.Conv2d(channels, num_branches, kernel_size=1)

    def forward(self, f_in: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(f_in))


def select_attention_joint(joints2d: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """Eq. 14: the 2D position (x, y in [0, 1]) of the joint with the largest displacement.

    ``joints2d`` (N, K, M, V, 2), ``displacement`` (N, K, M, V) -> centres (N, K, 2). The argmax
    runs over bodies and joints together (two-person clips); ties and all-zero displacement
    (no motion) pick the first joint of the first body.
    """
    n, k, m, v, _ = joints2d.shape
    idx = displacement.reshape(n, k, m * v).argmax(dim=-1)  # (N, K)
    pts = joints2d.reshape(n, k, m * v, 2)
    return torch.gather(pts, 2, idx[:, :, None, None].expand(n, k, 1, 2)).squeeze(2)


def _coverage(centre: torch.Tensor, half: float, cells: int) -> torch.Tensor:
    """Fraction of each of ``cells`` equal cells on [0, 1] covered by [c - half, c + half]."""
    edges = torch.arange(cells + 1, dtype=centre.dtype, device=centre.device) / cells
    lo, hi = edges[:-1], edges[1:]
    c = centre[..., None]
    cov = ((torch.minimum(hi, c + half) - torch.maximum(lo, c - half)) * cells).clamp(0, 1)
    # float32 rounding leaves ~1e-5 slivers at the square's border: snap them to 0/1
    cov = torch.where(cov < 1e-4, torch.zeros_like(cov), cov)
    return torch.where(cov > 1 - 1e-4, torch.ones_like(cov), cov)


def skeleton_attention_mask(joints2d: torch.Tensor, displacement: torch.Tensor,
                            size: tuple[int, int], square: float = 1.0 / 3.0) -> torch.Tensor:
    """M_ske (Eq. 15) at resolution ``size`` = (H, W): (N, K, 1, H, W) in [0, 1].

    The square (side ``square`` of the crop side, centred on j_max, Eq. 14) is drawn on the crop
    and resized to H x W by area averaging: a cell's value is the fraction of it the square
    covers, so cells fully inside are 1, cells outside 0 and border cells partial (what
    ``cv2.INTER_AREA`` gives on a full-resolution binary mask). At image resolution (for Fig. 11
    style visualisation) this is the binary square itself. Parts outside the crop are cut off.
    Vectorised, no data-dependent control flow (ONNX-exportable).
    """
    h, w = int(size[0]), int(size[1])
    centre = select_attention_joint(joints2d, displacement)  # (N, K, 2) as (x, y)
    half = square / 2.0
    cov_x = _coverage(centre[..., 0], half, w)  # (N, K, W)
    cov_y = _coverage(centre[..., 1], half, h)  # (N, K, H)
    return (cov_y[..., :, None] * cov_x[..., None, :]).unsqueeze(2)
