"""ONNX export of a trained model (``mmff export``).

The exported graph is the whole fused model: named tensor inputs in, ``logits`` out, with a
dynamic batch axis ``N``. Inputs by model kind (docs/design.md "Dataset item"):

=============== ===========================================================================
MMFF            ``skeleton``, ``image`` (N, K, 3, S, S), ``joints2d`` (N, K, M, V, 2) and
                ``displacement`` (N, K, M, V) (the last two only with skeleton attention)
skeleton_only   ``skeleton``
rgb_only        ``image`` (+ ``joints2d``, ``displacement`` with skeleton attention)
=============== ===========================================================================

``skeleton`` is (N, 3, T, V, M) for the graph backbones (ST-GCN, ST-GCN++, CTR-GCN) and
(N, T, M*V*3) for the RNN backbones. The pre-processing (VA-pre, crop, normalisation) stays
outside the graph: feed the tensors that :class:`mmff.engine.predict.Predictor` builds.

Exporters: the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) is the default;
it traces the model once and marks the batch axis dynamic. The dynamo exporter
(``dynamo=True``, ``torch.export`` + onnxscript) is available with ``exporter="dynamo"``.
:func:`export_onnx` checks the file in onnxruntime against PyTorch at batch 1 and batch 3
(max abs difference on the logits), so a wrong dynamic axis is caught at export time.
"""
from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

__all__ = ["ExportError", "OnnxModel", "input_names", "example_inputs", "export_onnx",
           "check_onnx", "run_onnx", "file_opset", "DEFAULT_OPSET", "EXPORTERS"]

DEFAULT_OPSET = 17
EXPORTERS = ("torchscript", "dynamo")


class ExportError(ValueError):
    """The model cannot be exported (or the exported graph does not match PyTorch)."""


def input_names(cfg) -> list[str]:
    """The model's inputs, in the order of the ONNX graph's inputs."""
    kind = cfg.model.kind
    names = [] if kind == "rgb_only" else ["skeleton"]
    if kind != "skeleton_only":
        names.append("image")
        if cfg.model.rgb.skeleton_attention:
            names += ["joints2d", "displacement"]
    return names


class OnnxModel(nn.Module):
    """Positional-tensor front of a dict-input mmff model: ``forward(*inputs) -> logits``."""

    def __init__(self, model: nn.Module, names: list[str]):
        super().__init__()
        self.model = model
        self.names = list(names)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(dict(zip(self.names, inputs)))


def example_inputs(cfg, batch: int = 1, seed: int = 0) -> dict:
    """Random inputs of the right shapes and ranges (images ~N(0,1), joints in [0, 1],
    displacement >= 0) for ``cfg``'s model."""
    from mmff.config import GRAPH_BACKBONES
    from mmff.models import num_joints

    g = torch.Generator().manual_seed(seed)
    d, s = cfg.data, cfg.model.skeleton
    V, M, K, S = num_joints(s.layout), s.num_person, cfg.num_frames, d.image_size
    out = {}
    if s.backbone in GRAPH_BACKBONES:
        out["skeleton"] = torch.randn(batch, s.in_channels, d.clip_len, V, M, generator=g)
    else:
        out["skeleton"] = torch.randn(batch, d.rnn_steps, M * V * s.in_channels, generator=g)
    out["image"] = torch.randn(batch, K, 3, S, S, generator=g)
    out["joints2d"] = torch.rand(batch, K, M, V, 2, generator=g)
    out["displacement"] = torch.rand(batch, K, M, V, generator=g)
    return {k: out[k] for k in input_names(cfg)}


def file_opset(path) -> int:
    """The default-domain opset the ONNX file declares (the dynamo exporter implements opset
    >= 18 and keeps 18 when it cannot convert down to a lower requested one)."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    return int(next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0))


def run_onnx(path, inputs: dict, threads: Optional[int] = None) -> np.ndarray:
    """Logits from onnxruntime (CPU) for ``inputs`` (tensors or arrays keyed by input name)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {k: (v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)).astype(np.float32)
            for k, v in inputs.items()}
    return sess.run(["logits"], feed)[0]


