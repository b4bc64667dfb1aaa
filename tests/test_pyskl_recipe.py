"""PYSKL's training recipe: uniform sampling to clip_len, the j/b/jm/bm input modalities, the
SGD + cosine schedule, the recipe configs, per-sample scores and `mmff ensemble`."""
from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from torch import nn

from mmff.cli import main
from mmff.config import CONFIG_DIR, ConfigError, config_from_dict, load_config
from mmff.data import transforms as T
from mmff.data.pipeline import pipeline_spec
from mmff.engine.ensemble import ensemble, load_scores, save_scores
from mmff.engine.lightning import MMFFModule
from test_engine_support import make_prepared_synth, tiny_cfg_dict

#: PYSKL's JointToBone pairs for 'nturgb+d' (pyskl/datasets/pipelines/pose_related.py), 0-based
PYSKL_NTU_PAIRS = [(0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20),
                   (9, 8), (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0),
                   (17, 16), (18, 17), (19, 18), (21, 22), (20, 20), (22, 7), (23, 24), (24, 11)]


# --------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("n", [200, 201, 257, 300, 1000])
@pytest.mark.parametrize("seed", [0, 1])
def test_long_clips_take_one_frame_in_each_segment(n, seed):
    idx = T.uniform_clip_indices(n, 100, np.random.default_rng(seed))
    lo = np.arange(100) * n // 100
    hi = np.arange(1, 101) * n // 100
    assert idx.shape == (100,) and ((lo <= idx) & (idx < hi)).all()
    fixed = T.uniform_clip_indices(n, 100)
    assert ((lo <= fixed) & (fixed < hi)).all()


@pytest.mark.parametrize("n", [100, 101, 150, 199])
def test_middle_length_clips_drop_frames_without_repeats(n):
    for rng in (np.random.default_rng(3), None):
        idx = T.uniform_clip_indices(n, 100, rng)
        assert idx.shape == (100,) and idx[0] >= 0 and idx[-1] < n
        assert (np.diff(idx) >= 1).all()          # in order, no frame twice
        assert (np.diff(idx) <= 1 + n - 100).all()
    if n == 100:
        assert (T.uniform_clip_indices(n, 100, np.random.default_rng(3)) == np.arange(100)).all()


def test_short_clips_loop_from_a_start_frame():
    assert (T.uniform_clip_indices(30, 100) == np.arange(100) % 30).all()   # test: start 0
    idx = T.uniform_clip_indices(30, 100, np.random.default_rng(0))
    assert (idx == (idx[0] + np.arange(100)) % 30).all()
    starts = {int(T.uniform_clip_indices(30, 100, np.random.default_rng(s))[0]) for s in range(40)}
    assert len(starts) > 5                                                    # the start is drawn
    assert (T.uniform_clip_indices(1, 4, np.random.default_rng(0)) == 0).all()
    with pytest.raises(ValueError, match="no frames"):
        T.uniform_clip_indices(0, 100)


def test_training_draws_are_seeded_and_test_draws_fixed():
    a = T.uniform_clip_indices(300, 100, np.random.default_rng(5))
    assert (a == T.uniform_clip_indices(300, 100, np.random.default_rng(5))).all()
    assert (a != T.uniform_clip_indices(300, 100, np.random.default_rng(6))).any()
    fixed = T.uniform_clip_indices(300, 100)
    assert (fixed == T.uniform_clip_indices(300, 100)).all()
    assert (fixed != T.uniform_clip_indices(300, 100, seed=1)).any()       # it is the seed's draw
    # the step draws from results["rng"] (the dataset's per-item generator) when training
    j = np.random.default_rng(0).normal(size=(300, 2, 25, 3)).astype(np.float32)
    step = T.UniformSampleFrames(100, train=True)
    out = step({"joints": j, "rng": np.random.default_rng(5)})["joints"]
    assert np.array_equal(out, j[a])
    test = T.UniformSampleFrames(100, train=False)({"joints": j, "rng": np.random.default_rng(5)})
    assert np.array_equal(test["joints"], j[fixed])


# --------------------------------------------------------------------------- modalities
def test_ntu_bones_are_pyskls_joint_to_bone_pairs():
    for graph in ("ntu", "ntu_kinect"):   # bones follow the joints, not the backbone's graph
        parents = T.bone_parents(graph)
        assert [(v, int(parents[v])) for v, _ in PYSKL_NTU_PAIRS] == PYSKL_NTU_PAIRS
    assert T.bone_parents("sysu")[0] == 0 and T.bone_parents("sysu")[3] == 2


