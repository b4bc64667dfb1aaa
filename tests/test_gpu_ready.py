"""GPU readiness that a CPU can check (issue 15 item 4).

* Every tensor a model builds inside ``forward`` takes the input's device and dtype: each model
  kind runs on the ``meta`` device and in float64 while a :class:`TorchFunctionMode` records
  every tensor any torch function returns; one on another device, or a floating tensor of
  another dtype (a ``torch.zeros(...)`` without ``device=``/``dtype=``, a float32 constant),
  fails the test - on a GPU it would be a device mismatch or a silent up-cast.
* ``train.precision: bf16-mixed`` trains the full MMFF (ST-GCN, Xception, both attentions,
  cross-attention) through the engine's Trainer with a finite loss and the fp32 run's top-1.
* ``data.pin_memory``, ``data.persistent_workers``, ``data.num_workers`` and
  ``train.prefetch_factor`` are config values that reach the DataLoader; ``train.sync_batchnorm``
  reaches the Trainer.
"""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from mmff.config import ConfigError, config_from_dict
from mmff.engine.export import example_inputs
from mmff.engine.lightning import MMFFDataModule, MMFFModule, build_loader, ShardSampler
from mmff.engine.stages import build_trainer, stage_config
from mmff.models import create_model
from test_engine_support import ToyDataset, tiny_cfg, tiny_cfg_dict, toy_factory
from test_predict_support import tiny_predict_cfg


class ForeignTensors(TorchFunctionMode):
    """Records every non-scalar tensor a torch function returns that is not on ``device`` or is
    floating point but not ``dtype``."""

    def __init__(self, device: str, dtype: torch.dtype):
        super().__init__()
        self.device, self.dtype, self.found = device, dtype, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.dim() > 0 and (
                    t.device.type != self.device or (t.is_floating_point() and t.dtype != self.dtype)):
                self.found.append(f"{getattr(func, '__qualname__', func)} -> {t.device} {t.dtype} "
                                  f"{tuple(t.shape)}")
        return out


MODEL_KINDS = {
    "mmff_stgcn_cross": dict(kind="mmff", backbone="stgcn", fusion="cross_attention"),
    "mmff_bilstm_lstm": dict(kind="mmff", backbone="bilstm", fusion="lstm_late"),
    "mmff_bigru_sum": dict(kind="mmff", backbone="bigru", fusion="sum"),
    "mmff_lstm_decision": dict(kind="mmff", backbone="lstm", fusion="decision_learned"),
    "mmff_3frames_shared": dict(kind="mmff", backbone="stgcn", fusion="cross_attention",
                                positions=(0.25, 0.5, 0.75), share_backbone=True),
    "mmff_stgcn_decision": dict(kind="mmff", backbone="stgcn", fusion="decision"),
    "skeleton_only": dict(kind="skeleton_only", backbone="stgcn"),
    "rgb_only": dict(kind="rgb_only"),
}


@pytest.mark.parametrize("device,dtype", [("meta", torch.float32), ("cpu", torch.float64)])
@pytest.mark.parametrize("name", list(MODEL_KINDS))
def test_forward_builds_tensors_on_the_inputs_device_and_dtype(name, device, dtype):
    cfg = tiny_predict_cfg(**MODEL_KINDS[name])
    model = create_model(cfg, pretrained=False).to(device=device, dtype=dtype)
    x = {k: v.to(device=device, dtype=dtype) for k, v in example_inputs(cfg, batch=2).items()}
    for train in (True, False):  # dropout / batch-norm paths of both modes
        model.train(train)
        with ForeignTensors(device, dtype) as watch:
            logits = model(dict(x))
        assert watch.found == [], f"{name} ({'train' if train else 'eval'}): {watch.found[:5]}"
        assert logits.shape == (2, 60) and logits.device.type == device and logits.dtype == dtype


def test_the_watch_catches_a_stray_constant():
    """The recorder itself: a forward that adds a default-device float32 ``torch.zeros`` is flagged."""
    class Stray(torch.nn.Module):
        def forward(self, x):
            return x + torch.zeros(x.shape[-1])
    for device, dtype in (("meta", torch.float32), ("cpu", torch.float64)):
        with ForeignTensors(device, dtype) as watch:
            try:  # on meta the add itself refuses the cpu tensor; in float64 it silently promotes
                Stray()(torch.ones(2, 3, device=device, dtype=dtype))
            except RuntimeError:
                assert device == "meta"
        assert any("zeros" in f for f in watch.found), (device, watch.found)


# --------------------------------------------------------------------------- bf16-mixed
EPOCHS = 8

def _fit(precision: str, model: torch.nn.Module, tmp_path):
    cfg = tiny_cfg(backbone="stgcn", fusion="cross_attention", epochs=(1, 1, EPOCHS), val="none")
    cfg.train.precision = precision
    cfg.train.lr, cfg.train.lr_step = 3e-3, 100  # constant lr: learn the toy signal in a few epochs
    scfg = stage_config(cfg, "mmff")
    module = MMFFModule(model, scfg, stage=3)
    trainer = build_trainer(scfg, tmp_path / precision, EPOCHS, progress=False)
    torch.manual_seed(0)
    trainer.fit(module, datamodule=MMFFDataModule(scfg, toy_factory))
    return cfg, trainer, model