def check_onnx(model: nn.Module, cfg, path, batches=(1, 3), inputs: Optional[dict] = None) -> dict:
    """Max abs difference of onnxruntime vs PyTorch logits at each batch size (random inputs,
    plus ``inputs`` when given, e.g. a real sample)."""
    model.eval()
    diffs = {}
    cases = [(f"batch{b}", example_inputs(cfg, b, seed=b)) for b in batches]
    if inputs is not None:
        cases.append(("sample", {k: inputs[k] for k in input_names(cfg)}))
    for name, x in cases:
        with torch.inference_mode():
            ref = model(dict(x)).float().numpy()
        got = run_onnx(path, x)
        if got.shape != ref.shape:
            raise ExportError(f"{path}: onnxruntime gave logits of shape {got.shape} for {name}, "
                              f"PyTorch {ref.shape} (dynamic batch axis broken)")
        diffs[name] = float(np.abs(got - ref).max())
    return diffs


def _export(wrapper: nn.Module, args: tuple, names: list[str], tmp: str, opset: int,
            exporter: str) -> None:
    dyn = {n: {0: "N"} for n in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
        if exporter == "torchscript":
            torch.onnx.export(wrapper, args, tmp, input_names=names, output_names=["logits"],
                              dynamic_axes={**dyn, "logits": {0: "N"}}, opset_version=opset,
                              dynamo=False, do_constant_folding=True)
        elif exporter == "dynamo":
            batch = torch.export.Dim("N", min=1, max=4096)
            prog = torch.onnx.export(wrapper, args, input_names=names, output_names=["logits"],
                                     dynamic_shapes={"inputs": tuple({0: batch} for _ in names)},
                                     opset_version=opset, dynamo=True, verbose=False)
            prog.save(tmp)
        else:
            raise ExportError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")


def export_onnx(checkpoint, out, opset: int = DEFAULT_OPSET, exporter: str = "torchscript",
                check: bool = True, tolerance: float = 1e-4) -> dict:
    """Export ``checkpoint``'s model to ``out`` (atomically) with a dynamic batch axis.

    Returns ``{"onnx", "inputs": {name: shape with "N"}, "exporter", "opset", "seconds",
    "max_abs_diff": {"batch1", "batch3"}}``. With ``check`` the graph is run in onnxruntime at
    batch 1 and 3 and compared with PyTorch; a difference above ``tolerance`` raises
    :class:`ExportError` (the file is not written)."""
    from mmff.engine.checkpoint import load_checkpoint

    t0 = time.perf_counter()
    model, cfg, classes, _ = load_checkpoint(checkpoint)
    model.eval()
    names = input_names(cfg)
    x = example_inputs(cfg, batch=2)
    wrapper = OnnxModel(model, names).eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".onnx", dir=out.parent)
    os.close(fd)
    try:
        try:
            _export(wrapper, tuple(x[n] for n in names), names, tmp, opset, exporter)
        except ExportError:
            raise
        except Exception as e:  # exporter failures: name the op/reason in one line
            msg = " ".join(str(e).strip().splitlines()[:2])[:400] or type(e).__name__
            raise ExportError(f"{checkpoint}: the {exporter} exporter failed at opset {opset}: "
                              f"{type(e).__name__}: {msg}") from None
        diffs = check_onnx(model, cfg, tmp) if check else {}
        bad = {k: v for k, v in diffs.items() if not v <= tolerance}
        if bad:
            raise ExportError(f"{checkpoint}: onnxruntime logits differ from PyTorch by {bad} "
                              f"(> {tolerance}) with the {exporter} exporter")
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
        for extra in Path(tmp).parent.glob(Path(tmp).name + ".data"):
            extra.unlink(missing_ok=True)
    shapes = {n: ["N"] + list(x[n].shape[1:]) for n in names}
    return {"onnx": str(out), "inputs": shapes, "output": {"logits": ["N", len(classes)]},
            "classes": len(classes), "exporter": exporter, "opset_requested": opset,
            "opset": file_opset(out),
            "max_abs_diff": diffs, "seconds": time.perf_counter() - t0}
