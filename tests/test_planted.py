"""Tests written against bugs that were planted by hand and slipped through (issue 15, item 5):
each test here goes red when its bug is put back (docs/design.md, "promise -> test").

* the training projection crop ignoring the y margin: test_transforms.py
  (``test_train_crop_contains_box_and_extends_from_a_corner`` checks w' and h' both);
* ``MMFFModule.train()`` no longer keeping the frozen streams in eval mode;
* ``--resume`` unpickling ``last.ckpt`` with ``weights_only=False``;
* the ONNX parity tolerance check skipped;
* ST-GCN edge importance not applied (the masks start at 1, so only non-unit masks show it).
"""
from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest
import torch

from mmff.engine.checkpoint import CheckpointError, save_checkpoint
from mmff.engine.lightning import FreezeStreams, MMFFModule
from mmff.engine.stages import run_stages
from mmff.models import create_model
from test_engine_support import CLASSES, ToyDataset, tiny_cfg, toy_factory


def _batch(cfg, n: int = 6) -> dict:
    ds = ToyDataset(cfg, "train", True)
    return torch.utils.data.default_collate([ds[i] for i in range(n)])


# --------------------------------------------------------------------------- stage-2 freezing
def test_stage2_train_mode_keeps_the_frozen_streams_in_eval_mode():
    """Lightning (and anyone) may call ``module.train()``: in stage 2 the streams stay in eval
    mode, so their batch-norm statistics and dropout stay those of stage 1 (SPEC §3). The
    stage-2 module's :class:`FreezeStreams` callback freezes them before the optimizer is built
    and puts them back in eval mode at every epoch start and before every training batch."""
    cfg = tiny_cfg(kind="mmff")  # light Xception (batch norms) + Bi-LSTM with dropout
    model = create_model(cfg)
    module = MMFFModule(model, cfg, stage=2)
    [cb] = [c for c in module.configure_callbacks() if isinstance(c, FreezeStreams)]
    cb.setup(SimpleNamespace(strategy=None), module, "fit")  # Trainer.fit: before configure_optimizers
    streams = model.stream_modules()
    assert not any(p.requires_grad for s in streams for p in s.parameters())
    assert all(p.requires_grad for p in model.fusion.parameters())
    module.eval()
    module.train()  # anyone, between batches
    cb.on_train_batch_start(None, module, None, 0)
    assert all(not m.training for s in streams for m in s.modules())
    assert model.fusion.training and module.training
    frozen = {k: v.clone() for k, v in model.state_dict().items()
              if k.startswith(("skeleton_stream.", "rgb_stream."))}
    assert any("running_mean" in k for k in frozen)
    module(_batch(cfg))  # a training-mode forward
    after = model.state_dict()
    assert [k for k, v in frozen.items() if not torch.equal(v, after[k])] == []
    module.train()
    cb.on_train_epoch_start(SimpleNamespace(optimizers=[None], current_epoch=1), module)
    assert all(not m.training for s in streams for m in s.modules())
    # stages 1 and 3 train everything
    for stage in (1, 3):
        m3 = MMFFModule(create_model(cfg), cfg, stage=stage)
        assert m3.configure_callbacks() == []
        m3.eval()
        m3.train()
        assert all(m.training for m in m3.modules())


def test_stage2_fit_keeps_batch_norm_statistics(tmp_path):
    """Through a real ``Trainer.fit`` (with a validation loop and a ``module.train()`` call at
    every batch end): the stage-2 streams' weights and batch-norm statistics do not move."""
    import lightning as L

    class Toggle(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            pl_module.train()

    cfg = tiny_cfg(kind="mmff")
    model = create_model(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()
              if k.startswith(("skeleton_stream.", "rgb_stream."))}
    ds = ToyDataset(cfg, "train", True)
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(8)), batch_size=4)
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[Toggle()],
                        default_root_dir=tmp_path, num_sanity_val_steps=0)
    trainer.fit(MMFFModule(model, cfg, stage=2), loader, loader)
    after = model.state_dict()
    assert [k for k, v in before.items() if not torch.equal(v, after[k])] == []


