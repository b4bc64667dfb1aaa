"""Parameters and multiply-accumulates (MACs) per stream and in total (SPEC §2.5, paper Table 2).

MACs are counted by running the model once at batch 1 under
``torch.utils.flop_counter.FlopCounterMode`` (MACs = FLOPs / 2; convolutions, matmuls, einsum,
bmm; element-wise ops, BN and pooling are not counted, as in the usual MAC counters). The model
is built and run on the ``meta`` device, so no memory is allocated and the count takes seconds.

FlopCounterMode does not see recurrent layers (``torch.nn.LSTM``/``GRU`` run as one aten op it
has no formula for). Only where the counter reports nothing for such a layer, its MACs are added
with the formula ``T * gates * H * (I + H)`` per layer and direction (gates = 4 for LSTM, 3 for
GRU: the input and recurrent matrix products; element-wise gate arithmetic is not counted,
consistent with the rest). Entries counted that way are flagged in ``rnn_formula_macs``.
On the meta device torch decomposes the LSTM into ops the counter does see, and finds exactly
the formula's number, but slowly; there the recurrent layers run as shape-only stubs and the
formula is used (see :func:`profile_model`).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..config import GRAPH_BACKBONES, Config
from ..models import count_parameters, create_model, num_joints

__all__ = ["PAPER_TABLE2", "PUBLISHED_BACKBONES", "dummy_batch", "profile_model", "profile_config",
           "paper_profiles", "published_backbone_config", "rnn_macs"]

#: Paper Table 2 (params, MACs; "FLOPs" there are MACs). None: not reproducible / not given.
PAPER_TABLE2 = {
    "stgcn": (3.1e6, 16.2e9),
    "bilstm": (None, None),
    "xception": (22.86e6, 8.42e9),
    "mmff_stgcn": (29.1e6, 24.5e9),
    "mmff_bilstm": (27.4e6, 15.3e9),
}

#: Published sizes of the newer skeleton backbones (issue 16), each with the input it was
#: measured at: NTU-60 3D joints (25, Kinect hand links), 2 bodies, ``clip_len`` frames, the
#: backbone + a 60-class linear head. Their "FLOPs" are MACs (the fvcore/mmengine counter
#: counts one multiply-add as one FLOP; its BN/pooling terms are why it reads a little higher).
PUBLISHED_BACKBONES = {
    "stgcnpp": {
        "params": 1.4e6, "macs": 2.96e9, "clip_len": 100,
        "source": "PYSKL model zoo as released in MMAction2 (configs/skeleton/stgcnpp, "
                  "NTU60 XSub 3D keypoints, uniform 100 frames): 1.4M params, 2.96G FLOPs"},
    "ctrgcn": {
        "params": 1.46e6, "macs": 1.97e9, "clip_len": 64,
        "source": "Chen et al., ICCV 2021 (CTR-GCN): 1.46M params, 1.97G FLOPs; the released "
                  "NTU configs' window_size 64, 2 bodies"},
}


def dummy_batch(cfg: Config, batch_size: int = 1, device: str | torch.device = "cpu") -> dict:
    """A batch with the shapes of the batch contract (docs/design.md) at ``cfg``'s sizes."""
    s, d = cfg.model.skeleton, cfg.data
    v, m, k, n = num_joints(s.layout), s.num_person, cfg.num_frames, batch_size
    with torch.device(device):
        if s.backbone in GRAPH_BACKBONES:
            skel = torch.zeros(n, s.in_channels, d.clip_len, v, m)
        else:
            skel = torch.zeros(n, d.rnn_steps, m * v * s.in_channels)
        return {
            "skeleton": skel,
            "image": torch.zeros(n, k, 3, d.image_size, d.image_size),
            "joints2d": torch.full((n, k, m, v, 2), 0.5),
            "displacement": torch.zeros(n, k, m, v),
            "label": torch.zeros(n, dtype=torch.long),
        }


def rnn_macs(rnn: nn.RNNBase, steps: int) -> int:
    """MACs of one sequence through ``rnn``: sum over layers and directions of
    ``steps * gates * H * (I_layer + H)`` (gates: LSTM 4, GRU 3, RNN 1)."""
    gates = {"LSTM": 4, "GRU": 3}.get(rnn.mode, 1)
    dirs = 2 if rnn.bidirectional else 1
    h = rnn.hidden_size
    total = 0
    for layer in range(rnn.num_layers):
        i = rnn.input_size if layer == 0 else h * dirs
        total += dirs * steps * gates * h * (i + h)
    return total


class _ShapeOnlyRNN:
    """Replaces an RNN's forward by zeros of the right shapes (meta device only)."""

    def __init__(self, rnn: nn.RNNBase):
        self.rnn = rnn

    def __call__(self, x, hx=None):
        r = self.rnn
        dirs = 2 if r.bidirectional else 1
        n, t = (x.shape[0], x.shape[1]) if r.batch_first else (x.shape[1], x.shape[0])
        out = x.new_zeros((n, t, dirs * r.hidden_size) if r.batch_first else (t, n, dirs * r.hidden_size))
        h = x.new_zeros(r.num_layers * dirs, n, r.hidden_size)
        return out, ((h, h.clone()) if r.mode == "LSTM" else h)