def _top1(model, cfg, autocast: bool) -> float:
    ds = ToyDataset(cfg, "test", False)
    batch = {k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in ("skeleton", "image", "joints2d",
                                                                         "displacement", "label")}
    model.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logits = model(batch)
    assert logits.dtype == (torch.bfloat16 if autocast else torch.float32)
    return float((logits.float().argmax(1) == batch["label"]).float().mean())


def test_bf16_mixed_trains_the_full_mmff_like_fp32(tmp_path):
    cfg0 = tiny_cfg(backbone="stgcn", fusion="cross_attention")
    torch.manual_seed(0)
    init = create_model(stage_config(cfg0, "mmff"), pretrained=False)
    runs = {p: _fit(p, copy.deepcopy(init), tmp_path) for p in ("32-true", "bf16-mixed")}
    cfg, t16, m16 = runs["bf16-mixed"]
    _, t32, m32 = runs["32-true"]
    assert t16.precision == "bf16-mixed" and t32.precision == "32-true"
    assert t16.global_step == t32.global_step == EPOCHS * math.ceil(18 / 4)  # epochs of 18 samples
    for t in (t16, t32):
        loss = float(t.callback_metrics["train/loss_epoch"])
        assert math.isfinite(loss) and loss < math.log(3), loss  # below chance: it learned
    # mixed precision keeps float32 master weights, but autocast really ran: the weights moved
    # differently from the fp32 run (bf16 keeps 8 significant bits)
    s16, s32, s0 = m16.state_dict(), m32.state_dict(), init.state_dict()
    assert all(v.dtype == s32[k].dtype for k, v in s16.items())
    assert all(torch.isfinite(v).all() for v in s16.values() if v.is_floating_point())
    assert any(not torch.equal(s16[k], s32[k]) for k in s16 if s16[k].is_floating_point())
    assert any(not torch.equal(s16[k], s0[k]) for k in s16 if s16[k].is_floating_point())
    top32 = _top1(m32, cfg, autocast=False)
    assert top32 >= 0.6, top32  # well above chance (1/3): the comparison means something
    # the same weights in bf16 inference: only logits near a decision boundary can move
    # (bf16 keeps 8 significant bits): at most 1 of the 18 test samples flips
    top16 = _top1(m16, cfg, autocast=False)
    assert abs(_top1(m32, cfg, autocast=True) - top32) <= 1 / 18 + 1e-9
    assert abs(_top1(m16, cfg, autocast=True) - top16) <= 1 / 18 + 1e-9
    # bf16-trained vs fp32-trained: two training trajectories of a tiny model, each top-1 a
    # binomial estimate on 18 samples (sd sqrt(p(1-p)/18) ~ 0.11 at p = 2/3); "within noise" =
    # within 2 sd of their difference, 2 * sqrt(2) * 0.11 ~ 0.31 -> 5 samples
    assert abs(top16 - top32) <= 5 / 18 + 1e-9, (top16, top32)


# --------------------------------------------------------------------------- loader / trainer keys
def test_loader_and_trainer_settings_are_config_values(tmp_path):
    d = tiny_cfg_dict()
    d["data"].update(num_workers=2, pin_memory=True, persistent_workers=False)
    d["train"].update(prefetch_factor=3, sync_batchnorm=True)
    cfg = config_from_dict(d)
    ds = ToyDataset(cfg, "test", False)
    loader = build_loader(ds, cfg, ShardSampler(len(ds)))
    assert (loader.num_workers, loader.pin_memory, loader.persistent_workers, loader.prefetch_factor) \
        == (2, True, False, 3)
    cfg.data.num_workers, cfg.data.pin_memory, cfg.data.persistent_workers = 1, False, True
    loader = build_loader(ds, cfg, ShardSampler(len(ds)))
    assert (loader.num_workers, loader.pin_memory, loader.persistent_workers) == (1, False, True)
    cfg.data.pin_memory = None  # auto: pinned only when the run uses CUDA
    assert build_loader(ds, cfg, ShardSampler(len(ds))).pin_memory == torch.cuda.is_available()
    trainer = build_trainer(cfg, tmp_path, 1, progress=False)
    from mmff.engine.syncbn import CPUSyncBatchNormPlugin
    assert isinstance(trainer._accelerator_connector._layer_sync, CPUSyncBatchNormPlugin)
    cfg.train.sync_batchnorm = False
    assert build_trainer(cfg, tmp_path, 1, progress=False)._accelerator_connector._layer_sync is None
    for key, value in (("data.num_workers", -1), ("data.pin_memory", "yes"),
                       ("data.persistent_workers", 1), ("train.sync_batchnorm", "true")):
        sec, k = key.split(".")
        bad = tiny_cfg_dict()
        bad[sec][k] = value
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            config_from_dict(bad)