def test_modalities_by_hand():
    t = np.arange(3, dtype=np.float32)[:, None]
    v = np.arange(25, dtype=np.float32)[None]
    x = np.zeros((3, 2, 25, 3), np.float32)              # body 1 absent
    x[:, 0, :, 0], x[:, 0, :, 1], x[:, 0, :, 2] = v, t * v, 1.0   # joint v at t: (v, t v, 1)
    parents = T.bone_parents("ntu")
    b = T.skeleton_modality(x, "b", parents)
    assert b[2, 0, 0].tolist() == [-1, -2, 0]             # SpineBase - SpineMid
    assert b[1, 0, 20].tolist() == [0, 0, 0]              # SpineShoulder: the root
    assert b[1, 0, 21].tolist() == [-1, -1, 0]            # HandTipLeft - ThumbLeft
    assert b[2, 0, 22].tolist() == [15, 30, 0]            # ThumbLeft - HandLeft
    assert b[1, 0, 4].tolist() == [-16, -16, 0]           # ShoulderLeft - SpineShoulder
    jm = T.skeleton_modality(x, "jm", parents)
    assert jm[0, 0, 7].tolist() == [0, 7, 0] and jm[1, 0, 24].tolist() == [0, 24, 0]
    assert (jm[2] == 0).all()                             # last frame: no next frame
    bm = T.skeleton_modality(x, "bm", parents)
    assert bm[0, 0, 22].tolist() == [0, 15, 0] and bm[1, 0, 0].tolist() == [0, -1, 0]
    assert (bm[2] == 0).all()
    for m in ("b", "jm", "bm"):
        assert (T.skeleton_modality(x, m, parents)[:, 1] == 0).all()   # absent body stays 0
    assert np.array_equal(T.skeleton_modality(x, "j", parents), x)
    with pytest.raises(ValueError, match="modality"):
        T.skeleton_modality(x, "k", parents)


def test_motion_is_taken_before_sampling_as_pyskl_does():
    """PYSKL: GenSkeFeat (motion on the whole sequence), then UniformSample."""
    j = np.random.default_rng(1).normal(size=(300, 1, 25, 3)).astype(np.float32)
    d = config_from_dict({"data": {"sampling": "uniform", "clip_len": 100, "modality": "jm",
                                   "skeleton_augment": False}}).data
    out = T.build_skeleton_pipeline(d, "stgcn", train=False)({"joints": j})["skeleton"]
    idx = T.uniform_clip_indices(300, 100)
    va = T.va_translate(j)
    nxt = np.minimum(idx + 1, 299)                        # the last real frame's motion is 0
    np.testing.assert_allclose(out[:, :, :, 0].transpose(1, 2, 0), va[nxt, 0] - va[idx, 0],
                               atol=1e-5)
    assert (idx[1:] - idx[:-1] > 1).any()                 # not the sampled clip's own differences


# --------------------------------------------------------------------------- config + specs
def types(spec):
    return [s["type"] for s in spec["transform"]]


def test_config_switches_and_their_steps():
    base = {"model": {"kind": "skeleton_only"}, "data": {"root": "x"}}
    cfg = config_from_dict(base)
    assert (cfg.data.sampling, cfg.data.modality, cfg.train.lr_schedule) == ("pad", "j", "step")
    spec = pipeline_spec(cfg, train=True)
    assert types(spec) == ["VAPre", "SkeletonAugment", "PadToLength", "ToSTGCNInput", "Collect"]
    uni = config_from_dict({**base, "data": {"root": "x", "sampling": "uniform", "clip_len": 100,
                                             "modality": "bm"}})
    for train in (True, False):
        steps = pipeline_spec(uni, train=train)["transform"]
        assert types({"transform": steps})[-4:] == ["SkeletonModality", "UniformSampleFrames",
                                                    "ToSTGCNInput", "Collect"]
        assert steps[-3] == {"type": "UniformSampleFrames", "clip_len": 100, "train": train}
        assert steps[-4] == {"type": "SkeletonModality", "modality": "bm", "layout": "ntu"}
    # predict (and the end-to-end benchmark, which uses predict's loader) get the same steps
    from mmff.engine.predict import SampleLoader
    names = [type(s).__name__ for s in SampleLoader(uni).pipeline.transform.transforms]
    assert "UniformSampleFrames" in names and "SkeletonModality" in names
    # the RNN input has its own rnn_steps sampling: data.sampling uniform would be ignored, so it
    # is refused in one line
    rnn = {"model": {"kind": "skeleton_only", "skeleton": {"backbone": "bilstm"}}, "data": {"root": "x"}}
    assert types(pipeline_spec(config_from_dict(rnn)))[-3:] == ["UniformSample", "ToRNNInput", "Collect"]
    rnn["data"].update(sampling="uniform", clip_len=100)
    with pytest.raises(ConfigError, match="data.sampling: 'uniform' .* is for the graph backbones"):
        config_from_dict(rnn)
    for key, bad in (("data", {"sampling": "random"}), ("data", {"modality": "k"}),
                     ("train", {"lr_schedule": "linear"})):
        with pytest.raises(ConfigError, match=f"{key}.{next(iter(bad))}"):
            config_from_dict({key: bad})


