"""``mmff table``: run the rows of a paper table over seeds and print it in the paper's layout."""
from __future__ import annotations

import argparse

HELP = "reproduce a paper table (2, 4, 5, 6, 7) or Fig. 7 (fig7): resumable runs, mean ± std over seeds"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mmff.engine.tables import TABLES
    p.add_argument("table", choices=list(TABLES), help="paper table id (fig7 = frame-position sweep)")
    p.add_argument("--data", required=True, metavar="DIR", help="prepared data folder (mmff prepare ... --out DIR)")
    p.add_argument("--seeds", type=int, default=3, help="repetitions per row (SYSU: also the folds 0..N-1)")
    p.add_argument("--out", default="runs/tables", metavar="DIR", help="output folder (runs kept: resumable)")
    p.add_argument("--epochs-scale", type=float, default=1.0, metavar="F",
                   help="multiply every stage's epochs by F (at least 1 epoch)")
    p.add_argument("--base", default="demo",
                   help="base config for datasets without per-row configs (synthetic, NTU-120): the row's "
                        "ablation switches are applied on top of it")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value in every run (repeatable)")
    p.add_argument("--rows", action="append", default=None, metavar="TEXT",
                   help="only rows whose backbone/label/file contains TEXT (repeatable)")
    p.add_argument("--devices", default="1", help="devices per run (>1: DDP)")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once in worker processes; each uses train.num_threads torch "
                        "threads (default 2): with --jobs 2 on 2 cores add --set train.num_threads=1")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="also write the table's JSON (per-seed top-1s, mean, std, command, schedule) "
                        "to FILE, e.g. docs/results/table5.json")
    p.add_argument("--dry-run", action="store_true", help="list the runs (done/todo) and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def table_command(args) -> str:
    """The ``mmff table`` command line of ``args`` (recorded in the table's JSON)."""
    import shlex
    parts = ["mmff", "table", args.table, "--data", args.data_dir, "--seeds", str(args.seeds),
             "--out", args.out, "--base", args.base]
    if args.epochs_scale != 1.0:
        parts += ["--epochs-scale", f"{args.epochs_scale:g}"]
    parts += [a for s in args.overrides for a in ("--set", s)]
    parts += [a for r in args.rows or [] for a in ("--rows", r)]
    if args.devices != "1":
        parts += ["--devices", args.devices]
    if args.jobs != 1:
        parts += ["--jobs", str(args.jobs)]
    if args.json:
        parts += ["--json", args.json]
    return shlex.join(parts)


def run(args) -> int:
    from mmff.cli.train import overrides_from_args, parse_devices
    from mmff.engine.tables import run_table
    args.data_dir, args.data = args.data, None  # --data here is the table's data, not an override
    over = overrides_from_args(args)
    t = run_table(args.table, data=args.data_dir, out=args.out, seeds=args.seeds, base=args.base,
                  epochs_scale=args.epochs_scale, overrides=over, rows=args.rows, dry_run=args.dry_run,
                  progress=not args.no_progress, devices=parse_devices(args.devices), jobs=args.jobs,
                  command=table_command(args), json_out=args.json)
    return 1 if t.get("failed") else 0
