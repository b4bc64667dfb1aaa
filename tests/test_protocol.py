"""The protocol: a validation split carved from the TRAINING samples (never the test split),
monitored alone during training and named in metrics.json; `mmff eval --split val`; and
deterministic runs (the same command twice gives the same numbers and weights)."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mmff.cli import main
from mmff.config import ConfigError, config_from_dict, load_config
from mmff.data.datasets import subset_names, validation_split
from mmff.data.ntu import split_subset
from mmff.data.sysu import fold_subsets, sysu_folds
from mmff.engine.lightning import MMFFDataModule
from mmff.engine.stages import build_trainer, run_stages
from test_engine_support import make_prepared_synth, tiny_cfg_dict

MMFF_BIN = Path(sys.executable).parent / "mmff"
NTU60_XSUB_TRAIN = [1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38]


def data_cfg(**kw):
    return config_from_dict({"data": kw}).data


# --------------------------------------------------------------------------- the split itself
def ntu_index():
    """Every NTU-60 subject x 3 cameras x 4 actions, with the real benchmark subsets."""
    samples = []
    for p in range(1, 41):
        for c in (1, 2, 3):
            for a in (1, 2, 3, 4):
                name = f"S001C{c:03d}P{p:03d}R001A{a:03d}"
                samples.append({"name": name, "label": a - 1, "subject": p, "camera": c,
                                "subsets": {b: split_subset(name, b) for b in ("ntu60_xsub", "ntu60_xview")}})
    return {"samples": samples}


def test_xsub_val_is_two_training_subjects_disjoint_from_test():
    index = ntu_index()
    d = data_cfg()                     # defaults: data.val=subjects, val_fraction=0.1
    val, desc = validation_split(index, "ntu60_xsub", d)
    by_name = {e["name"]: e for e in index["samples"]}
    assert sorted({by_name[n]["subject"] for n in val}) == [9, 28]   # documented default
    assert "subjects 9, 28" in desc and desc.startswith("ntu60_xsub/val")
    train = subset_names(index, "ntu60_xsub", "train", d)
    test = subset_names(index, "ntu60_xsub", "test", d)
    assert not set(val) & set(test) and not set(val) & set(train)
    assert {by_name[n]["subject"] for n in val} <= set(NTU60_XSUB_TRAIN)
    # train + val = the benchmark's training half, exactly
    full = subset_names(index, "ntu60_xsub", "train", data_cfg(val="none"))
    assert sorted(train + val) == sorted(full) and len(val) == 2 * 3 * 4
    assert subset_names(index, "ntu60_xsub", "val", data_cfg(val="none")) == []


def test_xview_val_is_training_view_samples_of_held_out_subjects():
    index = ntu_index()
    val = subset_names(index, "ntu60_xview", "val", data_cfg())
    by_name = {e["name"]: e for e in index["samples"]}
    assert val and all(by_name[n]["camera"] in (2, 3) for n in val)      # training views only
    subj = {by_name[n]["subject"] for n in val}
    assert len(subj) == 4              # 10% of the 40 subjects seen in the training views
    expect = [e["name"] for e in index["samples"] if e["subject"] in subj and e["camera"] != 1]
    assert sorted(val) == sorted(expect)
    assert not set(val) & set(subset_names(index, "ntu60_xview", "test", data_cfg()))


def test_explicit_subjects_and_bad_subjects():
    index = ntu_index()
    val = subset_names(index, "ntu60_xsub", "val", data_cfg(val_subjects=[1, 38]))
    assert {int(n[9:12]) for n in val} == {1, 38}
    with pytest.raises(ValueError, match=r"data.val_subjects: \[3\] are not training subjects"):
        subset_names(index, "ntu60_xsub", "val", data_cfg(val_subjects=[1, 3]))
    with pytest.raises(ValueError, match="holds 240 of the 240 training samples"):
        subset_names(index, "ntu60_xsub", "train", data_cfg(val_subjects=NTU60_XSUB_TRAIN))


def test_fraction_is_per_class_and_independent_of_index_order():
    index = ntu_index()
    d = data_cfg(val="fraction", val_fraction=0.25)
    val = subset_names(index, "ntu60_xsub", "val", d)
    labels = [int(n[-3:]) for n in val]
    assert sorted(np.bincount(labels)[1:].tolist()) == [15, 15, 15, 15]  # 25% of 60 per class
    shuffled = {"samples": random.Random(0).sample(index["samples"], len(index["samples"]))}
    assert sorted(subset_names(shuffled, "ntu60_xsub", "val", d)) == sorted(val)
    assert not set(val) & set(subset_names(index, "ntu60_xsub", "test", d))


@pytest.mark.parametrize("setting", ["setting1", "setting2"])
def test_sysu_val_comes_from_each_folds_training_half(setting):
    subjects = np.repeat(np.arange(1, 41), 12)
    labels = np.tile(np.arange(12), 40)
    folds = sysu_folds(setting, 3, seed=0, labels=labels, subjects=subjects)
    subsets = fold_subsets({setting: folds}, 480)
    index = {"samples": [{"name": f"s{i:03d}", "label": int(labels[i]), "subject": int(subjects[i]),
                          "subsets": subsets[i]} for i in range(480)]}
    picked = []
    for k, (tr, te) in enumerate(folds):
        key = f"sysu_{setting}_fold{k:02d}"
        val = subset_names(index, key, "val", data_cfg())
        ids = {int(n[1:]) for n in val}
        assert ids <= set(tr.tolist()) and not ids & set(te.tolist())
        train_subj = sorted(set(subjects[tr].tolist()))
        val_subj = sorted(set(subjects[sorted(ids)].tolist()))
        assert len(val_subj) == round(0.1 * len(train_subj)) and set(val_subj) <= set(train_subj)
        picked.append(tuple(val_subj))
    if setting == "setting2":          # each fold has its own training subjects
        assert len(set(picked)) > 1


def test_config_keys_are_checked():
    with pytest.raises(ConfigError, match="data.val: 'test' is not one of"):
        config_from_dict({"data": {"val": "test"}})
    with pytest.raises(ConfigError, match="data.val_fraction"):
        config_from_dict({"data": {"val_fraction": 1.0}})
    with pytest.raises(ConfigError, match="data.val_subjects"):
        config_from_dict({"data": {"val_subjects": ["P001"]}})
    with pytest.raises(ConfigError, match="train.early_stop_patience: needs a validation split"):
        config_from_dict({"data": {"val": "none"}, "train": {"early_stop_patience": 3}})
    with pytest.raises(ConfigError, match="train.num_threads"):
        config_from_dict({"train": {"num_threads": -1}})


def test_training_never_validates_on_test_and_early_stopping_watches_val(tmp_path):
    cfg = config_from_dict(tiny_cfg_dict(**{"val": "subjects"}))
    with pytest.raises(ValueError, match="never validates on the test split"):
        MMFFDataModule(cfg, val_subset="test")
    cfg.train.early_stop_patience = 2
    tr = build_trainer(cfg, tmp_path, 1, progress=False)
    es = [c for c in tr.callbacks if type(c).__name__ == "EarlyStopping"]
    assert len(es) == 1 and es[0].monitor == "val/top1" and tr.limit_val_batches == 1.0
    cfg.train.early_stop_patience = None
    cfg.data.val = "none"
    assert build_trainer(cfg, tmp_path, 1, progress=False).limit_val_batches == 0


# --------------------------------------------------------------------------- on prepared SynthHOI
@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """24 SynthHOI classes x 2 samples (one train, one test subject) at 64x48, prepared."""
    return make_prepared_synth(tmp_path_factory.mktemp("protocol"), 2)[1]


def tiny(prepared, **over) -> dict:
    d = tiny_cfg_dict(kind="skeleton_only", epochs=(2, 1, 1), batch_size=8)
    d["model"]["num_classes"] = 24
    d["data"]["root"] = str(prepared)
    for k, v in over.items():
        sec, key = k.split("__")
        d[sec][key] = v
    return d


def test_metrics_json_names_the_validation_split_and_eval_reads_it(prepared, tmp_path, capsys):
    index = json.loads((prepared / "index.json").read_text())
    test_names = {e["name"] for e in index["samples"] if e["subsets"]["ntu60_xsub"] == "test"}
    train_subjects = {e["subject"] for e in index["samples"] if e["subsets"]["ntu60_xsub"] == "train"}
    cfg = config_from_dict(tiny(prepared))
    run_stages(cfg, tmp_path / "run", progress=False)
    m = json.loads((tmp_path / "run/stage1/skeleton/metrics.json").read_text())
    assert m["val_split"].startswith("ntu60_xsub/val (subjects ")
    val = m["val_samples"]
    by_name = {e["name"]: e for e in index["samples"]}
    assert val and not set(val) & test_names
    assert {by_name[n]["subject"] for n in val} <= train_subjects and m["val_top1"] is not None
    # the training set was the rest of the training half: 24 - |val| samples, batch 8, 2 epochs
    assert m["global_step"] == 2 * -(-(24 - len(val)) // 8)
    ev = tmp_path / "ev"
    assert main(["eval", "--checkpoint", str(tmp_path / "run/stage1/skeleton/model.pt"), "--split", "val",
                 "--out", str(ev), "--no-progress"]) == 0
    res = json.loads((ev / "results.json").read_text())
    assert res["num_samples"] == len(val) and res["split"] == "val"
    assert res["split_description"] == m["val_split"]
    assert abs(res["top1"] - m["val_top1"]) < 1e-6      # the same model on the same split


def test_val_none_trains_on_the_whole_training_split(prepared, tmp_path):
    cfg = config_from_dict(tiny(prepared, data__val="none"))
    run_stages(cfg, tmp_path / "run", progress=False)
    m = json.loads((tmp_path / "run/stage1/skeleton/metrics.json").read_text())
    assert m["val_split"] is None and m["val_samples"] == [] and m["val_top1"] is None
    assert m["global_step"] == 2 * 3                    # all 24 training samples, batch 8


def _train_cmd(cfg_file: Path, prepared: Path, out: Path) -> list:
    return [str(MMFF_BIN), "train", "--config", str(cfg_file), "--data", str(prepared), "--out", str(out),
            "--stage", "1", "--no-progress"]


def test_same_command_twice_gives_identical_numbers_and_weights(prepared, tmp_path):
    """A small real training run (augmentation, projection crop, 2 loader workers, dropout), twice,
    each in its own process: byte-identical metrics.json numbers and identical weights."""
    d = tiny(prepared, model__kind="rgb_only", data__num_workers=2, data__image_size=32)
    d["data"].update(crop_margin=[10, 30], test_margin=20)
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(yaml.safe_dump(d))
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    runs = []
    for name in ("a", "b"):
        proc = subprocess.run(_train_cmd(cfg_file, prepared, tmp_path / name), capture_output=True, text=True,
                              timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        m = json.loads((tmp_path / name / "stage1/rgb/metrics.json").read_text())
        m.pop("seconds")
        sd = torch.load(tmp_path / name / "stage1/rgb/model.pt", weights_only=True)["state_dict"]
        runs.append((m, sd))
    (ma, sa), (mb, sb) = runs
    assert json.dumps(ma, sort_keys=True) == json.dumps(mb, sort_keys=True)
    assert ma["val_top1"] is not None and ma["global_step"] > 0
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_num_threads_is_applied(prepared, tmp_path):
    before = torch.get_num_threads()
    try:
        cfg = load_config("demo", {"data": {"root": str(prepared)}, "train": {"num_threads": 1}})
        assert cfg.train.num_threads == 1
        from mmff.engine.lightning import configure_threads
        configure_threads(cfg)
        assert torch.get_num_threads() == 1
        cfg.train.num_threads = 0            # 0 keeps what is set
        configure_threads(cfg)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
