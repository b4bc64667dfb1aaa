"""Every config file in configs/ loads and builds its model (at tiny size) and runs a forward."""
from pathlib import Path

import pytest
import torch

from mmff.config import CONFIG_DIR, GRAPH_BACKBONES, load_config
from mmff.models import (CTRGCN, MMFF, STGCN, RGBOnly, SkeletonOnly, StackedRNN, STGCNpp,
                         create_model, num_joints)

CONFIGS = sorted(CONFIG_DIR.rglob("*.yaml"))
# shrink sizes only; every switch the file sets (backbone, layers, fusion, attention, K) is kept
TINY = {"model": {"skeleton": {"width": 0.125, "rnn_hidden": 8},
                  "rgb": {"width": 0.0625, "middle_blocks": 0, "lstm_feature_dim": 8,
                          "pretrained": None},
                  "fusion": {"reduced_channels": 8, "conv_channels": 16, "hidden": 8, "sum_dim": 8}},
        "data": {"clip_len": 8, "rnn_steps": 4, "image_size": 64}}


def test_configs_exist_and_names_are_unique():
    assert len(CONFIGS) >= 30
    names = [load_config(p).name for p in CONFIGS]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"config names used twice: {sorted(dup)}"
    assert (CONFIG_DIR / "README.md").is_file()


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(CONFIG_DIR)) for p in CONFIGS])
def test_config_builds_tiny_model(path: Path):
    full = load_config(path)
    cfg = load_config(path, TINY)
    torch.manual_seed(0)
    model = create_model(cfg).eval()
    kind = {"mmff": MMFF, "skeleton_only": SkeletonOnly, "rgb_only": RGBOnly}[cfg.model.kind]
    assert isinstance(model, kind)
    n, s = 1, cfg.model.skeleton
    v, m, k = num_joints(s.layout), s.num_person, cfg.num_frames
    graph = s.backbone in GRAPH_BACKBONES
    skel = torch.randn(n, 3, 8, v, m) if graph else torch.randn(n, 4, m * v * 3)
    batch = {"skeleton": skel, "image": torch.randn(n, k, 3, 64, 64),
             "joints2d": torch.rand(n, k, m, v, 2), "displacement": torch.rand(n, k, m, v)}
    with torch.no_grad():
        out = model(batch)
    assert out.shape == (n, full.model.num_classes) and torch.isfinite(out).all()
    # the switches of the full-size file are what the tiny model was built with
    if cfg.model.kind != "rgb_only":
        rnn = getattr(model.skeleton_stream, "rnn", None)
        assert model.skeleton_stream.kind == ("map" if graph else "vector")
        cls = {"stgcn": STGCN, "stgcnpp": STGCNpp, "ctrgcn": CTRGCN}.get(s.backbone, StackedRNN)
        assert type(model.skeleton_stream) is cls
        if not graph:
            assert rnn.num_layers == full.model.skeleton.rnn_layers
            assert rnn.bidirectional == (s.backbone != "lstm")
    if cfg.model.kind != "skeleton_only":
        rgb = model.rgb_stream
        assert (rgb.self_attention is not None) == full.model.rgb.self_attention
        assert rgb.use_skeleton_attention == full.model.rgb.skeleton_attention
        assert len(rgb.backbones) == (1 if full.model.rgb.share_backbone else full.num_frames)
