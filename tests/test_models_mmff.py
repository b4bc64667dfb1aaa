"""Skeleton-only, RGB-only and MMFF models from config: ablation switches, K frames, gradients."""
import pytest
import torch

from mmff.config import config_from_dict
from mmff.models import MMFF, RGBOnly, SkeletonOnly, attention_maps, count_parameters, create_model

TINY = {"skeleton": {"width": 0.125, "rnn_hidden": 8, "rnn_layers": 1},
        "rgb": {"width": 0.0625, "middle_blocks": 0, "lstm_feature_dim": 8},
        "fusion": {"reduced_channels": 8, "conv_channels": 16, "hidden": 8, "sum_dim": 8}}


def tiny_cfg(model=None, data=None):
    def merge(a, b):
        out = dict(a)
        for k, v in (b or {}).items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out
    return config_from_dict({"model": merge(TINY, model), "data": merge(
        {"clip_len": 8, "rnn_steps": 4, "image_size": 64}, data)})


def batch_for(cfg, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    v = 25 if cfg.model.skeleton.layout != "sysu" else 20
    m, k = cfg.model.skeleton.num_person, cfg.num_frames
    skel = (torch.randn(n, 3, cfg.data.clip_len, v, m, generator=g)
            if cfg.model.skeleton.backbone == "stgcn"
            else torch.randn(n, cfg.data.rnn_steps, m * v * 3, generator=g))
    return {"skeleton": skel,
            "image": torch.randn(n, k, 3, cfg.data.image_size, cfg.data.image_size, generator=g),
            "joints2d": torch.rand(n, k, m, v, 2, generator=g),
            "displacement": torch.rand(n, k, m, v, generator=g),
            "label": torch.zeros(n, dtype=torch.long)}


@pytest.mark.parametrize("backbone,fusion", [("stgcn", "cross_attention"), ("stgcn", "lstm_late"),
                                             ("stgcn", "sum"), ("bilstm", "lstm_late"),
                                             ("bigru", "decision"), ("lstm", "sum")])
def test_gradients_reach_both_streams(backbone, fusion):
    torch.manual_seed(0)
    cfg = tiny_cfg({"num_classes": 7, "skeleton": {"backbone": backbone}, "fusion": {"type": fusion}})
    model = create_model(cfg)
    assert isinstance(model, MMFF)
    logits = model(batch_for(cfg))
    assert logits.shape == (2, 7)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 5])).backward()
    for stream in model.stream_modules():
        grads = [p.grad for p in stream.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads)
        assert sum(g.abs().sum() for g in grads) > 0


def test_stream_state_dicts_match_across_models():
    cfg = tiny_cfg()
    mmff = create_model(cfg)
    skel = create_model(tiny_cfg({"kind": "skeleton_only"}))
    rgb = create_model(tiny_cfg({"kind": "rgb_only"}))
    assert isinstance(skel, SkeletonOnly) and isinstance(rgb, RGBOnly)
    for a, b in ((mmff.skeleton_stream, skel.skeleton_stream), (mmff.rgb_stream, rgb.rgb_stream)):
        sa, sb = a.state_dict(), b.state_dict()
        assert {k: v.shape for k, v in sa.items()} == {k: v.shape for k, v in sb.items()}
    # stage 2 loads the stage-1 streams through the API
    assert mmff.load_streams({"skeleton_stream": skel.skeleton_stream.state_dict()}) == ["skeleton_stream"]
    assert all(torch.equal(v, skel.skeleton_stream.state_dict()[k])
               for k, v in mmff.skeleton_stream.state_dict().items())
    with pytest.raises(KeyError, match="no stream"):
        skel.load_streams({"rgb_stream": rgb.rgb_stream.state_dict()})
    assert [type(m) for m in skel.stream_modules()] == [type(mmff.skeleton_stream)]
    b = batch_for(cfg)
    assert skel(b).shape == (2, 60) and rgb(b).shape == (2, 60)
    assert skel.forward_head(skel.forward_features(b)).shape == (2, 60)


