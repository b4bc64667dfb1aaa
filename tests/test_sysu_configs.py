"""configs/sysu/: every SYSU row is its NTU namesake with SYSU's classes, graph, body count and folds."""
from __future__ import annotations

from pathlib import Path

import pytest

from mmff.config import CONFIG_DIR, config_to_dict, load_config

SYSU = CONFIG_DIR / "sysu"
ROWS = sorted(p.stem for p in (SYSU / "setting1").glob("*.yaml"))
# keys that make a config SYSU rather than NTU
SYSU_KEYS = {"name", "description", "model.num_classes", "model.skeleton.layout",
             "model.skeleton.num_person", "data.dataset", "data.split", "data.rnn_steps",
             "data.num_person", "data.fold"}


def flat_config(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "epochs":
            out.update(flat_config(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_rows_cover_the_paper_tables():
    need = {"mmff_stgcn", "mmff_bilstm", "stgcn", "stgcn_augment", "xception", "xception_projcrop",
            "mmff_stgcn_wo_enhancement", "mmff_stgcn_wo_augmentation", "mmff_stgcn_wo_projcrop",
            "bilstm", "mmff_bilstm_sum_fusion"}
    need |= {f"mmff_{b}_{a}" for b in ("stgcn", "bilstm")
             for a in ("wo_skeleton_attention", "wo_self_attention", "decision_fusion")}
    need |= {f"{r}_{n}layer" for r in ("bigru", "lstm", "bilstm") for n in (1, 2, 3)}
    assert need <= set(ROWS)
    assert ROWS == sorted(p.stem for p in (SYSU / "setting2").glob("*.yaml"))


@pytest.mark.parametrize("row", ROWS)
def test_sysu_row_matches_its_ntu_row(row):
    s1 = load_config(SYSU / "setting1" / f"{row}.yaml")
    s2 = load_config(SYSU / "setting2" / f"{row}.yaml")
    for cfg, split in ((s1, "setting1"), (s2, "setting2")):
        assert cfg.model.num_classes == 12 and cfg.model.skeleton.layout == "sysu"
        assert cfg.model.skeleton.num_person == 1 and cfg.data.num_person == 1
        assert cfg.data.dataset == "sysu" and cfg.data.split == split and cfg.data.fold == 0
        assert cfg.data.rnn_steps == 58 and cfg.data.clip_len == 300
    a, b = flat_config(config_to_dict(s1)), flat_config(config_to_dict(s2))
    assert {k for k in a if a[k] != b[k]} == {"name", "description", "data.split"}
    ntu_path = CONFIG_DIR / "ntu60_xsub" / f"{row}.yaml"
    if ntu_path.is_file():  # same row, same switches as on NTU
        n = flat_config(config_to_dict(load_config(ntu_path)))
        assert {k: (a[k], n[k]) for k in a if k not in SYSU_KEYS and a[k] != n[k]} == {}
    assert "Setting-2" in s2.description and s1.name.startswith("sysu_s1_")


@pytest.mark.parametrize("row", ["mmff_stgcn", "mmff_bilstm"])
def test_tiny_sysu_model_builds(row):
    import torch
    from mmff.models import create_model
    cfg = load_config(SYSU / "setting1" / f"{row}.yaml", overrides={
        "model": {"skeleton": {"width": 0.125, "rnn_hidden": 8, "rnn_layers": 1},
                  "rgb": {"width": 0.0625, "middle_blocks": 0, "lstm_feature_dim": 8,
                          "pretrained": None},  # the configs' imagenet: no download in tests
                  "fusion": {"reduced_channels": 8, "hidden": 16, "conv_channels": 16}},
        "data": {"image_size": 64, "clip_len": 16}})
    model = create_model(cfg).eval()
    skel = torch.randn(2, 3, 16, 20, 1) if row == "mmff_stgcn" else torch.randn(2, 58, 60)
    batch = {"skeleton": skel, "image": torch.randn(2, 1, 3, 64, 64),
             "joints2d": torch.rand(2, 1, 1, 20, 2), "displacement": torch.rand(2, 1, 1, 20)}
    with torch.no_grad():
        assert tuple(model(batch).shape) == (2, 12)
