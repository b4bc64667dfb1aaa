"""ONNX parity computed here, not taken from :func:`export_onnx`'s own report: every model kind
(MMFF w/ ST-GCN, MMFF w/ Bi-LSTM, MMFF with 3 frames, skeleton-only, RGB-only) x both exporters
(TorchScript-based and dynamo) is exported with ``check=False`` (the package compares nothing),
then this test runs the file in its own onnxruntime session and compares the logits with eager
PyTorch on random inputs it draws itself (batch 1 and 3: the dynamic batch axis) and on the
real-format NTU pair of ``tests/data/ntu`` through the predict pre-processing."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mmff.engine.export import export_onnx
from mmff.engine.predict import Predictor
from test_predict_support import NAME, make_checkpoint

#: logits are O(1) for these tiny untrained models; float32 re-association inside the onnxruntime
#: kernels (conv / matmul / softmax accumulation order) moves them by ~1e-6, so 1e-4 leaves room
#: while a wrong weight, axis or op changes them by >> 1e-3
ATOL = 1e-4

KINDS = {
    "mmff_stgcn": dict(kind="mmff", backbone="stgcn", fusion="cross_attention"),
    "mmff_bilstm": dict(kind="mmff", backbone="bilstm", fusion="lstm_late"),
    "mmff_3frames": dict(kind="mmff", backbone="stgcn", fusion="cross_attention",
                         positions=(0.25, 0.5, 0.75)),
    "skeleton_only": dict(kind="skeleton_only", backbone="stgcn", fusion="cross_attention"),
    "rgb_only": dict(kind="rgb_only", backbone="stgcn", fusion="cross_attention"),
}


def _random_inputs(session: ort.InferenceSession, batch: int, seed: int) -> dict:
    """Inputs of the shapes the graph declares (batch axis set to ``batch``), drawn in the
    test's own ranges: skeleton / image ~N(0, 1), joints2d in [0, 1], displacement >= 0."""
    rng = np.random.default_rng(seed)
    out = {}
    for inp in session.get_inputs():
        shape = [batch] + [int(d) for d in inp.shape[1:]]
        if inp.name in ("skeleton", "image"):
            out[inp.name] = rng.standard_normal(shape).astype(np.float32)
        elif inp.name == "joints2d":
            out[inp.name] = rng.uniform(0, 1, shape).astype(np.float32)
        elif inp.name == "displacement":
            out[inp.name] = rng.uniform(0, 0.05, shape).astype(np.float32)
        else:
            raise AssertionError(f"unexpected graph input {inp.name}")
    return out


@pytest.fixture(scope="module")
def real_items(ntu_dir, tmp_path_factory):
    """kind -> (checkpoint, the real pair as a batch of 1 built by Predictor)."""
    d = tmp_path_factory.mktemp("parity")
    out = {}
    for name, kw in KINDS.items():
        ck = make_checkpoint(d / f"{name}.pt", seed=11, **kw)
        pred = Predictor(ck)
        video = ntu_dir / f"{NAME}_rgb.avi" if pred.needs_video else None
        s = pred.load(ntu_dir / f"{NAME}.skeleton", video)
        out[name] = (ck, pred.model, {k: v[None] for k, v in s.item.items()})
    return out


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("name", list(KINDS))
def test_onnxruntime_matches_eager_pytorch(real_items, tmp_path, name, exporter):
    ck, model, real = real_items[name]
    path = tmp_path / f"{name}.onnx"
    export_onnx(ck, path, opset=17 if exporter == "torchscript" else 18, exporter=exporter,
                check=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    want = {"mmff": ["skeleton", "image", "joints2d", "displacement"],
            "skeleton_only": ["skeleton"], "rgb_only": ["image", "joints2d", "displacement"]}
    assert names == want[KINDS[name]["kind"]]
    cases = {"batch1": _random_inputs(sess, 1, seed=1), "batch3": _random_inputs(sess, 3, seed=3),
             "real": {k: real[k].numpy().astype(np.float32) for k in names}}
    model.eval()
    for case, x in cases.items():
        with torch.inference_mode():
            ref = model({k: torch.from_numpy(v) for k, v in x.items()}).numpy()
        got = sess.run(["logits"], x)[0]
        assert got.shape == ref.shape == (len(next(iter(x.values()))), 60), (case, got.shape)
        assert np.isfinite(ref).all() and ref.std() > 1e-3, (case, "degenerate logits")
        diff = float(np.abs(got - ref).max())
        assert diff <= ATOL, f"{name}/{exporter}/{case}: onnxruntime differs by {diff}"
    # the rows of a batch are independent: batch 3's first row is not batch 1's sample, but the
    # real sample repeated 3 times gives 3 equal rows (no cross-sample mixing in the graph)
    rep = {k: np.repeat(v, 3, axis=0) for k, v in cases["real"].items()}
    got3 = sess.run(["logits"], rep)[0]
    np.testing.assert_allclose(got3, np.repeat(got3[:1], 3, axis=0), atol=1e-5, rtol=0)