def test_attention_switches():
    b = None
    seen = {}
    for sa, ske in ((True, True), (True, False), (False, True), (False, False)):
        cfg = tiny_cfg({"rgb": {"self_attention": sa, "skeleton_attention": ske},
                        "fusion": {"type": "lstm_late"}})
        model = create_model(cfg).eval()
        b = b or batch_for(cfg)
        feats = model.forward_features(b)
        out = feats["rgb"]
        maps = set(attention_maps(feats))
        logits, maps2 = model.forward_with_maps(b)
        assert set(maps2) == maps and torch.equal(logits, model(b))
        assert not any(k.startswith("last_") for k in vars(model.rgb_stream))  # no per-forward state
        assert maps == ({"M_1", "M_2"} if sa else set()) | ({"M_ske"} if ske else set())
        assert len(out["branches"]) == (2 * sa + ske or 1)
        assert (model.rgb_stream.self_attention is not None) == sa
        assert len(model.fusion.rgb_proj) == (2 * sa + ske or 1)
        seen[(sa, ske)] = out
    # w/o both attentions the RGB feature is the plain backbone map F_in
    plain = seen[(False, False)]
    assert plain["branches"][0] is plain["F_in"]
    # skeleton attention only: F_ske = M_ske * F_in (Eq. 15)
    ske_only = seen[(False, True)]
    torch.testing.assert_close(ske_only["branches"][0], ske_only["M_ske"] * ske_only["F_in"])


def test_skeleton_attention_uses_the_batch_joints():
    cfg = tiny_cfg({"rgb": {"self_attention": False}})
    model = create_model(cfg).eval()
    b = batch_for(cfg, n=1)
    b["displacement"] = torch.zeros_like(b["displacement"])
    b["displacement"][0, 0, 0, 7] = 1.0
    b["joints2d"][0, 0, 0, 7] = torch.tensor([0.9, 0.1])  # top right
    m = model.forward_features(b)["rgb"]["M_ske"][0, 0, 0]
    assert m[0, -1] > 0 and m[-1, 0] == 0


def test_frames_separate_or_shared_backbones():
    one = create_model(tiny_cfg())
    three = create_model(tiny_cfg(data={"positions": [0.3, 0.5, 0.7]}))
    shared = create_model(tiny_cfg({"rgb": {"share_backbone": True}}, {"positions": [0.3, 0.5, 0.7]}))
    bb = count_parameters(one.rgb_stream.backbones[0])
    assert len(three.rgb_stream.backbones) == 3 and len(shared.rgb_stream.backbones) == 1
    assert count_parameters(three) - count_parameters(one) == 2 * bb  # paper Table 4: one per frame
    assert count_parameters(shared) == count_parameters(one)
    for model in (three, shared):
        cfg = tiny_cfg(data={"positions": [0.3, 0.5, 0.7]})
        out, maps = model.forward_with_maps(batch_for(cfg))
        assert out.shape == (2, 60)
        assert maps["M_ske"].shape[:2] == (2, 3)
    with pytest.raises(ValueError, match=r"expected \(N, 3, 3, H, W\)"):
        three(batch_for(tiny_cfg()))


def test_rgb_stream_paper_shape_on_meta():
    cfg = config_from_dict({"model": {"kind": "rgb_only"}})
    with torch.device("meta"):
        model = create_model(cfg)
        out = model.rgb_stream({"image": torch.zeros(1, 1, 3, 299, 299),
                                "joints2d": torch.zeros(1, 1, 2, 25, 2),
                                "displacement": torch.zeros(1, 1, 2, 25)})
    assert tuple(out["F_in"].shape) == (1, 1, 2048, 10, 10)
    assert tuple(out["M_1"].shape) == (1, 1, 1, 10, 10)


@pytest.mark.parametrize("kind,fusion,names", [
    ("skeleton_only", "lstm_late", ["head"]), ("rgb_only", "lstm_late", ["head"]),
    ("mmff", "cross_attention", ["fusion.fc2"]), ("mmff", "lstm_late", ["fusion.fc2"]),
    ("mmff", "sum", ["fusion.fc"]), ("mmff", "decision", ["fusion.skeleton_head", "fusion.rgb_head"])])
def test_classifier_interface(kind, fusion, names):
    """timm-like ``get_classifier`` / ``reset_classifier`` on every model: the last layer(s) only."""
    cfg = tiny_cfg({"kind": kind, "num_classes": 7, "fusion": {"type": fusion}})
    model = create_model(cfg).eval()
    b = batch_for(cfg)
    clf = model.get_classifier()
    layers = [clf] if len(names) == 1 else list(clf.values())
    assert layers == [model.get_submodule(n) for n in names]
    assert all(m.out_features == 7 for m in layers)
    feats = model.forward_features(b)
    assert torch.equal(model.forward_head(feats), model(b))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.reset_classifier(4)
    assert model(b).shape == (2, 4)
    after = model.state_dict()
    changed = sorted({k.rsplit(".", 1)[0] for k in before if k not in after or after[k].shape != before[k].shape})
    assert changed == sorted(names)
