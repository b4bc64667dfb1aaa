"""``mmff visualize``: the paper's figures (Fig. 7-11) for a run, as PNG."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "draw the paper's figures for a run: confusion (Fig. 8), per-class vs baseline (Fig. 9), frame position (Fig. 7), attention (Fig. 10-11)"

_EPILOG = """\
examples:
  mmff visualize --results runs/x/eval_test/results.json --baseline runs/stgcn/eval_test/results.json --out figs
  mmff visualize --fig7 runs/tables/tablefig7/tablefig7.json --out figs
  mmff visualize --checkpoint runs/x/model.pt --data prepared/ntu60 --num 4 --out figs
  mmff visualize --checkpoint runs/x/model.pt --data prepared/ntu60 --stats --out figs

Writes into --out: confusion.png (Fig. 8, from an mmff eval results.json), per_class.png (Fig. 9;
beside --baseline, e.g. the skeleton-only run), fig7_<column>.png (accuracy vs frame position p,
from mmff table fig7's JSON; one per column, e.g. xsub, xview) and attention.png (Fig. 10-11:
for --num test samples of a prepared folder, the crop with the projected skeleton and the
skeleton-attention square, and the self-attention maps M_1, M_2 and M_ske over it)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = _EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--results", default=None, metavar="JSON",
                   help="results.json of mmff eval: confusion matrix (Fig. 8) and per-class accuracy (Fig. 9)")
    p.add_argument("--baseline", default=None, metavar="JSON",
                   help="results.json of the baseline (skeleton-only) run, drawn beside --results in Fig. 9")
    p.add_argument("--fig7", default=None, metavar="JSON",
                   help="tablefig7.json written by `mmff table fig7` (Fig. 7)")
    p.add_argument("--column", default=None,
                   help="Fig. 7: only this column of the table (e.g. xsub); default: every column")
    p.add_argument("--checkpoint", "-k", default=None, metavar="K",
                   help="model.pt for the attention figure (Fig. 10-11; needs --data)")
    p.add_argument("--data", default=None, metavar="PREPARED", help="prepared folder (mmff prepare) for --checkpoint")
    p.add_argument("--num", type=int, default=4, help="attention figure: number of samples")
    p.add_argument("--subset", default="test", choices=("test", "train", "all"),
                   help="attention figure: samples from this subset of the config's benchmark")
    p.add_argument("--stats", action="store_true",
                   help="with --checkpoint: attention_stats.json over the whole --subset (see below)")
    p.add_argument("--device", default="cpu", help="attention figure: cpu, cuda")
    p.add_argument("--out", default="figures", metavar="DIR", help="output folder")
    p.add_argument("--json", action="store_true", help="print the written files as JSON")


def run(args) -> int:
    from mmff.atomic import atomic_write_text
    from mmff.engine import visualize as vis

    if not (args.results or args.fig7 or args.checkpoint):
        raise ValueError("nothing to draw: give --results, --fig7 and/or --checkpoint with --data")
    if args.stats and not args.checkpoint:
        raise ValueError("--stats needs --checkpoint and --data")
    if args.baseline and not args.results:
        raise ValueError("--baseline needs --results (the run to compare)")
    if bool(args.checkpoint) != bool(args.data):
        raise ValueError("the attention figure needs both --checkpoint and --data")
    if args.num < 1:
        raise ValueError(f"--num: expected >= 1, got {args.num}")
    out = Path(args.out)
    written: dict = {}
    if args.results:
        written["fig8_confusion"] = str(vis.confusion_figure(args.results, out / "confusion.png"))
        written["fig9_per_class"] = str(vis.per_class_figure(args.results, out / "per_class.png",
                                                             args.baseline))
    if args.fig7:
        table = vis.read_json(args.fig7)
        cols = [args.column] if args.column else list(table.get("columns") or [None])
        for col in cols:
            written[f"fig7_{col}"] = str(vis.frame_position_figure(args.fig7, out / f"fig7_{col}.png", col))
    if args.checkpoint:
        res = vis.attention_figure(args.checkpoint, args.data, out / "attention.png", args.num,
                                   args.subset, device=args.device)
        written["fig10_11_attention"] = res["figure"]
    if args.stats:
        stats = vis.attention_statistics(args.checkpoint, args.data, args.subset, device=args.device)
        path = out / "attention_stats.json"
        atomic_write_text(path, json.dumps(stats, indent=1) + "\n")
        written["attention_stats"] = str(path)
        if not args.json:
            print(_stats_line(stats))
    if args.json:
        print(json.dumps(written))
    else:
        for k, v in written.items():
            print(f"{k:20s} -> {v}")
    return 0


def _stats_line(stats: dict) -> str:
    maps = ", ".join(f"{k} inside {v['inside']:.3f} / outside {v['outside']:.3f}"
                     for k, v in stats["maps"].items()) or "no self-attention maps"
    share = ", ".join(f"{k} {v:.3f}" for k, v in stats["channel_max_in_square"].items())
    return (f"{stats['samples']} samples: {maps}; channel maxima in the square "
            f"(chance {stats['square_area']:.3f}): {share}")
