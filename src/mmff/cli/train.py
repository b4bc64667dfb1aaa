"""``mmff train``: the three training stages of the paper (SPEC §3), resumable, DDP-ready."""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

HELP = "train a config in the paper's three stages (streams, fusion, fine-tune); resumable, DDP with --devices"


# --------------------------------------------------------------------------- shared by train/eval/table
def add_config_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    """``--config``, ``--set`` and ``--data`` (shared by train, eval and table)."""
    p.add_argument("--config", "-c", required=required, default=None,
                   help="YAML config: a path or a name in configs/ (e.g. demo)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.epochs={1:2,2:1,3:1} (repeatable)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="prepared data folder (mmff prepare ... --out DIR); sets data.root")


def overrides_from_args(args) -> dict:
    """Nested override mapping from ``--set`` / ``--data`` / ``--seed``."""
    from mmff.config import merge_dicts, parse_override
    over: dict = {}
    for expr in getattr(args, "overrides", None) or []:
        over = merge_dicts(over, parse_override(expr))
    if getattr(args, "data", None):
        over = merge_dicts(over, {"data": {"root": str(Path(args.data).resolve())}})
    if getattr(args, "seed", None) is not None:
        over = merge_dicts(over, {"train": {"seed": int(args.seed)}})
    return over


def config_from_args(args):
    """Load ``args.config`` with the command-line overrides applied (validated)."""
    from mmff.config import load_config
    return load_config(args.config, overrides_from_args(args))


def parse_devices(text: str):
    """``"2"`` -> 2; ``"auto"``/``"-1"`` stay as Lightning understands them."""
    try:
        return int(text)
    except ValueError:
        return text


def _is_rank_zero() -> bool:
    from lightning.pytorch.utilities import rank_zero_only
    return getattr(rank_zero_only, "rank", 0) == 0


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown, examples kept as written."""


# --------------------------------------------------------------------------- command
EPILOG = """\
examples:
  mmff train --config demo --data prepared/synth --out runs/demo
  mmff train --config demo --data prepared/synth --out runs/demo --resume   # after a crash / kill
  mmff train --config ntu60_xsub/mmff_stgcn --data prepared/ntu60 --stage 1
  mmff train --config sysu/setting1/mmff_stgcn --data prepared/sysu --folds 30

multi-GPU / multi-node (DDP through Lightning; one process per device):
  one node, 8 GPUs:   mmff train --config C --data D --devices 8 --accelerator gpu
  SLURM, 2 nodes x 4: srun --nodes 2 --ntasks-per-node 4 --gpus-per-node 4 \\
                        mmff train --config C --data D --devices 4 --num-nodes 2 --accelerator gpu
  torchrun:           torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
                        $(which mmff) train --config C --data D --devices 4 --num-nodes 2
  (Lightning reads SLURM_* or torchrun's MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE/LOCAL_RANK/NODE_RANK.)
  data.batch_size is per process; each rank reads its own shard of every epoch's permutation.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = _Formatter
    p.epilog = EPILOG
    add_config_arguments(p)
    p.add_argument("--stage", default="all", choices=["1", "2", "3", "all"],
                   help="which stage to run (2 needs stage 1's outputs in --out, 3 needs stage 2's)")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder; unset: runs/<config name>")
    p.add_argument("--resume", action="store_true",
                   help="skip finished stages and continue an interrupted one from its last.ckpt")
    p.add_argument("--devices", default="1", type=str,
                   help="devices per node; >1 trains with DDP (gloo on CPU, NCCL on GPU); 'auto' = all")
    p.add_argument("--num-nodes", type=int, default=None,
                   help="nodes for multi-node DDP (launch one process per device with srun/torchrun); "
                        "unset: the config's train.num_nodes")
    p.add_argument("--accelerator", default=None, help="cpu | gpu | auto; unset: the config's train.accelerator")
    p.add_argument("--seed", type=int, default=None, help="random seed; unset: the config's train.seed")
    p.add_argument("--folds", type=int, default=None, metavar="N",
                   help="SYSU: train folds 0..N-1 (data.fold) into OUT/fold<k>, evaluate each and "
                        "report mean ± std")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
    from mmff.engine.stages import run_stages
    cfg = config_from_args(args)
    out = Path(args.out or Path("runs") / cfg.name)
    stages = (1, 2, 3) if args.stage == "all" else (int(args.stage),)
    kw = dict(stages=stages, resume=args.resume, devices=parse_devices(args.devices), num_nodes=args.num_nodes,
              progress=not args.no_progress, accelerator=args.accelerator)
    if not args.folds:
        summary = run_stages(cfg, out, **kw)
        if _is_rank_zero():
            _print_summary(summary, out)
        return 0
    from mmff.engine.evaluation import evaluate, summarize_folds
    from mmff.engine.stages import final_model_path, write_json
    results = []
    for fold in range(args.folds):
        fcfg = copy.deepcopy(cfg)
        fcfg.data.fold = fold
        fout = out / f"fold{fold}"
        summary = run_stages(fcfg, fout, **kw)
        if _is_rank_zero():
            _print_summary(summary, fout)
            results.append(evaluate(final_model_path(fout), fcfg, split="test", out=fout / "eval",
                                    progress=not args.no_progress, accelerator=args.accelerator))
    if _is_rank_zero():
        folds = summarize_folds(results)
        write_json(out / "folds.json", folds)
        print(f"{args.folds} folds: top-1 {100 * folds['top1']['mean']:.2f} ± {100 * folds['top1']['std']:.2f}%  "
              f"top-5 {100 * folds['top5']['mean']:.2f} ± {100 * folds['top5']['std']:.2f}%  -> {out / 'folds.json'}")
    return 0


def _print_summary(summary: dict, out: Path) -> None:
    for rel, s in summary["stages"].items():
        top1 = s.get("val_top1")
        acc = f"val top-1 {100 * top1:.2f}%" if top1 is not None else "no validation"
        took = "skipped (finished)" if s.get("skipped") else f"{s['seconds']:.1f}s"
        print(f"{rel:16s} {took}  epochs {s['epochs']}  steps {s['global_step']}  {acc}")
    final = Path(summary["final_model"])
    print(f"final model: {final if final.is_absolute() else out / final}")
