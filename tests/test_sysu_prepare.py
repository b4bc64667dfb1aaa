"""``prepare_sysu`` / ``mmff prepare sysu`` on small synthetic SYSU trees."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from mmff.data.sysu import (list_sysu_sequences, prepare_sysu, read_sysu_skeleton, sysu_benchmark,
                            sysu_folds, write_synthetic_sysu)


@pytest.fixture(scope="module")
def raw_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("sysu_raw")
    write_synthetic_sysu(root, samples_per_class=2, seed=1, size=(128, 96), num_frames=(10, 14))
    return root


@pytest.fixture(scope="module")
def prepared(raw_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("sysu_prepared")
    res = prepare_sysu(raw_tree, out, workers=1, n_folds=4, seed=0, progress=False)
    return out, res


def _index(out):
    return json.loads((out / "index.json").read_text())


def test_prepare_writes_index_with_fold_membership(raw_tree, prepared):
    out, res = prepared
    assert res.report["ok"] == 24 and res.report["failed"] == [] and res.report["missing"] == []
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] == 24
    idx = _index(out)
    assert idx["dataset"] == "sysu" and idx["num_classes"] == 12 and idx["layout"] == "sysu"
    assert idx["sysu"]["settings"]["setting1"] == {"n_folds": 4, "fold_file": None}
    grid, _ = list_sysu_sequences(raw_tree)
    labels = np.array([g.label for g in grid])
    subjects = np.array([g.subject_id for g in grid])
    by_index = {e["sysu_index"]: e for e in idx["samples"]}
    assert sorted(by_index) == list(range(24))
    for setting in ("setting1", "setting2"):
        for k, (train, test) in enumerate(sysu_folds(setting, 4, 0, labels=labels, subjects=subjects)):
            key = sysu_benchmark(setting, k)
            assert sorted(i for i, e in by_index.items() if e["subsets"][key] == "train") == train.tolist()
            assert sorted(i for i, e in by_index.items() if e["subsets"][key] == "test") == test.tolist()
    e = by_index[13]                      # Subject02, video2
    assert e["name"] == "Subject02_video02" and e["label"] == 1 and e["subject"] == 2
    assert e["num_joints"] == 20 and e["num_person"] == 1
    with np.load(out / e["skeleton"]) as z:
        sk = read_sysu_skeleton(raw_tree / "3DvideoNorm" / "Subject02" / "video2")
        np.testing.assert_array_equal(z["joints"], sk.joints)
        np.testing.assert_array_equal(z["color"], sk.color)
    fr = e["frames"][0]
    assert fr["p"] == 0.5 and (out / fr["file"]).is_file()
    assert e["frame_indices"] == [int(np.floor(0.5 * (e["video_frames"] - 1) + 0.5))]
    assert e["frame_size"] == [128, 96]


def test_bad_and_missing_sequences_are_reported_not_fatal(raw_tree, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(raw_tree, raw)
    base = raw / "3DvideoNorm" / "Subject01"
    (base / "video3" / "sklWorld.mat").write_bytes(b"not a mat file" * 20)
    shutil.rmtree(base / "video5" / "rgb")
    (base / "video7" / "sklImage.mat").unlink()
    shutil.rmtree(base / "video9")
    out = tmp_path / "out"
    res = prepare_sysu(raw, out, workers=2, n_folds=2, progress=False)
    rep = json.loads((out / "report.json").read_text())
    assert rep["ok"] == 20 and rep["missing"] == ["Subject01_video09"]
    errors = {f["file"].split("3DvideoNorm/")[1]: f["error"] for f in rep["failed"]}
    assert set(errors) == {"Subject01/video3", "Subject01/video5", "Subject01/video7"}
    assert "video3/sklWorld.mat: not a readable MATLAB .mat file" in errors["Subject01/video3"]
    assert "video5/rgb: missing RGB frame folder" in errors["Subject01/video5"]
    assert "video7/sklImage.mat: file not found" in errors["Subject01/video7"]
    # folds are defined on the full grid: failures do not shift the other samples' membership
    full = _index_subsets(prepare_sysu(raw_tree, tmp_path / "full", workers=1, n_folds=2,
                                       progress=False).index_path)
    part = _index_subsets(res.index_path)
    assert len(part) == 20 and all(part[n] == full[n] for n in part)


def _index_subsets(path):
    return {e["name"]: e["subsets"] for e in json.loads(path.read_text())["samples"]}


def test_resume_skips_finished_and_refreshes_folds(raw_tree, prepared, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(prepared[0], out)
    npz = out / "samples" / "Subject01_video01.npz"
    mtime = npz.stat().st_mtime_ns
    (out / "samples" / "Subject02_video04.json").unlink()     # one unfinished sample
    res = prepare_sysu(raw_tree, out, workers=1, n_folds=4, seed=5, progress=False)
    assert res.written == ["Subject02_video04"] and len(res.skipped) == 23
    assert npz.stat().st_mtime_ns == mtime
    assert _index(out)["sysu"]["seed"] == 5
    assert _index_subsets(res.index_path) != _index_subsets(prepared[1].index_path)


def test_fold_file_replaces_one_setting(raw_tree, tmp_path):
    grid, _ = list_sysu_sequences(raw_tree)
    subjects = np.array([g.subject_id for g in grid])
    # Setting-2 style file, 1-based: subject 1 trains in fold 1, subject 2 in fold 2
    rows = [np.flatnonzero(subjects == s) + 1 for s in (1, 2)]
    f = tmp_path / "sysu_setting2.txt"
    f.write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    out = tmp_path / "out"
    prepare_sysu(raw_tree, out, workers=1, n_folds=3, fold_file=f, progress=False, skeleton_only=True)
    idx = _index(out)
    assert idx["sysu"]["settings"]["setting2"] == {"n_folds": 2, "fold_file": str(f)}
    assert idx["sysu"]["settings"]["setting1"]["n_folds"] == 3
    assert len(idx["samples"]) == len(subjects) and {e["subject"] for e in idx["samples"]} >= {1, 2}
    for e in idx["samples"]:
        assert e["subsets"]["sysu_setting2_fold00"] == ("train" if e["subject"] == 1 else "test")
        assert e["subsets"]["sysu_setting2_fold01"] == ("train" if e["subject"] == 2 else "test")
        assert "sysu_setting2_fold02" not in e["subsets"] and e["frames"] == []


def test_cli_prepare_sysu_strict(raw_tree, tmp_path, capsys):
    from mmff.cli import main
    raw = tmp_path / "raw"
    shutil.copytree(raw_tree, raw)
    assert main(["prepare", "sysu", "--raw", str(raw), "--out", str(tmp_path / "a"),
                 "--workers", "1", "--no-progress", "--strict"]) == 0
    (raw / "3DvideoNorm" / "Subject02" / "video1" / "sklImage.mat").write_text("junk")
    assert main(["prepare", "sysu", "--raw", str(raw), "--out", str(tmp_path / "b"),
                 "--workers", "1", "--no-progress"]) == 0
    assert main(["prepare", "sysu", "--raw", str(raw), "--out", str(tmp_path / "c"),
                 "--workers", "1", "--no-progress", "--strict"]) != 0
    err = capsys.readouterr().err
    assert "Subject02/video1/sklImage.mat" in err


@pytest.mark.parametrize("row", ["setting1/mmff_stgcn", "setting2/mmff_bilstm"])
def test_build_dataset_reads_prepared_sysu(prepared, row):
    """The SYSU configs select train/test of fold k from the prepared index, items per contract."""
    from mmff.config import load_config
    from mmff.data.datasets import build_dataset
    out, _ = prepared
    cfg = load_config(f"sysu/{row}", overrides={"data": {"root": str(out), "fold": 2, "image_size": 64,
                                                         "num_workers": 0, "val": "none"}})  # whole training half
    train, test = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    assert train.classes[0] == "drinking" and len(train.classes) == 12
    assert len(train) + len(test) == 24 and len(test) == 12          # half of each activity / subject
    names = {e["name"] for e in train.entries}
    assert names.isdisjoint(e["name"] for e in test.entries)
    if cfg.data.split == "setting2":
        assert len({e["subject"] for e in train.entries}) == 1
    item = test[0]
    if cfg.model.skeleton.backbone == "stgcn":
        assert tuple(item["skeleton"].shape) == (3, 300, 20, 1)
    else:
        assert tuple(item["skeleton"].shape) == (58, 60)
    assert tuple(item["image"].shape) == (1, 3, 64, 64)
    assert tuple(item["joints2d"].shape) == (1, 1, 20, 2)
    assert tuple(item["displacement"].shape) == (1, 1, 20)
    j = item["joints2d"].numpy()
    assert (j >= 0).all() and (j <= 1).all() and 0 <= int(item["label"]) < 12
