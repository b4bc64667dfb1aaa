"""`mmff predict` on the real NTU pair: top-k JSON, heat map, the same model input as the prepared
dataset, one-line errors for bad/mismatched pairs, folder mode with a CSV."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from mmff.cli import main
from mmff.data.ntu import NTU60_CLASSES
from mmff.engine.predict import Predictor, check_pair, sample_stem
from test_predict_support import NAME, make_checkpoint, prepare_real_pair, tiny_predict_cfg

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    return {"mmff": make_checkpoint(d / "mmff.pt"),
            "skeleton": make_checkpoint(d / "skel.pt", kind="skeleton_only")}


@pytest.fixture(scope="module")
def pair(ntu_dir):
    return ntu_dir / f"{NAME}.skeleton", ntu_dir / f"{NAME}_rgb.avi"


def _topk_ok(res: dict, k: int = 5) -> None:
    top = res["topk"]
    assert len(top) == k and res["seconds"] > 0
    probs = [t["prob"] for t in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert len({t["label"] for t in top}) == k
    assert all(t["name"] == NTU60_CLASSES[t["label"]] for t in top)


def test_predict_json_and_heatmap_on_the_real_pair(ckpts, pair, tmp_path, capsys):
    png = tmp_path / "heat.png"
    rc = main(["predict", "-k", str(ckpts["mmff"]), "--skeleton", str(pair[0]), "--video", str(pair[1]),
               "--json", "--heatmap", str(png)])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    _topk_ok(res)
    assert res["sample"] == NAME
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 10_000
    # text output with another k
    assert main(["predict", "-k", str(ckpts["mmff"]), "-s", str(pair[0]), "-v", str(pair[1]),
                 "--topk", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(NAME) and out.count("%") == 3


def test_raw_input_equals_the_prepared_dataset_item(ckpts, pair, ntu_dir, tmp_path):
    """predict builds its input with the dataset's own item code: same skeleton, displacement
    and 2D joints; the image differs only by the prepared JPEG's compression."""
    from mmff.data.datasets import PreparedDataset

    pred = Predictor(ckpts["mmff"])
    s = pred.load(*pair)
    assert s.frame_indices == [51] and s.crops.shape == (1, 48, 48, 3)
    ds = PreparedDataset(prepare_real_pair(ntu_dir, tmp_path), pred.cfg, "all", train=False)
    item = ds[0]
    assert set(item) - {"label", "index"} == set(s.item)
    torch.testing.assert_close(s.item["skeleton"], item["skeleton"], rtol=0, atol=0)
    torch.testing.assert_close(s.item["displacement"], item["displacement"], rtol=0, atol=0)
    torch.testing.assert_close(s.item["joints2d"], item["joints2d"], rtol=0, atol=1e-6)
    diff = (s.item["image"] - item["image"]).abs()
    assert diff.mean() < 0.03 and diff.max() < 0.5  # normalised units (std 0.5): JPEG q95 noise
    # different position -> another frame of the video, same skeleton stream input
    p3 = Predictor(ckpts["mmff"], positions=[0.3])
    s3 = p3.load(*pair)
    assert s3.frame_indices == [31]
    torch.testing.assert_close(s3.item["skeleton"], s.item["skeleton"])
    assert not torch.equal(s3.item["image"], s.item["image"])


def test_skeleton_only_needs_no_video_and_rgb_needs_one(ckpts, pair, capsys):
    assert main(["predict", "-k", str(ckpts["skeleton"]), "-s", str(pair[0]), "--json", "--topk", "4"]) == 0
    _topk_ok(json.loads(capsys.readouterr().out), 4)
    assert main(["predict", "-k", str(ckpts["mmff"]), "-s", str(pair[0])]) == 2
    err = capsys.readouterr().err.strip()
    assert "--video" in err and len(err.splitlines()) == 1
    # a video given to a skeleton-only model is not needed, but must be of the same sample
    other = pair[0].with_name("S001C001P001R001A011.skeleton")
    assert main(["predict", "-k", str(ckpts["skeleton"]), "-s", str(other), "-v", str(pair[1])]) == 2
    assert "different samples" in capsys.readouterr().err


def _one_line_error(capsys, *needles) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


