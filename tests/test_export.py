"""`mmff export`: ONNX with a dynamic batch axis, matching PyTorch in onnxruntime (< 1e-4 on the
logits) on the real NTU pair (through the predict pre-processing) and on random batches of 1 and 3."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from mmff.cli import main
from mmff.engine.export import (ExportError, check_onnx, example_inputs, export_onnx, input_names,
                                run_onnx)
from mmff.engine.predict import Predictor
from test_predict_support import NAME, make_checkpoint, tiny_predict_cfg


@pytest.fixture(scope="module")
def mmff_onnx(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    ck = make_checkpoint(d / "mmff.pt", seed=3)
    return ck, d / "mmff.onnx"


def test_export_cli_and_parity_on_the_real_sample(mmff_onnx, ntu_dir, capsys):
    ck, out = mmff_onnx
    assert main(["export", "-k", str(ck), "--onnx", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["exporter"] == "torchscript" and res["opset"] == 17 and out.is_file()
    assert res["inputs"]["image"] == ["N", 1, 3, 48, 48] and res["output"]["logits"] == ["N", 60]
    assert set(res["max_abs_diff"]) == {"batch1", "batch3"}
    assert max(res["max_abs_diff"].values()) < 1e-4
    # the graph declares the batch axis symbolic on every input and the output
    g = onnx.load(str(out)).graph
    assert [i.name for i in g.input] == ["skeleton", "image", "joints2d", "displacement"]
    for v in list(g.input) + list(g.output):
        assert v.type.tensor_type.shape.dim[0].dim_param == "N"
    # the real pair through predict's pre-processing
    pred = Predictor(ck)
    s = pred.load(ntu_dir / f"{NAME}.skeleton", ntu_dir / f"{NAME}_rgb.avi")
    batch = {k: v[None] for k, v in s.item.items()}
    with torch.inference_mode():
        ref = pred.model(batch).numpy()
    got = run_onnx(out, batch)
    assert got.shape == (1, 60)
    assert np.abs(got - ref).max() < 1e-4
    # batch 3 of mixed real + random samples, checked by the library's own comparison
    diffs = check_onnx(pred.model, pred.cfg, out, batches=(3,), inputs=batch)
    assert max(diffs.values()) < 1e-4


@pytest.mark.parametrize("kind,backbone,fusion", [("skeleton_only", "stgcn", "cross_attention"),
                                                  ("mmff", "bilstm", "lstm_late"),
                                                  ("skeleton_only", "ctrgcn", "cross_attention"),
                                                  ("mmff", "stgcnpp", "cross_attention")])
def test_other_model_kinds_export(tmp_path, kind, backbone, fusion):
    ck = make_checkpoint(tmp_path / "m.pt", kind=kind, backbone=backbone, fusion=fusion)
    res = export_onnx(ck, tmp_path / "m.onnx")
    cfg = tiny_predict_cfg(kind=kind, backbone=backbone, fusion=fusion)
    assert list(res["inputs"]) == input_names(cfg)
    assert max(res["max_abs_diff"].values()) < 1e-4


def test_dynamo_exporter_also_works(tmp_path):
    """The dynamo exporter (torch.export) handles the dynamic batch too; it writes opset >= 18."""
    ck = make_checkpoint(tmp_path / "s.pt", kind="skeleton_only", backbone="bilstm")
    res = export_onnx(ck, tmp_path / "s.onnx", opset=18, exporter="dynamo")
    assert res["opset"] >= 18 and max(res["max_abs_diff"].values()) < 1e-4
    x = example_inputs(tiny_predict_cfg(kind="skeleton_only", backbone="bilstm"), batch=5)
    assert run_onnx(tmp_path / "s.onnx", x).shape == (5, 60)


def test_input_names_follow_the_attention_switches():
    assert input_names(tiny_predict_cfg(skeleton_attention=False)) == ["skeleton", "image"]
    assert input_names(tiny_predict_cfg(kind="rgb_only")) == ["image", "joints2d", "displacement"]
    assert input_names(tiny_predict_cfg(kind="skeleton_only")) == ["skeleton"]


def test_export_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint\n" * 50)
    assert main(["export", "-k", str(bad), "--onnx", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err
    assert not (tmp_path / "x.onnx").exists()
    with pytest.raises(ExportError, match="exporter must be one of"):
        export_onnx(make_checkpoint(tmp_path / "s.pt", kind="skeleton_only"), tmp_path / "y.onnx",
                    exporter="tflite")
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*onnx*"))