# --------------------------------------------------------------------------- malicious last.ckpt
class _Marker:
    """Unpickling this runs ``open(path, "w")``: the marker file appears if it is ever loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_resume_refuses_a_malicious_last_ckpt(tmp_path):
    cfg = tiny_cfg(kind="skeleton_only", epochs=(1, 1, 1))
    sdir = tmp_path / "run/stage1/skeleton"
    sdir.mkdir(parents=True)
    marker = tmp_path / "PWNED"
    with open(sdir / "last.ckpt", "wb") as f:  # a Lightning-looking checkpoint with a payload
        pickle.dump({"epoch": 0, "global_step": 1, "state_dict": {}, "payload": _Marker(marker)}, f, protocol=2)
    with pytest.raises(CheckpointError) as e:
        run_stages(cfg, tmp_path / "run", resume=True, dataset_factory=toy_factory, progress=False)
    msg = str(e.value)
    assert str(sdir / "last.ckpt") in msg and "weights_only" in msg and "\n" not in msg
    assert not marker.exists()
    # unpickling it for real does run the payload (the test's premise)
    with open(sdir / "last.ckpt", "rb") as f:
        pickle.load(f)
    assert marker.exists()


# --------------------------------------------------------------------------- ONNX parity
def test_onnx_export_rejects_a_graph_that_disagrees_with_pytorch(tmp_path, monkeypatch):
    """The parity check's rejection path: onnxruntime logits off by 1e-3 (> the 1e-4 tolerance)
    raise ExportError and leave no file; within the tolerance the export goes through."""
    import mmff.engine.export as E

    cfg = tiny_cfg(kind="skeleton_only")
    ckpt = save_checkpoint(tmp_path / "m.pt", create_model(cfg), cfg, CLASSES)
    real = E.run_onnx
    for shift, ok in ((1e-3, False), (5e-5, True)):
        monkeypatch.setattr(E, "run_onnx", lambda path, x, *a, shift=shift, **k: real(path, x, *a, **k) + shift)
        out = tmp_path / f"m{shift}.onnx"
        if ok:
            res = E.export_onnx(ckpt, out)
            assert out.is_file() and all(4e-5 < v <= 1e-4 for v in res["max_abs_diff"].values())
            continue
        with pytest.raises(E.ExportError, match="differ from PyTorch") as e:
            E.export_onnx(ckpt, out)
        assert str(ckpt) in str(e.value) and "0.0001" in str(e.value)
        assert not out.exists() and not list(tmp_path.glob(".m*"))


# --------------------------------------------------------------------------- ST-GCN edge importance
def test_stgcn_applies_each_blocks_edge_importance_mask():
    """Block i convolves over A * M_i (the learned edge-importance mask, ST-GCN): with non-unit
    masks the network equals a loop over the blocks with A * M_i, not with A."""
    from mmff.models.stgcn import STGCN

    torch.manual_seed(0)
    net = STGCN("ntu", num_person=1, width=0.125).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mask in net.edge_importance:
            mask.copy_(torch.rand(mask.shape, generator=g) * 2)
    x = torch.randn(2, 3, 16, 25, 1)

    def by_hand(masks):
        n, c, t, v, m = x.shape
        y = net.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t))
        y = y.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for block, mask in zip(net.st_gcn_networks, masks):
            y = block(y, net.A * mask)
        return y.view(n, m, *y.shape[1:]).mean(dim=1)

    with torch.no_grad():
        got = net(x)
        torch.testing.assert_close(got, by_hand(net.edge_importance), rtol=0, atol=0)
        unit = by_hand([torch.ones_like(mk) for mk in net.edge_importance])
        assert (got - unit).abs().max() > 1e-3  # the masks matter
