"""NTU RGB+D 120: configs/ntu120_xsub/ and ntu120_xset/ are their NTU-60 namesakes with 120
classes and the NTU-120 benchmarks, and the data layer carries them end to end (`mmff prepare
ntu` -> 120 class names and the ntu120_xsub/xset subsets -> train / val / test datasets)."""
from __future__ import annotations

import pytest

from mmff.cli import main
from mmff.config import CONFIG_DIR, config_to_dict, load_config
from mmff.data.datasets import PreparedDataset
from mmff.data.ntu import NTU120_CLASSES
from mmff.data.prepare import PreparedError, load_index
from test_ntu_splits import XSUB120_TRAIN
from test_prepare import make_skeleton
from test_sysu_configs import flat_config

XSUB, XSET = CONFIG_DIR / "ntu120_xsub", CONFIG_DIR / "ntu120_xset"
ROWS = sorted(p.stem for p in XSUB.glob("*.yaml"))
XSET_ROWS = sorted(p.stem for p in XSET.glob("*.yaml"))
# keys that make a config NTU-120 rather than NTU-60
NTU120_KEYS = {"name", "description", "model.num_classes", "data.dataset", "data.split"}


def test_rows_cover_baselines_mmff_and_ablations():
    base = {"stgcn", "stgcn_augment", "bilstm", "xception", "mmff_stgcn", "mmff_bilstm"}
    ablations = {f"mmff_{b}_{a}" for b in ("stgcn", "bilstm")
                 for a in ("wo_skeleton_attention", "wo_self_attention", "decision_fusion")}
    assert base | ablations | {"xception_attention"} <= set(ROWS)
    assert base <= set(XSET_ROWS) <= set(ROWS)


@pytest.mark.parametrize("row", ROWS)
def test_ntu120_row_is_its_ntu60_row_with_120_classes(row):
    cfg = load_config(XSUB / f"{row}.yaml")
    assert cfg.model.num_classes == 120 and cfg.data.dataset == "ntu120"
    assert cfg.data.split == "xsub" and cfg.name == f"ntu120_xsub_{row}"
    a = flat_config(config_to_dict(cfg))
    n = flat_config(config_to_dict(load_config(CONFIG_DIR / "ntu60_xsub" / f"{row}.yaml")))
    assert {k: (a[k], n[k]) for k in a if k not in NTU120_KEYS and a[k] != n[k]} == {}
    if row in XSET_ROWS:
        x = load_config(XSET / f"{row}.yaml")
        assert x.model.num_classes == 120 and x.name == f"ntu120_xset_{row}"
        b = flat_config(config_to_dict(x))
        assert {k for k in a if a[k] != b[k]} == {"name", "description", "data.split"}
        assert b["data.split"] == "xset"


# --------------------------------------------------------------------------- end to end
# NTU-120 names (setups 18-32 and actions 61-120 exist only in NTU-120). Cross-subject: P001,
# P045, P103 train, P003, P044 test; cross-setup: even setups (S018, S020) train.
NAMES = ["S018C001P001R001A001", "S018C002P045R001A061", "S019C001P003R001A120",
         "S020C003P103R002A120", "S021C001P044R001A061", "S019C002P045R001A001"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    raw = tmp_path_factory.mktemp("ntu120raw")
    for i, n in enumerate(NAMES):
        make_skeleton(raw / f"{n}.skeleton", T=12 + i, seed=i)
    out = tmp_path_factory.mktemp("ntu120prep")
    # no --benchmark: setups > 17 and actions > 60 make it NTU-120 (120 class names)
    assert main(["prepare", "ntu", "--raw", str(raw), "--out", str(out), "--skeleton-only",
                 "--workers", "1", "--no-progress"]) == 0
    return out


def _dataset(root, split, subset, **over):
    cfg = load_config(f"ntu120_{split}/stgcn", {"data": {"root": str(root), "clip_len": 16,
                                                         **over}})
    return PreparedDataset(root, cfg, subset, train=False)


def test_prepare_writes_120_classes_and_both_benchmarks(prepared):
    index = load_index(prepared)
    assert index["classes"] == list(NTU120_CLASSES) and index["num_classes"] == 120
    by_name = {e["name"]: e for e in index["samples"]}
    assert by_name["S019C001P003R001A120"]["label"] == 119
    for n, e in by_name.items():
        assert set(e["subsets"]) == {"ntu120_xsub", "ntu120_xset"}   # no NTU-60 sample here
        assert e["subsets"]["ntu120_xsub"] == ("train" if int(n[9:12]) in XSUB120_TRAIN else "test")
        assert e["subsets"]["ntu120_xset"] == ("train" if int(n[1:4]) % 2 == 0 else "test")


@pytest.mark.parametrize("split", ["xsub", "xset"])
def test_ntu120_configs_read_train_val_test(prepared, split):
    sets = {s: _dataset(prepared, split, s) for s in ("train", "val", "test")}
    names = {s: {e["name"] for e in ds.entries} for s, ds in sets.items()}
    index = {e["name"]: e for e in load_index(prepared)["samples"]}
    key = f"ntu120_{split}"
    assert names["train"] | names["val"] == {n for n, e in index.items()
                                             if e["subsets"][key] == "train"}
    assert names["test"] == {n for n, e in index.items() if e["subsets"][key] == "test"}
    assert names["val"] and not names["val"] & (names["train"] | names["test"])
    # validation subjects are training subjects, and every sample of them in the training half
    # is held out
    val_subjects = {int(n[9:12]) for n in names["val"]}
    assert val_subjects <= {int(n[9:12]) for n in index if index[n]["subsets"][key] == "train"}
    if split == "xsub":
        assert val_subjects <= XSUB120_TRAIN and val_subjects == {45}
    item = sets["test"][0]
    assert item["skeleton"].shape == (3, 16, 25, 2) and 0 <= int(item["label"]) < 120


def test_ntu120_labels_need_120_classes(prepared):
    cfg = load_config("ntu60_xsub/stgcn", {"data": {"root": str(prepared), "dataset": "ntu120"}})
    with pytest.raises(PreparedError, match=r"label 119, but model.num_classes is 60"):
        PreparedDataset(prepared, cfg, "test")