PYSKL_DIR = CONFIG_DIR / "pyskl"
RECIPE = sorted(p for p in PYSKL_DIR.rglob("*.yaml") if not p.stem.startswith("mmff_"))
MMFF_ROWS = sorted(PYSKL_DIR.glob("ntu60_xsub/mmff_*.yaml"))


def test_recipe_configs_are_pyskls():
    assert len(RECIPE) == 4 * 3 * 4 and len(MMFF_ROWS) == 3 * 4   # benchmarks x nets x streams
    for p in RECIPE:
        cfg = load_config(p)
        net, m = p.stem.rsplit("_", 1)
        assert cfg.model.kind == "skeleton_only" and cfg.model.skeleton.backbone == net, p
        assert cfg.data.modality == m, p
        assert (cfg.data.sampling, cfg.data.clip_len, cfg.data.va_rotation,
                cfg.data.skeleton_augment, cfg.data.batch_size) == ("uniform", 100, True, False, 16), p
        t = cfg.train
        assert (t.optimizer, t.lr, t.weight_decay, t.lr_schedule, t.epochs) == (
            "sgd", 0.1, 5e-4, "cosine", {1: 80}), p
        bench = p.parent.name
        assert (f"{cfg.data.dataset}_{cfg.data.split}", cfg.model.num_classes) == (
            bench, 120 if bench.startswith("ntu120") else 60), p
    for p in MMFF_ROWS:
        cfg = load_config(p)
        assert cfg.model.kind == "mmff" and cfg.data.modality == p.stem.rsplit("_", 1)[1]
        assert (cfg.data.sampling, cfg.data.clip_len, cfg.data.va_rotation) == ("uniform", 100, True)
        assert (cfg.train.optimizer, cfg.train.lr_schedule) == ("adam", "step")   # the paper's


@pytest.mark.parametrize("path", RECIPE + MMFF_ROWS, ids=lambda p: str(p.relative_to(PYSKL_DIR)))
def test_recipe_configs_keep_the_model_of_their_row(path):
    """Only data and training change: the network is the ntu60_xsub/ file of the same row."""
    cfg = load_config(path)
    ref = load_config(f"ntu60_xsub/{path.stem.rsplit('_', 1)[0]}")
    ref.model.num_classes = cfg.model.num_classes
    assert cfg.model == ref.model


# --------------------------------------------------------------------------- optimiser
class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, batch):
        return self.fc(batch["x"])


