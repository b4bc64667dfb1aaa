"""``mmff profile``: parameters and multiply-accumulates per stream and in total."""
from __future__ import annotations

import argparse
import json

HELP = ("Count parameters and multiply-accumulates (MACs, = the paper's 'FLOPs') per stream and "
        "in total at the paper's input sizes (NTU: 300 frames, 2 bodies, 25 joints; 299x299 RGB; "
        "60 classes), and the newer skeleton backbones (ST-GCN++, CTR-GCN) at the settings of "
        "their published counts, or for one config at its own sizes.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=None,
                   help="profile this config's model at its input sizes (name in configs/ or a "
                        "path); without it, the paper's Table 2 rows are profiled")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. model.rgb.width=0.25 (repeatable; with --config)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object {name: {params, macs, parts, paper_*}}")
    p.add_argument("--device", default="meta", choices=["meta", "cpu"],
                   help="device to build the model on: 'meta' allocates nothing (fast); 'cpu' "
                        "runs real tensors")


def _fmt(n, unit: float, suffix: str) -> str:
    return "-" if n is None else f"{n / unit:.2f}{suffix}"


def _dev(ours, paper) -> str:
    if paper is None:
        return ""
    return f"{100.0 * (ours - paper) / paper:+.1f}%"


def format_table(results: dict) -> str:
    """Readable table: one row per model and one indented row per stream."""
    w = max([24] + [len(n) + 2 for n in results])
    head = f"{'model':<{w}}{'params':>10}{'GMACs':>9}{'paper params':>14}{'paper GMACs':>13}{'Δparams':>9}{'ΔMACs':>9}"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        pp, pm = r.get("paper_params"), r.get("paper_macs")
        if "clip_len" in r:   # a published count measured at its own clip length
            name = f"{name} ({r['clip_len']} fr)"
        lines.append(f"{name:<{w}}{_fmt(r['params'], 1e6, 'M'):>10}{_fmt(r['macs'], 1e9, ''):>9}"
                     f"{_fmt(pp, 1e6, 'M'):>14}{_fmt(pm, 1e9, ''):>13}"
                     f"{_dev(r['params'], pp):>9}{_dev(r['macs'], pm):>9}")
        for part, q in r.get("parts", {}).items():
            lines.append(f"  {part:<{w - 2}}{_fmt(q['params'], 1e6, 'M'):>10}{q['macs'] / 1e9:>9.3f}")
    lines.append("MACs by torch FlopCounterMode (FLOPs/2); RNNs it cannot see are counted by "
                 "formula (see docs/complexity.md).")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config, parse_override, merge_dicts
    from ..engine.profiling import paper_profiles, profile_config

    if args.config is None:
        if args.overrides:
            raise ValueError("--set needs --config")
        results = paper_profiles(args.device)
    else:
        over: dict = {}
        for expr in args.overrides:
            over = merge_dicts(over, parse_override(expr))
        cfg = load_config(args.config, over or None)
        results = {cfg.name: profile_config(cfg, args.device)}
    if args.json:
        print(json.dumps(results))
    else:
        print(format_table(results))
    return 0
