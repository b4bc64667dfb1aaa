"""`mmff prepare ntu`: mixed good/bad folders, --strict, resume, layout (mmff.data.prepare)."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from mmff.cli import main
from mmff.data.prepare import (PreparedError, load_index, load_sample_arrays, prepare_ntu,
                               write_index, write_prepared_sample)
from mmff.data.video import frame_index, read_frame_at
from test_video import make_video

W, H = 96, 72
GOOD = ["S001C001P001R001A001", "S001C002P002R001A002"]
BAD_SKELETON = "S001C003P003R001A003"
BAD_VIDEO = "S001C001P004R001A001"
NO_VIDEO = "S001C001P005R001A002"
NO_SKELETON = "S001C001P006R001A003"


def make_skeleton(path, T=22, bodies=1, seed=0):
    """A small moving body (or two) whose colour coordinates are the pinhole projection into a
    W x H frame."""
    from mmff.data.ntu import write_skeleton

    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.25, (25, 3)).astype(np.float32)
    t = np.linspace(0, 1, T, dtype=np.float32)[:, None, None, None]
    j = np.zeros((T, bodies, 25, 3), np.float32)
    for m in range(bodies):
        j[:, m] = base + np.array([0.6 * m - 0.3 * (bodies - 1), 0, 3.0], np.float32)
    j[:, :, 7] += t[:, :, 0] * np.array([0.3, 0.2, 0.0], np.float32)   # a moving hand
    f = 1.1 * H
    color = np.stack([f * j[..., 0] / j[..., 2] + (W - 1) / 2,
                      (H - 1) / 2 - f * j[..., 1] / j[..., 2]], -1).astype(np.float32)
    write_skeleton(path, j, color, list(range(72057594037931101, 72057594037931101 + bodies)))
    return j, color


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    d = tmp_path_factory.mktemp("raw")
    make_skeleton(d / f"{GOOD[0]}.skeleton", T=22)
    make_skeleton(d / f"{GOOD[1]}.skeleton", T=18, bodies=2, seed=1)
    make_skeleton(d / f"{BAD_VIDEO}.skeleton", T=10, seed=2)
    make_skeleton(d / f"{NO_VIDEO}.skeleton", T=10, seed=3)
    (d / f"{BAD_SKELETON}.skeleton").write_text("22\r\n1\r\nnot a body line\r\n")
    make_video(d / f"{GOOD[0]}_rgb.avi", n=24, w=W, h=H)
    make_video(d / f"{GOOD[1]}_rgb.avi", n=17, w=W, h=H)
    make_video(d / f"{BAD_SKELETON}_rgb.avi", n=5, w=W, h=H)
    make_video(d / f"{NO_SKELETON}_rgb.avi", n=5, w=W, h=H)
    (d / f"{BAD_VIDEO}_rgb.avi").write_bytes(b"RIFF\x00\x00garbage" * 100)
    (d / "classes.txt").write_text("drink\nwave\nclap\n")
    return d


def _report(out):
    return json.loads((out / "report.json").read_text())


def test_mixed_folder_reports_every_bad_file_and_exits_0(raw, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["prepare", "ntu", "--raw", str(raw), "--out", str(out), "--workers", "2",
               "--positions", "0.3", "0.5", "--no-progress"])
    assert rc == 0
    rep = _report(out)
    assert rep["ok"] == 2
    failed = {os.path.basename(f["file"]): f["error"] for f in rep["failed"]}
    assert set(failed) == {f"{BAD_SKELETON}.skeleton", f"{BAD_VIDEO}_rgb.avi"}
    assert all(name in err for name, err in failed.items())   # one line naming the file
    assert rep["missing"] == [NO_VIDEO, NO_SKELETON]
    assert rep["missing_reasons"][NO_VIDEO] == "skeleton file without video"
    assert rep["missing_reasons"][NO_SKELETON] == "video without skeleton file"
    index = load_index(out)
    assert index["classes"] == ["drink", "wave", "clap"] and index["positions"] == [0.3, 0.5]
    e = {s["name"]: s for s in index["samples"]}
    assert sorted(e) == GOOD
    s = e[GOOD[1]]
    assert s["label"] == 1 and s["subject"] == 2 and s["camera"] == 2
    assert s["subsets"] == {"ntu60_xsub": "train", "ntu60_xview": "train"}
    assert s["video_frames"] == 17 and s["num_frames"] == 18 and s["frame_size"] == [W, H]
    assert s["frame_indices"] == [frame_index(0.3, 17), frame_index(0.5, 17)]
    joints, color = load_sample_arrays(out, s)
    assert joints.shape == (18, 2, 25, 3) and color.shape == (18, 2, 25, 2)
    # the stored crop is the frame at p (lossy JPEG) around the joints at the same p
    import cv2

    assert [fr["p"] for fr in s["frames"]] == [0.3, 0.5]  # one stored crop per position
    for fr in s["frames"]:
        crop = cv2.imread(str(out / fr["file"]))[..., ::-1]
        full = read_frame_at(raw / f"{GOOD[1]}_rgb.avi", fr["p"])
        x0, y0 = fr["offset"]
        ref = full[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]]
        assert ref.shape == crop.shape and [crop.shape[1], crop.shape[0]] == fr["size"]
        assert np.abs(ref.astype(int) - crop).mean() < 4
        pts = color[frame_index(fr["p"], 18)].reshape(-1, 2)
        assert (pts >= [x0, y0]).all() and (pts <= [x0 + crop.shape[1], y0 + crop.shape[0]]).all()
    assert "ok" in capsys.readouterr().out
    assert not list(out.rglob(".tmp-*"))


def test_strict_exits_non_zero_after_reporting(raw, tmp_path):
    out = tmp_path / "out"
    rc = main(["prepare", "ntu", "--raw", str(raw), "--out", str(out), "--workers", "1",
               "--strict", "--no-progress"])
    assert rc == 1
    assert _report(out)["ok"] == 2 and len(_report(out)["failed"]) == 2


def test_official_missing_list_skips_by_name(raw, tmp_path):
    lst = tmp_path / "missing.txt"
    lst.write_text(f"header\nheader\n\n{NO_VIDEO}\n{BAD_SKELETON}\n")
    res = prepare_ntu(raw, tmp_path / "out", workers=1, missing=lst, progress=False)
    assert res.report["missing_reasons"][BAD_SKELETON].startswith("on the official")
    assert res.report["missing_reasons"][NO_VIDEO].startswith("on the official")
    assert [os.path.basename(f["file"]) for f in res.failed] == [f"{BAD_VIDEO}_rgb.avi"]


def test_missing_list_default_is_the_official_file_beside_raw_or_a_warning(raw, tmp_path, capsys):
    """No --missing: the official list is looked up by its file name in --raw and its parent
    (used and said), else one warning line says where to get it (it is not redistributed)."""
    data = tmp_path / "nturgbd"
    (data / "raw").mkdir(parents=True)
    for f in raw.iterdir():   # as an NTU folder: without the custom classes.txt
        if f.name != "classes.txt":
            (data / "raw" / f.name).symlink_to(f)
    args = ["prepare", "ntu", "--raw", str(data / "raw"), "--workers", "1", "--no-progress"]
    assert main(args + ["--out", str(tmp_path / "o1")]) == 0
    err = capsys.readouterr().err.splitlines()
    warn = [ln for ln in err if ln.startswith("warning: no --missing")]
    assert len(warn) == 1 and "github.com/shahroudy/NTURGB-D" in warn[0]
    assert "reported as failed" in warn[0] and str(data / "raw") in warn[0]
    assert BAD_SKELETON in {os.path.basename(f["file"]).split(".")[0]
                            for f in _report(tmp_path / "o1")["failed"]}
    official = data / "NTU_RGBD_samples_with_missing_skeletons.txt"   # in the parent of --raw
    official.write_text(f"header\nheader\n\n{NO_VIDEO}\n{BAD_SKELETON}\n")
    assert main(args + ["--out", str(tmp_path / "o2")]) == 0
    err = capsys.readouterr().err
    assert f"using the official missing-skeleton list {official}" in err and "warning: no" not in err
    rep = _report(tmp_path / "o2")
    assert rep["missing_reasons"][BAD_SKELETON].startswith("on the official")
    assert [os.path.basename(f["file"]) for f in rep["failed"]] == [f"{BAD_VIDEO}_rgb.avi"]
    # an explicit --missing wins over the file beside --raw
    other = tmp_path / "mine.txt"
    other.write_text(f"{NO_VIDEO}\n")
    assert main(args + ["--out", str(tmp_path / "o3"), "--missing", str(other)]) == 0
    assert "using the official" not in capsys.readouterr().err
    # a folder with its own classes.txt (SynthHOI, a custom NTU-format set): no list, no warning
    official.unlink()
    (data / "raw" / "classes.txt").write_text("".join(f"class {i}\n" for i in range(60)))
    assert main(args + ["--out", str(tmp_path / "o4")]) == 0
    err = capsys.readouterr().err
    assert "warning: no --missing" not in err and "using the official" not in err
    assert BAD_SKELETON not in _report(tmp_path / "o3")["missing_reasons"]


def test_resume_skips_finished_samples_and_removes_leftovers(raw, tmp_path):
    out = tmp_path / "out"
    r1 = prepare_ntu(raw, out, workers=1, limit=1, progress=False)
    assert r1.written == [GOOD[0]]
    npz = out / "samples" / f"{GOOD[0]}.npz"
    t0 = npz.stat().st_mtime_ns
    # a killed run leaves a temp file and a sample without its "done" marker
    (out / "frames" / ".tmp-killed").write_bytes(b"half")
    r2 = prepare_ntu(raw, out, workers=1, progress=False)
    assert r2.skipped == [GOOD[0]] and r2.written == [GOOD[1]]
    assert npz.stat().st_mtime_ns == t0          # not rewritten
    assert not list(out.rglob(".tmp-*"))
    (out / "samples" / f"{GOOD[1]}.json").unlink()  # marker missing -> redone
    r3 = prepare_ntu(raw, out, workers=1, progress=False)
    assert r3.written == [GOOD[1]] and r3.report["ok"] == 2 and r3.report["skipped"] == 1
    assert len(load_index(out)["samples"]) == 2
    # other positions: nothing is reused
    r4 = prepare_ntu(raw, out, workers=1, positions=[0.5, 0.7], progress=False)
    assert sorted(r4.written) == GOOD


def test_real_ntu_sample_and_skeleton_only(ntu_dir, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in ("S001C001P001R001A001.skeleton", "S001C001P001R001A001_rgb.avi"):
        os.symlink(ntu_dir / f, raw / f)
    res = prepare_ntu(raw, tmp_path / "o", workers=1, progress=False)
    s = load_index(tmp_path / "o")["samples"][0]
    assert res.report["ok"] == 1 and s["frame_indices"] == [51] and s["frame_size"] == [1920, 1080]
    assert s["subsets"] == {"ntu60_xsub": "train", "ntu60_xview": "test"}
    w, h = s["frames"][0]["size"]
    assert 300 < w < 1920 and 300 < h <= 1080       # a crop around the person, not the frame
    res = prepare_ntu(raw, tmp_path / "s", skeleton_only=True, workers=1, progress=False,
                      benchmark="ntu120")
    s = load_index(tmp_path / "s")["samples"][0]
    assert s["frames"] == [] and set(s["subsets"]) == {"ntu60_xsub", "ntu60_xview",
                                                       "ntu120_xsub", "ntu120_xset"}
    assert len(load_index(tmp_path / "s")["classes"]) == 120


def test_writer_api_for_other_datasets(tmp_path):
    j = np.ones((5, 2, 20, 3), np.float32)
    c = np.ones((5, 2, 20, 2), np.float32)
    img = np.zeros((30, 40, 3), np.uint8)
    e = write_prepared_sample(tmp_path, "seq001", j, c, [img], [(3, 4)],
                              {"label": 2, "positions": [0.5],
                               "subsets": {"sysu_setting1_fold00": "train"},
                               "frame_size": [640, 480]})
    assert e["frames"][0]["offset"] == [3, 4] and e["num_joints"] == 20
    write_index(tmp_path, "sysu", ["a", "b", "c"], [e], positions=[0.5], layout="sysu")
    idx = load_index(tmp_path)
    assert idx["dataset"] == "sysu" and idx["samples"][0]["subsets"]["sysu_setting1_fold00"] == "train"
    with pytest.raises(ValueError):
        write_prepared_sample(tmp_path, "x", j, c[..., :1], [], [], {"label": 0, "positions": [0.5]})
    with pytest.raises(PreparedError, match="index.json"):
        load_index(tmp_path / "nowhere")
    (tmp_path / "index.json").write_text("{bad")
    with pytest.raises(PreparedError, match="index.json:1"):
        load_index(tmp_path)


def test_help_lists_options(capsys):
    with pytest.raises(SystemExit):
        main(["prepare", "ntu", "--help"])
    out = capsys.readouterr().out
    for opt in ("--raw", "--videos", "--workers", "--positions", "--strict", "--missing",
                "--benchmark", "--limit", "--pyskl"):
        assert opt in out


def test_pyskl_pickle_as_skeleton_source(raw, tmp_path):
    import pickle

    kp = np.random.default_rng(0).normal(0, 0.3, (1, 22, 25, 3)).astype(np.float32)
    kp[..., 2] += 3
    anns = {"split": {"xsub_train": [GOOD[0]]},
            "annotations": [{"frame_dir": GOOD[0], "label": 0, "keypoint": kp,
                             "total_frames": 22}]}
    pkl = tmp_path / "ntu.pkl"
    pkl.write_bytes(pickle.dumps(anns))
    rc = main(["prepare", "ntu", "--pyskl", str(pkl), "--videos", str(raw), "--out",
               str(tmp_path / "o"), "--workers", "1", "--no-progress"])
    assert rc == 0
    s = load_index(tmp_path / "o")["samples"]
    assert [e["name"] for e in s] == [GOOD[0]]
    joints, color = load_sample_arrays(tmp_path / "o", s[0])
    np.testing.assert_array_equal(joints[:, 0], kp[0])
    assert joints.shape == (22, 2, 25, 3) and (color[:, 0] != 0).all()


def test_no_video_anywhere_fails_and_says_how_to_fix(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_skeleton(raw / f"{GOOD[0]}.skeleton", T=8)
    make_skeleton(raw / f"{GOOD[1]}.skeleton", T=8, seed=1)
    out = tmp_path / "out"
    assert main(["prepare", "ntu", "--raw", str(raw), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(raw) in err[0] and "no video" in err[0], err
    assert "--videos DIR" in err[0] and "--skeleton-only" in err[0]
    assert not (out / "index.json").exists()
    # --pyskl reads no video: the same advice when neither --videos nor --skeleton-only is given
    assert main(["prepare", "ntu", "--pyskl", str(tmp_path / "x.pkl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--videos DIR" in err[0] and "--skeleton-only" in err[0], err
    # the fixes it names work
    assert main(["prepare", "ntu", "--raw", str(raw), "--out", str(out), "--workers", "1",
                 "--no-progress", "--skeleton-only"]) == 0
    assert _report(out)["ok"] == 2


def test_two_files_with_one_name_keep_the_first_and_are_reported(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    name = GOOD[0]
    first, _ = make_skeleton(raw / f"{name}.skeleton", T=9)
    make_skeleton(raw / f"{name}_copy.skeleton", T=12, seed=5)
    make_video(raw / f"{name}_rgb.avi", n=9, w=W, h=H)
    shutil.copy(raw / f"{name}_rgb.avi", raw / f"{name}_rgb.mp4")
    for strict, rc in ((False, 0), (True, 1)):
        out = tmp_path / f"out{int(strict)}"
        assert main(["prepare", "ntu", "--raw", str(raw), "--out", str(out), "--workers", "1",
                     "--no-progress", *(["--strict"] if strict else [])]) == rc
        cap = capsys.readouterr()
        rep = _report(out)
        assert rep["ok"] == 1 and json.loads(cap.out.splitlines()[-1])["duplicates"] == 2
        assert rep["duplicates"] == [
            {"name": name, "kept": str(raw / f"{name}.skeleton"),
             "ignored": [str(raw / f"{name}_copy.skeleton")]},
            {"name": name, "kept": str(raw / f"{name}_rgb.avi"),
             "ignored": [str(raw / f"{name}_rgb.mp4")]}]
        dup_lines = [ln for ln in cap.err.splitlines() if ln.startswith("duplicate: ")]
        assert len(dup_lines) == 2 and f"{name}_copy.skeleton" in dup_lines[0]
        e = load_index(out)["samples"][0]
        joints, _ = load_sample_arrays(out, e)
        assert e["num_frames"] == 9 and np.allclose(joints[:, 0], first[:, 0])  # the first file
