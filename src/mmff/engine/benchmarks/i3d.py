"""I3D-ResNet-50 and the skeleton + RGB-video late-fusion baseline used by ``mmff bench``.

The paper (Table 2) compares MMFF with fusion methods that run a 3D CNN over the whole RGB
video: MMTM's "I-ResNet50" and the "Inflated ResNet50" row (46.8M params, 168 GFLOPs, i.e.
GMACs). No CPU-installable library ships that network (torchvision's video models need the
CUDA stack here), so it is written out below. Two inflation variants are offered:

``"full"`` (default, the paper's comparator)
    Carreira & Zisserman's recipe applied to ResNet-50: *every* k x k filter becomes k x k x k
    (stem 7x7x7, every bottleneck 3x3 -> 3x3x3), temporal stride 2 in the stem only and no
    temporal pooling in the first max-pool (as I3D does for its first pools). Parameters:
    ResNet-50 trunk 23.51M + 2 x 11.32M from the inflated 3x3 kernels + the stem's extra taps
    = 46.20M + classifier, i.e. the 46.8M "Inflated ResNet50" row of Table 2 within 1.3%.

``"mmaction2"`` (the lighter, widely used variant; reported as a second baseline)
    MMAction2's ``i3d_r50`` (Wang et al., Non-local networks' I3D baseline): stem 5x7x7 with
    temporal stride 2, temporal stride 2 in the first max-pool, a 2x1x1 temporal max-pool after
    res2, and only every other bottleneck inflated, its first 1x1 conv becoming 3x1x1
    (pattern (1,1,1),(1,0,1,0),(1,0,1,0,1,0),(0,1,0)). Its parameter count is exactly MMAction2's
    published 28,043,472 for 400 classes (checked in the tests).

Both take ``(N, 3, T, H, W)`` clips; the benchmark feeds 32 frames at 224x224.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import torch
from torch import nn

__all__ = ["I3DSpec", "I3D_VARIANTS", "I3DBackbone", "I3DResNet50", "LateFusionBaseline",
           "PUBLISHED"]

#: published figures the variants are checked against (tests/test_bench_i3d.py)
PUBLISHED = {
    # MMAction2 configs/recognition/i3d/metafile.yml, i3d_r50_32x2x1 (400 classes; mmcv counts
    # MACs as "FLOPs", and also counts BN/ReLU/pool element ops, hence a little above conv MACs)
    "mmaction2": {"params": 28_043_472, "num_classes": 400, "gmacs": 43.56},
    # Zhu et al. (MMFF) Table 2, "Inflated Resnet50 [1]" row (NTU, 60 classes)
    "full": {"params": 46_800_000, "num_classes": 60, "gmacs": 168.0},
}


@dataclass(frozen=True)
class I3DSpec:
    """How a 2D ResNet-50 is inflated to 3D."""

    conv1_kernel_t: int
    conv1_stride_t: int
    pool1_stride_t: int
    pool2: bool                      # 2x1x1 temporal max-pool after res2
    inflate: tuple                   # per stage, per block: 1 = inflate this block
    inflate_style: Literal["3x1x1", "3x3x3"]


_R50_BLOCKS = (3, 4, 6, 3)

I3D_VARIANTS = {
    "full": I3DSpec(7, 2, 1, False, tuple((1,) * n for n in _R50_BLOCKS), "3x3x3"),
    "mmaction2": I3DSpec(5, 2, 2, True, ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
                         "3x1x1"),
}


class Bottleneck3d(nn.Module):
    """ResNet-50 bottleneck (stride on the 3x3, torchvision v1.5) with optional inflation."""

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int, inflate: bool, style: str):
        super().__init__()
        # Which conv carries the temporal kernel: 3x1x1 puts it on the first 1x1 (Wang et al.),
        # 3x3x3 on the 3x3 (Carreira & Zisserman's "inflate every filter").
        t1 = 3 if inflate and style == "3x1x1" else 1
        t2 = 3 if inflate and style == "3x3x3" else 1
        self.conv1 = nn.Conv3d(in_ch, planes, (t1, 1, 1), padding=(t1 // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, (t2, 3, 3), stride=(1, stride, stride),
                               padding=(t2 // 2, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: Optional[nn.Module] = None
        if stride != 1 or in_ch != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_ch, planes * 4, 1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(planes * 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class I3DBackbone(nn.Module):
    """The inflated ResNet-50 trunk: clip (N, 3, T, H, W) -> pooled feature (N, 2048)."""

    def __init__(self, spec: I3DSpec):
        super().__init__()
        kt = spec.conv1_kernel_t
        self.conv1 = nn.Conv3d(3, 64, (kt, 7, 7), stride=(spec.conv1_stride_t, 2, 2),
                               padding=(kt // 2, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=(spec.pool1_stride_t, 2, 2), padding=(0, 1, 1))
        self.pool2 = nn.MaxPool3d((2, 1, 1), stride=(2, 1, 1)) if spec.pool2 else nn.Identity()
        in_ch = 64
        stages = []
        for i, (n, planes) in enumerate(zip(_R50_BLOCKS, (64, 128, 256, 512))):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(Bottleneck3d(in_ch, planes, stride, bool(spec.inflate[i][j]),
                                           spec.inflate_style))
                in_ch = planes * 4
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"I3D input: expected (N, 3, T, H, W), got {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.pool2(self.layer1(x))
        x = self.layer4(self.layer3(self.layer2(x)))
        return x.mean(dim=(2, 3, 4))


class I3DResNet50(nn.Module):
    """ResNet-50 inflated to 3D (see the module docstring for the two variants).

    ``forward_features(x)`` returns the pooled 2048-d clip feature, ``forward(x)`` the logits.
    """

    feature_dim = 2048

    def __init__(self, num_classes: int = 60, variant: str = "full", dropout: float = 0.5):
        super().__init__()
        if variant not in I3D_VARIANTS:
            raise ValueError(f"I3D variant {variant!r}: expected one of {sorted(I3D_VARIANTS)}")
        self.variant = variant
        self.backbone = I3DBackbone(I3D_VARIANTS[variant])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.feature_dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.backbone(x)))


class LateFusionBaseline(nn.Module):
    """Skeleton + RGB-video baseline: a skeleton network and a video network fused late.

    ``skeleton_stream(batch["skeleton"])`` gives the skeleton feature (ST-GCN's F_gcn map or an
    RNN vector), reduced to a vector by ``to_vector`` (for mmff's streams:
    :func:`mmff.models.fusion.skeleton_vector`, i.e. what the skeleton-only model classifies);
    the I3D trunk gives the 2048-d clip feature of ``batch["clip"]`` (N, 3, T, H, W). Their
    concatenation goes through one FC layer to the classes (feature-level late fusion). Both
    streams are called as modules, so MAC counters attribute their cost to them.
    """

    def __init__(self, skeleton_stream: nn.Module, skeleton_dim: int, video_net: I3DResNet50,
                 num_classes: int, to_vector=None):
        super().__init__()
        self.skeleton_stream = skeleton_stream
        self.video_backbone = video_net.backbone
        self.to_vector = to_vector
        self.fc = nn.Linear(skeleton_dim + video_net.feature_dim, num_classes)

    def forward(self, batch: dict) -> torch.Tensor:
        f_skel = self.skeleton_stream(batch["skeleton"])
        if self.to_vector is not None:
            f_skel = self.to_vector(f_skel)
        f_vid = self.video_backbone(batch["clip"])
        return self.fc(torch.cat([f_skel, f_vid], dim=1))
