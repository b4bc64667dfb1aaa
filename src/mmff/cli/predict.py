"""``mmff predict``: the action in a Kinect recording (.skeleton + _rgb.avi) from a checkpoint."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "predict the action of a .skeleton + _rgb.avi pair (or of every pair in a folder) with a checkpoint"

_EPILOG = """\
examples:
  mmff predict -k runs/demo/model.pt --skeleton S001C001P001R001A001.skeleton \\
      --video S001C001P001R001A001_rgb.avi --topk 5 --heatmap attention.png
  mmff predict -k model.pt --skeleton S001C001P001R001A001.skeleton --video ..._rgb.avi --json
  mmff predict -k model.pt --skeleton skeletons/ --video videos/ --out preds.csv --workers 2

One pair: prints the top-k classes; --json prints
  {"topk": [{"label": int, "name": str, "prob": float}, ...], "seconds": float, "sample": str}
(seconds: reading the files + pre-processing + forward, the model already loaded).
Folder mode (--skeleton DIR): pairs NAME.skeleton with NAME_rgb.avi in --video DIR (default: the
same folder), writes a CSV (sample, true_label, label, name, prob, label_2, name_2, prob_2, ...;
true_label from the NTU A number when the name has one) and reports every bad pair on stderr
(exit 0) unless --strict. Skeleton-only checkpoints need no video. The frame at p is decoded
without decoding the whole video; pre-processing is the test-time pipeline of the checkpoint's
config (VA-pre, padding/sampling, centred projection crop + data.test_margin, resize)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = _EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--checkpoint", "-k", required=True, metavar="K",
                   help="model.pt written by mmff train/demo (carries config and class names)")
    p.add_argument("--skeleton", "-s", required=True, metavar="F",
                   help="NTU .skeleton file, or a folder of them (folder mode)")
    p.add_argument("--video", "-v", default=None, metavar="F",
                   help="the recording's _rgb.avi, or a folder of videos (folder mode; default: the "
                        "skeleton folder); not needed by skeleton-only checkpoints")
    p.add_argument("--topk", type=int, default=5, help="number of classes to report (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--heatmap", default=None, metavar="PNG",
                   help="one pair: write the attention figure (crop + skeleton + skeleton-attention "
                        "square, M_1, M_2, M_ske; paper Fig. 10-11)")
    p.add_argument("--position", type=float, nargs="+", default=None, metavar="P",
                   help="frame position(s) p in [0, 1] instead of the config's data.positions "
                        "(as many as the model's frames)")
    p.add_argument("--out", default=None, metavar="CSV",
                   help="folder mode: CSV file to write (default: predictions.csv in the current folder)")
    p.add_argument("--batch-size", type=int, default=8, help="folder mode: samples per forward pass")
    p.add_argument("--workers", type=int, default=0,
                   help="folder mode: loader processes reading and decoding ahead of the model")
    p.add_argument("--strict", action="store_true", help="folder mode: stop at the first bad pair (exit 2)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; 1 is fastest on a busy machine)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _print_topk(res: dict) -> None:
    print(f"{res.get('sample', '')}: top-{len(res['topk'])} ({1000 * res['seconds']:.0f} ms)")
    for i, t in enumerate(res["topk"], 1):
        print(f"  {i}. {t['prob']:7.2%}  [{t['label']:3d}] {t['name']}")


def run(args) -> int:
    from mmff.engine.predict import PredictError, Predictor, predict_folder, write_csv, write_heatmap

    if args.topk < 1:
        raise PredictError(f"--topk: expected >= 1, got {args.topk}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    pred = Predictor(args.checkpoint, device=args.device, positions=args.position)
    skel = Path(args.skeleton)
    if skel.is_dir():
        if args.heatmap:
            raise PredictError("--heatmap: only for one pair (use mmff visualize --checkpoint "
                               "--data for many samples)")
        out = Path(args.out) if args.out else Path("predictions.csv")
        res = predict_folder(pred, skel, args.video, args.topk, args.batch_size, args.workers,
                             args.strict, progress=not args.no_progress,
                             on_error=lambda m: print(f"mmff predict: {m}", file=sys.stderr))
        write_csv(res["rows"], out, args.topk)
        summary = {"samples": len(res["rows"]), "failed": res["failed"], "out": str(out),
                   "seconds": res["seconds"]}
        if "accuracy" in res:
            summary["accuracy"] = res["accuracy"]
        if args.json:
            print(json.dumps(summary))
        else:
            acc = f", top-1 {100 * res['accuracy']:.1f}% vs the names' A numbers" if "accuracy" in res else ""
            print(f"{len(res['rows'])} samples predicted, {len(res['failed'])} failed{acc} "
                  f"({res['seconds']:.1f} s) -> {out}")
        return 0
    if args.video is not None and Path(args.video).is_dir():
        raise PredictError(f"{args.video}: a folder; --video must be a file when --skeleton is a file")
    res, sample, probs = pred.predict_one(skel, args.video, args.topk)
    if args.heatmap:
        res["heatmap"] = str(write_heatmap(pred, sample, probs, args.heatmap))
    if args.json:
        print(json.dumps(res))
    else:
        _print_topk(res)
        if args.heatmap:
            print(f"attention figure -> {res['heatmap']}")
    return 0
