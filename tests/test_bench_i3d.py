"""I3D-ResNet-50 baseline of ``mmff bench``: parameters and MACs against published figures."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from mmff.engine.benchmarks.i3d import (I3D_VARIANTS, PUBLISHED, I3DResNet50,
                                        LateFusionBaseline)

# torchvision resnet50 without its 1000-class FC (the 2D trunk every variant inflates)
R50_TRUNK_PARAMS = 23_508_032
# 3x3 conv weights of the 16 bottlenecks: 64^2*9*3 + 128^2*9*4 + 256^2*9*6 + 512^2*9*3
R50_3X3_PARAMS = 11_317_248


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _gmacs(m: torch.nn.Module, shape) -> float:
    with torch.device("meta"):
        x = torch.zeros(shape)
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        m(x)
    return fc.get_total_flops() / 2e9


def test_mmaction2_variant_matches_model_zoo_params_exactly():
    # MMAction2 i3d_r50_32x2x1 metafile: Parameters 28043472 (400 Kinetics classes)
    ref = PUBLISHED["mmaction2"]
    m = I3DResNet50(ref["num_classes"], "mmaction2")
    assert _params(m) == ref["params"] == 28_043_472


def test_mmaction2_variant_macs_match_model_zoo():
    # The metafile's 43.56 GFLOPs (mmcv counts MACs, plus BN/ReLU/pool element ops, ~0.7%)
    # are for a 32x256x256 clip; we count conv + linear MACs only.
    with torch.device("meta"):
        m = I3DResNet50(400, "mmaction2").eval()
    g = _gmacs(m, (1, 3, 32, 256, 256))
    assert 0.98 * PUBLISHED["mmaction2"]["gmacs"] <= g <= PUBLISHED["mmaction2"]["gmacs"]


def test_full_inflation_params_formula_and_paper_row():
    # every 3x3 -> 3x3x3 (2 extra taps per weight), stem 7x7 -> 7x7x7 (6 extra taps), 60-class FC
    m = I3DResNet50(60, "full")
    expected = R50_TRUNK_PARAMS + 2 * R50_3X3_PARAMS + 6 * (64 * 3 * 7 * 7) + 2048 * 60 + 60
    assert _params(m) == expected == 46_321_916
    # the paper's Table 2 "Inflated Resnet50" row: 46.8M
    assert abs(expected - PUBLISHED["full"]["params"]) / PUBLISHED["full"]["params"] < 0.015


def test_full_inflation_macs_at_benchmark_clip():
    with torch.device("meta"):
        full = I3DResNet50(60, "full").eval()
        light = I3DResNet50(60, "mmaction2").eval()
    g_full = _gmacs(full, (1, 3, 32, 224, 224))
    g_light = _gmacs(light, (1, 3, 32, 224, 224))
    # 16 temporal positions through every stage, 3x3x3 kernels: 136 GMACs, in the range of the
    # paper's 168G row (its input size is not given); MMAction2's variant pools time 8x early.
    assert 120 < g_full < 170
    assert 3.5 < g_full / g_light < 4.5


def test_inflation_patterns_have_resnet50_block_counts():
    for spec in I3D_VARIANTS.values():
        assert tuple(len(s) for s in spec.inflate) == (3, 4, 6, 3)


def test_forward_shapes_and_bad_input():
    torch.manual_seed(0)
    m = I3DResNet50(7, "mmaction2").eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        assert m(x).shape == (2, 7)
        assert m.forward_features(x).shape == (2, 2048)
    with pytest.raises(ValueError, match=r"\(N, 3, T, H, W\)"):
        m(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="variant"):
        I3DResNet50(7, "nope")


def test_late_fusion_baseline_concatenates_both_streams():
    torch.manual_seed(0)
    video = I3DResNet50(3, "mmaction2").eval()
    skel = torch.nn.Linear(6, 5)
    model = LateFusionBaseline(skel, 5, video, 3).eval()
    batch = {"skeleton": torch.randn(2, 6), "clip": torch.randn(2, 3, 8, 32, 32)}
    with torch.no_grad():
        out = model(batch)
        feats = torch.cat([skel(batch["skeleton"]), video.forward_features(batch["clip"])], 1)
    assert out.shape == (2, 3)
    torch.testing.assert_close(out, model.fc(feats))
    # the video trunk is shared, not copied
    assert model.video_backbone is video.backbone
