"""Dataset items over a prepared folder: the batch contract of docs/design.md."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mmff.config import config_from_dict
from mmff.data.datasets import benchmark_key, build_dataset
from mmff.data.prepare import PreparedError, prepare_ntu
from test_prepare import H, W, make_skeleton
from test_video import make_video

# P001/P002 are cross-subject training subjects, P003/P006 test ones
NAMES = ["S001C001P001R001A001", "S001C002P002R001A002", "S001C003P003R001A003",
         "S001C001P006R001A001"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    d = tmp_path_factory.mktemp("dsraw")
    for i, n in enumerate(NAMES):
        make_skeleton(d / f"{n}.skeleton", T=20 + i, bodies=1 + i % 2, seed=i)
        make_video(d / f"{n}_rgb.avi", n=21 + i, w=W, h=H)
    (d / "classes.txt").write_text("a\nb\nc\n")
    out = tmp_path_factory.mktemp("prep")
    assert prepare_ntu(d, out, workers=1, positions=[0.3, 0.5, 0.7],
                       progress=False).report["ok"] == 4
    full = tmp_path_factory.mktemp("prepfull")
    prepare_ntu(d, full, workers=1, store="full", progress=False)
    return out, full


def cfg_for(root, backbone="stgcn", kind="mmff", positions=(0.5,), **data):
    return config_from_dict({
        "data": {"root": str(root), "dataset": "synth", "positions": list(positions),
                 "image_size": 64, "val": "none", **data},  # the whole training split (2 samples)
        "model": {"kind": kind, "num_classes": 3,   # M of the model = M of the data (config check)
                  "skeleton": {"backbone": backbone, "num_person": data.get("num_person", 2)}}})


def test_benchmark_keys():
    assert benchmark_key(cfg_for("x").data) == "ntu60_xsub"
    c = config_from_dict({"data": {"dataset": "ntu120", "split": "xset"}})
    assert benchmark_key(c.data) == "ntu120_xset"
    c = config_from_dict({"data": {"dataset": "sysu", "split": "setting2", "fold": 3}})
    assert benchmark_key(c.data) == "sysu_setting2_fold03"
    with pytest.raises(ValueError, match="data.split"):
        benchmark_key(config_from_dict({"data": {"dataset": "ntu60", "split": "xset"}}).data)


@pytest.mark.parametrize("train", [True, False])
def test_stgcn_items_follow_the_contract(prepared, train):
    root, _ = prepared
    cfg = cfg_for(root, positions=(0.3, 0.5, 0.7))
    ds = build_dataset(cfg, "train", train)
    assert len(ds) == 2 and ds.classes == ["a", "b", "c"]
    it = ds[1]
    assert it["skeleton"].shape == (3, 300, 25, 2) and it["skeleton"].dtype == torch.float32
    assert it["image"].shape == (3, 3, 64, 64) and it["image"].dtype == torch.float32
    assert it["joints2d"].shape == (3, 2, 25, 2) and it["displacement"].shape == (3, 2, 25)
    assert it["label"].dtype == torch.int64 and it["label"].item() == 1
    assert it["index"].item() == 1
    j2d = it["joints2d"]
    assert (j2d >= 0).all() and (j2d <= 1).all() and (j2d[:, 0] > 0).all()
    assert (j2d[:, 1] > 0).all()        # the second sample has two bodies
    assert it["image"].min() >= -1 - 1e-6 and it["image"].max() <= 1 + 1e-6  # mean=std=0.5
    assert (it["displacement"][:, 0, 7] > 0).all()   # the moving hand
    test = build_dataset(cfg, "test", False)
    assert len(test) == 2 and sorted(e["name"] for e in test.entries) == sorted(NAMES[2:])


def test_test_items_are_deterministic_train_items_vary(prepared):
    root, _ = prepared
    cfg = cfg_for(root)
    a, b = build_dataset(cfg, "test", False)[0], build_dataset(cfg, "test", False)[0]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["skeleton"], b["skeleton"])
    ds = build_dataset(cfg, "train", True)
    x, y = ds[0], ds[0]
    assert not torch.equal(x["skeleton"], y["skeleton"])   # augmentation redrawn


def test_rnn_items_and_skeleton_only(prepared):
    root, _ = prepared
    ds = build_dataset(cfg_for(root, "bilstm", kind="skeleton_only"), "train", True)
    it = ds[0]
    assert set(it) == {"skeleton", "label", "index"}
    assert it["skeleton"].shape == (32, 150)
    assert build_dataset(cfg_for(root, "bigru", rnn_steps=58), "test")[0]["skeleton"].shape == (58, 150)


def test_offline_expansion_and_dataloader(prepared):
    root, _ = prepared
    ds = build_dataset(cfg_for(root, offline_expand=5), "train", True)
    assert len(ds) == 10
    it = ds[7]
    assert it["index"].item() == 7 and it["label"].item() == ds[1]["label"].item()
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 1, 3, 64, 64) and batch["label"].shape == (4,)
    assert len(build_dataset(cfg_for(root, offline_expand=5), "test", False)) == 2


def test_without_projection_crop_needs_full_frames(prepared):
    root, full = prepared
    with pytest.raises(PreparedError, match="--store full"):
        build_dataset(cfg_for(root, projection_crop=False), "train")
    ds = build_dataset(cfg_for(full, projection_crop=False, random_crop=224), "test")
    it = ds[0]
    assert it["image"].shape == (1, 3, 64, 64)
    # centre 224/256 crop of the full frame: joints near the frame centre stay inside (0, 1)
    j = it["joints2d"][0, 0]
    assert (j > 0).all() and (j < 1).all()


def test_config_errors_name_the_problem(prepared, tmp_path):
    root, _ = prepared
    with pytest.raises(PreparedError, match="0.4"):
        build_dataset(cfg_for(root, positions=(0.4,)), "train")
    with pytest.raises(PreparedError, match="ntu60_xsub"):
        build_dataset(cfg_for(root, dataset="sysu", split="setting1"), "train")
    with pytest.raises(PreparedError, match="index.json"):
        build_dataset(cfg_for(tmp_path), "train")


def test_num_person_slices_or_pads_bodies(prepared):
    root, _ = prepared
    it = build_dataset(cfg_for(root, "lstm", num_person=1), "train", False)[1]
    assert it["skeleton"].shape == (32, 75) and it["joints2d"].shape == (1, 1, 25, 2)
    it = build_dataset(cfg_for(root, num_person=3), "test", False)[0]
    assert it["skeleton"].shape == (3, 300, 25, 3) and it["displacement"].shape == (1, 3, 25)
