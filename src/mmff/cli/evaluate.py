"""``mmff eval``: top-1/top-5, per-class accuracy, confusion matrix + figures of a checkpoint."""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

from mmff.cli.train import add_config_arguments, config_from_args

HELP = "evaluate a checkpoint: results.json (top1, top5, per-class, confusion) + confusion/per-class PNGs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p, required=False)
    p.add_argument("--checkpoint", "-k", required=True, metavar="K",
                   help="model.pt (carries its config: --config optional), a training folder (its final "
                        "model), or a Lightning last.ckpt (needs --config); with --folds: the training folder")
    p.add_argument("--split", default="test", choices=["test", "val", "train", "all"],
                   help="subset to evaluate: test; val (held out of the training samples by data.val); "
                        "train (the training samples minus val); all")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder; unset: eval_<split>/ beside the checkpoint")
    p.add_argument("--accelerator", default=None, help="cpu | gpu | auto; unset: the config's train.accelerator")
    p.add_argument("--folds", type=int, default=None, metavar="N",
                   help="SYSU: evaluate K/fold<k> for k < N (as written by mmff train --folds) and report "
                        "mean ± std; the confusion matrix is summed over folds (paper Fig. 8)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _apply_cli_overrides(cfg, args):
    from mmff.cli.train import overrides_from_args
    from mmff.config import merge_dicts, config_from_dict, config_to_dict
    over = overrides_from_args(args)
    return config_from_dict(merge_dicts(config_to_dict(cfg), over)) if over else cfg


def run(args) -> int:
    from mmff.engine.evaluation import evaluate, load_for_eval, summarize_folds
    from mmff.engine.figures import plot_confusion
    from mmff.engine.stages import write_json
    ck = Path(args.checkpoint)
    cfg = config_from_args(args) if args.config else None  # else: the checkpoint's own config
    progress = not args.no_progress

    def one(k: Path, cfg, out: Path, fold=None):
        if cfg is None:  # config from the checkpoint, then --set/--data applied on top
            _, ckcfg, _ = load_for_eval(k)
            cfg = _apply_cli_overrides(ckcfg, args)
        if fold is not None:
            cfg = copy.deepcopy(cfg)
            cfg.data.fold = fold
        return evaluate(k, cfg, split=args.split, out=out, progress=progress, accelerator=args.accelerator)

    if not args.folds:
        out = Path(args.out) if args.out else (ck if ck.is_dir() else ck.parent) / f"eval_{args.split}"
        res = one(ck, cfg, out)
        print(f"{res['num_samples']} samples: top-1 {100 * res['top1']:.2f}%  top-5 {100 * res['top5']:.2f}%  "
              f"-> {out / 'results.json'}")
        return 0
    out = Path(args.out) if args.out else ck / f"eval_{args.split}"
    results = []
    for fold in range(args.folds):
        res = one(ck / f"fold{fold}", cfg, out / f"fold{fold}", fold)
        print(f"fold {fold}: top-1 {100 * res['top1']:.2f}%")
        results.append(res)
    folds = summarize_folds(results)
    write_json(out / "folds.json", folds)
    plot_confusion(folds["confusion"], folds["classes"], out / "confusion_sum.png",
                   title=f"{args.folds} folds (summed): top-1 {100 * folds['top1']['mean']:.1f}%")
    print(f"{args.folds} folds: top-1 {100 * folds['top1']['mean']:.2f} ± {100 * folds['top1']['std']:.2f}%  "
          f"top-5 {100 * folds['top5']['mean']:.2f} ± {100 * folds['top5']['std']:.2f}%  -> {out / 'folds.json'}")
    return 0
