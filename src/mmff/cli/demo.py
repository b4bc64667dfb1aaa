"""``mmff demo``: SynthHOI end to end: generate, prepare, train the three stages, evaluate."""
from __future__ import annotations

import argparse

HELP = ("run the whole method on SynthHOI (generated here, no download): synth -> prepare -> "
        "stage 1 (skeleton-only, RGB-only) -> stage 2 (fusion) -> stage 3 (fine-tune) -> "
        "validation + cross-subject test table, results.json, checkpoint, confusion matrix")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output folder (re-runs resume)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the generated dataset and of the training")
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="S",
                   help="several seeds: one demo per seed in OUT/seed<S>/, then OUT/demo.json with "
                        "per-seed val/test top-1, mean, std and min (replaces --seed)")
    p.add_argument("--config", "-c", default="demo",
                   help="demo config: a path or a name in configs/ (demo = MMFF w/ ST-GCN, "
                        "demo_bilstm = MMFF w/ Bi-LSTM, demo_stgcnpp / demo_ctrgcn = MMFF w/ "
                        "ST-GCN++ / CTR-GCN)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set 'train.epochs={1: 2, 2: 1, 3: 1}'")
    p.add_argument("--samples-per-class", type=int, default=None, metavar="N",
                   help="SynthHOI samples per class (default 24: half train, half test)")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="video size (default 320x240; with --synth-version 2: 384x216, v2's lite size)")
    p.add_argument("--synth-version", type=int, choices=(1, 2), default=1,
                   help="SynthHOI generator version (mmff synth --version): 1 the original, 2 with each "
                        "module's premise by construction; an OUT/raw made by the other version is refused")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes for generation and prepare (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from mmff.cli.train import overrides_from_args
    from mmff.engine.demo import run_demo, run_demo_seeds

    kw = dict(config=args.config,
              overrides=overrides_from_args(argparse.Namespace(overrides=args.overrides)),
              samples_per_class=args.samples_per_class, size=args.size, workers=args.workers,
              progress=not args.no_progress, synth_version=args.synth_version)
    if args.seeds:
        run_demo_seeds(args.out, args.seeds, **kw)
    else:
        run_demo(out=args.out, seed=args.seed, **kw)
    return 0