class LrLog(L.Callback):
    def __init__(self):
        self.lrs = []

    def on_train_batch_start(self, trainer, *args):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_cosine_schedule_anneals_per_step_to_zero():
    cfg = config_from_dict({"train": {"optimizer": "sgd", "lr": 0.1, "weight_decay": 5e-4,
                                      "lr_schedule": "cosine", "epochs": {1: 2}}})
    g = torch.Generator().manual_seed(0)
    data = [{"x": torch.randn(4, generator=g), "label": torch.tensor(i % 3)} for i in range(6)]
    module, log = MMFFModule(TinyNet(), cfg, stage=1, num_classes=3), LrLog()
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[log])
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(data, batch_size=2))
    expect = [0.05 * (1 + np.cos(np.pi * k / 6)) for k in range(6)]   # 6 steps in all
    np.testing.assert_allclose(log.lrs, expect, atol=1e-9)
    opt = trainer.optimizers[0]
    assert opt.param_groups[0]["lr"] == pytest.approx(0, abs=1e-12)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["nesterov"]
    assert opt.defaults["momentum"] == 0.9 and opt.defaults["weight_decay"] == 5e-4
    step = MMFFModule(TinyNet(), config_from_dict({}), stage=1).configure_optimizers()
    assert isinstance(step["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)


# --------------------------------------------------------------------------- dataset
@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """SynthHOI, 24 classes x 1 sample (49-74 frames each), prepared."""
    return make_prepared_synth(tmp_path_factory.mktemp("pyskl_synth"), 1)[1]


def synth_cfg(prepared, kind="skeleton_only", **data):
    d = tiny_cfg_dict(kind=kind, backbone="stgcn", fusion="cross_attention")
    d["model"]["num_classes"] = 24
    d["data"].update(root=str(prepared), **data)
    return config_from_dict(d)


def test_prepared_synth_gives_100_uniform_frames_and_the_same_attention_inputs(prepared):
    from mmff.data.datasets import build_dataset

    uni = build_dataset(synth_cfg(prepared, "mmff", sampling="uniform", clip_len=100), "all", False)
    pad = build_dataset(synth_cfg(prepared, "mmff", clip_len=300), "all", False)
    for i in (0, 5):
        a, b = uni[i], pad[i]
        n = uni.joints(i).shape[0]
        assert a["skeleton"].shape == (3, 100, 25, 2) and b["skeleton"].shape == (3, 300, 25, 2)
        assert n < 100 and torch.equal(a["skeleton"][:, :n], b["skeleton"][:, :n])
        assert torch.equal(a["skeleton"][:, n:], a["skeleton"][:, :100 - n])   # looped
        for k in ("displacement", "joints2d", "image"):
            assert torch.equal(a[k], b[k]), k


def test_prepared_synth_training_items_are_seeded(prepared):
    from mmff.data.datasets import build_dataset

    ds = build_dataset(synth_cfg(prepared, sampling="uniform", clip_len=16,
                                 skeleton_augment=False, modality="b"), "all", True)
    items = []
    for seed in (3, 3, 4):
        ds.set_item_seed(seed)
        items.append(ds[0]["skeleton"])
    assert items[0].shape == (3, 16, 25, 2)
    assert torch.equal(items[0], items[1]) and not torch.equal(items[0], items[2])


def test_eval_writes_scores_that_ensemble_reads(prepared, tmp_path, capsys):
    from mmff.engine.checkpoint import save_checkpoint
    from mmff.models import create_model

    cfg = synth_cfg(prepared, sampling="uniform", clip_len=32)
    torch.manual_seed(0)
    classes = json.loads((prepared / "index.json").read_text())["classes"]
    ck = save_checkpoint(tmp_path / "model.pt", create_model(cfg).eval(), cfg, classes)
    assert main(["eval", "--checkpoint", str(ck), "--split", "all", "--out", str(tmp_path / "ev"),
                 "--no-progress"]) == 0
    res = json.loads((tmp_path / "ev/results.json").read_text())
    s = load_scores(tmp_path / "ev")
    index = json.loads((prepared / "index.json").read_text())
    truth = {e["name"]: e["label"] for e in index["samples"]}
    assert sorted(s["names"].tolist()) == sorted(truth)
    assert [truth[n] for n in s["names"]] == s["labels"].tolist()
    assert s["logits"].shape == (24, 24) and s["classes"] == classes
    assert np.mean(s["logits"].argmax(1) == s["labels"]) == pytest.approx(res["top1"])
    capsys.readouterr()
    out = tmp_path / "ens.json"
    assert main(["ensemble", str(tmp_path / "ev"), str(tmp_path / "ev/scores.npz"),
                 "--out", str(out)]) == 0
    fused = json.loads(out.read_text())
    assert fused["ensemble"]["top1"] == pytest.approx(res["top1"])
    assert fused["weights"] == [1.0, 1.0] and "top-1" in capsys.readouterr().out


# --------------------------------------------------------------------------- ensemble
#: probabilities of 4 streams (j, b, jm, bm) for samples s1, s2, s3 (labels 0, 1, 2)
P = {"j": [[.6, .3, .1], [.5, .4, .1], [.2, .3, .5]],
     "b": [[.4, .5, .1], [.3, .6, .1], [.1, .6, .3]],
     "jm": [[.1, .8, .1], [.2, .2, .6], [.1, .1, .8]],
     "bm": [[.1, .1, .8], [.1, .1, .8], [.3, .3, .4]]}
NAMES, LABELS = ["s1", "s2", "s3"], [0, 1, 2]


def write_streams(tmp_path, shuffle=True):
    """One scores.npz per stream; logits = log p + a per-row constant (softmax gives p back);
    the b file lists the samples in another order."""
    paths = []
    for k, (m, p) in enumerate(P.items()):
        order = [2, 0, 1] if (shuffle and m == "b") else [0, 1, 2]
        logits = np.log(np.asarray(p))[order] + np.array([[3.0], [-1.0], [7.0]]) * k
        paths.append(save_scores(tmp_path / m / "scores.npz", [NAMES[i] for i in order],
                                 [LABELS[i] for i in order], logits))
    return paths


def test_ensemble_reproduces_the_hand_computed_fusion(tmp_path):
    paths = write_streams(tmp_path)
    res = ensemble(paths)
    # streams' top-1: j predicts 0,0,2; b 1,1,1; jm 1,2,2; bm 2,2,2 (labels 0,1,2)
    assert [r["top1"] for r in res["streams"]] == pytest.approx([2 / 3, 1 / 3, 1 / 3, 1 / 3])
    assert [r["top5"] for r in res["streams"]] == [1.0] * 4
    # 2:2:1:1 -> s1 (2.2, 2.5, 1.3): 1 wrong; s2 (1.9, 2.3, 1.8): 1 right; s3 (1.0, 2.2, 2.8): 2 right
    assert res["weights"] == [2, 2, 1, 1] and res["ensemble"]["top1"] == pytest.approx(2 / 3)
    # 1:1:1:1 -> s1 (1.2, 1.7, 1.1) wrong; s2 (1.1, 1.3, 1.6) wrong; s3 (0.7, 1.1, 2.0) right
    assert ensemble(paths, [1, 1, 1, 1])["ensemble"]["top1"] == pytest.approx(1 / 3)
    # weights 0:1:0:0 = stream b alone
    assert ensemble(paths, [0, 1, 0, 0])["ensemble"]["top1"] == pytest.approx(1 / 3)


def test_ensemble_sums_probabilities_not_logits(tmp_path):
    """Logits (20, 0), (0, 2), (0, 2), label 1: probabilities say 1 (1.24 vs 1.76), a raw
    logit sum would say 0 (20 vs 4)."""
    paths = [save_scores(tmp_path / f"{k}.npz", ["a"], [1], [row])
             for k, row in enumerate([[20.0, 0.0], [0.0, 2.0], [0.0, 2.0]])]
    res = ensemble(paths)
    assert [r["top1"] for r in res["streams"]] == [0.0, 1.0, 1.0]
    assert res["ensemble"]["top1"] == 1.0 and res["weights"] == [1.0, 1.0, 1.0]


def test_ensemble_rejects_misaligned_inputs(tmp_path):
    j, b, jm, bm = write_streams(tmp_path, shuffle=False)
    fewer = save_scores(tmp_path / "fewer.npz", NAMES[:2], LABELS[:2], np.zeros((2, 3)))
    relabel = save_scores(tmp_path / "relabel.npz", NAMES, [0, 2, 2], np.zeros((3, 3)))
    classes = save_scores(tmp_path / "classes.npz", NAMES, LABELS, np.zeros((3, 4)))
    for bad, what in ((fewer, "missing"), (relabel, "label"), (classes, "classes")):
        with pytest.raises(ValueError, match=f"{bad.name}.*{what}"):
            ensemble([j, bad])
    with pytest.raises(ValueError, match="2 weights for 4"):
        ensemble([j, b, jm, bm], [1, 1])
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz"):
        load_scores(tmp_path / "junk.npz")


def test_ensemble_command_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["ensemble", "--help"])
    assert e.value.code == 0 and "--weights" in capsys.readouterr().out
    paths = write_streams(tmp_path)
    out = tmp_path / "ens.json"
    assert main(["ensemble", *map(str, (p.parent for p in paths)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "top-1 66.67%" in printed and "ensemble (2:2:1:1)" in printed
    saved = json.loads(out.read_text())
    assert saved["ensemble"]["top1"] == pytest.approx(2 / 3) and len(saved["streams"]) == 4
    fewer = save_scores(tmp_path / "fewer.npz", NAMES[:2], LABELS[:2], np.zeros((2, 3)))
    assert main(["ensemble", str(paths[0]), str(fewer), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fewer.npz" in err[0]
    assert main(["ensemble", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