def test_bad_inputs_give_one_line_errors(ckpts, pair, ntu_dir, tmp_path, capsys):
    k = str(ckpts["mmff"])
    other = ntu_dir / "S001C001P001R001A011.skeleton"
    assert main(["predict", "-k", k, "-s", str(other), "-v", str(pair[1])]) == 2
    _one_line_error(capsys, "different samples", "S001C001P001R001A011", NAME)
    # no body in any frame
    empty = tmp_path / f"{NAME}.skeleton"
    empty.write_text("2\r\n0\r\n0\r\n")
    assert main(["predict", "-k", k, "-s", str(empty), "-v", str(pair[1])]) == 2
    _one_line_error(capsys, "no body", str(empty))
    # unreadable video
    bad = tmp_path / f"{NAME}_rgb.avi"
    bad.write_bytes(b"not a video" * 100)
    assert main(["predict", "-k", k, "-s", str(pair[0]), "-v", str(bad)]) == 2
    _one_line_error(capsys, str(bad))
    # wrong number of positions for a one-frame model
    assert main(["predict", "-k", k, "-s", str(pair[0]), "-v", str(pair[1]), "--position", "0.3", "0.5"]) == 2
    _one_line_error(capsys, "--position")
    # not a checkpoint
    assert main(["predict", "-k", str(bad), "-s", str(pair[0]), "-v", str(pair[1])]) == 2
    _one_line_error(capsys, str(bad))


def test_sample_names():
    assert sample_stem("/x/S001C002P003R002A013_rgb.avi") == "S001C002P003R002A013"
    assert sample_stem("a/clip_rgb.mp4") == "clip" == sample_stem("clip.skeleton")
    assert check_pair("S001C002P003R002A013.skeleton", "S001C002P003R002A013_rgb.avi") == "S001C002P003R002A013"
    with pytest.raises(ValueError, match="different samples"):
        check_pair("S001C002P003R002A013.skeleton", "S001C002P003R002A014_rgb.avi")


def test_folder_mode_writes_csv_and_reports_bad_pairs(ckpts, pair, ntu_dir, tmp_path, capsys):
    skel, vids = tmp_path / "skel", tmp_path / "vids"
    skel.mkdir()
    vids.mkdir()
    (skel / pair[0].name).symlink_to(pair[0])
    (vids / pair[1].name).symlink_to(pair[1])
    (skel / "S001C001P001R001A011.skeleton").symlink_to(ntu_dir / "S001C001P001R001A011.skeleton")  # no video
    (skel / "S002C001P001R001A002.skeleton").write_text("1\n0\n")                                 # no body
    (vids / "S002C001P001R001A002_rgb.avi").symlink_to(pair[1])
    out = tmp_path / "preds.csv"
    args = ["predict", "-k", str(ckpts["mmff"]), "-s", str(skel), "-v", str(vids), "--out", str(out),
            "--topk", "3", "--no-progress", "--json", "--batch-size", "2"]
    assert main(args + ["--workers", "1"]) == 0
    cap = capsys.readouterr()
    summary = json.loads(cap.out)
    assert summary["samples"] == 1 and len(summary["failed"]) == 2
    assert "S001C001P001R001A011" in cap.err and "no body" in cap.err
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and rows[0]["sample"] == NAME and rows[0]["true_label"] == "0"
    assert list(rows[0])[:5] == ["sample", "true_label", "label", "name", "prob"] and "prob_3" in rows[0]
    assert rows[0]["name"] == NTU60_CLASSES[int(rows[0]["label"])]
    probs = [float(rows[0][c]) for c in ("prob", "prob_2", "prob_3")]
    assert probs == sorted(probs, reverse=True)
    assert summary["accuracy"] == float(rows[0]["label"] == rows[0]["true_label"])  # of the 1 labelled sample
    # strict: the first bad pair stops the run with one line
    assert main(args + ["--strict"]) == 2
    _one_line_error(capsys, "S001C001P001R001A011")


def test_folder_mode_skeleton_only(ckpts, ntu_dir, tmp_path, capsys):
    skel = tmp_path / "s"
    skel.mkdir()
    for n in ("S001C001P001R001A001", "S001C001P001R001A011", "S001C003P008R002A058"):
        (skel / f"{n}.skeleton").symlink_to(ntu_dir / f"{n}.skeleton")
    out = tmp_path / "p.csv"
    assert main(["predict", "-k", str(ckpts["skeleton"]), "-s", str(skel), "--out", str(out),
                 "--no-progress"]) == 0
    assert "3 samples predicted, 0 failed" in capsys.readouterr().out
    rows = list(csv.DictReader(out.open()))
    assert [r["true_label"] for r in rows] == ["0", "10", "57"]
    # batched folder predictions equal one-by-one predictions
    pred = Predictor(ckpts["skeleton"])
    for r in rows:
        one = pred(skel / f"{r['sample']}.skeleton", topk=1)["topk"][0]
        assert one["label"] == int(r["label"]) and abs(one["prob"] - float(r["prob"])) < 1e-5


