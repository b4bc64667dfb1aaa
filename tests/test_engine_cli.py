"""Engine on the real data path: `mmff synth` + `mmff prepare ntu` (tiny), then the train / eval /
table commands, exact resume with the real dataset's augmentation, and 2-process CPU DDP."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mmff.cli import main
from mmff.config import load_config
from mmff.engine.checkpoint import read_checkpoint
from mmff.engine.stages import run_stages
from mmff.engine.tables import TABLES, detect_dataset, plan_table, run_table
from test_engine_support import make_prepared_synth, state_equal, tiny_cfg_dict

MMFF_BIN = Path(sys.executable).parent / "mmff"


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    """24 SynthHOI classes x 2 samples (one train, one test subject) at 64x48, prepared."""
    return make_prepared_synth(tmp_path_factory.mktemp("synthdata"), 2)[1]


@pytest.fixture(scope="session")
def tiny_yaml(tmp_path_factory, prepared):
    d = tiny_cfg_dict(kind="mmff", epochs=(1, 1, 1), batch_size=8)
    d["model"]["num_classes"] = len(json.loads((prepared / "index.json").read_text())["classes"])
    d["data"]["random_crop"] = 24  # the w/o projection-crop rows crop 24 of the 32-pixel frame
    d["data"]["crop_margin"] = [10, 30]
    d["data"]["test_margin"] = 20
    p = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def test_train_then_eval_from_the_command_line(prepared, tiny_yaml, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--config", str(tiny_yaml), "--data", str(prepared), "--out", str(out),
                 "--stage", "1", "--no-progress"]) == 0
    assert (out / "stage1/skeleton/model.pt").is_file() and (out / "stage1/rgb/model.pt").is_file()
    assert not (out / "stage2").exists()
    assert main(["train", "--config", str(tiny_yaml), "--data", str(prepared), "--out", str(out),
                 "--resume", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "stage1/skeleton" in printed and "skipped (finished)" in printed and "stage3" in printed
    # model.pt carries its config: no --config needed
    assert main(["eval", "--checkpoint", str(out / "stage3" / "model.pt"), "--data", str(prepared),
                 "--out", str(tmp_path / "ev"), "--no-progress"]) == 0
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert res["num_samples"] == 24 and len(res["confusion"]) == 24 and len(res["per_class"]) == 24
    assert (tmp_path / "ev" / "confusion.png").is_file() and (tmp_path / "ev" / "per_class.png").is_file()
    # bad input is one line, not a traceback
    assert main(["eval", "--checkpoint", str(tiny_yaml)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tiny.yaml" in err[0]


def test_demo_ctrgcn_trains_through_the_three_stages(prepared, tmp_path, capsys):
    """`mmff train --config demo_ctrgcn` (MMFF w/ CTR-GCN, cross-attention fusion) on SynthHOI,
    one epoch per stage at a tiny size: the new backbone through stage 1, the frozen-stream
    fusion of stage 2 and the fine-tuning of stage 3, its weights carried from stage to stage."""
    out = tmp_path / "run"
    tiny = ["model.skeleton.width=0.125", "model.rgb.width=0.05", "model.rgb.middle_blocks=0",
            "model.fusion.conv_channels=16", "model.fusion.reduced_channels=8",
            "model.fusion.hidden=16", "data.image_size=32", "data.clip_len=16", "data.val=none",
            "train.epochs={1:1,2:1,3:1}", "train.num_threads=1"]
    assert main(["train", "--config", "demo_ctrgcn", "--data", str(prepared), "--out", str(out),
                 "--no-progress"] + [a for kv in tiny for a in ("--set", kv)]) == 0
    assert "stage3" in capsys.readouterr().out
    skel = read_checkpoint(out / "stage1/skeleton/model.pt")
    final = read_checkpoint(out / "stage3/model.pt")
    assert final["config"]["model"]["skeleton"]["backbone"] == "ctrgcn"
    assert final["config"]["model"]["fusion"]["type"] == "cross_attention"
    key = "skeleton_stream.blocks.3.gcn.alpha"   # CTR-GCN's refinement scale, trained in stage 1
    assert key in skel["state_dict"] and key in final["state_dict"]
    assert float(skel["state_dict"][key]) != 0.0                  # stage 1 trained it
    assert float(final["state_dict"][key]) != float(skel["state_dict"][key])   # stage 3 too


def test_resume_is_exact_with_the_prepared_dataset(prepared, tiny_yaml, tmp_path):
    """Real augmentation (rotation/scale, projection crop) drawn per (seed, epoch, index)."""
    from test_engine_train import Crash, CrashAt
    cfg = load_config(tiny_yaml, {"model": {"kind": "rgb_only"}, "data": {"root": str(prepared), "batch_size": 4},
                                  "train": {"epochs": {1: 2}}})
    run_stages(cfg, tmp_path / "a", progress=False)
    with pytest.raises(Crash):
        run_stages(cfg, tmp_path / "b", progress=False, callbacks=[CrashAt(4)])
    run_stages(cfg, tmp_path / "b", progress=False, resume=True)
    a = read_checkpoint(tmp_path / "a/stage1/rgb/model.pt")["state_dict"]
    b = read_checkpoint(tmp_path / "b/stage1/rgb/model.pt")["state_dict"]
    assert state_equal(a, b) == []


def test_two_process_ddp_matches_one_process(prepared, tiny_yaml, tmp_path):
    """`--devices 2` on CPU (gloo): 2 ranks x batch 4 = one process x batch 8, same samples."""
    common = ["train", "--config", str(tiny_yaml), "--data", str(prepared), "--stage", "1", "--no-progress",
              "--accelerator", "cpu", "--set", "model.kind=skeleton_only", "--set", "train.epochs={1: 3}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([str(MMFF_BIN), *common, "--out", str(tmp_path / "ddp"), "--devices", "2",
                           "--set", "data.batch_size=4"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert main([*common, "--out", str(tmp_path / "one"), "--devices", "1", "--set", "data.batch_size=8"]) == 0
    ddp = json.loads((tmp_path / "ddp/stage1/skeleton/metrics.json").read_text())
    one = json.loads((tmp_path / "one/stage1/skeleton/metrics.json").read_text())
    assert ddp["world_size"] == 2 and one["world_size"] == 1
    assert ddp["global_step"] == one["global_step"] == 9  # 24 train samples / 8 per step x 3 epochs
    assert abs(ddp["train_loss"] - one["train_loss"]) < 1e-3
    assert abs(ddp["val_loss"] - one["val_loss"]) < 1e-3
    assert abs(ddp["val_top1"] - one["val_top1"]) <= 1 / 24 + 1e-6


def test_table_dry_run_lists_every_run(prepared, tiny_yaml, tmp_path, capsys):
    assert detect_dataset(prepared) == "synth"
    assert main(["table", "6", "--data", str(prepared), "--base", str(tiny_yaml), "--seeds", "2",
                 "--out", str(tmp_path), "--dry-run"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[todo]")]
    assert len(lines) == 2 * len(TABLES["6"].rows)
    runs = plan_table("6", prepared, tmp_path, seeds=2, base=str(tiny_yaml), epochs_scale=2.0)
    by_label = {(r.row.group, r.row.label, r.seed): r.cfg for r in runs}
    base = load_config(tiny_yaml)
    wo_self = by_label[("ST-GCN", "MMFF w/o Self-Attention", 1)]
    assert wo_self.model.skeleton.backbone == "stgcn" and wo_self.model.rgb.self_attention is False
    assert wo_self.model.rgb.width == base.model.rgb.width  # the small base, only the switches changed
    assert wo_self.train.seed == base.train.seed + 1 and wo_self.train.epochs == {1: 2, 2: 2, 3: 2}
    assert by_label[("Bi-LSTM", "MMFF-Sum Fusion", 0)].model.fusion.type == "sum"
    assert by_label[("Bi-LSTM", "Baseline", 0)].model.kind == "skeleton_only"
    sweep = plan_table("fig7", prepared, tmp_path, seeds=1, base=str(tiny_yaml))
    assert sorted({r.cfg.data.positions[0] for r in sweep}) == TABLES["fig7"].sweep


TABLE7_ROWS = ["single LSTM", "single Bi-GRU"]


@pytest.fixture(scope="module")
def table7(prepared, tiny_yaml, tmp_path_factory):
    out = tmp_path_factory.mktemp("table7")
    kw = dict(data=prepared, out=out, seeds=2, base=str(tiny_yaml), rows=TABLE7_ROWS, progress=False,
              echo=lambda s: None)
    return kw, run_table("7", **kw)


def test_tiny_table_run_is_resumable(table7):
    kw, t = table7
    out = kw["out"]
    assert [r["label"] for r in t["rows"]] == ["single Bi-GRU", "single LSTM"] and t["failed"] == []
    for r in t["rows"]:
        assert len(r["results"]["synth"]) == 2
        m, s = r["mean_std"]["synth"]
        vals = r["results"]["synth"]
        assert (m, s) == pytest.approx((sum(vals) / 2, abs(vals[0] - vals[1]) / 2 ** 0.5))  # sample std
    md = (out / "table7" / "table7.md").read_text()
    assert "single Bi-GRU" in md and "±" in md and "64.6" in md  # the paper's LSTM figure beside ours
    assert json.loads((out / "table7" / "table7.json").read_text())["rows"][0]["label"] == "single Bi-GRU"
    stamp = [p.stat().st_mtime_ns for p in sorted((out / "table7").rglob("results.json"))]
    t2 = run_table("7", **kw)  # finished runs are skipped
    assert [p.stat().st_mtime_ns for p in sorted((out / "table7").rglob("results.json"))] == stamp
    assert t2["rows"][0]["mean_std"] == t["rows"][0]["mean_std"]


def test_parallel_table_run_matches_sequential(table7, tmp_path):
    kw, seq = table7
    par = run_table("7", **{**kw, "out": tmp_path, "seeds": 1, "jobs": 2})
    assert par["failed"] == []
    assert [r["results"]["synth"] for r in par["rows"]] == [r["results"]["synth"][:1] for r in seq["rows"]]


def _stage1_keys(runs) -> dict:
    """part -> the distinct stage-1 stream keys the runs train (shared across rows)."""
    from mmff.engine.stages import stage1_key, stage_plan
    keys: dict = {"skeleton": set(), "rgb": set()}
    for r in runs:
        for stage, part, _ in stage_plan(r.cfg):
            if stage == 1:
                keys[part].add(stage1_key(r.cfg, part))
    return keys


def test_skeleton_stream_is_shared_by_rows_that_differ_only_in_rgb_data_keys(tiny_yaml, tmp_path):
    """The skeleton-only pipeline reads none of ``RGB_DATA_KEYS`` (frame positions, crop, image
    size, normalisation), so the stage-1 skeleton key ignores them: Fig. 7's nine positions and
    Table 4's 1/3/5 frames train one skeleton stream per backbone and seed, Table 5's projection
    crop on/off one per augmentation setting; the RGB streams stay apart."""
    import copy

    from mmff.data.pipeline import RGB_DATA_KEYS, pipeline_spec
    from mmff.engine.stages import stage1_key, stage_config
    base = load_config(tiny_yaml, {"data": {"root": str(tmp_path)}})
    other = {"positions": [0.3, 0.5, 0.7], "image_size": 48, "projection_crop": False, "crop_margin": [5, 9],
             "test_margin": 7, "crop_margin_scale": "frame_height", "random_crop": 20, "crop_resize": 40,
             "mean": [0.4, 0.4, 0.4], "std": [0.3, 0.3, 0.3]}
    assert set(other) == set(RGB_DATA_KEYS)
    for backbone in ("stgcn", "bilstm"):
        cfg = copy.deepcopy(base)
        cfg.model.skeleton.backbone = backbone
        for key, value in other.items():
            alt = copy.deepcopy(cfg)
            setattr(alt.data, key, value)
            for train in (True, False):  # the skeleton-only model's inputs do not change ...
                assert pipeline_spec(stage_config(alt, "skeleton"), train=train) == \
                    pipeline_spec(stage_config(cfg, "skeleton"), train=train), key
            assert stage1_key(alt, "skeleton") == stage1_key(cfg, "skeleton"), key  # ... nor its key
            assert stage1_key(alt, "rgb") != stage1_key(cfg, "rgb"), key
        alt = copy.deepcopy(cfg)
        alt.data.skeleton_augment = not cfg.data.skeleton_augment
        assert stage1_key(alt, "skeleton") != stage1_key(cfg, "skeleton")
    plan = dict(dataset="synth", out=tmp_path, seeds=1, base=str(tiny_yaml))
    fig7 = _stage1_keys(plan_table("fig7", **plan))
    assert len(fig7["skeleton"]) == 2 and len(fig7["rgb"]) == len(TABLES["fig7"].sweep)
    t4 = _stage1_keys(plan_table("4", **plan))
    assert len(t4["skeleton"]) == 1 and len(t4["rgb"]) == 3
    assert len(_stage1_keys(plan_table("5", **plan))["skeleton"]) == 2


@pytest.fixture(scope="session")
def prepared_v2(tmp_path_factory):
    """SynthHOI v2, 24 classes x 2 samples (cameras 1 and 2) at 64x48, prepared with whole
    frames (Table 5's rows without the projection crop)."""
    return make_prepared_synth(tmp_path_factory.mktemp("synthv2"), 2, version=2,
                               prepare_args=["--store", "full"])[1]


def test_table_on_synth_v2_cross_view_writes_its_json(prepared_v2, tiny_yaml, tmp_path):
    """`mmff table 5` on a SynthHOI v2 folder with the demo-style base: a cross-view run
    (`--set data.split=xview`) is its own column and its own run folders (never the
    cross-subject runs'), and `--json FILE` gets the table's JSON with the per-seed top-1s, mean
    ± std, the command and the schedule."""
    out, js = tmp_path / "tables", tmp_path / "results" / "table5.json"
    args = ["table", "5", "--data", str(prepared_v2), "--base", str(tiny_yaml), "--seeds", "1", "--out", str(out),
            "--rows", "ST-GCN", "--rows", "Xception", "--no-progress"]
    assert main(args + ["--set", "data.split=xview", "--json", str(js)]) == 0
    t = json.loads(js.read_text())
    assert t == json.loads((out / "table5" / "table5.json").read_text())
    assert t["columns"] == {"synth_xview": "synth_xview"} and t["failed"] == []
    assert [r["label"] for r in t["rows"]] == ["ST-GCN", "ST-GCN w/ Data Augmentation", "Xception",
                                              "Xception w/ Projection Crop"]
    for r in t["rows"]:
        (top1,) = r["results"]["synth_xview"]
        assert 0 <= top1 <= 1 and r["mean_std"]["synth_xview"] == [top1, 0.0]
        res = json.loads((out / "table5" / Path(r["file"]).name / "synth_xview" / "seed0" / "results.json")
                         .read_text())
        assert res["top1"] == top1 and res["num_samples"] == 24  # camera 1: the cross-view test half
    assert t["command"].startswith("mmff table 5 --data ") and "--set data.split=xview" in t["command"]
    assert t["command"].endswith(f"--json {js}")
    s = t["schedule"]
    assert s["epochs"] == {"1": 1, "2": 1, "3": 1} and s["splits"] == ["xview"] and s["seeds"] == 1
    assert s["overrides"] == {"data": {"split": "xview"}} and s["data"] == str(prepared_v2.resolve())
    # the cross-subject runs of the same rows live apart
    xsub = plan_table("5", prepared_v2, out, seeds=1, base=str(tiny_yaml), rows=["ST-GCN"])
    assert {r.column for r in xsub} == {"synth"} and all("/synth/seed0" in str(r.dir) for r in xsub)