def profile_model(model: nn.Module, batch: dict, stub_rnn: Optional[bool] = None) -> dict:
    """Params and MACs of ``model`` on ``batch`` (batch size 1), with per-child breakdown.

    Returns ``{"params", "macs", "parts": {child: {"params", "macs"}}, "rnn_formula_macs"}``.
    Recurrent layers the counter reports 0 for are added by :func:`rnn_macs`. ``stub_rnn``
    (default: on the meta device) runs them as shape-only stubs: torch decomposes an LSTM on
    meta into thousands of Python-level ops (~20 s for the paper's Bi-LSTM), and the formula
    gives the same number the counter finds there (tests/test_profile.py checks it).
    """
    root = type(model).__name__
    rnns = {name: mod for name, mod in model.named_modules() if isinstance(mod, nn.RNNBase)}
    if stub_rnn is None:
        stub_rnn = any(p.is_meta for p in model.parameters())
    steps: dict[str, int] = {}
    hooks = []
    for name, mod in rnns.items():
        def pre(mod, args, name=name):
            x = args[0]
            steps[name] = x.shape[1] if mod.batch_first else x.shape[0]
        hooks.append(mod.register_forward_pre_hook(pre))
        if stub_rnn:
            mod.forward = _ShapeOnlyRNN(mod)
    try:
        with FlopCounterMode(display=False) as counter:
            with torch.no_grad():
                model(batch)
    finally:
        for h in hooks:
            h.remove()
        for mod in rnns.values():
            mod.__dict__.pop("forward", None)
    counts = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    macs = {k: v // 2 for k, v in counts.items()}
    extra = {name: rnn_macs(mod, steps[name]) for name, mod in rnns.items()
             if name in steps and macs.get(f"{root}.{name}", 0) == 0}
    total = macs.get("Global", 0) + sum(extra.values())
    parts = {}
    for child_name, child in model.named_children():
        child_macs = macs.get(f"{root}.{child_name}", 0)
        child_macs += sum(v for k, v in extra.items() if k == child_name or k.startswith(child_name + "."))
        parts[child_name] = {"params": count_parameters(child), "macs": child_macs}
    return {"params": count_parameters(model), "macs": total, "parts": parts,
            "rnn_formula_macs": sum(extra.values())}


def profile_config(cfg: Config, device: str = "meta") -> dict:
    """Build ``cfg``'s model on ``device`` (``meta``: no memory, no weights) and profile it at
    the config's input sizes (clip_len / rnn_steps, image_size, K frames, M bodies, V joints)."""
    with torch.device(device):
        model = create_model(cfg, pretrained=False).eval()  # counting needs no weights
    return profile_model(model, dummy_batch(cfg, 1, device))


def _paper_cfg(kind: str, backbone: str, fusion: str = "cross_attention") -> Config:
    cfg = Config()  # NTU-60 defaults: 300 frames, 2 bodies, 25 joints, 299x299, 60 classes
    cfg.model.kind = kind
    cfg.model.skeleton.backbone = backbone
    cfg.model.fusion.type = fusion
    return cfg


def published_backbone_config(backbone: str) -> Config:
    """The skeleton-only NTU-60 config a :data:`PUBLISHED_BACKBONES` count was measured at."""
    cfg = _paper_cfg("skeleton_only", backbone)
    cfg.model.skeleton.layout = "ntu_kinect"   # PYSKL's / CTR-GCN's NTU graph (same sizes)
    cfg.data.clip_len = PUBLISHED_BACKBONES[backbone]["clip_len"]
    return cfg


def paper_profiles(device: str = "meta") -> dict:
    """The Table 2 rows at the paper's input sizes: ``stgcn``, ``bilstm`` (skeleton-only with
    their 60-class classifiers), ``xception`` (the ImageNet network with its 1000-class head),
    ``mmff_stgcn`` (cross-attention fusion), ``mmff_bilstm`` (LSTM-based fusion); then the newer
    backbones of :data:`PUBLISHED_BACKBONES` (``stgcnpp``, ``ctrgcn``) at their published
    settings, with their published counts as ``paper_params`` / ``paper_macs``."""
    from ..models import Xception

    out = {
        "stgcn": profile_config(_paper_cfg("skeleton_only", "stgcn"), device),
        "bilstm": profile_config(_paper_cfg("skeleton_only", "bilstm"), device),
    }
    with torch.device(device):
        xc = Xception(num_classes=1000).eval()
        img = torch.zeros(1, 3, 299, 299)
    res = profile_model(_ImageOnly(xc), {"image": img})
    res["parts"] = {}
    out["xception"] = res
    out["mmff_stgcn"] = profile_config(_paper_cfg("mmff", "stgcn", "cross_attention"), device)
    out["mmff_bilstm"] = profile_config(_paper_cfg("mmff", "bilstm", "lstm_late"), device)
    for key, (pp, pm) in PAPER_TABLE2.items():
        out[key]["paper_params"] = None if pp is None else int(pp)
        out[key]["paper_macs"] = None if pm is None else int(pm)
    for key, pub in PUBLISHED_BACKBONES.items():
        out[key] = profile_config(published_backbone_config(key), device)
        out[key].update(paper_params=int(pub["params"]), paper_macs=int(pub["macs"]),
                        clip_len=pub["clip_len"], source=pub["source"])
    return out


class _ImageOnly(nn.Module):
    """Adapter so a plain image network takes the batch dict."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, batch: dict) -> torch.Tensor:
        return self.net(batch["image"])
