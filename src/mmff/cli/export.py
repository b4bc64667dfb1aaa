"""``mmff export``: a checkpoint's fused model as ONNX (dynamic batch), checked in onnxruntime."""
from __future__ import annotations

import argparse
import json

HELP = "export a checkpoint to ONNX (skeleton + image + 2D joints + displacement in, logits out; dynamic batch)"

_EPILOG = """\
examples:
  mmff export -k runs/demo/model.pt --onnx mmff.onnx
  mmff export -k model.pt --onnx mmff.onnx --opset 18 --exporter dynamo

Inputs of the graph (N = batch, dynamic): skeleton (N, 3, T, V, M) for ST-GCN or (N, T, M*V*3) for
RNNs; image (N, K, 3, S, S) normalised; joints2d (N, K, M, V, 2) in [0, 1]; displacement (N, K, M, V)
(Eq. 13). Skeleton-only models take only skeleton; models without skeleton attention take no joints2d
or displacement. Output: logits (N, classes). Pre-processing is not in the graph: build the inputs as
mmff predict does (mmff.engine.predict.Predictor.load).

The TorchScript exporter (default) and the dynamo exporter (torch.export + onnxscript) both export
every model kind; the file is checked in onnxruntime against PyTorch at batch 1 and 3 (max abs
difference of the logits must be <= --tolerance) before it is written."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = _EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--checkpoint", "-k", required=True, metavar="K", help="model.pt written by mmff train/demo")
    p.add_argument("--onnx", required=True, metavar="OUT", help="ONNX file to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17; the dynamo exporter "
                                                         "writes >= 18)")
    p.add_argument("--exporter", choices=("torchscript", "dynamo"), default="torchscript",
                   help="torch.onnx.export(dynamo=False) (default) or dynamo=True")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest allowed |onnxruntime - PyTorch| on the logits")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime check")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    import logging

    from mmff.engine.export import export_onnx

    for name in ("onnxscript", "torch.onnx"):  # version-converter tracebacks, torchvision notes
        logging.getLogger(name).setLevel(logging.ERROR)
    res = export_onnx(args.checkpoint, args.onnx, args.opset, args.exporter,
                      check=not args.no_check, tolerance=args.tolerance)
    if args.json:
        print(json.dumps(res))
        return 0
    asked = res["opset_requested"]
    note = "" if res["opset"] == asked else f" (asked {asked}; the exporter kept {res['opset']})"
    print(f"{res['onnx']}: {res['exporter']} exporter, opset {res['opset']}{note}, {res['seconds']:.1f} s")
    for n, shape in res["inputs"].items():
        print(f"  in  {n:13s} {tuple(shape)}")
    print(f"  out logits        {tuple(res['output']['logits'])}")
    if res["max_abs_diff"]:
        print("  onnxruntime vs PyTorch, max |diff| of logits: "
              + ", ".join(f"{k} {v:.2e}" for k, v in res["max_abs_diff"].items()))
    return 0
