"""``mmff ensemble``: fuse the saved scores of several ``mmff eval`` runs (PYSKL's multi-stream
report: joint, bone, joint motion, bone motion at 2:2:1:1)."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("fuse the scores.npz of several `mmff eval` runs (weighted sum of softmax probabilities, "
        "PYSKL's 2:2:1:1 for 4 streams): top-1/top-5 of each stream and of the ensemble")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="SCORES",
                   help="an `mmff eval` output folder (its scores.npz) or a scores.npz, one per stream; "
                        "all must hold the same samples with the same labels (aligned by name)")
    p.add_argument("--weights", type=float, nargs="+", default=None, metavar="W",
                   help="one weight per input, given after the inputs; unset: 2 2 1 1 for four "
                        "inputs (j, b, jm, bm), equal weights otherwise")
    p.add_argument("--out", default="ensemble.json", metavar="FILE.json",
                   help="where to write the JSON report")


def run(args) -> int:
    from mmff.engine.ensemble import ensemble
    from mmff.engine.stages import write_json

    res = ensemble(args.inputs, args.weights)
    width = max(len(r["path"]) for r in res["streams"])
    print(f"{res['num_samples']} samples, {res['num_classes']} classes")
    for r in res["streams"]:
        print(f"  {r['path']:<{width}}  w={r['weight']:g}  top-1 {100 * r['top1']:.2f}%  "
              f"top-5 {100 * r['top5']:.2f}%")
    e = res["ensemble"]
    out = Path(args.out)
    write_json(out, res)
    print(f"ensemble ({':'.join(f'{w:g}' for w in res['weights'])}): top-1 {100 * e['top1']:.2f}%  "
          f"top-5 {100 * e['top5']:.2f}%  -> {out}")
    return 0
