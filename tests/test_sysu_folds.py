"""SYSU protocols: Setting-1 / Setting-2 random folds and the fold files that circulate."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmff.data import SkeletonFormatError
from mmff.data.sysu import (fold_subsets, infer_fold_setting, load_fold_file, read_sysu_metadata,
                            sysu_benchmark, sysu_folds, write_mat)


@pytest.fixture(scope="module")
def meta(sysu_meta_dir):
    return read_sysu_metadata(sysu_meta_dir)


def _same(a, b):
    return all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def test_setting1_halves_every_activity_on_real_metadata(meta):
    labels = meta["labels"]
    folds = sysu_folds("setting1", 30, seed=0, labels=labels)
    assert len(folds) == 30
    for train, test in folds:
        assert len(train) == 240 and len(test) == 240
        assert np.intersect1d(train, test).size == 0 and np.union1d(train, test).size == 480
        np.testing.assert_array_equal(np.bincount(labels[train], minlength=12), np.full(12, 20))
        np.testing.assert_array_equal(np.bincount(labels[test], minlength=12), np.full(12, 20))
    # random halves: the folds differ from each other and mix subjects across train/test
    assert len({tuple(f[0]) for f in folds}) == 30
    assert infer_fold_setting(folds, meta["subjects"]) == "setting1"


def test_setting2_never_shares_a_subject_on_real_metadata(meta):
    subjects = meta["subjects"]
    folds = sysu_folds("setting2", 30, seed=0, subjects=subjects)
    for train, test in folds:
        assert len(train) == 240 and len(test) == 240
        s_tr, s_te = np.unique(subjects[train]), np.unique(subjects[test])
        assert len(s_tr) == 20 and len(s_te) == 20 and np.intersect1d(s_tr, s_te).size == 0
    assert len({tuple(f[0]) for f in folds}) == 30
    assert infer_fold_setting(folds, subjects) == "setting2"


@pytest.mark.parametrize("setting", ["setting1", "setting2"])
def test_folds_are_reproducible_from_the_seed(meta, setting):
    kw = dict(labels=meta["labels"], subjects=meta["subjects"])
    a = sysu_folds(setting, 30, seed=0, **kw)
    b = sysu_folds(setting, 30, seed=0, **kw)
    c = sysu_folds(setting, 30, seed=1, **kw)
    assert _same(a, b)
    assert not any(np.array_equal(x[0], y[0]) for x, y in zip(a, c))
    assert _same(sysu_folds(setting, 2, seed=0, **kw), a[:2])   # fold k does not depend on n_folds
    other = "setting2" if setting == "setting1" else "setting1"
    assert not np.array_equal(sysu_folds(other, 1, seed=0, **kw)[0][0], a[0][0])


def test_odd_counts_and_bad_arguments():
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    (train, test), = sysu_folds("setting1", 1, seed=5, labels=labels)
    assert len(test) == 1 + 2 and len(train) == 2 + 2            # test = n // 2 per activity
    subjects = np.array([1, 1, 2, 2, 3, 3])
    (train, test), = sysu_folds(2, 1, seed=5, subjects=subjects)
    assert len(np.unique(subjects[test])) == 1
    with pytest.raises(ValueError, match="setting1.*labels"):
        sysu_folds("setting1", 3, labels=None)
    with pytest.raises(ValueError, match="setting1' or 'setting2'"):
        sysu_folds("setting3", 3, labels=labels)
    assert sysu_benchmark("setting2", 3) == "sysu_setting2_fold03"


def test_fold_subsets_membership(meta):
    f1 = sysu_folds("setting1", 3, labels=meta["labels"])
    f2 = sysu_folds("setting2", 3, subjects=meta["subjects"])
    subs = fold_subsets({"setting1": f1, "setting2": f2}, 480)
    assert len(subs) == 480 and len(subs[0]) == 6
    for k in range(3):
        key = sysu_benchmark("setting2", k)
        train = [i for i, s in enumerate(subs) if s[key] == "train"]
        np.testing.assert_array_equal(train, f2[k][0])


def _reference_folds(meta, setting="setting2", n=4):
    return sysu_folds(setting, n, seed=7, labels=meta["labels"], subjects=meta["subjects"])


@pytest.mark.parametrize("fmt", ["v5", "v7.3"])
@pytest.mark.parametrize("transpose", [False, True])
def test_load_mat_fold_matrix(tmp_path, meta, fmt, transpose):
    ref = _reference_folds(meta)
    mat = np.stack([tr for tr, _ in ref]).astype(np.float64) + 1     # MATLAB: 1-based, 4 x 240
    p = write_mat(tmp_path / "folds.mat", {"train_idx": mat.T if transpose else mat}, fmt)
    assert _same(load_fold_file(p, 480), ref)


def test_load_mat_mask_and_key(tmp_path, meta):
    ref = _reference_folds(meta, "setting1")
    mask = np.zeros((4, 480), dtype=np.uint8)
    for k, (tr, _) in enumerate(ref):
        mask[k, tr] = 1
    p = write_mat(tmp_path / "mask.mat", {"m": mask.T, "other": np.ones((2, 2))}, "v5")
    with pytest.raises(SkeletonFormatError, match="exactly one numeric variable"):
        load_fold_file(p, 480)
    assert _same(load_fold_file(p, 480, key="m"), ref)


@pytest.mark.parametrize("base", [0, 1])
def test_load_text_fold_file(tmp_path, meta, base):
    ref = _reference_folds(meta)
    sep = "," if base else " "
    lines = ["# train indices, one fold per line"] + [sep.join(str(i + base) for i in tr) for tr, _ in ref]
    p = tmp_path / "folds.txt"
    p.write_text("\n".join(lines) + "\n")
    assert _same(load_fold_file(p, 480), ref)
    assert _same(load_fold_file(p, 480, base=base), ref)


def test_load_json_and_npy(tmp_path, meta):
    ref = _reference_folds(meta)
    p = tmp_path / "folds.json"
    p.write_text(json.dumps({"folds": [{"train": tr.tolist()} for tr, _ in ref]}))
    assert _same(load_fold_file(p, 480), ref)
    q = tmp_path / "folds.npy"
    np.save(q, np.stack([tr for tr, _ in ref]))
    assert _same(load_fold_file(q, 480), ref)


def test_bad_fold_files_name_the_file(tmp_path):
    p = tmp_path / "folds.txt"
    p.write_text("1 2 3\n4 five 6\n")
    with pytest.raises(SkeletonFormatError, match=r"folds\.txt:2: expected integer"):
        load_fold_file(p, 480)
    p.write_text("0 5 480\n")
    with pytest.raises(SkeletonFormatError, match=r"folds\.txt: indices contain both 0 and 480"):
        load_fold_file(p, 480)
    p.write_text("3 5 900\n")
    with pytest.raises(SkeletonFormatError, match=r"folds\.txt: fold 1: expected 0-based indices"):
        load_fold_file(p, 480)
    p.write_text("3 5 5\n")
    with pytest.raises(SkeletonFormatError, match="repeated sequence index"):
        load_fold_file(p, 480)
    with pytest.raises(SkeletonFormatError, match="fold file not found"):
        load_fold_file(tmp_path / "none.mat", 480)
    j = tmp_path / "f.json"
    j.write_text("[[1, 2], [3,")
    with pytest.raises(SkeletonFormatError, match=r"f\.json:1: not valid JSON"):
        load_fold_file(j, 480)