def test_bilstm_multi_frame_checkpoint(tmp_path, pair):
    """RNN skeleton input and 3 frames (Table 4) go through the same path."""
    k = make_checkpoint(tmp_path / "b.pt", backbone="bilstm", fusion="lstm_late", positions=(0.3, 0.5, 0.7))
    pred = Predictor(k)
    res, s, probs = pred.predict_one(*pair, topk=5)
    _topk_ok(res)
    assert s.frame_indices == [31, 51, 71] and tuple(s.item["skeleton"].shape) == (8, 150)
    assert tuple(s.item["image"].shape) == (3, 3, 48, 48)
    probs2, maps = pred.predict_with_maps({k: v[None] for k, v in s.item.items()})
    assert set(maps) == {"M_1", "M_2", "M_ske"} and tuple(maps["M_ske"].shape) == (1, 3, 1, 2, 2)
    assert torch.equal(probs2[0], probs)
    assert np.isclose(float(probs.sum()), 1.0, atol=1e-5)
    assert tiny_predict_cfg().num_frames == 1


def test_folder_mode_with_two_workers_equals_one_by_one(ckpts, ntu_dir, tmp_path, capsys):
    """Several MMFF pairs (1 and 2 bodies, CRLF and LF files, 103/82/70-frame skeletons on 103- and
    72-frame videos) read by 2 worker processes in batches of 3 (a partial last batch): every
    row is the prediction of that pair alone (no sample mix-up across workers or batches)."""
    skel, vids = tmp_path / "skel", tmp_path / "vids"
    skel.mkdir()
    vids.mkdir()
    a001_avi, hug = ntu_dir / f"{NAME}_rgb.avi", ntu_dir / "extra/ntu_sample_two_person_hug.avi"
    pairs = {NAME: (ntu_dir / f"{NAME}.skeleton", a001_avi),
             "S001C001P001R001A011": (ntu_dir / "S001C001P001R001A011.skeleton", a001_avi),
             "S001C003P008R002A058": (ntu_dir / "S001C003P008R002A058.skeleton", hug),
             "S002C002P002R002A011": (ntu_dir / "lf/S001C001P001R001A011.skeleton", hug)}
    for n, (s, v) in pairs.items():
        (skel / f"{n}.skeleton").symlink_to(s)
        (vids / f"{n}_rgb.avi").symlink_to(v)
    out = tmp_path / "p.csv"
    assert main(["predict", "-k", str(ckpts["mmff"]), "-s", str(skel), "-v", str(vids), "--out", str(out),
                 "--topk", "60", "--no-progress", "--batch-size", "3", "--workers", "2"]) == 0
    assert "4 samples predicted, 0 failed" in capsys.readouterr().out
    rows = {r["sample"]: r for r in csv.DictReader(out.open())}
    assert sorted(rows) == sorted(pairs)

    def vector(r: dict) -> np.ndarray:  # the CSV's 60 (label, prob) cells -> the probability vector
        v = np.full(60, np.nan)
        for k in range(1, 61):
            sfx = "" if k == 1 else f"_{k}"
            v[int(r["label" + sfx])] = float(r["prob" + sfx])
        return v

    pred = Predictor(ckpts["mmff"])
    one = {n: pred.predict_one(skel / f"{n}.skeleton", vids / f"{n}_rgb.avi")[2].double().numpy()
           for n in pairs}
    for n in pairs:
        got = vector(rows[n])
        assert not np.isnan(got).any(), n
        # the CSV keeps 6 decimals: equal to the one-by-one probabilities up to that rounding
        assert np.abs(got - one[n]).max() <= 1e-6, n
    # the untrained model is near-uniform, but the four inputs still give vectors more than twice
    # the tolerance apart: a row holding another pair's prediction (a mix-up across workers or
    # batches) would miss its own by > 2e-6 - 5e-7 of rounding > 1e-6, and fail above
    names = list(pairs)
    gaps = [np.abs(one[a] - one[b]).max() for i, a in enumerate(names) for b in names[i + 1:]]
    assert min(gaps) > 2e-6, gaps
