"""The paper's ablation switches (issue 12): decision fusion of the stage-1 classifiers, the F_RGB
merge and the LSTM fusion's pooling, ST-GCN dropout and ImageNet weights in the paper configs,
the ImageNet resolution (no network: the hub / timm are faked) and the from-scratch warning."""
from __future__ import annotations

import copy
import json
import types
import warnings

import pytest
import torch

from mmff.config import CONFIG_DIR, ConfigError, config_from_dict, load_config
from mmff.engine.checkpoint import load_checkpoint, read_checkpoint
from mmff.engine.decision import choose_decision_weight
from mmff.engine.stages import StageError, run_stages, stage_plan, warn_rgb_from_scratch
from mmff.models import (CrossAttentionFusion, LSTMLateFusion, PretrainedLoadError, RGBStream,
                         Xception, create_model)
from mmff.models import xception as X
from test_engine_support import ToyDataset, tiny_cfg_dict, toy_factory


def _collate(ds, n):
    items = [ds[i] for i in range(n)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


# --------------------------------------------------------------------------- decision fusion
@pytest.fixture(scope="module")
def decision_run(tmp_path_factory):
    d = tiny_cfg_dict(kind="mmff", fusion="decision", epochs=(1, 1, 1))
    d["model"]["fusion"]["decision_weight"] = "val"
    d["model"]["fusion"]["decision_weight_steps"] = 10
    # a real-data config (the toy factory ignores it): the RGB stream trains from scratch
    d["data"].update(dataset="sysu", split="setting1")
    cfg = config_from_dict(d)
    out = tmp_path_factory.mktemp("decision") / "run"
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        summary = run_stages(cfg, out, dataset_factory=toy_factory, progress=False)
    summary["_scratch_warnings"] = sum("RGB stream from scratch" in str(r.message) for r in rec)
    return cfg, out, summary


def test_decision_fusion_sums_the_stage1_classifiers_scores(decision_run):
    cfg, out, summary = decision_run
    assert list(summary["stages"]) == ["stage1/skeleton", "stage1/rgb", "stage2"]  # no stage 3
    assert summary["final_model"] == "stage2/model.pt"
    # the RGB stream trained from scratch on a real-data config: one warning for the run
    assert summary["_scratch_warnings"] == 1
    m = json.loads((out / "stage2" / "metrics.json").read_text())
    assert m["trained"] is False and m["epochs"] == 0 and m["decision_weight_source"] == "val"
    w = m["decision_weight"]
    skel, _, _, _ = load_checkpoint(out / "stage1/skeleton/model.pt")
    rgb, _, _, _ = load_checkpoint(out / "stage1/rgb/model.pt")
    mmff, mcfg, _, _ = load_checkpoint(out / "stage2/model.pt")
    assert mcfg.model.fusion.decision_weight == w and mmff.fusion.weight == w
    # the stage-1 heads themselves are the fusion's heads
    s2 = read_checkpoint(out / "stage2/model.pt")["state_dict"]
    for part, head in (("skeleton", "fusion.skeleton_head."), ("rgb", "fusion.rgb_head.")):
        s1 = read_checkpoint(out / f"stage1/{part}/model.pt")["state_dict"]
        for k in ("weight", "bias"):
            assert torch.equal(s1[f"head.{k}"], s2[head + k])
    batch = _collate(ToyDataset(cfg, "test", False), 6)
    with torch.no_grad():
        s_skel, s_rgb = torch.softmax(skel(batch), 1), torch.softmax(rgb(batch), 1)
        fused = mmff(batch).exp()
        p = mmff.fusion.scores(mmff.forward_features(batch)["skeleton"], mmff.forward_features(batch)["rgb"])
    torch.testing.assert_close(fused, w * s_skel + (1 - w) * s_rgb)
    torch.testing.assert_close(p, w * s_skel + (1 - w) * s_rgb)
    # w is the best of the grid on the validation split (one test: the run is shared, not rerun
    # on another xdist worker)
    val = _collate(ToyDataset(cfg, "val", False), len(ToyDataset(cfg, "val", False)))
    with torch.no_grad():
        p_s, p_r = torch.softmax(skel(val), 1).double(), torch.softmax(rgb(val), 1).double()
    grid = [[i / 10, ((i / 10 * p_s + (1 - i / 10) * p_r).argmax(1) == val["label"]).double().mean().item()]
            for i in range(11)]
    got = m["decision_weight_grid"]
    assert [w for w, _ in got] == pytest.approx([w for w, _ in grid])
    assert [a for _, a in got] == pytest.approx([a for _, a in grid])
    best = max(a for _, a in grid)
    assert dict(grid)[m["decision_weight"]] == best and m["val_top1"] == pytest.approx(best)
    assert len(m["val_samples"]) == len(val["label"])


def test_choose_weight_prefers_the_middle_on_ties():
    p_s = torch.tensor([[0.9, 0.1], [0.2, 0.8]], dtype=torch.float64)
    labels = torch.tensor([0, 1])
    w, grid = choose_decision_weight(p_s, p_s.clone(), labels, steps=4)
    assert w == 0.5 and [g[0] for g in grid] == [0, 0.25, 0.5, 0.75, 1.0]
    # the skeleton scores right, the RGB ones wrong: all weight on the skeleton
    w, _ = choose_decision_weight(p_s, p_s.flip(1), labels, steps=4)
    assert w > 0.5


def test_decision_variants_and_their_stages():
    d = tiny_cfg_dict(kind="mmff", fusion="decision")
    assert [s for s, _, _ in stage_plan(config_from_dict(d))] == [1, 1, 2]
    d["model"]["fusion"]["type"] = "decision_learned"  # today's trained heads: stages 2 and 3 train
    learned = config_from_dict(d)
    assert [s for s, _, _ in stage_plan(learned)] == [1, 1, 2, 3]
    assert type(create_model(learned).fusion).__name__ == "DecisionFusion"
    d["model"]["fusion"]["decision_weight"] = "val"
    with pytest.raises(ConfigError, match="decision_weight.*type decision"):
        config_from_dict(d)
    d["model"]["fusion"].update(type="decision", decision_weight=1.5)
    with pytest.raises(ConfigError, match="decision_weight"):
        config_from_dict(d)
    d["model"]["fusion"]["decision_weight"] = "val"
    d["data"]["val"] = "none"
    with pytest.raises(ConfigError, match="decision_weight: 'val' chooses w on the validation split"):
        config_from_dict(d)
    d["data"]["val"] = "subjects"
    d["model"]["fusion"]["decision_weight"] = 0.3
    with pytest.raises(StageError, match="no stage 3"):
        run_stages(config_from_dict(d), "unused", stages=(3,), dataset_factory=toy_factory, progress=False)


# --------------------------------------------------------------------------- F_RGB and pooling
def _tiny_stream(merge, self_attention=True, skeleton_attention=True):
    torch.manual_seed(0)
    s = RGBStream(width=0.05, middle_blocks=0, self_attention=self_attention,
                  skeleton_attention=skeleton_attention, merge=merge).eval()
    return s


def _rgb_batch():
    g = torch.Generator().manual_seed(1)
    return {"image": torch.randn(2, 1, 3, 48, 48, generator=g),
            "joints2d": torch.rand(2, 1, 1, 25, 2, generator=g),
            "displacement": torch.rand(2, 1, 1, 25, generator=g)}


def test_rgb_merge_switch_changes_only_f_rgb():
    batch = _rgb_batch()
    with torch.no_grad():
        a, b = _tiny_stream("self_then_skeleton")(batch), _tiny_stream("mean")(batch)
    for k in ("F_in", "M_1", "M_2", "M_ske"):
        assert torch.equal(a[k], b[k])
    f = a["F_in"]
    f1, f2, fs = a["M_1"] * f, a["M_2"] * f, a["M_ske"] * f                 # Eq. 12, 15 by hand
    torch.testing.assert_close(a["F_rgb"], 0.25 * f1 + 0.25 * f2 + 0.5 * fs)  # §3.5 reading
    torch.testing.assert_close(b["F_rgb"], (f1 + f2 + fs) / 3)
    # the cross-attention fusion reads F_rgb: same weights, outputs differ only through it
    torch.manual_seed(2)
    fus = CrossAttentionFusion(8, f.shape[2], 5, 4, 12, 6).eval()
    g = torch.randn(2, 8, 4, 25)
    with torch.no_grad():
        for out, ref in ((a, 0.25 * f1 + 0.25 * f2 + 0.5 * fs), (b, (f1 + f2 + fs) / 3)):
            torch.testing.assert_close(fus(g, out), fus(g, {"branches": [ref]}))
        assert not torch.allclose(fus(g, a), fus(g, b))
    # one kind of attention off: both readings are the plain mean of the kept branches
    for kw in ({"skeleton_attention": False}, {"self_attention": False}):
        with torch.no_grad():
            x, y = _tiny_stream("self_then_skeleton", **kw)(batch), _tiny_stream("mean", **kw)(batch)
        assert torch.equal(x["F_rgb"], y["F_rgb"])


def test_default_merge_is_the_papers_reading():
    cfg = config_from_dict({})
    assert cfg.model.rgb.merge == "self_then_skeleton" and cfg.model.fusion.lstm_rgb_pool == "max"


def test_lstm_pool_switch_changes_only_the_branch_pooling():
    torch.manual_seed(0)
    branches = [torch.randn(2, 1, 16, 3, 3) for _ in range(3)]
    rgb = {"branches": branches}
    mx = LSTMLateFusion(8, 16, 3, 5, 4, 6, pool="max").eval()
    av = LSTMLateFusion(8, 16, 3, 5, 4, 6, pool="avg").eval()
    av.load_state_dict(mx.state_dict())  # same parameters: pooling is the only difference
    with torch.no_grad():
        for fus, pool in ((mx, lambda t: t.amax(dim=(1, 3, 4))), (av, lambda t: t.mean(dim=(1, 3, 4)))):
            want = torch.cat([p(pool(b)) for p, b in zip(fus.rgb_proj, branches)], 1)
            torch.testing.assert_close(fus.rgb_feature(rgb), want)
        assert not torch.allclose(mx.rgb_feature(rgb), av.rgb_feature(rgb))
    cfg = config_from_dict({"model": {"skeleton": {"backbone": "bilstm"},
                                      "fusion": {"type": "lstm_late", "lstm_rgb_pool": "avg"},
                                      "rgb": {"width": 0.05, "middle_blocks": 0}}})
    assert create_model(cfg).fusion.pool == "avg"


# --------------------------------------------------------------------------- paper configs
PAPER = sorted(p for d in ("ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset", "sysu") for p in (CONFIG_DIR / d).rglob("*.yaml"))


@pytest.mark.parametrize("path", PAPER, ids=[str(p.relative_to(CONFIG_DIR)) for p in PAPER])
def test_paper_configs_dropout_imagenet_margins(path):
    cfg = load_config(path)
    assert cfg.model.rgb.pretrained == "imagenet"
    assert cfg.model.skeleton.dropout == (0.5 if cfg.model.skeleton.backbone == "stgcn" else 0.0)
    assert cfg.data.crop_margin_scale == "none" and cfg.data.crop_margin == [100, 300]
    assert cfg.model.rgb.merge == "self_then_skeleton"
    if cfg.model.fusion.type.startswith("decision"):
        assert cfg.model.fusion.type == "decision" and cfg.model.fusion.decision_weight == 0.5


def test_demo_keeps_scaled_margins_and_no_weights():
    cfg = load_config("demo")
    assert cfg.data.crop_margin_scale == "frame_height" and cfg.model.rgb.pretrained is None


# --------------------------------------------------------------------------- ImageNet weights
@pytest.fixture()
def tiny_weights(tmp_path):
    torch.manual_seed(5)
    net = Xception(num_classes=0, width=0.05, middle_blocks=0)
    path = tmp_path / "pytorch_model.bin"
    torch.save(net.state_dict(), path)
    return net.state_dict(), path


def _rgb_cfg(pretrained):
    return config_from_dict({"model": {"kind": "rgb_only", "rgb": {
        "width": 0.05, "middle_blocks": 0, "pretrained": pretrained}}})


def _same(sd, model):
    own = model.rgb_stream.backbones[0].state_dict()
    return all(torch.equal(v, own[k]) for k, v in sd.items())


def test_imagenet_through_the_hub(monkeypatch, tiny_weights):
    sd, path = tiny_weights
    calls = []

    def download(repo_id, filename):
        calls.append((repo_id, filename))
        return str(path)
    fake = {"timm": None, "safetensors.torch": None,
            "huggingface_hub": types.SimpleNamespace(hf_hub_download=download)}
    monkeypatch.setattr(X, "_optional_module", lambda name: fake[name])
    model = create_model(_rgb_cfg("imagenet"))
    assert calls == [("timm/legacy_xception.tf_in1k", "pytorch_model.bin")]
    assert _same(sd, model)


def test_imagenet_through_timm(monkeypatch, tiny_weights):
    sd, _ = tiny_weights
    asked = []

    def create(name, pretrained):
        asked.append((name, pretrained))
        net = Xception(num_classes=7, width=0.05, middle_blocks=0)  # with an ImageNet-like head
        net.load_state_dict({**sd, "fc.weight": net.fc.weight, "fc.bias": net.fc.bias})
        return net
    monkeypatch.setattr(X, "_optional_module",
                        lambda name: types.SimpleNamespace(create_model=create) if name == "timm" else None)
    model = create_model(_rgb_cfg("imagenet"))
    assert asked == [("legacy_xception", True)] and _same(sd, model)


def test_imagenet_without_timm_or_hub_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(X, "_optional_module", lambda name: None)
    with pytest.raises(PretrainedLoadError, match="imagenet needs timm or huggingface_hub"):
        create_model(_rgb_cfg("imagenet"))


def test_imagenet_offline_is_a_clear_error(monkeypatch):
    def download(repo_id, filename):
        raise OSError("no network")
    monkeypatch.setattr(X, "_optional_module", lambda name: types.SimpleNamespace(hf_hub_download=download)
                        if name == "huggingface_hub" else None)
    with pytest.raises(PretrainedLoadError, match="cannot fetch timm/legacy_xception.tf_in1k.*local file"):
        create_model(_rgb_cfg("imagenet"))


def test_local_file_and_no_fetch_paths(monkeypatch, tiny_weights, tmp_path):
    sd, path = tiny_weights

    def no_fetch(name):
        raise AssertionError(f"tried to import {name} to fetch weights")
    monkeypatch.setattr(X, "_optional_module", no_fetch)
    assert _same(sd, create_model(_rgb_cfg(str(path))))          # a local file: read as before
    # building for weights that come from elsewhere never fetches
    model = create_model(_rgb_cfg("imagenet"), pretrained=False)
    from mmff.engine.checkpoint import save_checkpoint
    p = save_checkpoint(tmp_path / "m.pt", model, _rgb_cfg("imagenet"), ["a"])
    loaded, cfg, _, _ = load_checkpoint(p)
    assert cfg.model.rgb.pretrained == "imagenet"
    from mmff.engine.profiling import profile_config
    assert profile_config(_rgb_cfg("imagenet"))["params"] > 0


# --------------------------------------------------------------------------- from-scratch warning
def test_from_scratch_warning_only_for_real_data():
    base = tiny_cfg_dict(kind="rgb_only")
    for dataset, pretrained, warns in (("ntu60", None, True), ("sysu", None, True), ("ntu120", None, True),
                                       ("sysu", "imagenet", False), ("synth", None, False)):
        d = copy.deepcopy(base)
        d["data"]["dataset"] = dataset
        d["data"]["split"] = "setting1" if dataset == "sysu" else "xsub"
        d["model"]["rgb"]["pretrained"] = pretrained
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            assert warn_rgb_from_scratch(config_from_dict(d)) is warns
        assert len(rec) == int(warns)
        if warns:
            assert "from scratch" in str(rec[0].message) and "imagenet" in str(rec[0].message)
