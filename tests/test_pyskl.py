"""PYSKL/MMAction2 annotation pickles: both layouts, conversion, restricted unpickling."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from mmff.data import SkeletonFormatError
from mmff.data.pyskl import (PysklSample, UnsafePickleError, load_pyskl_annotations,
                             safe_load_pickle)


def _ann(name, label, M=2, T=5, V=25, C=3, seed=0, **extra):
    rng = np.random.default_rng(seed)
    d = {"frame_dir": name, "label": label, "total_frames": T,
         "keypoint": rng.standard_normal((M, T, V, C)).astype(np.float32)}
    d.update(extra)
    return d


def _dump(path, obj, protocol=pickle.HIGHEST_PROTOCOL):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pyskl_layout(tmp_path, protocol):
    anns = [_ann("S001C001P001R001A001", np.int64(0), seed=1),
            _ann("S001C002P003R001A060", 59, M=1, T=7, seed=2,
                 img_shape=(1080, 1920), original_shape=(1080, 1920))]
    split = {"xsub_train": ["S001C001P001R001A001"], "xsub_val": ["S001C002P003R001A060"]}
    p = _dump(tmp_path / "ntu60_3danno.pkl", {"split": split, "annotations": anns}, protocol)
    samples, got_split = load_pyskl_annotations(p)
    assert got_split == split
    assert [s.name for s in samples] == ["S001C001P001R001A001", "S001C002P003R001A060"]
    s0, s1 = samples
    assert isinstance(s0, PysklSample) and s0.label == 0 and type(s0.label) is int
    assert s0.joints.shape == (5, 2, 25, 3) and s0.joints.dtype == np.float32
    assert np.array_equal(s0.joints, anns[0]["keypoint"].transpose(1, 0, 2, 3))
    assert s0.color is None and s0.score is None and s0.num_frames == 5 and s0.num_bodies == 2
    assert s1.joints.shape == (7, 1, 25, 3) and s1.label == 59
    assert s1.extra["img_shape"] == (1080, 1920)


def test_plain_list_layout_2d_scores(tmp_path):
    a = _ann("clip_a", 3, M=1, T=4, V=17, C=2, keypoint_score=np.ones((1, 4, 17), np.float16))
    a["keypoint"] = a["keypoint"].astype(np.float64)
    p = _dump(tmp_path / "list.pkl", [a])
    samples, split = load_pyskl_annotations(p)
    assert split == {} and samples[0].joints.shape == (4, 1, 17, 2)
    assert samples[0].joints.dtype == np.float32 and samples[0].score.shape == (4, 1, 17)


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class _Eval:
    def __reduce__(self):
        return (eval, ("1+1",))


def test_malicious_pickles_are_refused_without_running(tmp_path):
    target = tmp_path / "pwned"
    p = _dump(tmp_path / "evil.pkl", {"annotations": [_Evil(target)]})
    with pytest.raises(UnsafePickleError, match=r"evil.pkl: refusing to load global "
                                                r"(posix|os)\.system"):
        load_pyskl_annotations(p)
    assert not target.exists()
    p = _dump(tmp_path / "eval.pkl", [_Eval()])
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        safe_load_pickle(p)
    assert issubclass(UnsafePickleError, ValueError)


def test_not_a_pickle(tmp_path):
    p = tmp_path / "junk.pkl"
    p.write_bytes(b"\x80\x05garbage that is not a pickle")
    with pytest.raises(SkeletonFormatError, match="junk.pkl: not a readable pickle"):
        load_pyskl_annotations(p)
    full = pickle.dumps([_ann("a", 0)])
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(SkeletonFormatError, match="not a readable pickle"):
        load_pyskl_annotations(p)


@pytest.mark.parametrize("bad, msg", [
    ({"frame_dir": "x", "label": 0}, r"annotation 0: missing key\(s\) keypoint"),
    (dict(_ann("x", 0), keypoint=np.zeros((5, 25, 3))), r"annotation 0 \(x\): expected keypoint"),
    (dict(_ann("x", 0), total_frames=9), "total_frames 9 != keypoint frames 5"),
    (dict(_ann("x", 0), label=-1), "0-based label"),
    (dict(_ann("x", 0), label="drink"), "integer label"),
    (dict(_ann("x", 0), keypoint_score=np.ones((2, 5, 24))), "keypoint_score"),
    ("not a dict", "expected a dict"),
])
def test_bad_annotations(tmp_path, bad, msg):
    p = _dump(tmp_path / "bad.pkl", [bad])
    with pytest.raises(SkeletonFormatError, match=msg):
        load_pyskl_annotations(p)


def test_bad_layouts(tmp_path):
    p = _dump(tmp_path / "s.pkl",
              {"split": {"xsub_train": ["nope"]}, "annotations": [_ann("a", 0)]})
    with pytest.raises(SkeletonFormatError, match="split 'xsub_train' names 1 sample"):
        load_pyskl_annotations(p)
    p = _dump(tmp_path / "d.pkl", {"foo": 1})
    with pytest.raises(SkeletonFormatError, match="'annotations'"):
        load_pyskl_annotations(p)
    p = _dump(tmp_path / "n.pkl", 42)
    with pytest.raises(SkeletonFormatError, match="expected a list or dict"):
        load_pyskl_annotations(p)


# --------------------------------------------------------------------------- the pickle's split
# A trains in both NTU-60 benchmarks by the names' rule (P001, C001 is xview *test*), B likewise
# (P002 train, C002 train); the pickles below say otherwise where noted.
A, B = "S001C001P001R001A001", "S001C002P002R001A002"


def _prepare_pickle(tmp_path, obj, *extra):
    from mmff.cli import main

    for a in (obj["annotations"] if isinstance(obj, dict) else obj):
        a["keypoint"][..., 2] += 3.0                          # in front of the camera
    pkl = _dump(tmp_path / "p.pkl", obj)
    out = tmp_path / "out"
    rc = main(["prepare", "ntu", "--pyskl", str(pkl), "--skeleton-only", "--out", str(out),
               "--workers", "1", "--no-progress", *extra])
    return rc, out


def _subsets(out):
    from mmff.data.prepare import load_index
    return {e["name"]: e["subsets"] for e in load_index(out)["samples"]}


def test_prepare_uses_the_pickles_own_split(tmp_path, capsys):
    import json
    from mmff.data.datasets import subset_names
    from mmff.data.prepare import load_index

    split = {"xsub_train": [A], "xsub_val": [B], "xview_train": [A, B], "xview_val": []}
    rc, out = _prepare_pickle(tmp_path, {"split": split,
                                         "annotations": [_ann(A, 0), _ann(B, 1, seed=1)]})
    assert rc == 0
    assert _subsets(out) == {A: {"ntu60_xsub": "train", "ntu60_xview": "train"},
                             B: {"ntu60_xsub": "test", "ntu60_xview": "train"}}
    index = load_index(out)
    assert subset_names(index, "ntu60_xsub", "test") == [B]
    warnings = json.loads((out / "report.json").read_text())["warnings"]
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning: ")]
    assert err == [f"warning: {w}" for w in warnings] and len(warnings) == 2
    assert "ntu60_xsub: the pickle's split differs from the NTU rule for 1 sample(s)" in warnings[0]
    assert "ntu60_xview: the pickle's split differs from the NTU rule for 1 sample(s)" in warnings[1]


def test_custom_and_partial_splits_say_what_is_recomputed_or_ignored(tmp_path, capsys):
    split = {"mine_train": [A], "mine_val": [B], "train": [B], "test": [A], "holdout": [A]}
    rc, out = _prepare_pickle(tmp_path, {"split": split,
                                         "annotations": [_ann(A, 0), _ann(B, 1, seed=1)]})
    assert rc == 0
    sub = _subsets(out)
    assert sub[A] == {"ntu60_xsub": "train", "ntu60_xview": "test",        # NTU rule
                      "ntu60_mine": "train", "ntu60_pyskl": "test"}        # the pickle's
    assert sub[B]["ntu60_mine"] == "test" and sub[B]["ntu60_pyskl"] == "train"
    err = capsys.readouterr().err
    assert "split 'holdout' ignored: expected NAME_train, NAME_val or NAME_test" in err
    assert ("ntu60_xsub, ntu60_xview: not in the pickle's split; recomputed from the sample "
            "names (NTU rule)") in err


def test_no_split_or_a_sample_outside_it_is_said_loudly(tmp_path, capsys):
    rc, out = _prepare_pickle(tmp_path, [_ann(A, 0), _ann(B, 1, seed=1)])  # plain list: no split
    assert rc == 0 and _subsets(out)[A] == {"ntu60_xsub": "train", "ntu60_xview": "test"}
    err = capsys.readouterr().err
    assert "the pickle has no split; recomputed from the sample names" in err
    # the same OUT again (resumed): the index takes this pickle's split
    rc, out = _prepare_pickle(tmp_path, {"split": {"xsub_train": [A], "xview_val": [A]},
                                         "annotations": [_ann(A, 0), _ann(B, 1, seed=1)]})
    assert rc == 0 and _subsets(out)[B] == {}
    err = capsys.readouterr().err
    assert "ntu60_xsub: 1 sample(s) in no part of the pickle's split, left out of ntu60_xsub" in err


def test_split_errors_and_duplicate_annotations(tmp_path, capsys):
    rc, _ = _prepare_pickle(tmp_path, {"split": {"xsub_train": [A], "xsub_val": [A]},
                                       "annotations": [_ann(A, 0)]})
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "'xsub_val': 'S001C001P001R001A001' is also in the train" in err[0]
    rc, out = _prepare_pickle(tmp_path, [_ann(A, 0, T=5), _ann(A, 1, T=7, seed=1)], "--strict")
    assert rc == 1
    import json
    rep = json.loads((out / "report.json").read_text())
    assert rep["ok"] == 1 and [d["name"] for d in rep["duplicates"]] == [A]
    assert rep["duplicates"][0]["kept"].endswith(f"annotation 0 ({A})")
    assert rep["duplicates"][0]["ignored"][0].endswith(f"annotation 1 ({A})")
    from mmff.data.prepare import load_index
    assert load_index(out)["samples"][0]["num_frames"] == 5 and "duplicate: " in capsys.readouterr().err
